"""The store contract: behaviour every ``Store`` implementation must show.

Written against the ``Store`` protocol only. The ``backend`` fixture is parametrised over
the implementations (SQLite in a temp dir for now; PostgreSQL joins later) and hands out
store handles on one database: several handles stand for several nodes (or processes)
sharing it, which is what the claim tests need.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from printhost.ipp.constants import JobState
from printhost.jobs.model import JobId, JobRecord
from printhost.store.base import (
    JobFilter,
    NewDocument,
    NewEvent,
    NewJob,
    PrinterRecord,
    QueueState,
    Store,
    SubscriptionRecord,
    UserRecord,
)
from printhost.store.sqlite import SqliteStore

S = JobState
T0 = 1_700_000_000.0

OpenStore = Callable[[], Awaitable[Store]]


async def _sqlite(tmp_path: Path) -> Callable[[], Awaitable[Store]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"

    async def open_handle() -> Store:
        return await SqliteStore.open(url)

    return open_handle


BACKENDS = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens handles on one fresh database; closes them all at the end."""
    factory = await BACKENDS[request.param](tmp_path)
    handles: list[Store] = []

    async def open_handle() -> Store:
        handle = await factory()
        handles.append(handle)
        return handle

    yield open_handle
    for handle in handles:
        await handle.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()


# --- builders ----------------------------------------------------------------------------------


def new_job(**overrides: Any) -> NewJob:
    fields: dict[str, Any] = {
        "uuid": f"urn:uuid:{uuid.uuid4()}",
        "queue": "myprinter",
        "owner": "alice",
        "owner_authenticated": True,
        "originating_host": "10.0.0.7",
        "name": "report.pdf",
        "state": S.PENDING,
        "state_reasons": ("none",),
        "state_message": "",
        "priority": 50,
        "hold_until": None,
        "template": b"\x02\x44\x00\x05sides",
        "created_at": T0,
        "open_for_documents": False,
    }
    fields.update(overrides)
    return NewJob(**fields)


def new_doc(n: int = 1, size: int = 100) -> NewDocument:
    return NewDocument(
        path=f"20231114/{n:032x}",
        format="application/pdf",
        declared_format="application/octet-stream",
        name=f"doc{n}",
        size=size,
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
    )


def ev(kind: str = "job-state-changed", time: float = T0, **data: Any) -> NewEvent:
    return NewEvent(kind=kind, time=time, data=data)


async def create(store: Store, docs: int = 1, **overrides: Any) -> JobRecord:
    documents = [new_doc(n) for n in range(1, docs + 1)]
    return await store.create_job(new_job(**overrides), documents, ev("job-created"))


async def move(
    store: Store, job: JobRecord, new_state: JobState, time: float = T0, **changes: Any
) -> JobRecord:
    moved = await store.transition_job(
        job.id, [job.state], new_state, reasons=(), message="", event=ev(time=time),
        changes=changes or None,
    )  # fmt: skip
    assert moved is not None
    return moved


# --- create, get, list ---------------------------------------------------------------------------


async def test_create_job_returns_the_stored_record(store: Store) -> None:
    template = bytes(range(256))
    job = await store.create_job(
        new_job(name="x", priority=70, hold_until="night", template=template),
        [new_doc(1, 10), new_doc(2, 32)],
        ev("job-created"),
    )
    assert job.id > 0
    assert (job.state, job.state_reasons, job.priority) == (S.PENDING, ("none",), 70)
    assert (job.hold_until, job.template, job.created_at) == ("night", template, T0)
    assert (job.document_count, job.size, job.k_octets) == (2, 42, 1)
    assert (job.processing_at, job.completed_at, job.printer, job.remote_job_id) == (None,) * 4
    assert (job.impressions_completed, job.delivery_attempts) == (0, 0)
    assert (job.lease_owner, job.lease_expires, job.next_attempt_at) == (None, None, None)
    assert [d.number for d in job.documents] == [1, 2]
    assert job.documents[1].path == new_doc(2).path
    assert job.documents[1].size == 32
    assert await store.get_job(job.id) == job


