"""Routing in process: intake rules (mapping, defaults, queues made on first use) and the
dispatcher's late binding (pools, capabilities, desktops, printers going down), on a real
SQLite store and spool with a fake clock. Printers are ``file:`` directories, one per
printer, so where a job went is a file on disk; a closed TCP port is a printer that is off.
The clock never moves unless a test moves it: a delivery that needs time to pass to happen
never happens."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.dispatch.backends.base import DeliveryRequest, RemoteLookup
from printhost.dispatch.backends.file import FileBackend
from printhost.dispatch.dispatcher import PEEK_BATCH, Dispatcher
from printhost.ipp.constants import JobState, Tag
from printhost.ipp.model import Attribute
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.service import ROUTE_HOLD_REASON, JobRefused, JobSpec
from printhost.routing import names
from printhost.server.job_attributes import decode_template, encode_template
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import (
    AgentRecord,
    JobDefaults,
    JobFilter,
    NewDocument,
    NewEvent,
    PresenceRecord,
    PrinterRecord,
    UserPreferences,
)
from printhost.store.spool import Spool

DONE = {JobState.COMPLETED}


@dataclass
class World:
    services: Services
    dispatcher: Dispatcher
    clock: FakeClock
    root: Path

    def printed_on(self, job: JobRecord) -> list[str]:
        """The file printers that have this job (its sidecar is the commit marker)."""
        return sorted(
            d.name for d in (self.root / "out").iterdir() if (d / f"job-{job.id}.json").exists()
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _file(root: Path, name: str, **extra: Any) -> dict[str, Any]:
    directory = root / "out" / name
    directory.mkdir(parents=True, exist_ok=True)
    return {"name": name, "uri": directory.as_uri(), **extra}


def _missing(root: Path, name: str) -> dict[str, Any]:
    """A file printer whose directory is gone: every delivery fails, every probe too."""
    return {"name": name, "uri": (root / "gone" / name).as_uri()}


async def _world(root: Path, **sections: Any) -> World:
    data: dict[str, Any] = {
        "storage": {"state_dir": str(root / "var")},
        "delivery": {"timeout_seconds": 2, "lease_seconds": 30},
        "routing": {"probe_interval_seconds": 0.1},
        **sections,
    }
    config = parse_config(data, base=root)
    clock = FakeClock()
    store = await open_store(config.storage.effective_database_url)
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "test-node")
    (root / "out").mkdir(exist_ok=True)
    return World(services, dispatcher, clock, root)


@contextlib.asynccontextmanager
async def _opened(root: Path, **sections: Any) -> AsyncIterator[World]:
    w = await _world(root, **sections)
    try:
        yield w
    finally:
        await w.dispatcher.aclose()
        await w.services.store.close()


@contextlib.asynccontextmanager
async def _running(w: World) -> AsyncIterator[None]:
    """The dispatcher runs inside the block; leaving it stops the dispatcher and waits
    for every delivery task, so the next block starts with every printer free."""
    runner = asyncio.create_task(w.dispatcher.run())
    try:
        yield
    finally:
        # Cancelled until it stops: Dispatcher.run can miss a cancellation that comes as it
        # is woken (test_the_dispatcher_stops_when_cancelled_as_it_is_woken shows it); the
        # other tests are about other things.
        while not runner.done():
            runner.cancel()
            await asyncio.wait({runner}, timeout=1)
        await asyncio.gather(runner, return_exceptions=True)


async def _document(w: World, data: bytes = b"%PDF-1.4\n%test\n") -> NewDocument:
    writer = w.services.spool.writer("t")
    writer.write(data)
    stored = await writer.commit()
    return NewDocument(
        stored.path, "application/pdf", "application/pdf", "t.pdf", stored.size, stored.sha256
    )


def _spec(*template: Attribute, **overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "queue": "myprinter",
        "owner": "alice",
        "owner_authenticated": False,
        "originating_host": "h",
        "name": "job",
        "template": encode_template(template) if template else b"",
    }
    fields.update(overrides)
    return JobSpec(**fields)


COLOUR = Attribute.of("print-color-mode", Tag.KEYWORD, "color")


async def _submit(
    w: World, *template: Attribute, data: bytes = b"%PDF-1.4\n", **kw: Any
) -> JobRecord:
    return await w.services.jobs.submit(_spec(*template, **kw), [await _document(w, data)])


async def _get(w: World, job_id: JobId) -> JobRecord:
    job = await w.services.store.get_job(job_id)
    assert job is not None
    return job


async def _until(
    w: World, job_id: JobId, states: set[JobState], timeout: float = 10.0
) -> JobRecord:
    """Wait (real time, bounded) for the dispatcher task to reach one of ``states``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await _get(w, job_id)
        if job.state in states:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job {job_id} stuck: {job}"
        await asyncio.sleep(0.02)


