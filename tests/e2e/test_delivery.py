"""Delivery through printhost to real printers, end to end.

A client (``lp``, ipptool's ``print-job.test``, ``printhost submit``) prints to printhost
running as a subprocess; printhost delivers to a real printer: ippeveprinter over ipp:// and
ipps://, an AppSocket sink, cups-lpd in front of a private cupsd, the ``file:`` printer. Each
test checks that the printer got the document byte for byte and that printhost reports the
job completed - for IPP, never before the printer itself completed it.

The last test turns the setup around: a private cupsd forwards to printhost through a queue
made with ``lpadmin -m everywhere`` (IPP-CLIENTS.md §4.2), which proves that printhost's
printer attributes pass CUPS's ``ippValidateAttributes`` and ``_ppdCreateFromIPP``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from peers.cupsd import PrivateCupsd
from peers.ippeveprinter import IppEvePrinter
from peers.lpdserver import CupsLpdServer
from peers.sink import RawSink
from support.cups_clients import describe
from support.ipptool import get_job_attributes
from support.server import PrinthostServer

from .delivery_helpers import (
    cups_client,
    cupsd_job_named,
    ipp_printer,
    ipptool_print,
    list_jobs,
    printhost_submit,
    sha256,
    single_queue,
    uuid_counts,
    wait_for_jobs,
    wait_for_state,
    write_pdf,
    write_valid_pdf,
)

pytestmark = pytest.mark.peers

ServerFactory = Callable[..., PrinthostServer]


def job_uuid(server: PrinthostServer, job_id: int, work_dir: Path) -> str:
    attributes = get_job_attributes(
        server.ipp_uri(), job_id, work_dir=work_dir, names=("job-uuid",)
    )
    return attributes["job-uuid"]


def follow_both(
    server: PrinthostServer, printer: IppEvePrinter, job_id: int, work_dir: Path
) -> list[tuple[str, str]]:
    """(printhost's job-state, the printer's job-state) pairs until printhost's is terminal.

    printhost is asked first in each round: if it says completed while the printer, asked
    later, does not, printhost said completed too early. The printer has only this job.
    """
    pairs: list[tuple[str, str]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ours = get_job_attributes(server.ipp_uri(), job_id, work_dir=work_dir)["job-state"]
        remote = [job.state for job in list_jobs(printer.uri, work_dir).values()]
        assert len(remote) <= 1, remote
        pairs.append((ours, remote[0] if remote else "absent"))
        if ours in ("completed", "canceled", "aborted"):
            return pairs
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {pairs}")


@pytest.mark.parametrize("tls", [False, True], ids=["ipp", "ipps"])
def test_ipp_printer_gets_the_job_intact_and_printhost_completes_after_it(
    make_printhost_server: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    tmp_path: Path,
    work_dir: Path,
    tls: bool,
) -> None:
    printer = make_eve(delay=1.5)  # each job stays processing at the printer for 1.5 s
    server = make_printhost_server(**single_queue(ipp_printer(printer, tls)))
    document = tmp_path / "report.pdf"
    data = write_pdf(document, 50_000)
    if tls:  # and the client comes in over IPPS too
        job_id = ipptool_print(server.ipps_uri(), document, work_dir)
    else:
        job_id = cups_client(server, tmp_path / "lp").print_file("myprinter", document)

    pairs = follow_both(server, printer, job_id, work_dir)

    assert pairs[-1][0] == "completed", pairs
    assert ("processing", "processing") in pairs, pairs
    early = [pair for pair in pairs if pair[0] == "completed" and pair[1] != "completed"]
    assert not early, f"printhost said completed before the printer did: {pairs}"
    [received] = printer.received_files()
    assert received.read_bytes() == data
    assert uuid_counts(printer.uri, work_dir)[job_uuid(server, job_id, work_dir)] == 1


def test_socket_printer_gets_the_bytes(
    make_printhost_server: ServerFactory, tmp_path: Path, work_dir: Path
) -> None:
    document = tmp_path / "raw.pdf"
    data = write_pdf(document, 300_000)
    with RawSink("read") as sink:
        server = make_printhost_server(**single_queue({"name": "raw", "uri": sink.uri}))
        job_id = cups_client(server, tmp_path / "lp").print_file("myprinter", document)
        history = wait_for_state(server, job_id, work_dir, {"completed", "aborted"})
        assert history[-1]["job-state"] == "completed", history
        assert sink.wait_for(1) == [data]
        assert sink.connections == 1


def test_lpd_printer_gets_the_job(
    make_printhost_server: ServerFactory,
    cupsd: PrivateCupsd,
    lpd_server: CupsLpdServer,
    tmp_path: Path,
    work_dir: Path,
) -> None:
    server = make_printhost_server(**single_queue({"name": "lpd", "uri": lpd_server.uri("Q")}))
    document = tmp_path / "lpd.pdf"
    data = write_pdf(document, 100_000)
    title = f"lpd-{uuid.uuid4().hex[:8]}"
    job_id = printhost_submit(server, document, title)
    history = wait_for_state(server, job_id, work_dir, {"completed", "aborted"})
    assert history[-1]["job-state"] == "completed", history
    assert cupsd.job_document(cupsd_job_named(cupsd, title)) == data


def test_file_printer_writes_the_document_and_its_sidecar(
    printhost_server: PrinthostServer, tmp_path: Path, work_dir: Path
) -> None:
    document = tmp_path / "filed.pdf"
    data = write_pdf(document, 70_000)
    job_id = printhost_submit(printhost_server, document, "filed report")
    metadata, documents = printhost_server.wait_for_job_output(job_id)

    assert [path.name for path in documents] == [f"job-{job_id}-1.pdf"]
    assert documents[0].read_bytes() == data
    assert (printhost_server.output_dir / f"job-{job_id}.json").is_file()
    assert metadata["job-id"] == job_id
    assert metadata["job-name"] == "filed report"
    assert metadata["job-uuid"] == job_uuid(printhost_server, job_id, work_dir)
    assert metadata["documents"] == [
        {
            "file": f"job-{job_id}-1.pdf",
            "document-format": "application/pdf",
            "document-name": "filed.pdf",
            "size": len(data),
            "sha256": sha256(data),
        }
    ]
    history = wait_for_state(printhost_server, job_id, work_dir, {"completed", "aborted"})
    assert history[-1]["job-state"] == "completed", history


def wait_for_everywhere_ppd(cupsd: PrivateCupsd, queue: str, timeout: float = 20.0) -> str:
    """cupsd builds the PPD in a background thread after lpadmin returns; the queue is
    usable once the PPD is written and the queue is idle."""
    ppd = cupsd.root / "etc" / "ppd" / f"{queue}.ppd"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = ppd.read_text(errors="replace") if ppd.is_file() else ""
        idle = "is idle" in cupsd.run("lpstat", "-h", cupsd.server, "-p", queue).stdout
        if "IPP Everywhere" in text and idle:
            return text
        time.sleep(0.1)
    log = cupsd.error_log.read_text(errors="replace")[-4000:]
    raise AssertionError(f"no IPP Everywhere PPD for {queue} after {timeout} s\n{log}")


def test_cups_queue_made_with_lpadmin_everywhere_prints_through_printhost(
    printhost_server: PrinthostServer, cupsd: PrivateCupsd, public_dir: Path, work_dir: Path
) -> None:
    queue = f"via-{uuid.uuid4().hex[:8]}"
    device = f"ipp://127.0.0.1:{printhost_server.port}/printers/myprinter"
    cupsd.lpadmin("-p", queue, "-E", "-v", device, "-m", "everywhere")
    ppd = wait_for_everywhere_ppd(cupsd, queue)
    assert "*cupsFilter2:" in ppd and "application/pdf" in ppd

    document = public_dir / "through-cups.pdf"
    write_valid_pdf(document, "through cups")
    document.chmod(0o644)
    result = cupsd.run("lp", "-h", cupsd.server, "-d", queue, "-t", "via cups", str(document))
    assert "request id is" in result.stdout, describe(result)

    jobs = wait_for_jobs(printhost_server.ipp_uri(), work_dir, lambda jobs: len(jobs) == 1)
    [job] = jobs.values()
    metadata, documents = printhost_server.wait_for_job_output(job.job_id)
    assert metadata["job-name"] == "via cups"
    assert documents[0].read_bytes().startswith(b"%PDF")
    log = cupsd.error_log.read_text(errors="replace")
    assert "Printer returned invalid data" not in log
    assert "does not support required IPP attributes" not in log
