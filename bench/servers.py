"""The two servers under test, behind one small interface.

Both get the same queues (name -> device URI), listen on 127.0.0.1 only, keep all their
files in a private directory of the run, and are stopped by their own PID.

printhost runs through the test harness (``support.server.PrinthostServer``: a
``python -m printhost serve`` subprocess with a TOML file) with its *documented defaults*
for delivery (README.md), plain HTTP only, anonymous printing allowed, and one admin user
for Pause-Printer.

CUPS is Debian's ``cupsd`` 2.4 run by :class:`BenchCupsd`, tests/peers' ``PrivateCupsd``
with the bench's own ``cupsd.conf``:

* ``LogLevel warn``, ``Browsing No``, no web interface, no authentication;
* ``PreserveJobFiles No`` (documents are deleted once printed, as printhost does), job
  history kept (the default ``PreserveJobHistory Yes``);
* ``MaxJobs`` and ``MaxActiveJobs`` left at their defaults: with 500 jobs pending or
  printing, cupsd answers client-error-not-possible "Too many active jobs.";
* ``ErrorPolicy retry-job`` - the value of Debian's packaged ``/etc/cups/cupsd.conf``
  (cupsd's compiled-in default is ``stop-printer``, which never resumes on its own);
  ``JobRetryInterval`` left at its default, 30 s;
* ``SyncOnClose`` left at its default, ``No``: cupsd does not fsync its job files, and it
  never fsyncs documents; job control files are even written lazily
  (``DirtyCleanInterval``, default 30 s). So CUPS acknowledges a job before it is on
  stable storage; printhost acknowledges only after the document, its directory and the
  job record are fsync'd.

Queues are raw (``lpadmin -m raw``: deprecated but working in 2.4) with
``job-sheets=none``, so cupsd forks only the backend, never a filter.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from peers.cupsd import PrivateCupsd
from peers.procs import (
    LOCALHOST,
)
from support.server import PrinthostServer, user

from bench.client import ipp_request
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.model import Message

#: printhost's delivery defaults as README.md documents them, written out so that the
#: harness's test-friendly values (1 s retries) are not what is measured.
PRINTHOST_SETTINGS: dict[str, dict[str, str | int | float | bool]] = {
    "delivery": {
        "timeout_seconds": 60,
        "max_attempts": 50,
        "lease_seconds": 30,
        "workers": 8,
    },
    "jobs": {"history_seconds": 86400, "max_document_bytes": 1 << 30},
    "routing": {"probe_interval_seconds": 2.0},
}

CUPSD_CONF = """\
Listen {host}:{port}
Browsing No
WebInterface No
LogLevel warn
DefaultAuthType None
PreserveJobFiles No
ErrorPolicy retry-job
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

#: What the table says about each server's configuration (also kept in the JSON).
FACTS = {
    "printhost": {
        "acknowledges": "after fsync of document + directory and a synchronous=FULL commit",
        "delivery": "one job per printer at a time; [delivery] defaults from README.md; a "
        "printer is marked down after a failed delivery and probed every 2 s",
        "queues": "one queue per printer; row 7's pool: one queue → a first-available pool",
    },
    "CUPS": {
        "acknowledges": "before any fsync: SyncOnClose No (default), documents never "
        "fsync'd, job files written lazily (DirtyCleanInterval 30 s)",
        "limits": "MaxJobs and MaxActiveJobs at their defaults (500): past 500 active "
        "jobs it refuses new ones",
        "queues": "raw queues (lpadmin -m raw), job-sheets=none, ErrorPolicy retry-job "
        "(Debian's cupsd.conf), JobRetryInterval 30 s (default)",
    },
}


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    device_uri: str
    #: Device URIs of a printer pool behind this queue (``device_uri`` is then unused):
    #: a printhost pool (first-available). CUPS classes are not set up by the bench.
    members: tuple[str, ...] = ()


class Server(Protocol):
    label: str

    @property
    def port(self) -> int: ...

    @property
    def pid(self) -> int: ...

    def start(self, queues: Sequence[Queue]) -> None: ...

    async def pause(self, queue: str) -> None: ...

    async def has_active_jobs(self) -> bool: ...

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class ServerDied(RuntimeError):
    """The server under test exited during a run (a crash, or someone else's kill)."""


def control_message(operation: Operation, uri: str) -> Message:
    message = Message((2, 0), operation, 1)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, uri)
    group.add("requesting-user-name", Tag.NAME, "bench-admin")
    return message


