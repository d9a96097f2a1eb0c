"""The PostgreSQL implementation of the store port (cluster mode: every node, one database).

The queries are ``SqlStore``'s (``sql.py``); this module supplies PostgreSQL's transactions.

Theory of operation
-------------------
PostgreSQL runs many write transactions at once, so unlike ``SqliteStore`` there is no
writer thread and no group commit: a pool of ``pool_size`` connections (SQLAlchemy's
QueuePool over psycopg 3) and as many threads, and every ``_write`` is its own READ
COMMITTED transaction, committed (``synchronous_commit`` as the server says: on by
default, so COMMIT returns after the WAL flush — DESIGN invariant 1) before it returns.
Every ``_read`` is one REPEATABLE READ, READ ONLY transaction: one snapshot across its
queries (a job list and its documents agree), and a read-only snapshot transaction can
never fail with a serialisation error.

What keeps concurrent writers — on one node or many — correct:

- Compare-and-set (``transition_job`` and friends) is one UPDATE with the expected state in
  its WHERE; an UPDATE that waited for a concurrent one re-checks the WHERE on the new row.
- Claims pick their job with ``FOR UPDATE SKIP LOCKED``: two nodes never take one job, and
  a claimer never waits behind another's candidate (the procrastinate pattern).
- The ledger's read-decide-write steps (``reserve``, ``allocate``, ``open_account``) hold a
  per-account advisory lock until COMMIT, and steps on an existing reservation lock its
  row, so no interleaving can overdraw an account or post one charge twice.
- Event order. A ``SERIAL`` value is taken when the INSERT runs, not when its transaction
  commits: transaction A takes seq 7, B takes 8 and commits first, and a consumer reading
  "events after 6" sees 8, moves its cursor to 8, and never sees 7 when A commits. So every
  event append first takes one transaction-level advisory lock (``lock_event_log``), held
  to COMMIT: seqs are handed out in commit order, and a consumer that has seen seq N has
  seen every committed event below N. (Gaps remain — a rolled-back append burns its seq —
  and are harmless to "events after N".) The cost: transactions that append events commit
  one after another from their append on. Appends come last in their transactions and
  nothing after them waits on a row lock, so the lock is held only for the COMMIT itself.
- A deadlock (PostgreSQL aborts one of the pair) or a serialisation failure rolls the
  transaction back whole; ``_write`` then runs ``work`` again on a fresh transaction, a few
  times. ``work`` functions are pure functions of the connection, so a rerun is safe.

Time is never read here: stamps come from the caller's event (``event.time``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError

from printhost.store import migrate
from printhost.store.sql import SqlStore
from printhost.store.sql_dialect import EVENTS_CHANNEL

T = TypeVar("T")

log = logging.getLogger(__name__)

#: SQLSTATEs after which the whole transaction may simply run again.
_RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_ATTEMPTS = 5


def postgres_url(database_url: str) -> str:
    """The psycopg 3 form of a PostgreSQL URL: ``postgresql://`` (SQLAlchemy's default
    driver there is psycopg2) and any other driver name become ``postgresql+psycopg://``."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string()}")
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


class PostgresStore(SqlStore):
    """The ``Store`` port on one PostgreSQL database. Create with
    ``await PostgresStore.open(url)``; any number of stores (nodes) may share the database."""

    def __init__(self, engine: Engine, threads: int) -> None:
        self._engine = engine
        self._reader = engine.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        # As many threads as pooled connections: a thread never waits for a connection.
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="printhost-pg")
        self._closed = False

    @classmethod
    async def open(cls, database_url: str, *, pool_size: int = 4) -> PostgresStore:
        """Migrate the database to head (safe when several nodes start at once), then open
        a pool of ``pool_size`` connections on it."""
        url = postgres_url(database_url)
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_pre_ping=True,  # a connection the server dropped is replaced, not used
            # acknowledged means durable (invariant 1) whatever the server's default says
            connect_args={"connect_timeout": 10, "options": "-c synchronous_commit=on"},
        )
        return cls(engine, pool_size)

    async def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` whenever any node appends an event (LISTEN; every event append
        NOTIFYs at commit: sql_dialect.lock_event_log). Runs until cancelled; a lost
        connection raises (an outage: the caller waits and watches again)."""
        url = self._engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
            changed()  # whatever happened before we listened
            async for _ in conn.notifies():
                changed()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._threads.shutdown)
        self._engine.dispose()

    # --- transactions ----------------------------------------------------------------------

    async def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` as one transaction on a pooled connection, committed before this
        returns. A cancelled caller's transaction, once started, still runs to its end."""
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._write_sync, work)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-only snapshot (REPEATABLE READ)."""
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._read_sync, work)

    def _write_sync(self, work: Callable[[Connection], T]) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == _ATTEMPTS or _sqlstate(exc) not in _RETRYABLE:
                    raise
                log.info("retrying a write transaction (%s, attempt %d)", exc.orig, attempt)
        raise AssertionError("unreachable")

    def _read_sync(self, work: Callable[[Connection], T]) -> T:
        with self._reader.connect() as conn, conn.begin():
            return work(conn)


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None
