"""The LPD backend: the pure control-file builder (RFC 1179 §7), then real deliveries to
CUPS's cups-lpd feeding a private cupsd."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from peers.cupsd import PrivateCupsd
from peers.lpdserver import CupsLpdServer
from peers.sink import RawSink, closed_port

from printhost.dispatch.backends.base import DocumentFile, Outcome, RemoteState
from printhost.dispatch.backends.lpd import (
    LpdBackend,
    LpdTarget,
    build_control_file,
    receive_file_command,
    receive_job_command,
    sanitize_field,
    sanitize_host,
    target_from_uri,
)

from .helpers import PDF, RecordingProgress, make_request, wait_for_cupsd_job

WriteDocument = Callable[..., DocumentFile]


# -- the control file (pure) ------------------------------------------------------------


def test_control_file_for_one_document() -> None:
    control = build_control_file(
        job_id=12345,
        host="client.example",
        user="alice",
        job_name="Quarterly report",
        document_names=["report.pdf"],
    )

    assert control.name == "cfA345client.example"  # job number = job id % 1000
    assert control.data_file_names == ("dfA345client.example",)
    assert control.content == (
        b"Hclient.example\n"
        b"Palice\n"
        b"JQuarterly report\n"
        b"Nreport.pdf\n"
        b"ldfA345client.example\n"
        b"UdfA345client.example\n"
    )


def test_control_file_for_several_documents_with_banner() -> None:
    control = build_control_file(
        job_id=7, host="h", user="bob", job_name="two", document_names=["a", ""], banner=True
    )

    assert control.data_file_names == ("dfA007h", "dfB007h")
    assert control.content.decode().splitlines() == [
        "Hh",
        "Pbob",
        "Jtwo",
        "Lbob",
        "Na",
        "ldfA007h",
        "UdfA007h",
        "Ntwo",  # a nameless document is named after the job
        "ldfB007h",
        "UdfB007h",
    ]


def test_hostile_fields_cannot_add_control_lines() -> None:
    control = build_control_file(
        job_id=1,
        host="evil\nhost/../x",
        user="mallory\nUdfA001/etc/passwd",
        job_name="job\r\nM root\x00",
        document_names=["doc\n"],
    )

    lines = control.content.decode().splitlines()
    assert lines[:4] == ["Hevilhost..x", "PmalloryUdfA001/etc/passwd", "JjobM root", "Ndoc"]
    assert [line[0] for line in lines] == ["H", "P", "J", "N", "l", "U"]
    assert control.name == "cfA001evilhost..x"


def test_fields_are_capped_at_rfc_1179_lengths() -> None:
    control = build_control_file(
        job_id=1,
        host="h" * 100,
        user="u" * 100,
        job_name="é" * 100,  # 2 octets each: the cap must not cut a character in half
        document_names=["n" * 300],
    )

    lines = control.content.decode().splitlines()
    assert len(lines[0]) - 1 == 31  # H, §7.2
    assert len(lines[1]) - 1 == 31  # P, §7.8
    assert lines[2] == "J" + "é" * 49  # 98 octets <= 99, §7.4
    assert len(lines[3]) - 1 == 99  # N, §7.7


def test_sanitizers() -> None:
    assert sanitize_field("a\tb\x7fc", 10) == "abc"
    assert sanitize_field("", 10) == ""
    assert sanitize_host("") == "printhost"
    assert sanitize_host("my host!") == "myhost"


def test_empty_user_and_document_limits() -> None:
    control = build_control_file(job_id=1, host="h", user="\n", job_name="", document_names=["x"])
    assert b"Panonymous\n" in control.content
    with pytest.raises(ValueError, match="1 to 52"):
        build_control_file(job_id=1, host="h", user="u", job_name="j", document_names=[])
    with pytest.raises(ValueError):
        build_control_file(job_id=1, host="h", user="u", job_name="j", document_names=["d"] * 53)


def test_command_framing() -> None:
    assert receive_job_command("lp") == b"\x02lp\n"  # §5.2
    assert receive_file_command(2, 55, "cfA001h") == b"\x0255 cfA001h\n"  # §6.2
    assert receive_file_command(3, 9, "dfA001h") == b"\x039 dfA001h\n"  # §6.3


def test_uri_parsing() -> None:
    assert target_from_uri("lpd://printer.example/raw") == LpdTarget("printer.example", 515, "raw")
    assert target_from_uri("lpd://h:5515/my%20q?banner=on") == LpdTarget("h", 5515, "my q", True)
    assert target_from_uri("lpd://h/") is None
    assert target_from_uri("lpd:///q") is None
    assert target_from_uri("lpd://h/q%0Aevil") is None


# -- real deliveries ----------------------------------------------------------------------


@pytest.mark.peers
async def test_job_reaches_cupsd_through_cups_lpd(
    lpd_server: CupsLpdServer,
    cupsd: PrivateCupsd,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    data = PDF + bytes(range(256)) * 512  # binary data must arrive untouched
    request = make_request(
        lpd_server.uri("Q"), [write_document(data)], job_name="lpd single", user="carol"
    )

    result = await LpdBackend(timeout=10).deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED, result.message
    job_id = wait_for_cupsd_job(cupsd, "lpd single")
    attributes = cupsd.job_attributes(job_id)
    assert attributes["job-originating-user-name"] == "carol"
    assert attributes["job-state"] == "completed"
    assert cupsd.job_document(job_id) == data


@pytest.mark.peers
async def test_several_documents_make_one_cupsd_job(
    lpd_server: CupsLpdServer,
    cupsd: PrivateCupsd,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    docs = [write_document(b"first\n", "text/plain"), write_document(PDF)]
    request = make_request(lpd_server.uri("Q"), docs, job_name="lpd double")

    result = await LpdBackend(timeout=10).deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED, result.message
    job_id = wait_for_cupsd_job(cupsd, "lpd double")
    assert cupsd.job_document(job_id, 1) == b"first\n"
    assert cupsd.job_document(job_id, 2) == PDF
    assert cupsd.job_attributes(job_id)["number-of-documents"] == "2"


@pytest.mark.peers
async def test_unknown_queue_fails(
    lpd_server: CupsLpdServer, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    request = make_request(lpd_server.uri("no-such-queue"), [write_document(PDF)])

    result = await LpdBackend(timeout=10).deliver(request, progress)

    assert result.outcome is Outcome.FAILED
    assert "refused the queue" in result.message


async def test_refused_connection_is_retried(
    write_document: WriteDocument, progress: RecordingProgress
) -> None:
    request = make_request(f"lpd://127.0.0.1:{closed_port()}/Q", [write_document(PDF)])

    result = await LpdBackend(timeout=5).deliver(request, progress)

    assert (result.outcome, result.reason) == (Outcome.RETRY, "printer-stopped")
    assert "refused" in result.message.lower()


async def test_silent_server_is_retried_within_the_timeout(
    hanging_sink: RawSink, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    uri = f"lpd://127.0.0.1:{hanging_sink.port}/Q"
    started = time.monotonic()

    result = await LpdBackend(timeout=0.5).deliver(
        make_request(uri, [write_document(PDF)]), progress
    )

    assert (result.outcome, result.reason) == (Outcome.RETRY, "submission-interrupted")
    assert "receive-job acknowledgement" in result.message
    assert time.monotonic() - started < 3.0


@pytest.mark.peers
async def test_probe_and_lookup(lpd_server: CupsLpdServer, write_document: WriteDocument) -> None:
    backend = LpdBackend(timeout=2)
    assert await backend.probe(lpd_server.uri("Q"))
    assert not await backend.probe(f"lpd://127.0.0.1:{closed_port()}/Q")
    lookup = await backend.lookup(make_request(lpd_server.uri("Q"), [write_document(PDF)]))
    assert lookup.state is RemoteState.UNKNOWN