async def test_get_job_missing_is_none(store: Store) -> None:
    assert await store.get_job(JobId(12345)) is None


async def test_job_ids_are_never_reused(store: Store) -> None:
    first = await create(store)
    await store.delete_jobs([first.id])
    second = await create(store)
    assert second.id > first.id


async def test_list_jobs_filters(store: Store) -> None:
    a = await create(store, queue="q1", owner="alice")
    b = await create(store, queue="q1", owner="bob")
    c = await create(store, queue="q2", owner="alice")
    await move(store, c, S.CANCELED)

    async def ids(**kw: Any) -> list[int]:
        return [j.id for j in await store.list_jobs(JobFilter(**kw))]

    assert await ids() == [a.id, b.id, c.id]
    assert await ids(queue="q1") == [a.id, b.id]
    assert await ids(owner="alice") == [a.id, c.id]
    assert await ids(states=[S.CANCELED]) == [c.id]
    assert await ids(states=[S.PENDING, S.PROCESSING]) == [a.id, b.id]
    assert await ids(states=[]) == []
    assert await ids(job_ids=[c.id, a.id]) == [a.id, c.id]
    assert await ids(job_ids=[]) == []
    assert await ids(limit=2) == [a.id, b.id]
    assert await ids(newest_first=True) == [c.id, b.id, a.id]
    assert await ids(newest_first=True, limit=1) == [c.id]
    assert await ids(queue="q1", owner="bob", states=[S.PENDING]) == [b.id]


async def test_list_jobs_orders_by_priority_then_id_and_fills_documents(store: Store) -> None:
    low = await create(store, docs=1, priority=10)
    high = await create(store, docs=3, priority=90)
    mid = await create(store, docs=0, priority=50)
    jobs = await store.list_jobs(JobFilter())
    assert [j.id for j in jobs] == [high.id, mid.id, low.id]
    assert [len(j.documents) for j in jobs] == [3, 0, 1]
    assert jobs[0] == await store.get_job(high.id)


async def test_count_jobs(store: Store) -> None:
    await create(store, queue="q1")
    await create(store, queue="q1", state=S.PENDING_HELD)
    await create(store, queue="q2")
    assert await store.count_jobs(None, [S.PENDING]) == 2
    assert await store.count_jobs("q1", [S.PENDING, S.PENDING_HELD]) == 2
    assert await store.count_jobs("q2", [S.PENDING_HELD]) == 0


# --- documents -----------------------------------------------------------------------------------


async def test_add_document_numbers_and_closes(store: Store) -> None:
    job = await create(store, docs=0, open_for_documents=True)
    first = await store.add_document(job.id, new_doc(1, 10), last=False, event=ev("doc"))
    assert first is not None and first.open_for_documents
    assert (first.document_count, first.size) == (1, 10)
    second = await store.add_document(job.id, new_doc(2, 5), last=True, event=ev("doc"))
    assert second is not None and not second.open_for_documents
    assert [d.number for d in second.documents] == [1, 2]
    assert (second.document_count, second.size) == (2, 15)
    assert await store.add_document(job.id, new_doc(3), last=True, event=ev("doc")) is None
    assert await store.add_document(JobId(999), new_doc(3), last=True, event=ev()) is None
    assert await store.get_job(job.id) == second


async def test_close_job(store: Store) -> None:
    job = await create(store, docs=0, open_for_documents=True)
    closed = await store.close_job(job.id, ev("job-closed"))
    assert closed is not None and not closed.open_for_documents
    assert await store.close_job(job.id, ev("job-closed")) is None
    assert await store.close_job(JobId(999), ev("job-closed")) is None
    kinds = [e.kind for e in await store.events_after(0, 100)]
    assert kinds == ["job-created", "job-closed"]


# --- transitions ---------------------------------------------------------------------------------