async def _held(w: World, job_id: JobId) -> JobRecord:
    held = await _until(w, job_id, {JobState.PENDING_HELD})
    assert held.state_reasons == (ROUTE_HOLD_REASON,)
    assert held.hold_until == "indefinite"
    return held


async def _prefer(w: World, user: str, **fields: Any) -> None:
    prefs = UserPreferences(user, updated_at=w.clock.now(), **fields)
    await w.services.store.put_preferences(prefs, NewEvent("preferences-changed", w.clock.now()))


# --- pools: policies -----------------------------------------------------------------------


def _pool_config(root: Path, policy: str) -> dict[str, Any]:
    return {
        "printers": [_file(root, n) for n in ("a", "b", "c")],
        "pools": [{"name": "office", "members": ["a", "b", "c"], "policy": policy}],
        "queues": [{"name": "myprinter", "destination": "a"}, {"name": "q", "printer": "office"}],
    }


@pytest.mark.parametrize(
    ("policy", "order"),
    [
        ("first-available", ["a", "a", "a", "a"]),
        ("priority", ["a", "a", "a", "a"]),
        ("round-robin", ["a", "b", "c", "a"]),
        ("least-loaded", ["a", "b", "c", "a"]),
    ],
)
async def test_jobs_one_after_another_go_to_members_per_policy(
    tmp_path: Path, policy: str, order: list[str]
) -> None:
    async with _opened(tmp_path, **_pool_config(tmp_path, policy)) as w:
        printed = []
        for _ in order:
            job = await _submit(w, queue="q")
            async with _running(w):
                done = await _until(w, job.id, DONE)
            assert w.printed_on(done) == [done.printer]
            printed.append(done.printer)
        assert printed == order


@pytest.mark.parametrize("policy", ["first-available", "round-robin", "least-loaded"])
async def test_jobs_waiting_together_are_spread_over_free_members(
    tmp_path: Path, policy: str
) -> None:
    async with _opened(tmp_path, **_pool_config(tmp_path, policy)) as w:
        jobs = [await _submit(w, queue="q") for _ in range(3)]
        async with _running(w):
            done = [await _until(w, job.id, DONE) for job in jobs]
        # one pass: each job takes the next free printer (one job per printer at a time)
        assert [j.printer for j in done] == ["a", "b", "c"]
        assert [w.printed_on(j) for j in done] == [["a"], ["b"], ["c"]]
        assert all(j.delivery_attempts == 1 for j in done)


async def test_priority_pool_uses_standby_only_when_every_member_is_down(tmp_path: Path) -> None:
    config = {
        "printers": [_missing(tmp_path, "a"), _missing(tmp_path, "b"), _file(tmp_path, "s")],
        "pools": [{"name": "hall", "members": ["a", "b"], "standby": ["s"], "policy": "priority"}],
        "queues": [{"name": "myprinter", "destination": "hall"}],
    }
    async with _opened(tmp_path, **config) as w:
        job = await _submit(w)
        async with _running(w):
            done = await _until(w, job.id, DONE)
        # a failed, went down; b failed, went down; only then the standby printer
        assert (done.printer, done.delivery_attempts) == ("s", 3)
        assert w.printed_on(done) == ["s"]
        down = {p.name for p in await w.services.store.list_printers() if not p.is_up}
        assert down == {"a", "b"}


