"""The job service, the dispatcher and housekeeping in process, on a real SQLite store and
spool with a fake clock: nothing here sleeps to make time pass."""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from printhost import housekeeping
from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import Config, parse_config
from printhost.dispatch.backends.file import FileBackend
from printhost.dispatch.dispatcher import Dispatcher
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobRecord
from printhost.jobs.pin import PinRefused, hash_pin
from printhost.jobs.service import JobNotPossible, JobSpec
from printhost.server.services import Services
from printhost.server.uris import Uris
from printhost.store import open_store
from printhost.store.base import NewDocument, NewEvent, QueueState
from printhost.store.spool import Spool

URIS = Uris(host="localhost", plain_port=631, tls_port=None)


@dataclass
class World:
    services: Services
    dispatcher: Dispatcher
    clock: FakeClock
    output: Path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, printer_uri: str) -> Config:
    return parse_config(
        {
            "storage": {"state_dir": str(tmp_path / "var")},
            "jobs": {"history_seconds": 3600, "multiple_operation_timeout_seconds": 300},
            "delivery": {"timeout_seconds": 2, "lease_seconds": 30},
            "routing": {"probe_interval_seconds": 0.1},
            "printers": [{"name": "p", "uri": printer_uri}],
            "queues": [{"name": "myprinter", "printer": "p"}],
        },
        base=tmp_path,
    )


async def _world(tmp_path: Path, printer_uri: str | None = None) -> World:
    output = tmp_path / "out"
    output.mkdir()
    config = _config(tmp_path, printer_uri or output.as_uri())
    clock = FakeClock()
    store = await open_store(config.storage.effective_database_url)
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "test-node")
    return World(services, dispatcher, clock, output)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = await _world(tmp_path)
    yield w
    await w.services.store.close()


async def _document(w: World, data: bytes = b"%PDF-1.4\n%test\n") -> NewDocument:
    writer = w.services.spool.writer("t")
    writer.write(data)
    stored = await writer.commit()
    return NewDocument(
        stored.path, "application/pdf", "application/pdf", "t.pdf", stored.size, stored.sha256
    )


def _spec(**overrides: object) -> JobSpec:
    fields: dict[str, object] = {
        "queue": "myprinter",
        "owner": "alice",
        "owner_authenticated": False,
        "originating_host": "h",
        "name": "job",
    }
    fields.update(overrides)
    return JobSpec(**fields)  # type: ignore[arg-type]