async def test_transition_is_compare_and_set(store: Store) -> None:
    job = await create(store)
    seq = await store.last_event_seq()
    result = await store.transition_job(
        job.id, [S.PROCESSING], S.COMPLETED, reasons=("x",), message="m", event=ev(),
        changes={"printer": "p1"},
    )  # fmt: skip
    assert result is None
    assert await store.get_job(job.id) == job
    assert await store.last_event_seq() == seq
    missing = await store.transition_job(
        JobId(999), [S.PENDING], S.CANCELED, reasons=(), message="", event=ev()
    )
    assert missing is None
    assert await store.last_event_seq() == seq


async def test_transition_applies_state_reasons_message_and_changes(store: Store) -> None:
    job = await create(store)
    moved = await store.transition_job(
        job.id, [S.PENDING, S.PENDING_HELD], S.PENDING_HELD,
        reasons=("job-hold-until-specified",), message="held", event=ev(),
        changes={"hold_until": "indefinite"},
    )  # fmt: skip
    assert moved is not None
    assert moved.state == S.PENDING_HELD
    assert moved.state_reasons == ("job-hold-until-specified",)
    assert (moved.state_message, moved.hold_until) == ("held", "indefinite")
    assert moved.documents == job.documents
    assert await store.get_job(job.id) == moved


async def test_transition_stamps_times_and_clears_lease(store: Store) -> None:
    job = await create(store)
    claimed = await store.claim_pending("n1", T0, T0 + 30)
    assert claimed is not None
    running = await move(store, claimed, S.PROCESSING, T0 + 1, printer="p1")
    assert (running.processing_at, running.completed_at) == (T0 + 1, None)
    assert (running.printer, running.lease_owner) == ("p1", "n1")
    stopped = await move(store, running, S.PROCESSING_STOPPED, T0 + 2)
    again = await move(store, stopped, S.PROCESSING, T0 + 3)
    assert again.processing_at == T0 + 1  # first start is kept
    done = await move(store, again, S.COMPLETED, T0 + 4)
    assert (done.completed_at, done.lease_owner, done.lease_expires) == (T0 + 4, None, None)
    restarted = await move(store, done, S.PENDING, T0 + 5)
    assert restarted.completed_at is None
    assert job.id == restarted.id


async def test_transition_and_update_refuse_the_state_field(store: Store) -> None:
    job = await create(store)
    with pytest.raises(ValueError):
        await store.update_job(job.id, {"state": S.COMPLETED})
    with pytest.raises(ValueError):
        await store.update_job(job.id, {"no_such_field": 1})
    with pytest.raises(ValueError):
        await store.transition_job(
            job.id, [S.PENDING], S.PENDING_HELD, reasons=(), message="", event=ev(),
            changes={"state": S.COMPLETED},
        )  # fmt: skip
    assert await store.get_job(job.id) == job


async def test_update_job_changes_fields_but_not_state(store: Store) -> None:
    job = await create(store)
    seq = await store.last_event_seq()
    changes = {
        "priority": 1,
        "name": "renamed",
        "template": b"\x01",
        "remote_job_id": 77,
        "impressions_completed": 3,
        "state_message": "warming up",
        "state_reasons": ("printer-stopped",),
        "next_attempt_at": T0 + 60,
        "delivery_attempts": 2,
    }
    updated = await store.update_job(job.id, changes)
    assert updated is not None
    for name, value in changes.items():
        assert getattr(updated, name) == value
    assert updated.state == S.PENDING
    assert await store.get_job(job.id) == updated
    assert await store.update_job(JobId(999), {"priority": 2}) is None
    assert await store.last_event_seq() == seq


async def test_every_state_change_appends_an_event_in_order(store: Store) -> None:
    job = await create(store, queue="q9")
    running = await move(store, job, S.PROCESSING, T0 + 1)
    await move(store, running, S.COMPLETED, T0 + 2)
    events = await store.events_after(0, 100)
    assert [e.kind for e in events] == ["job-created", "job-state-changed", "job-state-changed"]
    assert [e.time for e in events] == [T0, T0 + 1, T0 + 2]
    assert all(e.job_id == job.id and e.queue == "q9" for e in events)
    assert [e.seq for e in events] == sorted({e.seq for e in events})