# --- pools: capabilities -------------------------------------------------------------------


async def test_colour_jobs_go_only_to_the_colour_member(tmp_path: Path) -> None:
    config = {
        "printers": [
            _file(tmp_path, "mono1", color=False),
            _file(tmp_path, "mono2", color=False),
            _file(tmp_path, "col"),
        ],
        "pools": [{"name": "office", "members": ["mono1", "mono2", "col"]}],
        "queues": [{"name": "myprinter", "destination": "office"}],
    }
    async with _opened(tmp_path, **config) as w:
        colour = [await _submit(w, COLOUR, owner=f"user{i}") for i in range(3)]
        plain = await _submit(w, owner="bob")
        async with _running(w):
            done = [await _until(w, job.id, DONE) for job in colour]
            plain_done = await _until(w, plain.id, DONE)
        assert [j.printer for j in done] == ["col"] * 3
        assert [w.printed_on(j) for j in done] == [["col"]] * 3
        assert plain_done.printer == "mono1"


async def test_job_no_member_can_print_is_held_then_released(tmp_path: Path) -> None:
    mono_only = {
        "printers": [_file(tmp_path, "mono1", color=False), _file(tmp_path, "col")],
        "pools": [{"name": "north-wing", "members": ["mono1"]}],
        "queues": [{"name": "myprinter", "destination": "col"},
                   {"name": "q", "destination": "north-wing"}],
    }  # fmt: skip
    async with _opened(tmp_path, **mono_only) as w:
        colour = await _submit(w, COLOUR, queue="q")
        plain = await _submit(w, queue="q")
        user_held = await w.services.jobs.submit(
            _spec(queue="q", hold_until="indefinite"), [await _document(w)]
        )
        async with _running(w):
            held = await _held(w, colour.id)
            # the job behind it on the same queue is not held up by it
            assert (await _until(w, plain.id, DONE)).printer == "mono1"
        assert "north-wing" in held.state_message and "colour" in held.state_message
        assert w.printed_on(held) == []
        # a change routing depends on: the held job gets another try (a user's own hold is
        # not touched)
        assert await w.services.jobs.release_route_holds() == 1
        released = await _get(w, colour.id)
        assert (released.state, released.hold_until) == (JobState.PENDING, None)
        assert (await _get(w, user_held.id)).state == JobState.PENDING_HELD
        async with _running(w):
            await _held(w, colour.id)  # nothing changed for it: held again
    # the pool gets a colour printer (a new configuration on the same database)
    with_colour = {**mono_only, "pools": [{"name": "north-wing", "members": ["mono1", "col"]}]}
    async with _opened(tmp_path, **with_colour) as w:
        assert await w.services.jobs.release_route_holds() == 1
        async with _running(w):
            done = await _until(w, colour.id, DONE)
        assert (done.printer, w.printed_on(done)) == ("col", ["col"])


# --- desktops ------------------------------------------------------------------------------


