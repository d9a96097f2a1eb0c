"""The SQL store: every query of the ``Store`` port, as SQLAlchemy Core, for any database.

``SqlStore`` holds the queries; a subclass supplies the transactions: ``_write(work)`` runs
``work(conn)`` as one committed write transaction and ``_read(work)`` in one read-only
snapshot. ``SqliteStore`` (one writer thread, group commit) and ``PostgresStore`` (a
connection pool, one transaction per write) are the two. What the two databases spell or
guarantee differently is in ``sql_dialect``; everything here runs unchanged on both.

Concurrency, as the queries rely on it:
- A compare-and-set is one ``UPDATE ... WHERE id = ? AND state IN (...)``: on SQLite writes
  are serial; on PostgreSQL (READ COMMITTED) an UPDATE that waited for another re-checks its
  WHERE against the row as committed, so two CAS on one job cannot both succeed.
- A claim picks its candidate with ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the UPDATE,
  so concurrent claimers on PostgreSQL take different jobs and never wait for each other
  (SQLite drops the clause: its writes are serial anyway).
- Appending an event takes the event-log lock first (``sql_dialect.lock_event_log``).
  Every write appends its event *last*, after its row writes, so a transaction that holds
  the event-log lock never waits for a row lock: no deadlock between the two.

Time is never read here: stamps come from the caller's event (``event.time``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)

from printhost.ipp.constants import JobState
from printhost.jobs.model import DocumentRecord, JobId, JobRecord
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
from printhost.store.sql_dialect import lock_event_log, upsert
from printhost.store.sql_ledger import LedgerTables
from printhost.store.sql_nodes import NodeTables
from printhost.store.sql_routing import RoutingTables
from printhost.store.sql_rows import (
    SUBSCRIPTION_COLUMNS,
    document_record,
    document_values,
    dumps,
    event_record,
    job_changes,
    job_record,
    new_document,
    printer_record,
    queue_state_record,
    subscription_changes,
    subscription_record,
)

T = TypeVar("T")

_TERMINAL = tuple(s for s in JobState if s.is_terminal)
#: A suspended (processing-stopped) job has no lease on purpose: it waits for Resume-Job.
_ORPHANABLE = (JobState.PROCESSING,)
_IN_CHUNK = 500  # ids per IN (...) list; far below either database's bound-parameter limit

_INSERT_JOB = insert(jobs).returning(*jobs.c)
_INSERT_DOCUMENTS = insert(document_table)
_INSERT_EVENT = insert(events)
_SELECT_JOB = select(jobs).where(jobs.c.id == bindparam("job_id"))
_SELECT_DOCUMENTS = (
    select(document_table)
    .where(document_table.c.job_id == bindparam("job_id"))
    .order_by(document_table.c.number)
)


class SqlStore(RoutingTables, LedgerTables, NodeTables):
    """The ``Store`` port's queries; subclasses supply ``_read``, ``_write`` and ``close``."""

    async def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` when another process changes the store. One process alone
        (SQLite) has nobody to hear from: it is woken in process. PostgreSQL overrides."""
        return None

    async def close(self) -> None:
        raise NotImplementedError

    async def _write(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

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
            "state_reasons": dumps(job.state_reasons),
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
                new_document(job_id, number, d, job.created_at)
                for number, d in enumerate(documents, start=1)
            )
            if docs:
                conn.execute(_INSERT_DOCUMENTS, [document_values(d) for d in docs])
            _insert_event(conn, event, job_id, job.queue)
            return job_record(row, docs)

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
            doc = new_document(job_id, row.document_count, document, event.time)
            conn.execute(_INSERT_DOCUMENTS, document_values(doc))
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
            "state_reasons": dumps(reasons),
            "state_message": message,
            # Entering a terminal state stamps completion; leaving one (restart) clears it.
            "completed_at": event.time if new_state.is_terminal else None,
        }
        if new_state == JobState.PROCESSING:
            values["processing_at"] = func.coalesce(jobs.c.processing_at, event.time)
        if new_state.is_terminal:
            values["lease_owner"] = None
            values["lease_expires"] = None
        values.update(job_changes(changes or {}))
        where = (jobs.c.id == job_id, jobs.c.state.in_([int(s) for s in expected]))

        def work(conn: Connection) -> JobRecord | None:
            return _update_job(conn, job_id, where, values, event)

        return await self._write(work)

    async def update_job(self, job_id: JobId, changes: Mapping[str, Any]) -> JobRecord | None:
        values = job_changes(changes)
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

    async def claim_orphaned(
        self, node: str, now: float, lease_until: float, dead: Collection[str] = ()
    ) -> JobRecord | None:
        # A processing job with no lease at all has no owner either: it is orphaned too.
        # Paused queues do not matter here: the job was already being delivered.
        orphaned = _lease_free(now)
        if dead:
            orphaned = or_(orphaned, jobs.c.lease_owner.in_(list(dead)))
        conditions = [jobs.c.state.in_([int(s) for s in _ORPHANABLE]), orphaned]
        return await self._claim(conditions, node, lease_until)

    async def _claim(
        self, conditions: Sequence[ColumnElement[bool]], node: str, lease_until: float
    ) -> JobRecord | None:
        candidate = (
            select(jobs.c.id)
            .where(*conditions)
            .order_by(jobs.c.priority.desc(), jobs.c.id)
            .limit(1)
            .with_for_update(of=jobs, skip_locked=True)
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
            return job_record(row, _load_documents(conn, JobId(row.id)))

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
            return sorted((document_record(r) for r in rows), key=lambda d: d.number)

        return await self._write(work)

    async def document_paths(self) -> set[str]:
        stmt = select(document_table.c.path).where(document_table.c.path != "")
        return await self._read(lambda conn: {row.path for row in conn.execute(stmt)})

    # --- queues and printers -----------------------------------------------------------------

    async def get_queue_state(self, name: str) -> QueueState:
        stmt = select(queue_table).where(queue_table.c.name == name)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return QueueState(name=name) if row is None else queue_state_record(row)

    async def set_queue_state(self, state: QueueState, event: NewEvent) -> None:
        values = {
            "name": state.name,
            "is_accepting_jobs": state.is_accepting_jobs,
            "paused": state.paused,
            "hold_new_jobs": state.hold_new_jobs,
            "state_message": state.state_message,
            "state_change_time": state.state_change_time,
        }

        def work(conn: Connection) -> None:
            conn.execute(upsert(conn, queue_table, values))
            _insert_event(conn, event, None, state.name)

        await self._write(work)

    async def list_queue_states(self) -> list[QueueState]:
        stmt = select(queue_table).order_by(queue_table.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [queue_state_record(row) for row in rows]

    async def list_printers(self) -> list[PrinterRecord]:
        stmt = select(printers).order_by(printers.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [printer_record(row) for row in rows]

    async def get_printer(self, name: str) -> PrinterRecord:
        stmt = select(printers).where(printers.c.name == name)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return PrinterRecord(name=name) if row is None else printer_record(row)

    async def set_printer(self, printer: PrinterRecord, event: NewEvent) -> None:
        values = {
            "name": printer.name,
            "is_up": printer.is_up,
            "state_reasons": dumps(printer.state_reasons),
            "state_message": printer.state_message,
            "state_change_time": printer.state_change_time,
        }
        if event.printer is None:
            event = NewEvent(event.kind, event.time, event.queue, printer.name, event.data)

        def work(conn: Connection) -> None:
            conn.execute(upsert(conn, printers, values))
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
        return [event_record(row) for row in rows]

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
        await self._write(lambda conn: conn.execute(upsert(conn, users, values)))

    async def list_users(self) -> list[UserRecord]:
        stmt = select(users).order_by(users.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [UserRecord(r.name, r.password_hash, r.role) for r in rows]

    # --- subscriptions -----------------------------------------------------------------------

    async def create_subscription(self, sub: SubscriptionRecord) -> SubscriptionRecord:
        values = subscription_changes({name: getattr(sub, name) for name in SUBSCRIPTION_COLUMNS})
        stmt = insert(subscriptions).values(values).returning(*subscriptions.c)

        def work(conn: Connection) -> SubscriptionRecord:
            return subscription_record(conn.execute(stmt).one())

        return await self._write(work)

    async def get_subscription(self, sub_id: int) -> SubscriptionRecord | None:
        stmt = select(subscriptions).where(subscriptions.c.id == sub_id)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return None if row is None else subscription_record(row)

    async def list_subscriptions(
        self, queue: str | None, job_id: JobId | None, owner: str | None, limit: int | None
    ) -> list[SubscriptionRecord]:
        stmt = select(subscriptions).order_by(subscriptions.c.id).limit(limit)
        for column, value in (("queue", queue), ("job_id", job_id), ("owner", owner)):
            if value is not None:
                stmt = stmt.where(subscriptions.c[column] == value)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [subscription_record(row) for row in rows]

    async def update_subscription(self, sub_id: int, changes: Mapping[str, Any]) -> None:
        values = subscription_changes(changes)
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
    """Append ``event``; ``queue`` fills in the event's queue when it names none.

    Call it after the transaction's other writes (see the module docstring)."""
    lock_event_log(conn)
    result = conn.execute(
        _INSERT_EVENT,
        {
            "time": event.time,
            "kind": event.kind,
            "job_id": job_id,
            "queue": event.queue if event.queue is not None else queue,
            "printer": event.printer,
            "data": dumps(dict(event.data)),
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
    return job_record(row, _load_documents(conn, job_id))


def _load_job(conn: Connection, job_id: JobId) -> JobRecord | None:
    row = conn.execute(_SELECT_JOB, {"job_id": job_id}).one_or_none()
    if row is None:
        return None
    return job_record(row, _load_documents(conn, job_id))


def _load_documents(conn: Connection, job_id: JobId) -> tuple[DocumentRecord, ...]:
    rows = conn.execute(_SELECT_DOCUMENTS, {"job_id": job_id}).all()
    return tuple(document_record(r) for r in rows)


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
            by_job[doc_row.job_id].append(document_record(doc_row))
    return [job_record(row, tuple(by_job[row.id])) for row in rows]


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


def _chunks(ids: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield ids[start : start + _IN_CHUNK]
