"""The store contract: behaviour every ``Store`` implementation must show.

Written against the ``Store`` protocol only. The ``open_store`` fixture is parametrised
over the implementations (SQLite in a temp dir; PostgreSQL on a private per-session
cluster, a fresh database per test) and hands out store handles on one database: several
handles stand for several nodes (or processes) sharing it, which is what the claim tests
need.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from printhost.ipp.constants import JobState
from printhost.jobs.model import JobId, JobRecord
from printhost.store.base import (
    AgentRecord,
    JobDefaults,
    JobFilter,
    NewDocument,
    NewEvent,
    NewJob,
    PresenceRecord,
    PrinterRecord,
    QueueState,
    Store,
    SubscriptionRecord,
    UserPreferences,
    UserRecord,
)

from .conftest import OpenStore
from .migration_steps import columns_after

S = JobState
T0 = 1_700_000_000.0

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


async def test_a_dead_nodes_leases_are_orphaned_before_they_expire(store: Store) -> None:
    claimed = await store.claim_pending("n1", T0, T0 + 30)
    assert claimed is None
    job = await create(store)
    claimed = await store.claim_pending("n1", T0, T0 + 30)
    assert claimed is not None and claimed.id == job.id
    await move(store, claimed, S.PROCESSING)
    assert await store.claim_orphaned("n2", T0 + 10, T0 + 40, dead=["n9"]) is None
    taken = await store.claim_orphaned("n2", T0 + 10, T0 + 40, dead=["n1"])
    assert taken is not None and (taken.id, taken.lease_owner) == (job.id, "n2")
    # n2 is alive: its new lease holds against a third node
    assert await store.claim_orphaned("n3", T0 + 11, T0 + 41, dead=["n1"]) is None


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


# --- routing: peek and claim by id --------------------------------------------------------------


async def _peek(store: Store, now: float = T0, exclude: Any = (), limit: int = 100) -> list[int]:
    return [j.id for j in await store.peek_pending(now, set(exclude), limit)]


async def test_peek_pending_is_dispatch_order_and_reads_only(store: Store) -> None:
    low = await create(store, priority=10)
    a = await create(store, priority=50, docs=2)
    high = await create(store, priority=90)
    b = await create(store, priority=50)
    seq = await store.last_event_seq()
    assert await _peek(store) == [high.id, a.id, b.id, low.id]
    assert await _peek(store, limit=2) == [high.id, a.id]
    peeked = await store.peek_pending(T0, set(), 100)
    assert [len(j.documents) for j in peeked] == [1, 2, 1, 1]
    assert peeked[1] == await store.get_job(a.id)
    # nothing was leased or written
    assert all(j.lease_owner is None for j in peeked)
    assert await store.last_event_seq() == seq
    assert await _peek(store) == [high.id, a.id, b.id, low.id]


async def test_peek_pending_excludes_queues_and_owners_in_queues(store: Store) -> None:
    q1_alice = await create(store, queue="q1", owner="alice")
    q1_bob = await create(store, queue="q1", owner="bob")
    q2_alice = await create(store, queue="q2", owner="alice")
    q2_bob = await create(store, queue="q2", owner="bob")
    q3_carol = await create(store, queue="q3", owner="carol")
    everything = [q1_alice.id, q1_bob.id, q2_alice.id, q2_bob.id, q3_carol.id]
    assert await _peek(store) == everything
    assert await _peek(store, exclude=[("q1", None)]) == [q2_alice.id, q2_bob.id, q3_carol.id]
    assert await _peek(store, exclude=[("q1", "alice")]) == [
        q1_bob.id, q2_alice.id, q2_bob.id, q3_carol.id,
    ]  # fmt: skip
    # an owner excluded in one queue is still seen in another
    assert await _peek(store, exclude=[("q1", "alice"), ("q2", "bob")]) == [
        q1_bob.id, q2_alice.id, q3_carol.id,
    ]  # fmt: skip
    assert await _peek(store, exclude=[("q1", "alice"), ("q1", "bob")]) == [
        q2_alice.id, q2_bob.id, q3_carol.id,
    ]  # fmt: skip
    # the whole queue and one of its owners: the whole queue
    assert await _peek(store, exclude=[("q1", "alice"), ("q1", None), ("q3", None)]) == [
        q2_alice.id, q2_bob.id,
    ]  # fmt: skip
    assert await _peek(store, exclude=[("nope", None), ("q3", "alice")]) == everything
    assert await _peek(store, exclude=[("q1", None), ("q2", None), ("q3", None)]) == []


async def test_peek_pending_skips_jobs_that_cannot_be_dispatched(store: Store) -> None:
    due = await create(store)
    await create(store, open_for_documents=True)
    await create(store, state=S.PENDING_HELD)
    running = await create(store)
    await move(store, running, S.PROCESSING)
    await move(store, await create(store), S.COMPLETED)
    await create(store, queue="paused")
    await store.set_queue_state(QueueState("paused", paused=True), ev("queue"))
    leased = await create(store)
    assert await store.claim_job(leased.id, "n1", T0, T0 + 30) is not None
    assert await _peek(store) == [due.id]
    # a lease that expired does not hide the job
    assert await _peek(store, now=T0 + 30) == [due.id, leased.id]
    await store.set_queue_state(QueueState("paused"), ev("queue"))
    assert len(await _peek(store, now=T0 + 30)) == 3


async def test_peek_pending_includes_jobs_whose_retry_is_not_due(store: Store) -> None:
    later = await create(store)
    await store.update_job(later.id, {"next_attempt_at": T0 + 100})
    after = await create(store)
    peeked = await store.peek_pending(T0, set(), 10)
    assert [j.id for j in peeked] == [later.id, after.id]
    assert peeked[0].next_attempt_at == T0 + 100


async def test_claim_job_leases_that_job(store: Store) -> None:
    first = await create(store, priority=90)
    wanted = await create(store, priority=10)
    claimed = await store.claim_job(wanted.id, "n1", T0, T0 + 30)
    assert claimed is not None and claimed.id == wanted.id
    assert (claimed.lease_owner, claimed.lease_expires, claimed.state) == ("n1", T0 + 30, S.PENDING)
    assert len(claimed.documents) == 1
    assert await store.get_job(wanted.id) == claimed
    untouched = await store.get_job(first.id)
    assert untouched is not None and untouched.lease_owner is None
    # leased: nobody else gets it until the lease ends
    assert await store.claim_job(wanted.id, "n2", T0 + 29, T0 + 59) is None
    taken = await store.claim_job(wanted.id, "n2", T0 + 30, T0 + 60)
    assert taken is not None and taken.lease_owner == "n2"
    assert not await store.renew_lease(wanted.id, "n1", T0 + 90)


async def test_claim_job_refuses_jobs_that_cannot_be_dispatched(store: Store) -> None:
    held = await create(store, state=S.PENDING_HELD)
    incoming = await create(store, open_for_documents=True)
    running = await move(store, await create(store), S.PROCESSING)
    done = await move(store, await create(store), S.COMPLETED)
    for job in (held, incoming, running, done):
        assert await store.claim_job(job.id, "n1", T0, T0 + 30) is None
        unchanged = await store.get_job(job.id)
        assert unchanged is not None and unchanged.lease_owner is None
    assert await store.claim_job(JobId(999), "n1", T0, T0 + 30) is None


async def test_claim_job_is_exclusive(open_store: OpenStore) -> None:
    handles = [await open_store() for _ in range(4)]  # four nodes on one database
    jobs = [await create(handles[0]) for _ in range(5)]
    for job in jobs:
        claims = await asyncio.gather(
            *(h.claim_job(job.id, f"node{i}", T0, T0 + 60) for i, h in enumerate(handles))
        )
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1, claims
        stored = await handles[1].get_job(job.id)
        assert stored is not None and stored.lease_owner == winners[0].lease_owner


async def test_list_queue_states_and_printers(store: Store) -> None:
    assert await store.list_queue_states() == []
    assert await store.list_printers() == []
    user_b = QueueState("user-bob", state_change_time=T0)
    user_a = QueueState("user-alice", state_change_time=T0 + 1)
    paused = QueueState("myprinter", paused=True, state_message="paused")
    for state in (user_b, user_a, paused):
        await store.set_queue_state(state, ev("queue-created"))
    await store.set_queue_state(QueueState("user-bob", hold_new_jobs=True), ev("queue-changed"))
    assert await store.list_queue_states() == [
        paused, user_a, QueueState("user-bob", hold_new_jobs=True),
    ]  # fmt: skip
    down = PrinterRecord("zeta", is_up=False, state_reasons=("offline-report",),
                         state_message="refused", state_change_time=T0)  # fmt: skip
    await store.set_printer(down, ev("printer-state-changed"))
    await store.set_printer(PrinterRecord("alpha"), ev("printer-state-changed"))
    assert await store.list_printers() == [PrinterRecord("alpha"), down]
    back = PrinterRecord("zeta", is_up=True, state_reasons=("none",), state_change_time=T0 + 5)
    await store.set_printer(back, ev("printer-state-changed"))
    assert await store.list_printers() == [PrinterRecord("alpha"), back]
    assert [p.name for p in await store.list_printers() if not p.is_up] == []


# --- routing: preferences, presence, agents ------------------------------------------------------


async def test_preferences_round_trip(store: Store) -> None:
    assert await store.get_preferences("alice") is None
    prefs = UserPreferences(
        "alice",
        destination="office",
        defaults=JobDefaults(sides="two-sided-long-edge", print_color_mode="monochrome",
                             orientation_requested=4, max_copies=5),
        banner=None,
        location="floor2",
        updated_at=T0,
    )  # fmt: skip
    await store.put_preferences(prefs, NewEvent("preferences-changed", T0, data={"user": "alice"}))
    assert await store.get_preferences("alice") == prefs
    assert await store.get_preferences("bob") is None
    (event,) = await store.events_after(0, 10)
    assert (event.kind, event.time, event.data) == ("preferences-changed", T0, {"user": "alice"})
    assert (event.job_id, event.queue, event.printer) == (None, None, None)


@pytest.mark.parametrize("banner", [None, True, False])
async def test_preferences_banner_keeps_none_true_and_false_apart(
    store: Store, banner: bool | None
) -> None:
    await store.put_preferences(UserPreferences("alice", banner=banner), ev("preferences"))
    stored = await store.get_preferences("alice")
    assert stored is not None and stored.banner is banner


async def test_preferences_defaults_and_update(store: Store) -> None:
    await store.put_preferences(UserPreferences("bob"), ev("preferences"))
    assert await store.get_preferences("bob") == UserPreferences("bob")
    changed = UserPreferences("bob", destination="desktop", banner=False,
                              defaults=JobDefaults(max_copies=2), updated_at=T0 + 9)  # fmt: skip
    await store.put_preferences(changed, ev("preferences", T0 + 9))
    assert await store.get_preferences("bob") == changed
    cleared = UserPreferences("bob", updated_at=T0 + 10)
    await store.put_preferences(cleared, ev("preferences", T0 + 10))
    assert await store.get_preferences("bob") == cleared
    kinds = [(e.kind, e.time) for e in await store.events_after(0, 10)]
    assert kinds == [("preferences", T0), ("preferences", T0 + 9), ("preferences", T0 + 10)]


async def test_presence_upsert_expiry_order_and_delete(store: Store) -> None:
    assert await store.list_presence(T0) == []
    await store.put_presence(PresenceRecord("alice", "ws1", T0 + 100, T0, "agent"))
    await store.put_presence(PresenceRecord("alice", "ws2", T0 + 50, T0 + 5, "badge-reader"))
    await store.put_presence(PresenceRecord("bob", "ws3", T0 + 200, T0 + 2))
    assert await store.list_presence(T0) == [
        PresenceRecord("alice", "ws2", T0 + 50, T0 + 5, "badge-reader"),
        PresenceRecord("bob", "ws3", T0 + 200, T0 + 2),
        PresenceRecord("alice", "ws1", T0 + 100, T0, "agent"),
    ]  # most recently reported first
    assert [p.host for p in await store.list_presence(T0, "alice")] == ["ws2", "ws1"]
    assert await store.list_presence(T0, "carol") == []
    # upsert by (user, host): a renewal moves it to the front
    await store.put_presence(PresenceRecord("alice", "ws1", T0 + 300, T0 + 10, "agent"))
    alice = await store.list_presence(T0, "alice")
    assert [(p.host, p.expires_at) for p in alice] == [("ws1", T0 + 300), ("ws2", T0 + 50)]
    # expired presence is not listed (expires_at <= now)
    assert [p.host for p in await store.list_presence(T0 + 50, "alice")] == ["ws1"]
    assert [p.host for p in await store.list_presence(T0 + 200)] == ["ws1"]
    assert await store.list_presence(T0 + 300) == []
    await store.delete_presence("alice", "ws1")
    await store.delete_presence("alice", "nowhere")  # nothing to delete: no error
    assert [p.host for p in await store.list_presence(T0, "alice")] == ["ws2"]
    assert [(p.user, p.host) for p in await store.list_presence(T0)] == [
        ("alice", "ws2"),
        ("bob", "ws3"),
    ]


async def test_presence_ties_are_ordered_by_host(store: Store) -> None:
    for host in ("ws-c", "ws-a", "ws-b"):
        await store.put_presence(PresenceRecord("alice", host, T0 + 100, T0))
    assert [p.host for p in await store.list_presence(T0, "alice")] == ["ws-a", "ws-b", "ws-c"]


async def test_agents_upsert_by_host_ignoring_case(store: Store) -> None:
    assert await store.get_agent("ws1") is None
    agent = AgentRecord("WS1.Example.COM", "ipp://ws1:8000/ipp/print", T0 + 60, T0, "floor2")
    await store.put_agent(agent)
    expected = AgentRecord("ws1.example.com", agent.uri, T0 + 60, T0, "floor2")
    assert await store.get_agent("ws1.example.com") == expected
    assert await store.get_agent("WS1.EXAMPLE.com") == expected
    assert await store.get_agent("ws1") is None
    renewed = AgentRecord("ws1.example.COM", "ipp://ws1:9000/ipp/print", T0 + 120, T0 + 60)
    await store.put_agent(renewed)
    assert await store.get_agent("Ws1.Example.Com") == AgentRecord(
        "ws1.example.com", "ipp://ws1:9000/ipp/print", T0 + 120, T0 + 60, ""
    )


# --- judging: analysis and decision on the job (migration 0006) ------------------------------


async def test_unanalysed_jobs_are_listed_until_their_analysis_is_stored(store: Store) -> None:
    waiting = await create(store)
    held = await create(store, state=S.PENDING_HELD)
    await create(store, open_for_documents=True)  # documents still coming
    done = await move(store, await create(store), S.CANCELED)
    assert [j.id for j in await store.list_unanalysed(10)] == [waiting.id, held.id]
    assert [j.id for j in await store.list_unanalysed(1)] == [waiting.id]
    updated = await store.update_job(
        waiting.id, {"analysis": '{"documents": []}', "judgement": "{}", "account": "physics"}
    )
    assert updated is not None
    assert (updated.analysis, updated.judgement, updated.account) == (
        '{"documents": []}', "{}", "physics",
    )  # fmt: skip
    assert [j.id for j in await store.list_unanalysed(10)] == [held.id]
    assert (await store.get_job(done.id)).release_printer is None  # type: ignore[union-attr]


def test_migration_0006_adds_and_removes_the_judging_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    added = {"analysis", "judgement", "account", "release_printer"}
    assert not columns_after(url, "upgrade", "0005", "jobs") & added
    assert columns_after(url, "upgrade", "0006", "jobs") >= added
    assert not columns_after(url, "downgrade", "0005", "jobs") & added