async def test_desktop_job_is_held_until_its_user_logs_in(tmp_path: Path) -> None:
    config = {
        "printers": [_file(tmp_path, "p")],
        "queues": [{"name": "myprinter", "destination": "p"}],
    }
    agent_dir = tmp_path / "out" / "agent-ws1"
    agent_dir.mkdir(parents=True)
    async with _opened(tmp_path, **config) as w:
        store = w.services.store
        await _prefer(w, "alice", destination="desktop")
        job = await _submit(w)
        other = await _submit(w, owner="bob")
        async with _running(w):
            held = await _held(w, job.id)
            assert (await _until(w, other.id, DONE)).printer == "p"
        assert "alice" in held.state_message and "logs in" in held.state_message
        now = w.clock.now()
        await store.put_presence(PresenceRecord("alice", "WS1", now + 3600, now, "agent"))
        await store.put_agent(AgentRecord("ws1", agent_dir.as_uri(), now + 600, now))
        assert await w.services.jobs.release_route_holds("bob") == 0
        assert await w.services.jobs.release_route_holds("alice") == 1
        async with _running(w):
            done = await _until(w, job.id, DONE)
        assert done.printer == "local-ws1"
        assert (agent_dir / f"job-{job.id}.json").exists()
        # the agent stops reporting (its record expires) while alice is still logged in
        w.clock.advance(601)
        later = await _submit(w)
        async with _running(w):
            again = await _held(w, later.id)
        assert "ws1" in again.state_message.lower() and "agent" in again.state_message


async def test_desktop_job_of_an_absent_user_goes_to_the_default_when_configured(
    tmp_path: Path,
) -> None:
    config = {
        "printers": [_file(tmp_path, "p"), _file(tmp_path, "fallback")],
        "queues": [{"name": "myprinter", "destination": "p"}],
        "routing": {"probe_interval_seconds": 0.1, "desktop_absent": "default",
                    "default_destination": "fallback"},
    }  # fmt: skip
    async with _opened(tmp_path, **config) as w:
        await _prefer(w, "alice", destination="desktop")
        job = await _submit(w)
        async with _running(w):
            done = await _until(w, job.id, DONE)
        assert done.printer == "fallback"


async def test_a_users_preference_and_location_route_their_jobs(tmp_path: Path) -> None:
    config = {
        "printers": [_file(tmp_path, "p"), _file(tmp_path, "lobby", location="lobby"),
                     _file(tmp_path, "chosen")],
        "queues": [{"name": "myprinter", "destination": "p"}],
    }  # fmt: skip
    async with _opened(tmp_path, **config) as w:
        await _prefer(w, "alice", destination="chosen")
        await _prefer(w, "bob", location="lobby")
        jobs = {u: await _submit(w, owner=u) for u in ("alice", "bob", "carol")}
        async with _running(w):
            done = {u: await _until(w, j.id, DONE) for u, j in jobs.items()}
        assert {u: j.printer for u, j in done.items()} == {
            "alice": "chosen", "bob": "lobby", "carol": "p",
        }  # fmt: skip


# --- printers going down -------------------------------------------------------------------


async def test_unreachable_member_is_marked_down_and_the_job_goes_to_another_at_once(
    tmp_path: Path,
) -> None:
    config = {
        "printers": [
            {"name": "off", "uri": f"socket://127.0.0.1:{_closed_port()}"},
            _file(tmp_path, "on"),
        ],
        "pools": [{"name": "office", "members": ["off", "on"]}],
        "queues": [{"name": "myprinter", "destination": "office"}],
    }
    async with _opened(tmp_path, **config) as w:
        started = w.clock.now()
        job = await _submit(w)
        async with _running(w):
            done = await _until(w, job.id, DONE)
        # the clock never moved: no retry delay stood between the two attempts
        assert w.clock.now() == started
        assert (done.printer, done.delivery_attempts) == ("on", 2)
        assert w.printed_on(done) == ["on"]
        off = await w.services.store.get_printer("off")
        assert not off.is_up and off.state_reasons == ("offline-report",)
        assert "refused" in off.state_message
        events = await w.services.store.events_after(0, 100)
        downs = [e for e in events if e.kind == "printer-state-changed"]
        assert [(e.printer, e.data) for e in downs] == [("off", {"up": False})]
        # the next job does not try the printer that is down
        second = await _submit(w)
        async with _running(w):
            assert (await _until(w, second.id, DONE)).delivery_attempts == 1