# --- claims and leases ---------------------------------------------------------------------------


async def test_concurrent_claims_take_each_job_once(open_store: OpenStore) -> None:
    handles = [await open_store() for _ in range(3)]  # three nodes on one database
    jobs = [await create(handles[0]) for _ in range(20)]
    claims = await asyncio.gather(
        *(handles[i % 3].claim_pending(f"node{i}", T0, T0 + 60) for i in range(45))
    )
    claimed = [c.id for c in claims if c is not None]
    assert sorted(claimed) == [j.id for j in jobs]
    for claim in claims:
        if claim is not None:
            assert claim.lease_expires == T0 + 60 and claim.state == S.PENDING


async def test_claim_order_is_priority_then_id(store: Store) -> None:
    a = await create(store, priority=50)
    b = await create(store, priority=90)
    c = await create(store, priority=50)
    order = [await store.claim_pending("n", T0, T0 + 60) for _ in range(4)]
    assert [j.id if j else None for j in order] == [b.id, a.id, c.id, None]
    assert order[0] is not None and len(order[0].documents) == 1


async def test_claim_skips_jobs_that_are_not_dispatchable(store: Store) -> None:
    await create(store, open_for_documents=True)
    await create(store, state=S.PENDING_HELD)
    later = await create(store)
    await store.update_job(later.id, {"next_attempt_at": T0 + 100})
    await create(store, queue="paused")
    await store.set_queue_state(QueueState("paused", paused=True), ev("queue"))
    assert await store.claim_pending("n", T0, T0 + 60) is None
    due = await store.claim_pending("n", T0 + 100, T0 + 160)
    assert due is not None and due.id == later.id
    await store.set_queue_state(QueueState("paused", paused=False), ev("queue"))
    resumed = await store.claim_pending("n", T0 + 100, T0 + 160)
    assert resumed is not None and resumed.queue == "paused"


async def test_claim_limited_to_queues(store: Store) -> None:
    await create(store, queue="q1")
    q2 = await create(store, queue="q2")
    claimed = await store.claim_pending("n", T0, T0 + 60, queues=["q2", "q3"])
    assert claimed is not None and claimed.id == q2.id
    assert await store.claim_pending("n", T0, T0 + 60, queues=["q2"]) is None
    assert await store.claim_pending("n", T0, T0 + 60, queues=[]) is None


async def test_a_live_lease_blocks_claims_until_it_expires(store: Store) -> None:
    job = await create(store)
    assert await store.claim_pending("n1", T0, T0 + 30) is not None
    assert await store.claim_pending("n2", T0 + 29, T0 + 59) is None
    taken = await store.claim_pending("n2", T0 + 30, T0 + 60)
    assert taken is not None and taken.id == job.id and taken.lease_owner == "n2"
    assert not await store.renew_lease(job.id, "n1", T0 + 90)


async def test_renew_and_release_lease(store: Store) -> None:
    job = await create(store)
    await store.claim_pending("n1", T0, T0 + 30)
    assert await store.renew_lease(job.id, "n1", T0 + 90)
    assert not await store.renew_lease(job.id, "n2", T0 + 90)
    assert not await store.renew_lease(JobId(999), "n1", T0 + 90)
    leased = await store.get_job(job.id)
    assert leased is not None and leased.lease_expires == T0 + 90
    await store.release_lease(job.id, "n2")  # not the owner: no effect
    assert await store.claim_pending("n2", T0 + 60, T0 + 90) is None
    await store.release_lease(job.id, "n1")
    released = await store.get_job(job.id)
    assert released is not None
    assert (released.lease_owner, released.lease_expires) == (None, None)
    assert await store.claim_pending("n2", T0 + 60, T0 + 90) is not None


