"""Printer pools fail over, end to end, with real printers: three ``ippeveprinter``s, a
socket that accepts and never answers, and a CUPS queue that refuses jobs.

- One member is SIGKILLed mid-run: its jobs go to the other members; every job is printed,
  and only once, except the one the victim may have finished in its last moment before
  printhost could ask (a dead printer confirms nothing: at least once, invariant 2); when
  it comes back on its port the prober sees it and it prints again.
- One member hangs (TCP accepted, no answer), one returns errors (CUPS: "not accepting
  jobs"): each is marked down after one failed delivery and the job goes on at once to
  the next member; every job is printed once by the good one; the erring one, accepting
  again, is used again.

The time from a printer's death to the next job printed elsewhere is measured in bench/
(``python -m bench``), not asserted here.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from peers.cupsd import PrivateCupsd
from peers.dbus import DbusDaemon
from peers.ippeveprinter import IppEvePrinter
from peers.sink import RawSink
from support.server import PrinthostServer

from .delivery_helpers import (
    FAST_DELIVERY,
    FAST_PROBE,
    acknowledged_id,
    ipptool_submitter,
    list_jobs,
    printed_names,
    restart_on_same_port,
    wait_for_jobs,
    write_pdf,
)

ServerFactory = Callable[..., PrinthostServer]


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[DbusDaemon]:
    """One D-Bus daemon for every printer (and outliving them, so one can restart)."""
    with DbusDaemon(tmp_path / "bus") as daemon:
        yield daemon


def pool_of(printers: list[dict[str, Any]], policy: str) -> dict[str, Any]:
    """make_printhost_server options: ``myprinter`` sends every job to pool "floor"."""
    return {
        "printers": printers,
        "queues": [{"name": "myprinter", "destination": "floor"}],
        "extra_toml": (
            "[[pools]]\n"
            'name = "floor"\n'
            f'policy = "{policy}"\n'
            f"members = {json.dumps([p['name'] for p in printers])}\n"
        ),
        "settings": {"delivery": dict(FAST_DELIVERY), "routing": dict(FAST_PROBE)},
    }


def submit_all(server: PrinthostServer, work_dir: Path, titles: list[str], doc: Path) -> list[int]:
    submit = ipptool_submitter(server, work_dir / "submit")
    processes = [submit(title, doc) for title in titles]
    ids = [acknowledged_id(p) for p in processes]
    assert all(i is not None for i in ids), ids
    return [i for i in ids if i is not None]


def all_completed(ids: list[int]) -> Callable[[dict[int, Any]], bool]:
    return lambda jobs: all(i in jobs and jobs[i].state == "completed" for i in ids)


def test_a_killed_member_loses_nothing_and_prints_again_when_back(
    make_printhost_server: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    bus: DbusDaemon,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    work_dir: Path,
) -> None:
    printers = [make_eve(bus=bus, delay=0.2, name=f"eve{n}") for n in range(3)]
    victim = printers[1]
    server = make_printhost_server(
        **pool_of(
            [{"name": f"eve{n}", "uri": p.uri} for n, p in enumerate(printers)], "round-robin"
        )
    )
    document = tmp_path / "doc.pdf"
    write_pdf(document, 3000)
    titles = [f"job-{n:02d}" for n in range(24)]
    ids = submit_all(server, work_dir, titles, document)

    def printed() -> Counter[str]:
        total: Counter[str] = Counter()
        for printer in printers:
            total += printed_names(printer)
        return total

    deadline = time.monotonic() + 30
    while sum(printed().values()) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # not in step with the victim's own jobs
    victim.kill()

    wait_for_jobs(server.ipp_uri(), work_dir, all_completed(ids), timeout=60)
    survivors = printed_names(printers[0]) + printed_names(printers[2])
    by_victim = printed_names(victim)
    assert all(survivors[t] + by_victim[t] >= 1 for t in titles), "a job was lost"
    assert all(survivors[t] <= 1 for t in titles), survivors
    # At least once (invariant 2): the one job in flight on the victim (a printer takes
    # one at a time) may have come out just before it died, before printhost's next
    # status poll could see it; a dead printer confirms nothing, so it is printed again
    # elsewhere. Nothing else is printed twice.
    twice = [t for t in titles if survivors[t] and by_victim[t]]
    assert len(twice) <= 1, twice

    restart_on_same_port(victim, monkeypatch)
    more: list[int] = []
    deadline = time.monotonic() + 30
    while not any(t.startswith("again-") for t in printed_names(victim)):
        assert time.monotonic() < deadline, "the returned printer was never used again"
        more += submit_all(server, work_dir, [f"again-{len(more) + n}" for n in range(3)], document)
        wait_for_jobs(server.ipp_uri(), work_dir, all_completed(more), timeout=30)
    again = Counter({t: c for t, c in printed().items() if t.startswith("again-")})
    assert all(c == 1 for c in again.values()) and len(again) == len(more), again


def refused_printed(cupsd: PrivateCupsd) -> list[tuple[str, str]]:
    """Jobs the "refusing" queue printed (the cupsd is shared with other tests)."""
    return [job for job in cupsd.completed_jobs() if job[0].startswith("refusing-")]


def test_hung_and_erring_members_are_passed_over_and_come_back(
    make_printhost_server: ServerFactory,
    make_eve: Callable[..., IppEvePrinter],
    cupsd: PrivateCupsd,
    tmp_path: Path,
    work_dir: Path,
) -> None:
    good = make_eve(name="good")
    cupsd.add_raw_queue("refusing")
    cupsd.run("cupsreject", "-h", cupsd.server, "refusing")
    with RawSink(mode="hang") as hung:
        members = [
            {"name": "hung", "uri": f"ipp://127.0.0.1:{hung.port}/ipp/print"},
            {"name": "erring", "uri": f"ipp://{cupsd.server}/printers/refusing"},
            {"name": "good", "uri": good.uri},
        ]
        server = make_printhost_server(**pool_of(members, "first-available"))
        document = tmp_path / "doc.pdf"
        write_pdf(document, 3000)
        titles = [f"job-{n:02d}" for n in range(8)]
        ids = submit_all(server, work_dir, titles, document)
        wait_for_jobs(server.ipp_uri(), work_dir, all_completed(ids), timeout=60)
        assert dict(printed_names(good)) == dict.fromkeys(titles, 1)
        assert hung.connections >= 1, "the hung printer was tried first"
        assert refused_printed(cupsd) == []

        cupsd.run("cupsaccept", "-h", cupsd.server, "refusing")
        deadline = time.monotonic() + 30
        later: list[int] = []
        while not refused_printed(cupsd):
            assert time.monotonic() < deadline, "the erring printer was never used again"
            later += submit_all(server, work_dir, [f"later-{len(later)}"], document)
            wait_for_jobs(server.ipp_uri(), work_dir, all_completed(later), timeout=30)
        # each later job printed once: on the good printer, or on the one accepting again
        on_good = [t for t in printed_names(good) if t.startswith("later-")]
        assert len(on_good) + len(refused_printed(cupsd)) == len(later)
        assert all(c == 1 for c in printed_names(good).values())
        jobs = list_jobs(server.ipp_uri(), work_dir)
        assert all(jobs[i].state == "completed" for i in ids + later)