async def test_a_users_jobs_print_in_order_when_the_first_failed_once(tmp_path: Path) -> None:
    port = _closed_port()
    config = {
        "printers": [{"name": "p", "uri": f"socket://127.0.0.1:{port}"}],
        "queues": [{"name": "myprinter", "destination": "p"}],
    }
    received: list[bytes] = []
    both = asyncio.Event()

    async def printer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()
        writer.close()
        if data:  # probes connect and send nothing
            received.append(data)
            if len(received) == 2:
                both.set()

    async with _opened(tmp_path, **config) as w:
        first = await _submit(w, data=b"first job")
        second = await _submit(w, data=b"second job")
        async with _running(w):
            failed = await _until(w, first.id, {JobState.PENDING, JobState.PROCESSING})
            while failed.delivery_attempts == 0 or failed.state != JobState.PENDING:
                failed = await _until(w, first.id, {JobState.PENDING})
            assert failed.printer == "p" and "waiting for a printer" in failed.state_message
            assert not (await w.services.store.get_printer("p")).is_up
            waiting = await _get(w, second.id)
            assert (waiting.state, waiting.delivery_attempts) == (JobState.PENDING, 0)
            server = await asyncio.start_server(printer, "127.0.0.1", port)
            async with server:
                done_first = await _until(w, first.id, DONE)
                done_second = await _until(w, second.id, DONE)
                await asyncio.wait_for(both.wait(), 10)
        assert received == [b"first job", b"second job"]
        assert (done_first.delivery_attempts, done_second.delivery_attempts) == (2, 1)
        assert (await w.services.store.get_printer("p")).is_up


async def test_a_rerouted_job_is_not_looked_up_where_it_never_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant 2 asks only the printer an earlier attempt reached. Asking the new one
    could match another job of ours (by the old printer's job id, or by name and user on
    printers without job-uuid) and report this one printed when it never was."""
    asked: list[str] = []
    real_lookup = FileBackend.lookup

    async def recording_lookup(self: FileBackend, request: DeliveryRequest) -> RemoteLookup:
        asked.append(request.printer_uri)
        return await real_lookup(self, request)

    monkeypatch.setattr(FileBackend, "lookup", recording_lookup)
    config = {
        "printers": [_missing(tmp_path, "off"), _file(tmp_path, "on")],
        "pools": [{"name": "office", "members": ["off", "on"]}],
        "queues": [{"name": "myprinter", "destination": "office"}],
    }
    async with _opened(tmp_path, **config) as w:
        job = await _submit(w)
        async with _running(w):
            done = await _until(w, job.id, DONE)
        assert (done.printer, done.delivery_attempts) == ("on", 2)
        assert asked == [], "the second printer was asked about a job it never had"


async def test_a_user_blocked_on_a_down_printer_does_not_hold_up_others(tmp_path: Path) -> None:
    """bob's printer is down, so all of bob's jobs wait, in order; carol's printer is up.
    bob has jobs on two queues that follow him (a foreign system's, then myprinter), more
    than the dispatcher reads in one look at the queue: carol's job must still print."""
    config = {
        "printers": [_missing(tmp_path, "p"), _file(tmp_path, "q")],
        "queues": [{"name": "myprinter", "destination": "p"}],
        "mappings": [{"queue": "from-vm", "users": {"BOB": "bob"}}],
    }
    async with _opened(tmp_path, **config) as w:
        store = w.services.store
        await store.set_printer(PrinterRecord("p", is_up=False), NewEvent("printer-down", 0.0))
        await _prefer(w, "carol", destination="q")
        bobs = [await _submit(w, queue="from-vm", owner="BOB")]
        bobs += [await _submit(w, owner="bob") for _ in range(PEEK_BATCH + 8)]
        carols = await _submit(w, owner="carol")
        async with _running(w):
            done = await _until(w, carols.id, DONE)
        assert done.printer == "q"
        for job in bobs:
            assert (await _get(w, job.id)).state == JobState.PENDING


# --- stopping -----------------------------------------------------------------------------


async def test_the_dispatcher_stops_when_cancelled_as_it_is_woken(tmp_path: Path) -> None:
    """Shutdown cancels the dispatcher; a wake-up (a delivery ending, a new job) may come
    at the same moment. The cancellation must not be lost: run() ends, every time."""
    async with _opened(tmp_path, printers=[_file(tmp_path, "p")]) as w:
        for _ in range(5):
            runner = asyncio.create_task(w.dispatcher.run())
            await asyncio.sleep(0.2)  # idle: no jobs, it sleeps until woken
            w.dispatcher.wake()
            runner.cancel()
            await asyncio.wait({runner}, timeout=5)
            stopped = runner.done()
            while not runner.done():  # clean up before failing
                runner.cancel()
                await asyncio.wait({runner}, timeout=1)
            assert stopped, "the dispatcher went on running after it was cancelled"


# --- intake --------------------------------------------------------------------------------


def _intake_config(root: Path, **mapping: Any) -> dict[str, Any]:
    return {
        "printers": [_file(root, "p")],
        "queues": [{"name": "myprinter", "destination": "p"}, {"name": "q", "destination": "p"}],
        "mappings": [{"queue": "from-vm", "users": {"JSMITH7": "jsmith"}, **mapping}],
    }


async def test_a_job_to_myprinter_makes_its_owners_queue_once(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path)) as w:
        store = w.services.store
        assert await store.list_queue_states() == []
        await _submit(w)
        await _submit(w)
        await _submit(w, owner="DOMAIN\\bob")
        await _submit(w, queue="q")  # a configured queue: no row
        await _submit(w, queue="user-carol", owner="carol")
        await _submit(w, queue="local-ws1", owner="carol")
        hashed = names.user_queue("DOMAIN\\bob")
        assert hashed.startswith("user-DOMAIN_bob-")
        queues = [s.name for s in await store.list_queue_states()]
        assert queues == sorted(["user-alice", hashed, "user-carol", "local-ws1"])
        events = await store.events_after(0, 100)
        created = [e.queue or "" for e in events if e.kind == "queue-created"]
        assert sorted(created) == queues  # each once
        assert "user-alice" in await w.services.queues.all_names()


