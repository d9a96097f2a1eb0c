"""The LPD transport in process: ``LpdServer`` on a real socket at 127.0.0.1:0 in front of
the real services (SQLite store, spool) with no dispatcher running, so jobs stay queued
and the tests can look at the records. Clients here are raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobRecord
from printhost.jobs.service import JobSpec
from printhost.server.job_attributes import decode_template
from printhost.server.lpd_server import LpdServer
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import JobFilter, NewDocument, NewEvent, QueueState
from printhost.store.spool import Spool

from .wire import control, control_file, data_file, job, receive_job, stream_file

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
TIMEOUT = 10.0


@dataclass
class World:
    services: Services
    server: LpdServer
    spool_dir: Path

    @property
    def port(self) -> int:
        return self.server.ports[0]

    async def exchange(self, data: bytes, *, close: bool = True) -> bytes:
        """Send ``data``, close our side (unless told not to), read every reply."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(data)
            await writer.drain()
            if close:
                writer.write_eof()
            return await _read_all(reader)
        finally:
            writer.close()

    async def jobs(self, **where: Any) -> list[JobRecord]:
        return await self.services.store.list_jobs(JobFilter(**where))

    def spooled(self) -> list[Path]:
        return [p for p in self.spool_dir.rglob("*") if p.is_file()]


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    replies = b""
    with contextlib.suppress(ConnectionResetError):
        async with asyncio.timeout(TIMEOUT):
            while chunk := await reader.read(4096):
                replies += chunk
    return replies


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(tmp_path: Path) -> AsyncIterator[MakeWorld]:
    made: list[World] = []

    async def make(**sections: Any) -> World:
        base = tmp_path / f"w{len(made)}"
        raw: dict[str, Any] = {
            "storage": {"state_dir": str(base / "var")},
            "printers": [{"name": "p", "uri": (base / "out").as_uri()}],
            "queues": [{"name": "myprinter", "printer": "p"}, {"name": "other", "printer": "p"}],
            "lpd": {"listen": ["127.0.0.1:0"]},
        }
        for key, value in sections.items():
            raw[key] = {**raw[key], **value} if isinstance(raw.get(key), dict) else value
        config = parse_config(raw, base=base)
        store = await open_store(config.storage.effective_database_url)
        spool = Spool(config.storage.spool_dir, max_bytes=config.jobs.max_document_bytes)
        services, _dispatcher = wire(config, store, spool, FakeClock())
        server = LpdServer(services)
        await server.start()
        world = World(services, server, config.storage.spool_dir)
        made.append(world)
        return world

    yield make
    for world in made:
        await world.server.aclose()
        await world.services.store.close()


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    return await make_world()


# -- receive job -----------------------------------------------------------------------------


@pytest.mark.parametrize("data_first", [False, True])
async def test_a_job_is_stored_with_its_owner_name_and_document(
    world: World, data_first: bool
) -> None:
    replies = await world.exchange(job(b"hello\n", data_first=data_first))

    assert replies == b"\x00" * 5
    [stored] = await world.jobs()
    assert (stored.queue, stored.owner, stored.name) == ("myprinter", "alice", "report")
    assert stored.originating_host == "127.0.0.1"  # the peer, not the H line's claim
    assert not stored.owner_authenticated
    assert stored.state is JobState.PENDING
    [document] = stored.documents
    assert (document.name, document.size) == ("report.txt", 6)
    assert document.declared_format == "application/vnd.cups-raw"  # the l letter
    assert document.format == "text/plain"  # detected from the bytes


async def test_the_last_acknowledgement_comes_after_the_job_is_stored(world: World) -> None:
    """Invariant 1: the client may forget the job once the last octet is acknowledged."""
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    try:
        for step in (receive_job(), b"\x0216 cfA001h\n", b"Palice\nldfA001h\n\x00"):
            writer.write(step)
            assert await reader.readexactly(1) == b"\x00"
        assert await world.jobs() == []  # the control file alone is no job
        writer.write(b"\x035 dfA001h\n")
        assert await reader.readexactly(1) == b"\x00"
        writer.write(b"abcde\x00")
        assert await reader.readexactly(1) == b"\x00"
        assert len(await world.jobs()) == 1
    finally:
        writer.close()


