"""The IPP backend against real ippeveprinter printers (ipp:// and ipps://)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from peers.ippeveprinter import IppEvePrinter
from peers.procs import free_port

from printhost.dispatch.backends import backend_for
from printhost.dispatch.backends.base import DocumentFile, Outcome, RemoteState
from printhost.dispatch.backends.ipp import IppBackend
from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute

from .helpers import PDF, RecordingProgress, make_request

WriteDocument = Callable[..., DocumentFile]
pytestmark = pytest.mark.peers


@pytest.fixture
async def backend() -> AsyncIterator[IppBackend]:
    ipp = IppBackend(timeout=5.0)
    yield ipp
    await ipp.aclose()


async def test_job_is_printed_with_its_attributes(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    already = len(printer.received_files())
    attributes = [
        Attribute.of("copies", Tag.INTEGER, 2),
        Attribute.of("print-color-mode", Tag.KEYWORD, "monochrome"),
    ]
    request = make_request(
        printer.uri, [write_document(PDF, name="a.pdf")], job_name="ipp one", attributes=attributes
    )

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED, result.message
    assert result.reason == "job-completed-successfully"
    assert progress.remote_job_ids == [result.remote_job_id]
    printed = printer.received_files()[already:]
    assert len(printed) == 1
    assert printed[0].read_bytes() == PDF
    env = printer.job_environment(printed[0])
    assert env["IPP_JOB_NAME"] == "ipp one"
    assert env["IPP_JOB_ORIGINATING_USER_NAME"] == "alice"
    assert env["IPP_COPIES"] == "2"
    assert env["IPP_PRINT_COLOR_MODE"] == "monochrome"
    assert env["CONTENT_TYPE"] == "application/pdf"


async def test_completed_only_once_the_printer_says_so(
    slow_printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    already = len(slow_printer.received_files())
    request = make_request(slow_printer.uri, [write_document(PDF)], job_name="ipp slow")
    started = time.monotonic()

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED
    assert time.monotonic() - started >= 1.0  # the print command sleeps 1 s
    # The print command finished before we said COMPLETED: its output is already there.
    assert len(slow_printer.received_files()) == already + 1
    assert any("processing" in message for message in progress.messages)


async def test_lookup_finds_the_job_by_uuid(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    request = make_request(printer.uri, [write_document(PDF)], job_name="ipp lookup")
    assert (await backend.lookup(request)).state is RemoteState.NOT_FOUND

    result = await backend.deliver(request, progress)
    found = await backend.lookup(request)

    assert found.state is RemoteState.COMPLETED
    assert found.remote_job_id == result.remote_job_id
    assert "job-uuid" in found.message
    stranger = make_request(printer.uri, request.documents, job_name="never sent")
    assert (await backend.lookup(stranger)).state is RemoteState.NOT_FOUND


async def test_resuming_follows_the_job_without_sending_it_again(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    first = make_request(printer.uri, [write_document(PDF)], job_name="ipp resume")
    sent = await backend.deliver(first, progress)
    printed = len(printer.received_files())
    resumed = make_request(
        printer.uri,
        first.documents,
        job_id=first.job_id,
        job_uuid=first.job_uuid,
        remote_job_id=sent.remote_job_id,
    )
    later = RecordingProgress()

    result = await backend.deliver(resumed, later)

    assert result.outcome is Outcome.COMPLETED
    assert result.remote_job_id == sent.remote_job_id
    assert later.remote_job_ids == []
    assert len(printer.received_files()) == printed


async def test_several_documents_on_a_single_document_printer(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    # ippeveprinter says multiple-document-jobs-supported=false: one Print-Job each.
    already = len(printer.received_files())
    docs = [write_document(PDF), write_document(b"plain text\n", "text/plain")]
    request = make_request(printer.uri, docs, job_name="ipp two")

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED
    printed = printer.received_files()[already:]
    assert [p.read_bytes() for p in printed] == [PDF, b"plain text\n"]
    assert progress.remote_job_ids == [result.remote_job_id]  # only the part with job-uuid
    assert (await backend.lookup(request)).remote_job_id == result.remote_job_id


async def test_unsupported_format_is_sent_as_octet_stream(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    already = len(printer.received_files())
    # A type the printer does not list (ippeveprinter lists no PDF variant): sent as
    # octet-stream, the printer sniffs "%PDF" and prints it.
    doc = write_document(PDF, "application/vnd.example-pdf")
    request = make_request(printer.uri, [doc], job_name="ipp unlisted")

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED, result.message
    printed = printer.received_files()[already:]
    assert printed[0].read_bytes() == PDF
    env = printer.job_environment(printed[0])
    assert env["IPP_DOCUMENT_FORMAT_SUPPLIED"] == "application/octet-stream"


async def test_format_the_printer_refuses_fails(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    # Sent as octet-stream, but ippeveprinter sniffs PNG, which it does not support.
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    request = make_request(printer.uri, [write_document(png, "image/png")], job_name="ipp png")

    result = await backend.deliver(request, progress)

    assert (result.outcome, result.reason) == (Outcome.FAILED, "unsupported-document-format")
    assert "client-error-attributes-or-values-not-supported" in result.message
    assert progress.remote_job_ids == []


async def test_ipps(
    printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    request = make_request(printer.ipps_uri, [write_document(PDF)], job_name="ipps job")

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED, result.message
    assert (await backend.lookup(request)).state is RemoteState.COMPLETED
    assert await backend.probe(printer.ipps_uri)


async def test_job_aborted_at_the_printer_fails(
    failing_printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    request = make_request(failing_printer.uri, [write_document(PDF)], job_name="ipp fails")

    result = await backend.deliver(request, progress)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "aborted-by-system"
    assert result.remote_job_id == progress.remote_job_ids[0]
    assert (await backend.lookup(request)).state is RemoteState.FAILED


async def test_dead_printer_is_retried(
    doomed_printer: IppEvePrinter,
    backend: IppBackend,
    write_document: WriteDocument,
    progress: RecordingProgress,
) -> None:
    assert await backend.probe(doomed_printer.uri)
    doomed_printer.kill()
    request = make_request(doomed_printer.uri, [write_document(PDF)])

    result = await backend.deliver(request, progress)

    assert (result.outcome, result.reason) == (Outcome.RETRY, "printer-stopped")
    assert progress.remote_job_ids == []
    assert not await backend.probe(doomed_printer.uri)
    assert (await backend.lookup(request)).state is RemoteState.UNKNOWN


async def test_printer_dying_mid_job_is_retried_with_the_remote_id(
    doomed_printer: IppEvePrinter, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    backend = IppBackend(timeout=1.0)  # polling errors are tolerated this long
    request = make_request(doomed_printer.uri, [write_document(PDF)])
    delivery = asyncio.create_task(backend.deliver(request, progress))
    while not progress.remote_job_ids:  # the job is at the printer, processing for 3 s
        await asyncio.sleep(0.02)
    doomed_printer.kill()

    result = await asyncio.wait_for(delivery, 10.0)
    await backend.aclose()

    assert result.outcome is Outcome.RETRY
    assert result.remote_job_id == progress.remote_job_ids[0]


async def test_nothing_listening(
    backend: IppBackend, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    uri = f"ipp://127.0.0.1:{free_port()}/ipp/print"
    result = await backend.deliver(make_request(uri, [write_document(PDF)]), progress)
    assert (result.outcome, result.reason) == (Outcome.RETRY, "printer-stopped")
    assert not await backend.probe(uri)


async def test_bad_uri(backend: IppBackend, write_document: WriteDocument) -> None:
    result = await backend.deliver(
        make_request("ipp:///no-host", [write_document(PDF)]), RecordingProgress()
    )
    assert result.outcome is Outcome.RETRY
    assert "invalid printer URI" in result.message


async def test_registry() -> None:
    for uri, kind in [
        ("ipp://h/ipp/print", "IppBackend"),
        ("IPPS://h/ipp/print", "IppBackend"),
        ("socket://h", "SocketBackend"),
        ("lpd://h/q", "LpdBackend"),
        ("file:///tmp", "FileBackend"),
    ]:
        backend = backend_for(uri, timeout=3.0)
        assert type(backend).__name__ == kind
        assert getattr(backend, "timeout") == 3.0  # noqa: B009
        await backend.aclose()
    with pytest.raises(ValueError, match="no delivery backend for 'smb'"):
        backend_for("smb://server/printer")