def active_jobs_message(port: int) -> Message:
    """Get-Jobs for every queue (printer-uri ``ipp://host/``, as ``lpstat -o`` sends it),
    not-completed jobs, at most one: is anything still to be printed?"""
    message = control_message(Operation.GET_JOBS, f"ipp://{LOCALHOST}:{port}/")
    message.operation_attributes.add("which-jobs", Tag.KEYWORD, "not-completed")
    message.operation_attributes.add("limit", Tag.INTEGER, 1)
    message.operation_attributes.add("requested-attributes", Tag.KEYWORD, "job-id")
    return message


def lists_a_job(response: Message, what: str) -> bool:
    check(response, what)
    return any(group.get("job-id") is not None for group in response.groups_of(Tag.JOB))


def check(response: Message, what: str) -> None:
    if response.code >= Status.CLIENT_ERROR_BAD_REQUEST:
        raise RuntimeError(f"{what}: IPP status 0x{response.code:04x}")


class Printhost:
    label = "printhost"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.password = secrets.token_urlsafe(12)
        self.server: PrinthostServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def pid(self) -> int:
        assert self.server is not None and self.server.pid is not None
        return self.server.pid

    def start(self, queues: Sequence[Queue]) -> None:
        single = [q for q in queues if not q.members]
        pooled = [q for q in queues if q.members]
        members = {q.name: [f"{q.name}-m{n}" for n in range(len(q.members))] for q in pooled}
        self.server = PrinthostServer(
            self.root,
            printers=[{"name": f"{q.name}-printer", "uri": q.device_uri} for q in single]
            + [
                {"name": m, "uri": u}
                for q in pooled
                for m, u in zip(members[q.name], q.members, strict=True)
            ],
            queues=[{"name": q.name, "printer": f"{q.name}-printer"} for q in single]
            + [{"name": q.name, "destination": f"{q.name}-pool"} for q in pooled],
            users=[user("bench-admin", self.password, "admin")],
            settings=PRINTHOST_SETTINGS,
            extra_toml="".join(
                f'[[pools]]\nname = "{q.name}-pool"\nmembers = {json.dumps(members[q.name])}\n'
                for q in pooled
            ),
            tls=False,
        ).start()

    async def pause(self, queue: str) -> None:
        uri = f"ipp://{LOCALHOST}:{self.port}/printers/{queue}"
        response = await ipp_request(
            LOCALHOST,
            self.port,
            f"/printers/{queue}",
            control_message(Operation.PAUSE_PRINTER, uri),
            basic_auth=f"bench-admin:{self.password}",
        )
        check(response, f"printhost Pause-Printer {queue}")

    async def has_active_jobs(self) -> bool:
        response = await ipp_request(
            LOCALHOST,
            self.port,
            "/",
            active_jobs_message(self.port),
            basic_auth=f"bench-admin:{self.password}",
        )
        return lists_a_job(response, "printhost Get-Jobs")

    def alive(self) -> bool:
        return self.server is not None and self.server.is_running()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class BenchCupsd(PrivateCupsd):
    """``PrivateCupsd`` with the bench's configuration (see the module docstring)."""

    cupsd_conf_template = CUPSD_CONF


class Cups:
    label = "CUPS"

    def __init__(self, root: Path) -> None:
        self.cupsd = BenchCupsd(root)

    @property
    def port(self) -> int:
        return self.cupsd.port

    @property
    def pid(self) -> int:
        assert self.cupsd.proc is not None
        return self.cupsd.proc.pid

    def start(self, queues: Sequence[Queue]) -> None:
        self.cupsd.start()
        for queue in queues:
            self.cupsd.lpadmin("-p", queue.name, "-E", "-v", queue.device_uri, "-m", "raw")
            self.cupsd.lpadmin("-p", queue.name, "-o", "job-sheets=none")

    async def pause(self, queue: str) -> None:
        uri = f"ipp://{LOCALHOST}:{self.port}/printers/{queue}"
        message = control_message(Operation.PAUSE_PRINTER, uri)
        response = await ipp_request(LOCALHOST, self.port, "/admin/", message)
        check(response, f"CUPS Pause-Printer {queue}")

    async def has_active_jobs(self) -> bool:
        response = await ipp_request(LOCALHOST, self.port, "/", active_jobs_message(self.port))
        return lists_a_job(response, "CUPS Get-Jobs")

    def alive(self) -> bool:
        return self.cupsd.proc is not None and self.cupsd.proc.poll() is None

    def stop(self) -> None:
        self.cupsd.stop()


def make_server(label: str, root: Path) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # cupsd runs backends as lp: they must reach the spool
    return Printhost(root) if label == "printhost" else Cups(root)