async def test_formats_copies_and_several_documents(world: World) -> None:
    cf = control(
        "Pbob",
        "Jtwo docs",
        "Na.pdf",
        "RACCT-42",  # LPRng -R accounting
        prints=("fdfA001h", "fdfA001h", "fdfA001h", "odfB001h"),
    )
    conversation = (
        receive_job()
        + control_file(cf)
        + data_file(PDF, "dfA001h")
        + data_file(b"\x00\x01binary", "dfB001h")
    )

    assert await world.exchange(conversation) == b"\x00" * 7

    [stored] = await world.jobs()
    first, second = stored.documents
    assert (first.format, first.declared_format, first.name) == (
        "application/pdf",  # detected: wins over what f says
        "text/plain",
        "a.pdf",
    )
    assert second.format == second.declared_format == "application/postscript"  # the o letter
    template = {a.name: a.value for a in decode_template(stored.template)}
    assert template == {"copies": 3, "job-account-id": "ACCT-42"}


async def test_stream_mode_job(world: World) -> None:
    conversation = receive_job() + control_file(control("Palice")) + stream_file(PDF)

    assert await world.exchange(conversation) == b"\x00" * 5

    [stored] = await world.jobs()
    assert stored.documents[0].size == len(PDF)


async def test_two_jobs_on_one_connection(world: World) -> None:
    conversation = (
        receive_job()
        + control_file(control("Palice", prints=["ldfA001h"]), "cfA001h")
        + data_file(b"one", "dfA001h")
        + data_file(b"two", "dfA002h")
        + control_file(control("Pbob", prints=["ldfA002h"]), "cfA002h")
    )

    assert await world.exchange(conversation) == b"\x00" * 9
    assert [j.owner for j in await world.jobs()] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("setup", "queue"),
    [
        ("none", "no-such-queue"),
        ("closed", "other"),
    ],
)
async def test_refused_queues(world: World, setup: str, queue: str) -> None:
    if setup == "closed":
        await world.services.store.set_queue_state(
            QueueState(queue, is_accepting_jobs=False), NewEvent("queue-state-changed", 0.0)
        )

    assert await world.exchange(job(queue=queue)) == b"\x01"
    assert await world.jobs() == []


async def test_hold_new_jobs_holds_lpd_jobs(world: World) -> None:
    await world.services.store.set_queue_state(
        QueueState("myprinter", hold_new_jobs=True), NewEvent("queue-state-changed", 0.0)
    )

    await world.exchange(job())

    [stored] = await world.jobs()
    assert stored.state is JobState.PENDING_HELD


@pytest.mark.parametrize(
    "conversation",
    [
        receive_job() + data_file(b"x" * 100) + control_file(control("U/etc/passwd")),
        receive_job() + data_file(b"x" * 100) + b"\x01\n",  # abort
        receive_job() + data_file(b"x" * 100),  # no control file
        receive_job() + control_file(control("Palice")) + b"\x0310 dfA001client\nabc",
    ],
    ids=["hostile control file", "abort", "no control file", "cut short"],
)
async def test_nothing_is_left_in_the_spool_by_jobs_that_do_not_complete(
    world: World, conversation: bytes
) -> None:
    await world.exchange(conversation)

    assert await world.jobs() == []
    assert world.spooled() == []


async def test_a_document_over_the_size_limit_is_refused(make_world: MakeWorld) -> None:
    world = await make_world(jobs={"max_document_bytes": 1000})

    announced = await world.exchange(receive_job() + data_file(b"x" * 2000))
    streamed = await world.exchange(
        receive_job() + control_file(control("Palice")) + stream_file(b"x" * 5000)
    )

    assert announced == b"\x00\x03"  # refused on the count, before any data
    assert streamed.endswith(b"\x03")
    assert world.spooled() == []