async def test_intake_of_a_fresh_node_does_not_make_a_queue_twice(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path)) as w:
        await _submit(w)
    async with _opened(tmp_path, **_intake_config(tmp_path)) as w:
        await _submit(w)
        created = [
            e for e in await w.services.store.events_after(0, 100) if e.kind == "queue-created"
        ]
        assert [e.queue for e in created] == ["user-alice"]


async def test_mapped_user_owns_the_job_and_gets_their_queue(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path, hosts=["vm1"])) as w:
        job = await _submit(w, queue="from-vm", owner="jsmith7", originating_host="VM1")
        assert (job.owner, job.state, job.queue) == ("jsmith", JobState.PENDING, "from-vm")
        assert "user-jsmith" in [s.name for s in await w.services.store.list_queue_states()]
        async with _running(w):
            assert (await _until(w, job.id, DONE)).printer == "p"


async def test_mapping_refuses_hosts_outside_its_list(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path, hosts=["vm1"])) as w:
        with pytest.raises(JobRefused, match="'evil'"):
            await _submit(w, queue="from-vm", owner="JSMITH7", originating_host="evil")
        assert await w.services.store.list_jobs(JobFilter()) == []


async def test_resubmitting_an_already_mapped_job_keeps_its_owner(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path, hosts=["vm1"], unknown="reject")) as w:
        job = await _submit(w, queue="from-vm", owner="jsmith", originating_host="vm1")
        assert (job.owner, job.state, job.state_message) == ("jsmith", JobState.PENDING, "")


