"""CUPS' own command-line clients against printhost.

These are the requests IPP-CLIENTS.md §4.1 captured from CUPS 2.4: ``lp``
(Create-Job + Send-Document with application/octet-stream), ``lp -H hold``
(job-hold-until indefinite) and ``lp -i ID -H resume`` (Set-Job-Attributes
job-hold-until no-hold), ``lpstat -p -d`` (CUPS-Get-Default,
CUPS-Get-Printers), ``lpstat -o`` (Get-Jobs on ``ipp://localhost/``),
``cancel ID`` (Cancel-Job on /jobs/), ``cancel -a Q`` (Cancel-Jobs on
/admin/), and cups-bsd's ``lpr``/``lpq``/``lprm``, which speak IPP too.

Every test that prints or cancels gets a fresh server; job states are read
back through Get-Job-Attributes with ipptool, not inferred from timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cups_clients import CupsClient, describe, parse_job_id
from support.ipptool import get_job_attributes
from support.server import DEFAULT_QUEUE, PrinthostServer, user

pytestmark = pytest.mark.peers

QUEUE = DEFAULT_QUEUE
TERMINAL_STATES = {"canceled", "aborted", "completed"}


def job_state(server: PrinthostServer, job_id: int, work_dir: Path) -> str:
    return get_job_attributes(server.ipp_uri(), job_id, work_dir=work_dir)["job-state"]


def wait_for_state(
    server: PrinthostServer, job_id: int, work_dir: Path, wanted: set[str], timeout: float = 20.0
) -> str:
    """Poll job-state until it is one of ``wanted``; returns it or fails with the last seen."""
    deadline = time.monotonic() + timeout
    state = job_state(server, job_id, work_dir)
    while state not in wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        state = job_state(server, job_id, work_dir)
    assert state in wanted, f"job {job_id} is {state!r}, expected one of {sorted(wanted)}"
    return state


def hold_job(client: CupsClient, document: Path) -> int:
    return client.print_file(QUEUE, document, "-H", "hold")


def test_lp_prints_to_file_printer(
    printhost_server: PrinthostServer, cups_client: CupsClient, sample_documents: Path
) -> None:
    document = sample_documents / "testfile.pdf"
    job_id = cups_client.print_file(QUEUE, document)

    metadata, outputs = printhost_server.wait_for_job_output(job_id)

    # The virtual printer applies no policy by default, so what lp sent is
    # what the printer must have received, byte for byte.
    assert metadata, f"empty job-{job_id}.json"
    assert any(path.read_bytes() == document.read_bytes() for path in outputs), outputs


def test_lp_over_tls(
    printhost_server: PrinthostServer, sample_documents: Path, tmp_path: Path
) -> None:
    # TLS from the first byte on the ipps port; the private HOME lets libcups
    # trust the server's new self-signed certificate on first use.
    client = CupsClient(printhost_server.tls_address, tmp_path, encryption="Always")
    document = sample_documents / "testfile.pdf"

    job_id = client.print_file(QUEUE, document)

    _, outputs = printhost_server.wait_for_job_output(job_id)
    assert any(path.read_bytes() == document.read_bytes() for path in outputs), outputs


def test_lpstat_lists_the_queue(shared_printhost_server: PrinthostServer, tmp_path: Path) -> None:
    client = CupsClient(shared_printhost_server.address, tmp_path)

    result = client.lpstat("-p", "-d")

    assert result.returncode == 0, describe(result)
    assert f"printer {QUEUE} " in result.stdout, describe(result)


def test_lpstat_o_lists_pending_jobs(
    printhost_server: PrinthostServer, cups_client: CupsClient, sample_documents: Path
) -> None:
    job_id = hold_job(cups_client, sample_documents / "testfile.pdf")

    result = cups_client.lpstat("-o")

    assert result.returncode == 0, describe(result)
    assert f"{QUEUE}-{job_id} " in result.stdout, describe(result)


def test_hold_then_resume(
    printhost_server: PrinthostServer,
    cups_client: CupsClient,
    sample_documents: Path,
    tmp_path: Path,
) -> None:
    job_id = hold_job(cups_client, sample_documents / "testfile.pdf")
    assert job_state(printhost_server, job_id, tmp_path) == "pending-held"
    assert printhost_server.job_output(job_id) == []

    result = cups_client.lp("-i", f"{QUEUE}-{job_id}", "-H", "resume")

    assert result.returncode == 0, describe(result)
    printhost_server.wait_for_job_output(job_id)
    assert wait_for_state(printhost_server, job_id, tmp_path, TERMINAL_STATES) == "completed"


def test_cancel_one_job(
    printhost_server: PrinthostServer,
    cups_client: CupsClient,
    sample_documents: Path,
    tmp_path: Path,
) -> None:
    job_id = hold_job(cups_client, sample_documents / "testfile.pdf")

    result = cups_client.cancel(f"{QUEUE}-{job_id}")

    assert result.returncode == 0, describe(result)
    assert job_state(printhost_server, job_id, tmp_path) == "canceled"
    listing = cups_client.lpstat("-o")
    assert f"{QUEUE}-{job_id} " not in listing.stdout, describe(listing)


def test_cancel_all_jobs_on_queue(
    make_printhost_server: Callable[..., PrinthostServer],
    sample_documents: Path,
    tmp_path: Path,
) -> None:
    # Cancel-Jobs is an operator operation (PWG 5100.11; CUPS requires
    # @SYSTEM): cancel sends it to /admin/, gets 401 and asks for the
    # operator's password, which the client helper types at the prompt.
    server = make_printhost_server(users=[user("oper", "op-secret", role="operator")])
    client = CupsClient(server.address, tmp_path / "client")
    job_ids = [hold_job(client, sample_documents / "testfile.pdf") for _ in range(2)]

    result = client.cancel("-U", "oper", "-a", QUEUE, password="op-secret")

    assert result.returncode == 0, describe(result)
    assert [job_state(server, job_id, tmp_path) for job_id in job_ids] == [
        "canceled",
        "canceled",
    ]


def test_cancel_all_needs_an_operator(
    printhost_server: PrinthostServer,
    cups_client: CupsClient,
    sample_documents: Path,
    tmp_path: Path,
) -> None:
    job_id = hold_job(cups_client, sample_documents / "testfile.pdf")

    result = cups_client.cancel("-a", QUEUE)

    assert result.returncode != 0, describe(result)
    assert job_state(printhost_server, job_id, tmp_path) == "pending-held"


def test_lpr_prints_to_file_printer(
    printhost_server: PrinthostServer, cups_client: CupsClient, sample_documents: Path
) -> None:
    document = sample_documents / "testfile.pdf"
    before = {path.name for path in printhost_server.output_dir.glob("job-*.json")}

    result = cups_client.lpr("-P", QUEUE, document)

    assert result.returncode == 0, describe(result)
    # cups-bsd's lpr prints no job id: find the one new job in the output.
    deadline = time.monotonic() + 20.0
    new: set[str] = set()
    while not new and time.monotonic() < deadline:
        time.sleep(0.05)
        new = {p.name for p in printhost_server.output_dir.glob("job-*.json")} - before
    assert len(new) == 1, f"expected one new job, found {sorted(new)}"
    job_id = int(new.pop().removeprefix("job-").removesuffix(".json"))
    _, outputs = printhost_server.wait_for_job_output(job_id)
    assert any(path.read_bytes() == document.read_bytes() for path in outputs), outputs


def test_lpq_lists_and_lprm_removes(
    printhost_server: PrinthostServer,
    cups_client: CupsClient,
    sample_documents: Path,
    tmp_path: Path,
) -> None:
    job_id = hold_job(cups_client, sample_documents / "testfile.pdf")

    listing = cups_client.lpq("-P", QUEUE)
    assert listing.returncode == 0, describe(listing)
    assert str(job_id) in listing.stdout.split(), describe(listing)

    removal = cups_client.lprm("-P", QUEUE, str(job_id))

    assert removal.returncode == 0, describe(removal)
    assert job_state(printhost_server, job_id, tmp_path) == "canceled"


def test_lp_reports_unknown_queue(cups_client: CupsClient, sample_documents: Path) -> None:
    result = cups_client.lp("-d", "no-such-queue", sample_documents / "testfile.pdf")

    assert result.returncode != 0, describe(result)
    with pytest.raises(AssertionError):
        parse_job_id(result.stdout)
