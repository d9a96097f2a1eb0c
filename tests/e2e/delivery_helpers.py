"""Helpers for the delivery and recovery end-to-end tests (fixtures are in conftest.py).

Job states are read back over IPP with ipptool (CUPS's client), never inferred from
timing; clients are CUPS's ``lp`` or printhost's own CLI.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from peers.cupsd import PrivateCupsd
from peers.ippeveprinter import IppEvePrinter
from support.cups_clients import DEFAULT_USER, CupsClient, describe
from support.ipptool import get_job_attributes
from support.server import PrinthostServer

#: Delivery settings that make retries, timeouts and lease expiry take seconds, not minutes.
FAST_DELIVERY = {"timeout_seconds": 3, "lease_seconds": 2}
#: Down printers are probed this often.
FAST_PROBE = {"probe_interval_seconds": 0.25}
STATUS_NAMES = ("job-state", "job-state-reasons", "job-state-message")
TERMINAL = {"completed", "canceled", "aborted"}

_GET_JOBS_TEST = """{
\tNAME "Get-Jobs"
\tOPERATION Get-Jobs
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name $requester
\tATTR keyword which-jobs all
\tATTR keyword requested-attributes job-id,job-name,job-uuid,job-state
\tSTATUS successful-ok
\tDISPLAY job-id
\tDISPLAY job-name
\tDISPLAY job-uuid
\tDISPLAY job-state
}
"""
_UUID_LINE = re.compile(r"^\s+job-uuid \(uri\) = (\S+)$", re.MULTILINE)


# -- documents ------------------------------------------------------------------------------


def write_pdf(path: Path, size: int = 2000) -> bytes:
    """A file that sniffs as PDF, with random bytes so every document is distinct."""
    data = b"%PDF-1.4\n%" + os.urandom(size).hex().encode()[:size] + b"\n%%EOF\n"
    path.write_bytes(data)
    return data


def write_valid_pdf(path: Path, title: str) -> bytes:
    """A well-formed one-page PDF (with a cross-reference table): CUPS's pdftopdf filter
    rejects anything less."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>",
        b"<</Title(" + title.encode("ascii") + b")>>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    xref += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<</Size %d/Root 1 0 R/Info 4 0 R>>\n" % (len(objects) + 1)
    data = body + xref + trailer + b"startxref\n%d\n%%%%EOF\n" % len(body)
    path.write_bytes(data)
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- IPP queries through ipptool -------------------------------------------------------------


@dataclass(frozen=True)
class JobRow:
    job_id: int
    name: str
    uuid: str
    state: str


