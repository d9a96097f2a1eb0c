"""No single point of failure, end to end: three printhost nodes on one PostgreSQL (a
private cluster started here) and one shared spool directory, behind the HAProxy
configuration printhost ships, printing to a pool of three ippeveprinters. Clients are
ipptool processes printing through HAProxy, continuously, each job with its own name.

- A node is SIGKILLed every couple of seconds and started again: every job a client was
  acknowledged prints exactly once (counted by name at the printers), none is lost, and a
  client that got no acknowledgement saw only an error it may retry (a broken connection,
  or a 5xx / server-error status), never a refusal.
- PostgreSQL is restarted under load: the nodes reconnect by themselves; requests during
  the outage get server-error-service-unavailable (or a broken connection); every
  acknowledged job prints exactly once; and Get-Jobs lists the same jobs from every node.

Bounded: each load phase runs a fixed time and a fixed number of clients; every process
started here is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from peers.haproxy import HAProxy
from peers.ippeveprinter import IppEvePrinter
from support.postgres import PostgresCluster, start_cluster
from support.server import PrinthostServer

from printhost.cluster.nodes import node_state
from printhost.store import open_store

from .delivery_helpers import FAST_DELIVERY, FAST_PROBE, list_jobs, printed_names

ServerFactory = Callable[..., PrinthostServer]
NODES = 3
CLIENTS = 4
PRINT_JOB = """{
\tNAME "Print-Job"
\tOPERATION Print-Job
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name client
\tATTR name job-name $title
\tATTR mimeMediaType document-format text/plain
\tFILE $filename
\tSTATUS successful-ok
\tEXPECT job-id
\tDISPLAY job-id
}
"""
#: What a client may see when its request met a dying node or the database restarting.
RETRYABLE = re.compile(
    r"server-error-|Unable to (connect|finish|send|read)|"
    r"Connection reset|Broken pipe|timed out|End of file",
    re.IGNORECASE,
)


@dataclass
class Load:
    """Clients printing through the balancer until told to stop."""

    uri: str
    work: Path
    acked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, client: int) -> None:
        work = self.work / f"client-{client}"
        work.mkdir(parents=True, exist_ok=True)
        test = work / "print.test"
        test.write_text(PRINT_JOB)
        for n in range(10_000):  # bounded; normally stopped long before
            if self._stop.is_set():
                return
            title = f"c{client}-j{n}"
            document = work / "doc.txt"
            document.write_text(f"{title}\n")
            done = subprocess.run(
                ["ipptool", "-t", "-T", "10", "-d", f"title={title}",
                 "-d", f"filename={document}", self.uri, str(test)],
                capture_output=True, text=True, timeout=60, check=False,
                env={**os.environ, "HOME": str(work), "LC_ALL": "C"},
            )  # fmt: skip
            with self._lock:
                if done.returncode == 0 and "[PASS]" in done.stdout:
                    self.acked.append(title)
                else:
                    self.failures.append(done.stdout + done.stderr)
            time.sleep(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self.run, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=90)


@pytest.fixture
def postgres() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def _cluster(
    make: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    postgres: PostgresCluster,
    tmp_path: Path,
) -> tuple[list[PrinthostServer], list[IppEvePrinter], str]:
    database = postgres.create_database(migrated=False)
    printers = [make_eve() for _ in range(3)]
    settings = {
        "storage": {"database_url": postgres.url(database), "spool": str(tmp_path / "spool")},
        "server": {"trusted_proxies": ["127.0.0.2"], "drain_grace_seconds": 0},
        "delivery": dict(FAST_DELIVERY),
        "routing": dict(FAST_PROBE),
    }
    nodes = [
        make(
            tls=False,
            printers=[{"name": f"eve{i}", "uri": p.uri} for i, p in enumerate(printers)],
            queues=[{"name": "myprinter", "destination": "room"}],
            settings=settings,
            extra_toml=(
                '[[pools]]\nname = "room"\nmembers = ["eve0", "eve1", "eve2"]\n'
                'policy = "round-robin"\n'
            ),
            name=f"node{n}",
        )
        for n in range(NODES)
    ]
    return nodes, printers, database


async def _node_states(url: str) -> list[str]:
    """What the nodes table says of each node (printhost nodes reads the same)."""
    store = await open_store(url)
    try:
        now = time.time()
        return [str(node_state(n, now, 10.0)) for n in await store.list_nodes()]
    finally:
        await store.close()


def _printed(printers: list[IppEvePrinter]) -> Counter[str]:
    total: Counter[str] = Counter()
    for printer in printers:
        total.update(printed_names(printer))
    return total


def _wait_printed(printers: list[IppEvePrinter], names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(name in _printed(printers) for name in names):
            return
        time.sleep(0.2)
    missing = sorted(set(names) - set(_printed(printers)))
    raise AssertionError(f"{len(missing)} acknowledged job(s) never printed: {missing[:20]}")


def _only_retryable(failures: list[str]) -> None:
    refusals = [f for f in failures if not RETRYABLE.search(f)]
    assert not refusals, refusals[:3]


def test_nodes_killed_under_load_lose_and_double_nothing(
    make_printhost_server: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    nodes, printers, _ = _cluster(make_printhost_server, make_eve, postgres, tmp_path)
    with HAProxy(tmp_path / "lb", [n.address for n in nodes]) as lb:
        load = Load(lb.ipp_uri, tmp_path / "clients")
        kills = 0
        rng = random.Random(5)
        with load.running():
            for _ in range(6):  # a node killed every ~2 s (its restart takes ~1 s)
                time.sleep(1.5)
                victim = rng.choice(nodes)
                victim.kill()
                kills += 1
                time.sleep(0.3)
                victim.start()
        assert len(load.acked) >= 40, (len(load.acked), load.failures[:3])
        _wait_printed(printers, load.acked, timeout=90)
        printed = _printed(printers)
        doubled = {name: n for name, n in printed.items() if n > 1}
        assert not doubled, doubled
        _only_retryable(load.failures)
        states = asyncio.run(_node_states(nodes[0].settings["storage"]["database_url"]))
        assert states.count("up") == NODES, states  # the killed instances went silent
        print(
            f"{kills} kills: {len(load.acked)} acknowledged, all printed once; "
            f"{len(load.failures)} retryable failures"
        )


def test_postgresql_restarted_under_load(
    make_printhost_server: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    postgres: PostgresCluster,
    tmp_path: Path,
) -> None:
    nodes, printers, _ = _cluster(make_printhost_server, make_eve, postgres, tmp_path)
    with HAProxy(tmp_path / "lb", [n.address for n in nodes]) as lb:
        load = Load(lb.ipp_uri, tmp_path / "clients")
        with load.running():
            time.sleep(3)
            postgres.restart(down_seconds=2.0)
            time.sleep(5)
        assert all(node.is_running() for node in nodes), "a node died with the database"
        assert len(load.acked) >= 20, (len(load.acked), load.failures[:3])
        _wait_printed(printers, load.acked, timeout=90)
        doubled = {name: n for name, n in _printed(printers).items() if n > 1}
        assert not doubled, doubled
        _only_retryable(load.failures)
        # (states may move on between the three listings: compare ids and names)
        listings = [
            {j.job_id: j.name for j in list_jobs(n.ipp_uri(), tmp_path / f"q{i}").values()}
            for i, n in enumerate(nodes)
        ]
        assert listings[0] and all(listing == listings[0] for listing in listings)
        unavailable = [f for f in load.failures if "server-error-service-unavailable" in f]
        print(f"{len(load.acked)} acknowledged; {len(unavailable)} told service-unavailable")