async def test_claim_orphaned(store: Store) -> None:
    await create(store)  # pending: not an orphan
    job = await create(store)
    await store.update_job(job.id, {"priority": 99})
    claimed = await store.claim_pending("n1", T0, T0 + 30)
    assert claimed is not None and claimed.id == job.id
    running = await move(store, claimed, S.PROCESSING)
    assert await store.claim_orphaned("n2", T0 + 10, T0 + 40) is None
    orphan = await store.claim_orphaned("n2", T0 + 30, T0 + 60)
    assert orphan is not None and orphan.id == running.id
    assert (orphan.lease_owner, orphan.lease_expires, orphan.state) == ("n2", T0 + 60, S.PROCESSING)
    assert await store.claim_orphaned("n3", T0 + 31, T0 + 61) is None
    assert len(orphan.documents) == 1
    # a suspended job has no live lease but is not an orphan: it waits for Resume-Job
    await move(store, orphan, S.PROCESSING_STOPPED)
    assert await store.claim_orphaned("n3", T0 + 60, T0 + 90) is None


# --- history -------------------------------------------------------------------------------------


async def test_expired_history_delete_and_forget(store: Store) -> None:
    old = await move(store, await create(store, docs=2), S.CANCELED, T0 + 1)
    newer = await move(store, await create(store), S.COMPLETED, T0 + 5)
    active = await create(store)
    history = await store.expired_history(T0 + 10, 10)
    assert [j.id for j in history] == [old.id, newer.id]
    assert len(history[0].documents) == 2
    assert [j.id for j in await store.expired_history(T0 + 5, 10)] == [old.id]
    assert [j.id for j in await store.expired_history(T0 + 10, 1)] == [old.id]

    forgotten = await store.forget_documents(old.id)
    assert [d.path for d in forgotten] == [d.path for d in old.documents]
    kept = await store.get_job(old.id)
    assert kept is not None and [d.path for d in kept.documents] == ["", ""]
    assert await store.forget_documents(old.id) == []
    assert await store.forget_documents(active.id) == []  # not terminal: files still needed

    await store.delete_jobs([old.id, newer.id])
    assert await store.get_job(old.id) is None
    assert [j.id for j in await store.list_jobs(JobFilter())] == [active.id]
    assert await store.expired_history(T0 + 10, 10) == []


# --- queues, printers, users ---------------------------------------------------------------------


async def test_queue_state(store: Store) -> None:
    assert await store.get_queue_state("q") == QueueState("q")
    state = QueueState("q", is_accepting_jobs=False, paused=True, hold_new_jobs=True,
                       state_message="maintenance", state_change_time=T0)  # fmt: skip
    await store.set_queue_state(state, ev("printer-state-changed"))
    assert await store.get_queue_state("q") == state
    await store.set_queue_state(QueueState("q"), ev("printer-state-changed"))
    assert await store.get_queue_state("q") == QueueState("q")
    events = await store.events_after(0, 10)
    assert [(e.kind, e.queue) for e in events] == [("printer-state-changed", "q")] * 2


async def test_printers(store: Store) -> None:
    assert await store.get_printer("p1") == PrinterRecord("p1")
    record = PrinterRecord("p1", is_up=False, state_reasons=("offline-report",),
                           state_message="unreachable", state_change_time=T0)  # fmt: skip
    await store.set_printer(record, ev("printer-down", reason="timeout"))
    assert await store.get_printer("p1") == record
    (event,) = await store.events_after(0, 10)
    assert (event.kind, event.printer, event.data) == ("printer-down", "p1", {"reason": "timeout"})


async def test_users(store: Store) -> None:
    assert await store.get_user("bob") is None
    await store.put_user(UserRecord("bob", "hash1", "user"))
    await store.put_user(UserRecord("alice", "hash2", "admin"))
    await store.put_user(UserRecord("bob", "hash3", "operator"))
    assert await store.get_user("bob") == UserRecord("bob", "hash3", "operator")
    assert [u.name for u in await store.list_users()] == ["alice", "bob"]


# --- events --------------------------------------------------------------------------------------