async def test_empty_document_is_no_job(world: World) -> None:
    conversation = receive_job() + control_file(control("Palice")) + b"\x030 dfA001client\n"
    assert (await world.exchange(conversation)).endswith(b"\x03")
    assert await world.jobs() == []


async def test_unmapped_user_on_a_foreign_queue_is_refused(make_world: MakeWorld) -> None:
    world = await make_world(
        mappings=[{"queue": "from-legacy", "users": {"JSMITH": "jsmith"}, "unknown": "reject"}]
    )

    refused = await world.exchange(job(queue="from-legacy", lines=["PNOBODY"]))
    mapped = await world.exchange(job(queue="from-legacy", lines=["PJSMITH"]))

    assert refused.endswith(b"\x01")
    assert mapped == b"\x00" * 5
    assert [j.owner for j in await world.jobs()] == ["jsmith"]


async def test_a_failing_service_ends_only_that_connection(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> JobRecord:
        raise RuntimeError("database on fire")

    with monkeypatch.context() as patch:
        patch.setattr(world.services.jobs, "submit", broken)
        failed = await world.exchange(job())

    assert failed == b"\x00" * 4 + b"\x02"  # the last acknowledgement: "try again later"
    assert "database on fire" in caplog.text
    assert world.spooled() == []
    assert await world.exchange(job()) == b"\x00" * 5


# -- who may connect ---------------------------------------------------------------------------


async def test_hosts_outside_the_allow_list_get_no_answer(make_world: MakeWorld) -> None:
    world = await make_world(lpd={"allow": ["10.0.0.0/8", "::1/128"]})

    assert await world.exchange(job()) == b""
    assert await world.jobs() == []


async def test_connections_per_host_are_bounded(make_world: MakeWorld) -> None:
    world = await make_world(lpd={"max_connections_per_host": 2})
    held = [await asyncio.open_connection("127.0.0.1", world.port) for _ in range(2)]
    try:
        for _reader, writer in held:  # make sure the server has taken both
            writer.write(receive_job())
        for reader, _writer in held:
            assert await reader.readexactly(1) == b"\x00"

        assert await world.exchange(job()) == b""  # the third is closed at once
    finally:
        for _reader, writer in held:
            writer.close()
    assert await world.exchange(job()) == b"\x00" * 5  # and served again once they are gone


async def test_a_silent_client_is_closed(make_world: MakeWorld) -> None:
    world = await make_world(lpd={"idle_timeout_seconds": 0.2})

    # half a command line, then nothing: the server closes without an answer
    assert await world.exchange(b"\x02myprin", close=False) == b""
    assert await world.exchange(job()) == b"\x00" * 5


async def test_shutdown_ends_open_connections(world: World) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    writer.write(receive_job())
    assert await reader.readexactly(1) == b"\x00"

    await world.server.aclose(grace=0.1)

    assert await _read_all(reader) == b""
    writer.close()


# -- queue state and remove jobs ------------------------------------------------------------


async def _submit(world: World, owner: str, host: str, *, name: str = "job") -> JobRecord:
    writer = world.services.spool.writer("t")
    writer.write(b"data\n")
    stored = await writer.commit()
    document = NewDocument(stored.path, "text/plain", "text/plain", "doc.txt", 5, stored.sha256)
    spec = JobSpec("myprinter", owner, False, host, name)
    return await world.services.jobs.submit(spec, [document])


async def test_queue_state_short_and_long(world: World) -> None:
    mine = await _submit(world, "alice", "127.0.0.1", name="my report")
    theirs = await _submit(world, "bob", "10.9.9.9", name="secret plans")

    short = (await world.exchange(b"\x03myprinter\n")).decode()
    long = (await world.exchange(b"\x04myprinter\n")).decode()

    assert short.splitlines()[:2] == [
        "myprinter is ready",
        "Rank   Owner      Job  Files" + " " * 33 + "Total Size",
    ]
    assert f"1st    alice      {mine.id:<5}doc.txt" in short
    assert f"2nd    -          {theirs.id:<5}(private)" in short  # another host's job
    assert "secret" not in short + long and "bob" not in short + long
    assert "alice: 1st" in long and f"[job {mine.id} 127.0.0.1]" in long
    assert "        doc.txt" in long


async def test_queue_state_of_some_jobs(world: World) -> None:
    first = await _submit(world, "alice", "127.0.0.1")
    second = await _submit(world, "carol", "127.0.0.1")

    by_user = (await world.exchange(b"\x03myprinter carol\n")).decode()
    by_id = (await world.exchange(f"\x03myprinter {first.id}\n".encode())).decode()

    assert f" {second.id} " in by_user and f" {first.id} " not in by_user
    assert f" {first.id} " in by_id and f" {second.id} " not in by_id


async def test_queue_state_of_an_unknown_queue(world: World) -> None:
    assert await world.exchange(b"\x04nope\n") == b"printhost: no queue named nope\n"


async def test_remove_own_job(world: World) -> None:
    own = await _submit(world, "alice", "127.0.0.1")

    answer = await world.exchange(f"\x05myprinter alice {own.id}\n".encode())

    assert answer == f"myprinter: job {own.id} removed\n".encode()
    [job_after] = await world.jobs(job_ids=[own.id])
    assert job_after.state is JobState.CANCELED


@pytest.mark.parametrize(
    ("owner", "host", "agent"),
    [
        ("bob", "127.0.0.1", "alice"),  # another user's job
        ("alice", "10.9.9.9", "alice"),  # own name, another host: the name is a claim
        ("bob", "127.0.0.1", "root"),  # root has no special power over LPD
    ],
)
async def test_remove_others_jobs_is_refused(
    world: World, owner: str, host: str, agent: str
) -> None:
    other = await _submit(world, owner, host)

    answer = await world.exchange(f"\x05myprinter {agent} {other.id}\n".encode())

    assert b"permission denied" in answer
    [job_after] = await world.jobs(job_ids=[other.id])
    assert job_after.state is JobState.PENDING


async def test_remove_authenticated_job_is_refused(world: World) -> None:
    writer = world.services.spool.writer("t")
    writer.write(b"x")
    stored = await writer.commit()
    document = NewDocument(stored.path, "text/plain", "text/plain", "d", 1, stored.sha256)
    proven = await world.services.jobs.submit(
        JobSpec("myprinter", "alice", True, "127.0.0.1", "j"), [document]
    )

    answer = await world.exchange(f"\x05myprinter alice {proven.id}\n".encode())

    assert b"permission denied" in answer


async def test_remove_all_own_jobs_and_the_first_one(world: World) -> None:
    ids = [(await _submit(world, "alice", "127.0.0.1")).id for _ in range(3)]
    other = await _submit(world, "bob", "127.0.0.1")

    first = await world.exchange(b"\x05myprinter alice\n")  # no list: the first own job
    rest = await world.exchange(b"\x05myprinter alice -\n")  # all own jobs
    everything = await world.exchange(b"\x05myprinter -all\n")  # BSD lprm -: no user named

    assert first == f"myprinter: job {ids[0]} removed\n".encode()
    assert rest.decode().splitlines() == [f"myprinter: job {i} removed" for i in ids[1:]]
    assert b"not possible" in everything
    states = {j.id: j.state for j in await world.jobs()}
    assert states[other.id] is JobState.PENDING


async def test_remove_unknown_job(world: World) -> None:
    assert await world.exchange(b"\x05myprinter alice 999\n") == b"myprinter: no active job 999\n"
    assert await world.exchange(b"\x05nope alice 1\n") == b"printhost: no queue named nope\n"