async def test_an_already_mapped_name_does_not_bypass_the_hosts_list(tmp_path: Path) -> None:
    """The hosts list says which systems the mapping vouches for. A job from another host
    that simply calls itself by a mapped name ("jsmith") must be refused like any other."""
    async with _opened(tmp_path, **_intake_config(tmp_path, hosts=["vm1"])) as w:
        with pytest.raises(JobRefused):
            await _submit(w, queue="from-vm", owner="jsmith", originating_host="evil")
        assert await w.services.store.list_jobs(JobFilter()) == []


async def test_an_authenticated_owner_is_never_remapped(tmp_path: Path) -> None:
    """Invariant 4: a user who proved their name (HTTP Basic) owns the job, even on a
    foreign system's queue whose table maps that name to someone else."""
    config = _intake_config(tmp_path, hosts=["vm1"], unknown="reject")
    async with _opened(tmp_path, **config) as w:
        job = await _submit(
            w, queue="from-vm", owner="JSMITH7", owner_authenticated=True, originating_host="lap"
        )
        assert (job.owner, job.owner_authenticated, job.state) == (
            "JSMITH7", True, JobState.PENDING,
        )  # fmt: skip


async def test_unknown_foreign_user_is_held_for_an_operator(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path)) as w:
        job = await _submit(w, queue="from-vm", owner="NOBODY", originating_host="vm1")
        assert (job.state, job.owner, job.hold_until) == (
            JobState.PENDING_HELD, "NOBODY", "indefinite",
        )  # fmt: skip
        assert job.state_reasons == ("job-hold-until-specified",)
        assert "'NOBODY'" in job.state_message and "from-vm" in job.state_message
        # not a routing hold: a routing change does not release it, an operator does
        assert await w.services.jobs.release_route_holds() == 0
        released = await w.services.jobs.release(job)
        async with _running(w):
            assert (await _until(w, released.id, DONE)).printer == "p"


async def test_unknown_foreign_user_is_refused_when_configured(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path, unknown="reject")) as w:
        with pytest.raises(JobRefused, match="'NOBODY'"):
            await _submit(w, queue="from-vm", owner="NOBODY", originating_host="vm1")
        assert await w.services.store.list_jobs(JobFilter()) == []
        assert await w.services.store.list_queue_states() == []


async def test_unknown_foreign_user_is_given_to_the_default_user_when_configured(
    tmp_path: Path,
) -> None:
    config = _intake_config(tmp_path, unknown="default", default_user="guest")
    async with _opened(tmp_path, **config) as w:
        job = await _submit(w, queue="from-vm", owner="NOBODY", originating_host="vm1")
        assert (job.owner, job.state) == ("guest", JobState.PENDING)
        assert "user-guest" in [s.name for s in await w.services.store.list_queue_states()]


async def test_user_defaults_are_applied_and_copies_limited(tmp_path: Path) -> None:
    async with _opened(tmp_path, **_intake_config(tmp_path)) as w:
        defaults = JobDefaults(sides="two-sided-long-edge", print_color_mode="monochrome",
                               max_copies=2)  # fmt: skip
        await _prefer(w, "alice", defaults=defaults)
        await _prefer(w, "jsmith", defaults=JobDefaults(orientation_requested=4))
        copies = Attribute.of("copies", Tag.INTEGER, 5)
        job = await _submit(w, copies, COLOUR)
        template = {a.name: a.value for a in decode_template(job.template)}
        assert template == {"copies": 2, "print-color-mode": "color",
                            "sides": "two-sided-long-edge"}  # fmt: skip
        assert "limited to 2" in job.state_message and job.state == JobState.PENDING
        # the mapped user's defaults, not the foreign name's
        mapped = await _submit(w, queue="from-vm", owner="JSMITH7")
        assert {a.name: a.value for a in decode_template(mapped.template)} == {
            "orientation-requested": 4
        }
        # no preferences: the template as sent
        plain = await _submit(w, copies, owner="bob")
        assert decode_template(plain.template) == [copies] and plain.state_message == ""
        async with _running(w):
            printed = await _until(w, job.id, DONE)
        assert printed.state_message != job.state_message  # the printer's result now
