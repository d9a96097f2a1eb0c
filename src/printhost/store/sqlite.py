"""The SQLite implementation of the store port (the embedded default).

The queries are ``SqlStore``'s (``sql.py``); this module supplies SQLite's transactions.

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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url

from printhost.store import migrate
from printhost.store.sql import SqlStore

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA busy_timeout=5000",  # first, so the others wait for a lock instead of failing
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
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


class SqliteStore(SqlStore):
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