async def _until(
    w: World,
    job_id: int,
    states: set[JobState],
    timeout: float = 10.0,
) -> JobRecord:
    """Wait (real time, bounded) for the dispatcher task to reach one of ``states``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        job = await w.services.store.get_job(job_id)  # type: ignore[arg-type]
        assert job is not None
        if job.state in states:
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job stuck in {job.state}"
        await asyncio.sleep(0.02)


async def test_intake_states(world: World) -> None:
    jobs = world.services.jobs
    pending = await jobs.submit(_spec(), [await _document(world)])
    assert (pending.state, pending.state_reasons) == (JobState.PENDING, ("none",))
    held = await jobs.submit(_spec(hold_until="indefinite"), [await _document(world)])
    assert held.state_reasons == ("job-hold-until-specified",)
    for_review = await jobs.submit(_spec(), [await _document(world)], hold_new_jobs=True)
    assert (for_review.state, for_review.state_reasons) == (
        JobState.PENDING_HELD,
        ("job-held-for-review",),
    )
    released = await jobs.release(held)
    assert released.state == JobState.PENDING and released.hold_until is None
    canceled = await jobs.cancel(released)
    assert canceled.state == JobState.CANCELED and canceled.completed_at == world.clock.now()
    with pytest.raises(JobNotPossible, match="already canceled"):
        await jobs.cancel(canceled)
    with pytest.raises(JobNotPossible):
        await jobs.release(pending)


async def test_create_job_then_documents(world: World) -> None:
    jobs = world.services.jobs
    job = await jobs.submit(_spec(), [], open_for_documents=True)
    assert job.state_reasons == ("job-incoming",)
    job = await jobs.add_document(job, await _document(world, b"one"), last=False)
    job = await jobs.add_document(job, await _document(world, b"two"), last=True)
    assert (job.document_count, job.open_for_documents, job.state_reasons) == (2, False, ("none",))
    with pytest.raises(JobNotPossible):
        await jobs.close(job)


async def test_dispatch_to_file_printer_completes_and_deletes_documents(world: World) -> None:
    job = await world.services.jobs.submit(_spec(), [await _document(world, b"%PDF-1.4 x")])
    spooled = world.services.spool.path(job.documents[0].path)
    runner = asyncio.create_task(world.dispatcher.run())
    try:
        done = await _until(world, job.id, {JobState.COMPLETED})
        # the documents go right after the completion is recorded (a separate write, then
        # the file)
        for _ in range(250):
            done = await _until(world, job.id, {JobState.COMPLETED})
            if not done.documents[0].path and not spooled.exists():
                break
            await asyncio.sleep(0.02)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert done.state_reasons == ("job-completed-successfully",)
    assert done.printer == "p" and done.delivery_attempts == 1
    assert (world.output / f"job-{job.id}-1.pdf").read_bytes() == b"%PDF-1.4 x"
    assert not spooled.exists(), "a printed job's document is deleted at once"
    assert all(d.path == "" for d in done.documents)


async def test_unreachable_printer_is_marked_down_and_used_again_when_back(
    tmp_path: Path,
) -> None:
    port = _closed_port()
    w = await _world(tmp_path, f"socket://127.0.0.1:{port}")
    job = await w.services.jobs.submit(_spec(), [await _document(w)])
    runner = asyncio.create_task(w.dispatcher.run())
    received = bytearray()
    closed = asyncio.Event()

    async def printer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read())
        writer.close()
        closed.set()

    try:
        retried = await _until(w, job.id, {JobState.PENDING}, timeout=10)
        while retried.delivery_attempts == 0:
            retried = await _until(w, job.id, {JobState.PENDING})
        assert retried.next_attempt_at is None and retried.printer == "p"
        assert "waiting for a printer" in retried.state_message
        down = await w.services.store.get_printer("p")
        assert not down.is_up and "refused" in down.state_message
        shown = {a.name: a.values for a in await w.services.queues.attributes("myprinter", URIS)}
        assert "offline-report" in shown["printer-state-reasons"]
        assert "p down" in str(shown["printer-state-message"][0])
        await asyncio.sleep(0.6)  # a few probe rounds: the printer is still away
        still = await w.services.store.get_job(job.id)
        assert still is not None and still.delivery_attempts == 1
        server = await asyncio.start_server(printer, "127.0.0.1", port)
        async with server:
            done = await _until(w, job.id, {JobState.COMPLETED}, timeout=10)
            await asyncio.wait_for(closed.wait(), 10)
        assert done.delivery_attempts == 2 and bytes(received) == b"%PDF-1.4\n%test\n"
        assert (await w.services.store.get_printer("p")).is_up
        shown = {a.name: a.values for a in await w.services.queues.attributes("myprinter", URIS)}
        assert "offline-report" not in shown["printer-state-reasons"]
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await w.services.store.close()


async def test_history_expires_with_documents(world: World) -> None:
    jobs = world.services.jobs
    job = await jobs.submit(_spec(), [await _document(world)])
    job = await jobs.cancel(job)
    spooled = world.services.spool.path(job.documents[0].path)
    assert spooled.exists(), "canceled jobs keep documents for Restart-Job"
    world.clock.advance(3599)
    assert await housekeeping.expire_history(world.services) == 0
    world.clock.advance(2)
    assert await housekeeping.expire_history(world.services) == 1
    assert await world.services.store.get_job(job.id) is None
    assert not spooled.exists()


async def test_abandoned_create_jobs(world: World) -> None:
    jobs = world.services.jobs
    empty = await jobs.submit(_spec(), [], open_for_documents=True)
    partial = await jobs.submit(_spec(), [], open_for_documents=True)
    partial = await jobs.add_document(partial, await _document(world), last=False)
    world.clock.advance(299)
    assert await housekeeping.close_abandoned_jobs(world.services) == 0
    world.clock.advance(2)
    assert await housekeeping.close_abandoned_jobs(world.services) == 2
    closed = await world.services.store.get_job(partial.id)
    gone = await world.services.store.get_job(empty.id)
    assert closed is not None and not closed.open_for_documents
    assert closed.state == JobState.PENDING
    assert gone is not None and gone.state == JobState.CANCELED


async def test_paused_queue_is_not_dispatched(world: World) -> None:
    store = world.services.store
    await store.set_queue_state(QueueState("myprinter", paused=True), housekeeping_event(world))
    job = await world.services.jobs.submit(_spec(), [await _document(world)])
    runner = asyncio.create_task(world.dispatcher.run())
    try:
        await asyncio.sleep(0.5)
        waiting = await store.get_job(job.id)
        assert waiting is not None and waiting.state == JobState.PENDING
        await store.set_queue_state(
            QueueState("myprinter", paused=False), housekeeping_event(world)
        )
        world.dispatcher.wake()
        await _until(world, job.id, {JobState.COMPLETED})
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def housekeeping_event(world: World) -> NewEvent:
    return NewEvent("printer-state-changed", world.clock.now(), queue="myprinter")


async def test_orphaned_spool_files_are_swept(world: World) -> None:
    """A file spooled by an upload whose job was never committed (a crash in between)
    goes; files of jobs, and recent files (an upload in flight), stay."""
    kept = await world.services.jobs.submit(_spec(), [await _document(world)])
    orphan = await _document(world, b"never acknowledged")
    spool = world.services.spool
    stale = world.clock.now() - 3600
    for path in (orphan.path, kept.documents[0].path):
        os.utime(spool.path(path), (stale, stale))
    in_flight = await _document(world, b"just written")
    now = world.clock.now()
    os.utime(spool.path(in_flight.path), (now, now))
    assert await housekeeping.sweep_spool(world.services) == 1
    assert not spool.path(orphan.path).exists()
    assert spool.path(kept.documents[0].path).exists()
    assert spool.path(in_flight.path).exists()


async def test_timed_holds_are_released_when_due(world: World) -> None:
    jobs = world.services.jobs
    start = datetime.datetime.fromtimestamp(world.clock.now(), tz=datetime.UTC)
    in_an_hour = (start + datetime.timedelta(hours=1)).strftime("%H:%M")
    timed = await jobs.submit(_spec(hold_until=in_an_hour), [await _document(world)])
    forever = await jobs.submit(_spec(hold_until="indefinite"), [await _document(world)])
    assert await housekeeping.release_due_holds(world.services) == 0
    world.clock.advance(3600)
    assert await housekeeping.release_due_holds(world.services) == 1
    released = await world.services.store.get_job(timed.id)
    still = await world.services.store.get_job(forever.id)
    assert released is not None and released.state == JobState.PENDING
    assert still is not None and still.state == JobState.PENDING_HELD


async def test_an_internal_error_pauses_the_job_without_blaming_the_printer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_deliver = FileBackend.deliver
    failures = [RuntimeError("a bug")]

    async def deliver_once_broken(self: FileBackend, *args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real_deliver(self, *args)

    monkeypatch.setattr(FileBackend, "deliver", deliver_once_broken)
    job = await world.services.jobs.submit(_spec(), [await _document(world)])
    runner = asyncio.create_task(world.dispatcher.run())
    try:
        for _ in range(500):
            paused = await world.services.store.get_job(job.id)
            if paused is not None and paused.next_attempt_at is not None:
                break
            await asyncio.sleep(0.02)
        assert paused is not None and paused.state == JobState.PENDING
        assert paused.next_attempt_at == world.clock.now() + 10.0
        assert "internal error" in paused.state_message
        assert (await world.services.store.get_printer("p")).is_up
        world.clock.advance(10.0)
        world.dispatcher.wake()
        done = await _until(world, job.id, {JobState.COMPLETED})
        assert done.delivery_attempts == 2
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_a_pin_job_held_until_a_time_still_waits_for_its_pin(world: World) -> None:
    """Hold-Job with a time on a PIN job: housekeeping must neither release it without the
    PIN nor stumble on it (it used to raise out of the housekeeping loop)."""
    jobs = world.services.jobs
    job = await jobs.submit(_spec(password_hash=await hash_pin("4711")), [await _document(world)])
    job = await jobs.hold(job, "12:00")
    assert job.state_reasons == ("job-hold-until-specified", "job-password-wait")
    world.clock.advance(2 * 86400)
    assert await housekeeping.release_due_holds(world.services) == 0
    still = await world.services.store.get_job(job.id)
    assert still is not None and still.state == JobState.PENDING_HELD
    with pytest.raises(PinRefused):
        await jobs.release(still)
    assert (await jobs.release(still, pin="4711")).state == JobState.PENDING
