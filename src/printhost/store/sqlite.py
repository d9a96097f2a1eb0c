"""The SQLite implementation of the store port (the embedded default).

Theory of operation
-------------------
SQLite allows one writer at a time, so the store keeps one long-lived *writer* connection
owned by one dedicated thread; every write is a function that runs there as one
transaction. The thread's FIFO queue serialises writers in arrival order — connections
never fight for the file lock (SQLite's busy handler sleeps and retries, which wrecks
throughput). Every write transaction starts with ``BEGIN IMMEDIATE``: it takes the
database write lock before its first read, so a compare-and-set or a claim cannot read a
row that another process changes before it writes. (In-process the thread already
serialises; the IMMEDIATE begin keeps a second process — a CLI tool, a test — honest too.)
Reads run on a small pool of other threads and connections with a plain deferred
``BEGIN``: under WAL a reader sees one consistent snapshot and neither waits for nor
blocks the writer.

Why threads and a synchronous engine rather than ``sqlite+aiosqlite``: aiosqlite hops to
its worker thread and back for every cursor call (open, execute, fetch, close: ~14 hops
for one create_job). Running the whole transaction in the thread costs one hop. Measured
on the 2-core VM (one document per job, a durable commit each): ~710 create_job/s through
the async engine, ~2,500/s this way. The SQL is the same SQLAlchemy Core either way.

Durability (DESIGN invariant 1): every connection runs with ``journal_mode=WAL`` and
``synchronous=FULL``, so COMMIT returns only after the transaction is fsync'd to the WAL,
and a method that writes returns only after COMMIT. Foreign keys are enforced.

Group commit: a COMMIT costs one fsync (~7 ms on the test VM), so writes that arrive
while one batch is being committed wait in ``_pending`` and go together as the next
transaction - each write inside its own SAVEPOINT, so a write that fails rolls back alone
and its caller gets the error - with one COMMIT and one fsync for the batch. No timer
delays a lone write: batches form only while the disk is busy. Every caller still returns
only after the COMMIT that holds its write.

Cancellation: a caller cancelled while its write waits in the queue takes the write with
it; once the batch has started it runs to completion in its thread. A cancelled caller
never got its answer, so a write that still lands is indistinguishable from one that
landed just before the cancellation.

Time is never read here: stamps come from the caller's event (``event.time``).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    false,
    func,
    insert,
    make_url,
    or_,
    select,
    true,
    update,
)

from printhost.ipp.constants import JobState
from printhost.jobs.model import DocumentRecord, JobId, JobRecord
from printhost.store import migrate
from printhost.store.base import (
    EventRecord,
    JobFilter,
    NewDocument,
    NewEvent,
    NewJob,
    PrinterRecord,
    QueueState,
    SubscriptionRecord,
    UserRecord,
)
from printhost.store.schema import documents as document_table
from printhost.store.schema import events, jobs, printers, subscriptions, users
from printhost.store.schema import queues as queue_table
from printhost.store.sqlite_ledger import LedgerTables
from printhost.store.sqlite_routing import RoutingTables
from printhost.store.sqlite_upsert import upsert

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # first, so the others wait for a lock instead of failing
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)

_TERMINAL = tuple(s for s in JobState if s.is_terminal)
#: A suspended (processing-stopped) job has no lease on purpose: it waits for Resume-Job.
_ORPHANABLE = (JobState.PROCESSING,)
#: JobRecord fields that changes= / update_job may not set.
_NOT_CHANGEABLE = frozenset({"id", "state", "documents"})
_JOB_COLUMNS = frozenset(jobs.c.keys())
_SUBSCRIPTION_COLUMNS = frozenset(subscriptions.c.keys()) - {"id"}
_IN_CHUNK = 500  # ids per IN (...) list; far below SQLite's bound-parameter limit

_INSERT_JOB = insert(jobs).returning(*jobs.c)
_INSERT_DOCUMENTS = insert(document_table)
_INSERT_EVENT = insert(events)
_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"))
_SELECT_DOCUMENTS = (
    select(document_table)
    .where(document_table.c.job_id == bindparam("job_id"))
    .order_by(document_table.c.number)
)


def configure_engine(engine: Engine, *, begin: str) -> None:
    """Install the connection pragmas and our own transaction BEGIN on ``engine``.

    The driver's implicit BEGIN is turned off (``isolation_level = None``) and SQLAlchemy
    emits ``begin`` instead (the SQLAlchemy SQLite docs' "serializable isolation" recipe),
    so writers can say ``BEGIN IMMEDIATE`` and SELECTs run inside the transaction too.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def sqlite_url(database: str | os.PathLike[str]) -> str:
    """The ``sqlite://`` (pysqlite) URL for a URL with any sqlite driver, or a bare path."""
    text = os.fspath(database)
    if "://" not in text:
        return f"sqlite:///{text}"
    url = make_url(text)
    if url.get_backend_name() != "sqlite":
        raise ValueError(f"not a SQLite URL: {url.render_as_string()}")
    return url.set(drivername="sqlite").render_as_string(hide_password=False)


#: Writes committed together at most; bounds the time one COMMIT holds the write lock.
MAX_BATCH = 128


class SqliteStore(RoutingTables, LedgerTables):
    """The ``Store`` port on one SQLite file. Create with ``await SqliteStore.open(url)``."""

    def __init__(self, writer_engine: Engine, reader_engine: Engine, readers: int) -> None:
        self._writer_engine = writer_engine
        self._reader_engine = reader_engine
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="printhost-db-writer")
        self._reader_threads = ThreadPoolExecutor(readers, thread_name_prefix="printhost-db")
        self._writer: Connection | None = None
        self._closed = False
        self._pending: list[tuple[Callable[[Connection], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, database: str | os.PathLike[str], *, readers: int = 2) -> SqliteStore:
        """Migrate the database to head, then open it. ``database``: URL or file path."""
        url = sqlite_url(database)
        path = make_url(url).database
        on_disk = bool(path) and path != ":memory:" and not str(path).startswith("file:")
        if on_disk:
            Path(str(path)).parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(migrate.upgrade, url)
        if on_disk:  # the new database file's directory entry must be durable too
            await asyncio.to_thread(_fsync_dir, Path(str(path)).resolve().parent)
        writer = create_engine(url, pool_size=1, max_overflow=0)
        configure_engine(writer, begin="BEGIN IMMEDIATE")
        reader = create_engine(url, pool_size=readers, max_overflow=0)
        configure_engine(reader, begin="BEGIN")
        store = cls(writer, reader, readers)
        await store._in_writer_thread(store._connect_writer)
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self._in_writer_thread(self._close_writer)
        await asyncio.to_thread(self._writer_thread.shutdown)
        await asyncio.to_thread(self._reader_threads.shutdown)
        self._writer_engine.dispose()
        self._reader_engine.dispose()

    # --- transactions ----------------------------------------------------------------------

    async def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in the writer thread, committed (with whatever other writes are
        waiting) before this returns."""
        if self._closed:
            raise RuntimeError("the store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="printhost-db-group-commit")
        return await future

    async def _flush(self) -> None:
        """Commit batches until nothing is waiting; owned by the store (awaited in close)."""
        while self._pending:
            batch = [item for item in self._pending[:MAX_BATCH] if not item[1].cancelled()]
            del self._pending[:MAX_BATCH]
            if not batch:
                continue
            try:
                outcomes = await self._in_writer_thread(self._transact_batch, [w for w, _ in batch])
            except Exception as exc:  # the COMMIT itself failed: nothing in the batch landed
                outcomes = [(False, exc)] * len(batch)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read transaction (one snapshot) on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader_threads, self._read_sync, work)

    async def _in_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_thread, fn, *args)

    def _connect_writer(self) -> None:
        self._writer = self._writer_engine.connect()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _transact_batch(self, works: list[Callable[[Connection], Any]]) -> list[tuple[bool, Any]]:
        """One transaction, one SAVEPOINT per write, one COMMIT (one fsync) for all."""
        conn = self._writer
        if conn is None:
            raise RuntimeError("the store is closed")
        outcomes: list[tuple[bool, Any]] = []
        with conn.begin():
            for work in works:
                try:
                    with conn.begin_nested():
                        outcomes.append((True, work(conn)))
                except Exception as exc:
                    outcomes.append((False, exc))
        return outcomes

    def _read_sync(self, work: Callable[[Connection], T]) -> T:
        with self._reader_engine.connect() as conn, conn.begin():
            return work(conn)

    # --- jobs ------------------------------------------------------------------------------

    async def create_job(
        self, job: NewJob, documents: Sequence[NewDocument], event: NewEvent
    ) -> JobRecord:
        values = {
            "uuid": job.uuid,
            "queue": job.queue,
            "owner": job.owner,
            "owner_authenticated": job.owner_authenticated,
            "originating_host": job.originating_host,
            "name": job.name,
            "state": int(job.state),
            "state_reasons": _dumps(job.state_reasons),
            "state_message": job.state_message,
            "priority": job.priority,
            "hold_until": job.hold_until,
            "template": job.template,
            "created_at": job.created_at,
            "processing_at": None,
            "completed_at": None,
            "open_for_documents": job.open_for_documents,
            "document_count": len(documents),
            "size": sum(d.size for d in documents),
            "printer": None,
            "remote_job_id": None,
            "impressions_completed": 0,
            "delivery_attempts": 0,
            "next_attempt_at": None,
            "lease_owner": None,
            "lease_expires": None,
            "password_hash": job.password_hash,
            "analysis": None,
            "judgement": None,
            "account": None,
            "release_printer": None,
        }

        def work(conn: Connection) -> JobRecord:
            row = conn.execute(_INSERT_JOB, values).one()
            job_id = JobId(row.id)
            docs = tuple(
                _new_document(job_id, number, d, job.created_at)
                for number, d in enumerate(documents, start=1)
            )
            if docs:
                conn.execute(_INSERT_DOCUMENTS, [_document_values(d) for d in docs])
            _insert_event(conn, event, job_id, job.queue)
            return _job(row, docs)

        return await self._write(work)

    async def add_document(
        self, job_id: JobId, document: NewDocument, *, last: bool, event: NewEvent
    ) -> JobRecord | None:
        def work(conn: Connection) -> JobRecord | None:
            stmt = (
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.open_for_documents == true())
                .values(
                    document_count=jobs.c.document_count + 1,
                    size=jobs.c.size + document.size,
                    open_for_documents=not last,
                )
                .returning(jobs.c.document_count, jobs.c.queue)
            )
            row = conn.execute(stmt).one_or_none()
            if row is None:
                return None
            doc = _new_document(job_id, row.document_count, document, event.time)
            conn.execute(_INSERT_DOCUMENTS, _document_values(doc))
            _insert_event(conn, event, job_id, row.queue)
            return _load_job(conn, job_id)

        return await self._write(work)

    async def close_job(self, job_id: JobId, event: NewEvent) -> JobRecord | None:
        def work(conn: Connection) -> JobRecord | None:
            where = (jobs.c.id == job_id, jobs.c.open_for_documents == true())
            return _update_job(conn, job_id, where, {"open_for_documents": False}, event)

        return await self._write(work)

    async def get_job(self, job_id: JobId) -> JobRecord | None:
        return await self._read(lambda conn: _load_job(conn, job_id))

    async def list_jobs(self, where: JobFilter) -> list[JobRecord]:
        stmt = select(jobs).where(*_job_conditions(where))
        if where.newest_first:
            stmt = stmt.order_by(jobs.c.id.desc())
        else:
            stmt = stmt.order_by(jobs.c.priority.desc(), jobs.c.id)
        if where.limit is not None:
            stmt = stmt.limit(where.limit)
        return await self._read(lambda conn: _jobs_with_documents(conn, stmt))

    async def count_jobs(self, queue: str | None, states: Collection[JobState]) -> int:
        conditions = _job_conditions(JobFilter(queue=queue, states=states))
        stmt = select(func.count()).select_from(jobs).where(*conditions)
        count = await self._read(lambda conn: conn.scalar(stmt))
        return int(count or 0)

    async def transition_job(
        self,
        job_id: JobId,
        expected: Collection[JobState],
        new_state: JobState,
        *,
        reasons: tuple[str, ...],
        message: str,
        event: NewEvent,
        changes: Mapping[str, Any] | None = None,
    ) -> JobRecord | None:
        values: dict[str, Any] = {
            "state": int(new_state),
            "state_reasons": _dumps(reasons),
            "state_message": message,
            # Entering a terminal state stamps completion; leaving one (restart) clears it.
            "completed_at": event.time if new_state.is_terminal else None,
        }
        if new_state == JobState.PROCESSING:
            values["processing_at"] = func.coalesce(jobs.c.processing_at, event.time)
        if new_state.is_terminal:
            values["lease_owner"] = None
            values["lease_expires"] = None
        values.update(_job_changes(changes or {}))
        where = (jobs.c.id == job_id, jobs.c.state.in_([int(s) for s in expected]))

        def work(conn: Connection) -> JobRecord | None:
            return _update_job(conn, job_id, where, values, event)

        return await self._write(work)

    async def update_job(self, job_id: JobId, changes: Mapping[str, Any]) -> JobRecord | None:
        values = _job_changes(changes)
        if not values:
            return await self.get_job(job_id)

        def work(conn: Connection) -> JobRecord | None:
            return _update_job(conn, job_id, (jobs.c.id == job_id,), values, None)

        return await self._write(work)

    async def claim_pending(
        self, node: str, now: float, lease_until: float, queues: Collection[str] | None = None
    ) -> JobRecord | None:
        paused = select(queue_table.c.name).where(queue_table.c.paused == true())
        conditions = [
            jobs.c.state == int(JobState.PENDING),
            jobs.c.open_for_documents == false(),
            or_(jobs.c.next_attempt_at.is_(None), jobs.c.next_attempt_at <= now),
            _lease_free(now),
            jobs.c.queue.not_in(paused),
        ]
        if queues is not None:
            conditions.append(jobs.c.queue.in_(list(queues)))
        return await self._claim(conditions, node, lease_until)

    async def peek_pending(
        self, now: float, exclude: Collection[tuple[str, str | None]], limit: int
    ) -> list[JobRecord]:
        paused = select(queue_table.c.name).where(queue_table.c.paused == true())
        stmt = (
            select(jobs)
            .where(
                jobs.c.state == int(JobState.PENDING),
                jobs.c.open_for_documents == false(),
                _lease_free(now),
                jobs.c.queue.not_in(paused),
                *_excluded(exclude),
            )
            .order_by(jobs.c.priority.desc(), jobs.c.id)
            .limit(limit)
        )
        return await self._read(lambda conn: _jobs_with_documents(conn, stmt))

    async def list_unanalysed(self, limit: int) -> list[JobRecord]:
        stmt = (
            select(jobs)
            .where(
                jobs.c.analysis.is_(None),
                jobs.c.open_for_documents == false(),
                jobs.c.state.in_([int(JobState.PENDING), int(JobState.PENDING_HELD)]),
            )
            .order_by(jobs.c.priority.desc(), jobs.c.id)
            .limit(limit)
        )
        return await self._read(lambda conn: _jobs_with_documents(conn, stmt))

    async def claim_job(
        self, job_id: JobId, node: str, now: float, lease_until: float
    ) -> JobRecord | None:
        conditions = [
            jobs.c.id == job_id,
            jobs.c.state == int(JobState.PENDING),
            jobs.c.open_for_documents == false(),
            _lease_free(now),
        ]
        return await self._claim(conditions, node, lease_until)

    async def claim_orphaned(self, node: str, now: float, lease_until: float) -> JobRecord | None:
        # A processing job with no lease at all has no owner either: it is orphaned too.
        # Paused queues do not matter here: the job was already being delivered.
        conditions = [jobs.c.state.in_([int(s) for s in _ORPHANABLE]), _lease_free(now)]
        return await self._claim(conditions, node, lease_until)

    async def _claim(
        self, conditions: Sequence[ColumnElement[bool]], node: str, lease_until: float
    ) -> JobRecord | None:
        candidate = (
            select(jobs.c.id)
            .where(*conditions)
            .order_by(jobs.c.priority.desc(), jobs.c.id)
            .limit(1)
            .scalar_subquery()
        )
        stmt = (
            update(jobs)
            .where(jobs.c.id == candidate)
            .values(lease_owner=node, lease_expires=lease_until)
            .returning(*jobs.c)
        )

        def work(conn: Connection) -> JobRecord | None:
            row = conn.execute(stmt).one_or_none()
            if row is None:
                return None
            return _job(row, _load_documents(conn, JobId(row.id)))

        return await self._write(work)

    async def renew_lease(self, job_id: JobId, node: str, lease_until: float) -> bool:
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.lease_owner == node)
            .values(lease_expires=lease_until)
        )

        def work(conn: Connection) -> bool:
            return conn.execute(stmt).rowcount == 1

        return await self._write(work)

    async def release_lease(self, job_id: JobId, node: str) -> None:
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.lease_owner == node)
            .values(lease_owner=None, lease_expires=None)
        )
        await self._write(lambda conn: conn.execute(stmt))

    async def expired_history(self, before: float, limit: int) -> list[JobRecord]:
        stmt = (
            select(jobs)
            .where(jobs.c.state.in_([int(s) for s in _TERMINAL]), jobs.c.completed_at < before)
            .order_by(jobs.c.completed_at, jobs.c.id)
            .limit(limit)
        )
        return await self._read(lambda conn: _jobs_with_documents(conn, stmt))

    async def delete_jobs(self, job_ids: Collection[JobId]) -> None:
        ids = list(job_ids)

        def work(conn: Connection) -> None:
            for chunk in _chunks(ids):
                conn.execute(delete(document_table).where(document_table.c.job_id.in_(chunk)))
                conn.execute(delete(jobs).where(jobs.c.id.in_(chunk)))

        await self._write(work)

    async def forget_documents(self, job_id: JobId) -> list[DocumentRecord]:
        """Only for terminal jobs (an active job still needs its files); else []."""
        terminal = select(jobs.c.id).where(
            jobs.c.id == job_id, jobs.c.state.in_([int(s) for s in _TERMINAL])
        )
        where = and_(document_table.c.job_id.in_(terminal), document_table.c.path != "")

        def work(conn: Connection) -> list[DocumentRecord]:
            rows = conn.execute(select(document_table).where(where)).all()
            if rows:
                conn.execute(update(document_table).where(where).values(path=""))
            return sorted((_document(r) for r in rows), key=lambda d: d.number)

        return await self._write(work)

    async def document_paths(self) -> set[str]:
        stmt = select(document_table.c.path).where(document_table.c.path != "")
        return await self._read(lambda conn: {row.path for row in conn.execute(stmt)})

    # --- queues and printers -----------------------------------------------------------------

    async def get_queue_state(self, name: str) -> QueueState:
        stmt = select(queue_table).where(queue_table.c.name == name)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return QueueState(name=name) if row is None else _queue_state(row)

    async def set_queue_state(self, state: QueueState, event: NewEvent) -> None:
        values = {
            "name": state.name,
            "is_accepting_jobs": state.is_accepting_jobs,
            "paused": state.paused,
            "hold_new_jobs": state.hold_new_jobs,
            "state_message": state.state_message,
            "state_change_time": state.state_change_time,
        }
        stmt = upsert(queue_table, values)

        def work(conn: Connection) -> None:
            conn.execute(stmt)
            _insert_event(conn, event, None, state.name)

        await self._write(work)

    async def list_queue_states(self) -> list[QueueState]:
        stmt = select(queue_table).order_by(queue_table.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_queue_state(row) for row in rows]

    async def list_printers(self) -> list[PrinterRecord]:
        stmt = select(printers).order_by(printers.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_printer(row) for row in rows]

    async def get_printer(self, name: str) -> PrinterRecord:
        stmt = select(printers).where(printers.c.name == name)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return PrinterRecord(name=name) if row is None else _printer(row)

    async def set_printer(self, printer: PrinterRecord, event: NewEvent) -> None:
        values = {
            "name": printer.name,
            "is_up": printer.is_up,
            "state_reasons": _dumps(printer.state_reasons),
            "state_message": printer.state_message,
            "state_change_time": printer.state_change_time,
        }
        stmt = upsert(printers, values)
        if event.printer is None:
            event = NewEvent(event.kind, event.time, event.queue, printer.name, event.data)

        def work(conn: Connection) -> None:
            conn.execute(stmt)
            _insert_event(conn, event, None, None)

        await self._write(work)

    # --- events ------------------------------------------------------------------------------

    def _insert_plain_event(self, conn: Connection, event: NewEvent) -> None:
        _insert_event(conn, event, None, None)

    async def append_event(self, event: NewEvent, job_id: JobId | None = None) -> int:
        return await self._write(lambda conn: _insert_event(conn, event, job_id, None))

    async def events_after(self, seq: int, limit: int) -> list[EventRecord]:
        stmt = select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_event(row) for row in rows]

    async def last_event_seq(self) -> int:
        seq = await self._read(lambda conn: conn.scalar(select(func.max(events.c.seq))))
        return int(seq or 0)

    # --- users -------------------------------------------------------------------------------

    async def get_user(self, name: str) -> UserRecord | None:
        stmt = select(users).where(users.c.name == name)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return None if row is None else UserRecord(row.name, row.password_hash, row.role)

    async def put_user(self, user: UserRecord) -> None:
        values = {"name": user.name, "password_hash": user.password_hash, "role": user.role}
        stmt = upsert(users, values)
        await self._write(lambda conn: conn.execute(stmt))

    async def list_users(self) -> list[UserRecord]:
        stmt = select(users).order_by(users.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [UserRecord(r.name, r.password_hash, r.role) for r in rows]

    # --- subscriptions -----------------------------------------------------------------------

    async def create_subscription(self, sub: SubscriptionRecord) -> SubscriptionRecord:
        values = _subscription_changes({name: getattr(sub, name) for name in _SUBSCRIPTION_COLUMNS})
        stmt = insert(subscriptions).values(values).returning(*subscriptions.c)

        def work(conn: Connection) -> SubscriptionRecord:
            return _subscription(conn.execute(stmt).one())

        return await self._write(work)

    async def get_subscription(self, sub_id: int) -> SubscriptionRecord | None:
        stmt = select(subscriptions).where(subscriptions.c.id == sub_id)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return None if row is None else _subscription(row)

    async def list_subscriptions(
        self, queue: str | None, job_id: JobId | None, owner: str | None, limit: int | None
    ) -> list[SubscriptionRecord]:
        stmt = select(subscriptions).order_by(subscriptions.c.id).limit(limit)
        for column, value in (("queue", queue), ("job_id", job_id), ("owner", owner)):
            if value is not None:
                stmt = stmt.where(subscriptions.c[column] == value)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_subscription(row) for row in rows]

    async def update_subscription(self, sub_id: int, changes: Mapping[str, Any]) -> None:
        values = _subscription_changes(changes)
        if not values:
            return
        stmt = update(subscriptions).where(subscriptions.c.id == sub_id).values(values)
        await self._write(lambda conn: conn.execute(stmt))

    async def delete_subscription(self, sub_id: int) -> None:
        stmt = delete(subscriptions).where(subscriptions.c.id == sub_id)
        await self._write(lambda conn: conn.execute(stmt))


# --- statements shared by several methods ----------------------------------------------------


def _insert_event(
    conn: Connection, event: NewEvent, job_id: JobId | None, queue: str | None
) -> int:
    """Append ``event``; ``queue`` fills in the event's queue when it names none."""
    result = conn.execute(
        _INSERT_EVENT,
        {
            "time": event.time,
            "kind": event.kind,
            "job_id": job_id,
            "queue": event.queue if event.queue is not None else queue,
            "printer": event.printer,
            "data": _dumps(dict(event.data)),
        },
    )
    seq = result.inserted_primary_key
    assert seq is not None
    return int(seq[0])


def _update_job(
    conn: Connection,
    job_id: JobId,
    where: Iterable[ColumnElement[bool]],
    values: Mapping[str, Any],
    event: NewEvent | None,
) -> JobRecord | None:
    """UPDATE one job if ``where`` holds; append ``event``; return the new record."""
    stmt = update(jobs).where(*where).values(values).returning(*jobs.c)
    row = conn.execute(stmt).one_or_none()
    if row is None:
        return None
    if event is not None:
        _insert_event(conn, event, job_id, row.queue)
    return _job(row, _load_documents(conn, job_id))


def _load_job(conn: Connection, job_id: JobId) -> JobRecord | None:
    row = conn.execute(_SELECT_JOB, {"job_id": job_id}).one_or_none()
    if row is None:
        return None
    return _job(row, _load_documents(conn, job_id))


def _load_documents(conn: Connection, job_id: JobId) -> tuple[DocumentRecord, ...]:
    rows = conn.execute(_SELECT_DOCUMENTS, {"job_id": job_id}).all()
    return tuple(_document(r) for r in rows)


def _jobs_with_documents(conn: Connection, stmt: Select[Any]) -> list[JobRecord]:
    """Run a job query, then fetch all their documents in one more query per 500 jobs."""
    rows = conn.execute(stmt).all()
    by_job: dict[int, list[DocumentRecord]] = {row.id: [] for row in rows}
    for chunk in _chunks(list(by_job)):
        doc_stmt = (
            select(document_table)
            .where(document_table.c.job_id.in_(chunk))
            .order_by(document_table.c.job_id, document_table.c.number)
        )
        for doc_row in conn.execute(doc_stmt).all():
            by_job[doc_row.job_id].append(_document(doc_row))
    return [_job(row, tuple(by_job[row.id])) for row in rows]


def _excluded(exclude: Collection[tuple[str, str | None]]) -> list[ColumnElement[bool]]:
    whole = [queue for queue, owner in exclude if owner is None]
    owners: dict[str, list[str]] = {}
    for queue, owner in exclude:
        if owner is not None and queue not in whole:
            owners.setdefault(queue, []).append(owner)
    conditions: list[ColumnElement[bool]] = [jobs.c.queue.not_in(whole)] if whole else []
    conditions += [
        ~and_(jobs.c.queue == queue, jobs.c.owner.in_(names)) for queue, names in owners.items()
    ]
    return conditions


def _queue_state(row: Row[Any]) -> QueueState:
    return QueueState(
        name=row.name,
        is_accepting_jobs=bool(row.is_accepting_jobs),
        paused=bool(row.paused),
        hold_new_jobs=bool(row.hold_new_jobs),
        state_message=row.state_message,
        state_change_time=row.state_change_time,
    )


def _printer(row: Row[Any]) -> PrinterRecord:
    return PrinterRecord(
        name=row.name,
        is_up=bool(row.is_up),
        state_reasons=tuple(json.loads(row.state_reasons)),
        state_message=row.state_message,
        state_change_time=row.state_change_time,
    )


def _job_conditions(where: JobFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.queue is not None:
        conditions.append(jobs.c.queue == where.queue)
    if where.queues is not None:
        conditions.append(jobs.c.queue.in_(list(where.queues)))
    if where.states is not None:
        conditions.append(jobs.c.state.in_([int(s) for s in where.states]))
    if where.owner is not None:
        conditions.append(jobs.c.owner == where.owner)
    if where.job_ids is not None:
        conditions.append(jobs.c.id.in_(list(where.job_ids)))
    if where.open_for_documents is not None:
        conditions.append(jobs.c.open_for_documents == where.open_for_documents)
    return conditions


def _lease_free(now: float) -> ColumnElement[bool]:
    """No lease, or one that expired (``lease_expires <= now``)."""
    return or_(
        jobs.c.lease_owner.is_(None), jobs.c.lease_expires.is_(None), jobs.c.lease_expires <= now
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(ids: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]


# --- rows <-> records ------------------------------------------------------------------------


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _job_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """JobRecord field names and values → column values; refuses fields that are not ours."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in _NOT_CHANGEABLE or name not in _JOB_COLUMNS:
            raise ValueError(f"job field {name!r} cannot be changed this way")
        if name == "state_reasons":
            value = _dumps(tuple(value))
        values[name] = value
    return values


def _subscription_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in _SUBSCRIPTION_COLUMNS:
            raise ValueError(f"subscription field {name!r} cannot be changed")
        values[name] = _dumps(tuple(value)) if name == "events" else value
    return values


def _new_document(
    job_id: JobId, number: int, doc: NewDocument, created_at: float
) -> DocumentRecord:
    return DocumentRecord(
        job_id=job_id,
        number=number,
        path=doc.path,
        format=doc.format,
        declared_format=doc.declared_format,
        name=doc.name,
        size=doc.size,
        sha256=doc.sha256,
        created_at=created_at,
    )


def _document_values(doc: DocumentRecord) -> dict[str, Any]:
    return {
        "job_id": doc.job_id,
        "number": doc.number,
        "path": doc.path,
        "format": doc.format,
        "declared_format": doc.declared_format,
        "name": doc.name,
        "size": doc.size,
        "sha256": doc.sha256,
        "created_at": doc.created_at,
    }


def _document(row: Row[Any]) -> DocumentRecord:
    return DocumentRecord(
        job_id=JobId(row.job_id),
        number=row.number,
        path=row.path,
        format=row.format,
        declared_format=row.declared_format,
        name=row.name,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def _job(row: Row[Any], docs: tuple[DocumentRecord, ...]) -> JobRecord:
    return JobRecord(
        id=JobId(row.id),
        uuid=row.uuid,
        queue=row.queue,
        owner=row.owner,
        owner_authenticated=bool(row.owner_authenticated),
        originating_host=row.originating_host,
        name=row.name,
        state=JobState(row.state),
        state_reasons=tuple(json.loads(row.state_reasons)),
        state_message=row.state_message,
        priority=row.priority,
        hold_until=row.hold_until,
        template=bytes(row.template),
        created_at=row.created_at,
        processing_at=row.processing_at,
        completed_at=row.completed_at,
        open_for_documents=bool(row.open_for_documents),
        document_count=row.document_count,
        size=row.size,
        printer=row.printer,
        remote_job_id=row.remote_job_id,
        impressions_completed=row.impressions_completed,
        delivery_attempts=row.delivery_attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        documents=docs,
        password_hash=row.password_hash,
        analysis=row.analysis,
        judgement=row.judgement,
        account=row.account,
        release_printer=row.release_printer,
    )


def _event(row: Row[Any]) -> EventRecord:
    return EventRecord(
        seq=row.seq,
        time=row.time,
        kind=row.kind,
        job_id=None if row.job_id is None else JobId(row.job_id),
        queue=row.queue,
        printer=row.printer,
        data=json.loads(row.data),
    )


def _subscription(row: Row[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        owner=row.owner,
        queue=row.queue,
        job_id=None if row.job_id is None else JobId(row.job_id),
        events=tuple(json.loads(row.events)),
        pull_method=row.pull_method,
        lease_duration=row.lease_duration,
        expires_at=row.expires_at,
        time_interval=row.time_interval,
        user_data=bytes(row.user_data),
        created_at=row.created_at,
        start_seq=row.start_seq,
        owner_authenticated=bool(row.owner_authenticated),
    )