async def test_events_after_ordering_and_limit(store: Store) -> None:
    assert await store.last_event_seq() == 0
    seqs = [
        await store.append_event(NewEvent("node-up", T0 + i, printer="p", data={"i": i}))
        for i in range(5)
    ]
    job = await create(store)
    seqs.append(await store.append_event(NewEvent("note", T0), job_id=job.id))
    assert seqs[:5] == sorted(seqs[:5]) and seqs[5] > seqs[4] + 1  # job-created in between
    assert await store.last_event_seq() == seqs[-1]
    page = await store.events_after(seqs[1], 2)
    assert [e.seq for e in page] == seqs[2:4]
    assert [e.data for e in page] == [{"i": 2}, {"i": 3}]
    assert (page[0].kind, page[0].printer, page[0].job_id) == ("node-up", "p", None)
    last = await store.events_after(seqs[-1] - 1, 10)
    assert [(e.kind, e.job_id) for e in last] == [("note", job.id)]
    assert await store.events_after(seqs[-1], 10) == []


# --- subscriptions -------------------------------------------------------------------------------


def subscription(**overrides: Any) -> SubscriptionRecord:
    fields: dict[str, Any] = {
        "id": 0,
        "owner": "alice",
        "queue": "q",
        "job_id": None,
        "events": ("job-completed", "job-state-changed"),
        "pull_method": "ippget",
        "lease_duration": 3600,
        "expires_at": T0 + 3600,
        "time_interval": 0,
        "user_data": b"\x00\xff",
        "created_at": T0,
        "start_seq": 7,
    }
    fields.update(overrides)
    return SubscriptionRecord(**fields)


async def test_subscriptions(store: Store) -> None:
    job = await create(store)
    a = await store.create_subscription(subscription(id=999))
    b = await store.create_subscription(subscription(owner="bob", job_id=job.id, queue=None))
    c = await store.create_subscription(subscription(queue="other", expires_at=None))
    assert a.id != 999 and a.id < b.id < c.id
    assert a == subscription(id=a.id)
    assert await store.get_subscription(b.id) == b
    assert await store.get_subscription(12345) is None

    async def ids(queue: str | None = None, job_id: JobId | None = None,
                  owner: str | None = None, limit: int | None = None) -> list[int]:  # fmt: skip
        return [s.id for s in await store.list_subscriptions(queue, job_id, owner, limit)]

    assert await ids() == [a.id, b.id, c.id]
    assert await ids(queue="q") == [a.id]
    assert await ids(job_id=job.id) == [b.id]
    assert await ids(owner="alice") == [a.id, c.id]
    assert await ids(limit=2) == [a.id, b.id]

    await store.update_subscription(a.id, {"expires_at": T0 + 99, "events": ("job-created",)})
    renewed = await store.get_subscription(a.id)
    assert renewed is not None
    assert (renewed.expires_at, renewed.events) == (T0 + 99, ("job-created",))
    await store.delete_subscription(a.id)
    assert await store.get_subscription(a.id) is None
    assert await ids() == [b.id, c.id]


# --- concurrent writes ---------------------------------------------------------------------


async def test_concurrent_writes_fail_alone(store: Store) -> None:
    """Writes that arrive together may share a commit; one failing write must not take
    the others with it, nor leave anything of itself behind."""
    target = await create(store)
    writes: list[Awaitable[Any]] = [create(store) for _ in range(40)]
    writes.insert(20, store.update_job(target.id, {"no_such_field": 1}))
    writes.insert(30, store.update_job(target.id, {"priority": 77}))
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ValueError)
    created = [o for o in outcomes if isinstance(o, JobRecord) and o.id != target.id]
    assert len(created) == 40 and len({j.id for j in created}) == 40
    for job in created:
        assert await store.get_job(job.id) is not None
    updated = await store.get_job(target.id)
    assert updated is not None and updated.priority == 77


async def test_list_jobs_by_open_for_documents(store: Store) -> None:
    closed = await create(store)
    incoming = await create(store, docs=0, open_for_documents=True)
    open_ids = [j.id for j in await store.list_jobs(JobFilter(open_for_documents=True))]
    closed_ids = [j.id for j in await store.list_jobs(JobFilter(open_for_documents=False))]
    assert incoming.id in open_ids and closed.id not in open_ids
    assert closed.id in closed_ids and incoming.id not in closed_ids