def _ipptool(args: list[str], work_dir: Path, *, strict: bool = True) -> str:
    """Run the Get-Jobs test as the user CUPS clients print as (printhost shows job names
    only to their owner); ``strict=False`` accepts a [FAIL] verdict that only complains
    about the response's shape (ippeveprinter's duplicate job-uuid)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    test = work_dir / "get-jobs-all.test"
    test.write_text(_GET_JOBS_TEST)
    env = {**os.environ, "HOME": str(work_dir), "LC_ALL": "C"}
    result = subprocess.run(
        ["ipptool", "-T", "10", "-d", f"requester={DEFAULT_USER}", *args, str(test)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    ok = "[FAIL]" not in result.stdout if strict else "status-code = successful-ok" in result.stdout
    assert ok and not result.stderr.strip(), describe(result)
    return result.stdout


def list_jobs(uri: str, work_dir: Path) -> dict[int, JobRow]:
    """Every job the server lists (Get-Jobs which-jobs=all), by job-id. ipptool's CSV mode
    prints one row per job group. Only for servers that give a job one job-uuid."""
    rows = csv.DictReader(_ipptool(["-c", uri], work_dir).splitlines())
    jobs = (
        JobRow(int(r["job-id"]), r["job-name"], r["job-uuid"], r["job-state"])
        for r in rows
        if r.get("job-id")
    )
    return {job.job_id: job for job in jobs}


def wait_for_jobs(
    uri: str,
    work_dir: Path,
    done: Callable[[dict[int, JobRow]], bool],
    timeout: float = 30.0,
) -> dict[int, JobRow]:
    """Poll Get-Jobs until ``done(jobs)``; returns the jobs that satisfied it."""
    deadline = time.monotonic() + timeout
    jobs = list_jobs(uri, work_dir)
    while not done(jobs):
        if time.monotonic() > deadline:
            raise AssertionError(f"{uri}: condition not met within {timeout} s; jobs {jobs}")
        time.sleep(0.1)
        jobs = list_jobs(uri, work_dir)
    return jobs


def uuid_counts(uri: str, work_dir: Path) -> Counter[str]:
    """How many of a printer's jobs carry each job-uuid. ippeveprinter keeps the client's
    job-uuid next to its own (two attributes per job), which CSV mode would hide."""
    return Counter(_UUID_LINE.findall(_ipptool(["-t", "-v", uri], work_dir, strict=False)))


def job_status(server: PrinthostServer, job_id: int, work_dir: Path) -> dict[str, str]:
    """job-state, -reasons and -message ("" when the server sends none)."""
    found = get_job_attributes(server.ipp_uri(), job_id, work_dir=work_dir, names=STATUS_NAMES)
    return {name: found.get(name, "") for name in STATUS_NAMES}


def wait_for(
    server: PrinthostServer,
    job_id: int,
    work_dir: Path,
    done: Callable[[dict[str, str]], bool],
    timeout: float = 30.0,
) -> list[dict[str, str]]:
    """Poll Get-Job-Attributes until ``done(status)``; returns every distinct status seen
    on the way, the one that satisfied ``done`` last."""
    seen: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job_status(server, job_id, work_dir)
        if not seen or seen[-1] != status:
            seen.append(status)
        if done(status):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id}: condition not met within {timeout} s; saw {seen}")


def wait_for_state(
    server: PrinthostServer, job_id: int, work_dir: Path, states: set[str], timeout: float = 30.0
) -> list[dict[str, str]]:
    return wait_for(server, job_id, work_dir, lambda s: s["job-state"] in states, timeout)


# -- clients ----------------------------------------------------------------------------------


def cups_client(server: PrinthostServer, home: Path) -> CupsClient:
    return CupsClient(server.address, home)


#: A submission running in the background: (title, document) -> the client process.
Submitter = Callable[[str, Path], "subprocess.Popen[str]"]

_PRINT_JOB_TEST = """{
\tNAME "Print-Job"
\tOPERATION Print-Job
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name $requester
\tATTR name job-name $title
\tATTR mimeMediaType document-format application/octet-stream
\tFILE $filename
\tSTATUS successful-ok
\tEXPECT job-id
\tDISPLAY job-id
}
"""
_ACK = re.compile(r"request id is \S+-(\d+) |job-id \(integer\) = (\d+)$", re.MULTILINE)


def _background(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def lp_submitter(client: CupsClient, queue: str = "myprinter") -> Submitter:
    """``lp -d QUEUE -t TITLE FILE`` (Create-Job + Send-Document).

    Only trustworthy while the server stays up: libcups 2.4's ``lp`` prints "request id is"
    and exits 0 even when the connection closes before Send-Document is answered."""
    return lambda title, document: _background(
        ["lp", "-d", queue, "-t", title, str(document)], client.env()
    )


def ipptool_submitter(
    server: PrinthostServer, work_dir: Path, requester: str = DEFAULT_USER, queue: str = ""
) -> Submitter:
    """ipptool Print-Job: the job-id it shows comes from the server's response and nothing
    else, so it is an acknowledgement even when the server dies mid-request."""
    work_dir.mkdir(parents=True, exist_ok=True)
    test = work_dir / "print-job-titled.test"
    test.write_text(_PRINT_JOB_TEST)
    env = {**os.environ, "HOME": str(work_dir), "LC_ALL": "C"}

    def start(title: str, document: Path) -> subprocess.Popen[str]:
        defines = ["-d", f"requester={requester}", "-d", f"title={title}"]
        argv = ["ipptool", "-t", "-T", "30", *defines, "-f", str(document)]
        uri = server.ipp_uri(queue) if queue else server.ipp_uri()
        return _background([*argv, uri, str(test)], env)

    return start


def acknowledged_id(process: subprocess.Popen[str], timeout: float = 30.0) -> int | None:
    """The job-id the client was given (lp's "request id is Q-N", ipptool's displayed
    job-id), or None if it failed. Kills the client, by its pid, after ``timeout``."""
    try:
        out, _err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return None
    match = _ACK.search(out)
    return int(match[1] or match[2]) if process.returncode == 0 and match else None


def printhost_submit(server: PrinthostServer, document: Path, title: str) -> int:
    """printhost's own client: ``printhost submit FILE --title T --server URI``."""
    argv = [sys.executable, "-m", "printhost", "submit", str(document), "--title", title]
    result = subprocess.run(
        [*argv, "--server", server.ipp_uri(), "--user", DEFAULT_USER],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"job (\d+) submitted", result.stdout)
    assert result.returncode == 0 and match, describe(result)
    return int(match[1])


# -- printers ----------------------------------------------------------------------------------


def printed_names(printer: IppEvePrinter) -> Counter[str]:
    """How often each job-name was printed (ippeveprinter's print command keeps one file and
    its environment per printed job)."""
    return Counter(
        printer.job_environment(path).get("IPP_JOB_NAME", "") for path in printer.received_files()
    )


def restart_on_same_port(printer: IppEvePrinter, monkeypatch: pytest.MonkeyPatch) -> None:
    """The printer comes back at the address printhost is configured with."""
    port = printer.port
    monkeypatch.setattr("peers.ippeveprinter.free_port", lambda: port)
    printer.start()


def ipp_printer(printer: IppEvePrinter, tls: bool = False) -> dict[str, Any]:
    return {"name": "eve", "uri": printer.ipps_uri if tls else printer.uri}


def single_queue(printer: dict[str, Any]) -> dict[str, Any]:
    """make_printhost_server options: one printer behind the queue "myprinter"."""
    return {
        "printers": [printer],
        "queues": [{"name": "myprinter", "printer": printer["name"]}],
        "settings": {"delivery": dict(FAST_DELIVERY), "routing": dict(FAST_PROBE)},
    }


def ipptool_print(uri: str, document: Path, work_dir: Path) -> int:
    """Print-Job with CUPS's own ``print-job.test``; returns the job-id the server gave."""
    work_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["ipptool", "-tv", "-T", "30", "-f", str(document), uri, "print-job.test"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(work_dir), "LC_ALL": "C"},
        timeout=60,
        check=False,
    )
    match = re.search(r"job-id \(integer\) = (\d+)", result.stdout)
    assert result.returncode == 0 and "[PASS]" in result.stdout and match, describe(result)
    return int(match[1])


def cupsd_job_named(cupsd: PrivateCupsd, name: str, timeout: float = 15.0) -> int:
    """The id of cupsd's completed job called ``name`` (names are unique per test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job, _owner in cupsd.completed_jobs():
            job_id = int(job.rsplit("-", 1)[1])
            if cupsd.job_attributes(job_id).get("job-name") == name:
                return job_id
        time.sleep(0.2)
    raise AssertionError(f"cupsd has no completed job {name!r} after {timeout} s")
