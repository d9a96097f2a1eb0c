"""Every place where the SQL store's statements differ between SQLite and PostgreSQL.

The queries in ``sql``, ``sql_routing`` and ``sql_ledger`` are dialect-neutral SQLAlchemy
Core; the few things the two databases spell or guarantee differently are functions here,
chosen by the connection's dialect at execution time:

- Insert-or-update / insert-unless-present: both have ``INSERT ... ON CONFLICT``, but
  SQLAlchemy builds it with each dialect's own ``insert`` construct.
- Locks: SQLite runs one write transaction at a time (``BEGIN IMMEDIATE`` on the writer
  thread), so whatever a write reads stays true until it commits and these functions do
  nothing there. PostgreSQL runs write transactions concurrently (READ COMMITTED), so the
  read-decide-write steps that must not interleave take a transaction-level advisory lock,
  released by COMMIT or ROLLBACK (see ``printhost.store.postgres`` for why each one).
- ``SELECT ... FOR UPDATE SKIP LOCKED`` (job claims, row locks) is written once with
  ``with_for_update``; SQLAlchemy's SQLite compiler leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

#: Advisory lock keys are (namespace, key) pairs of int4; the namespace keeps ours apart
#: from any other application sharing the database ("PH" in ASCII).
LOCK_NAMESPACE = 0x5048
#: Keys within LOCK_NAMESPACE: the event log, schema migrations.
EVENT_LOG_KEY = 1
MIGRATION_KEY = 2
#: Accounts hash their name into a namespace of their own ("PA"), so no account's lock is
#: the event log's or the migrations'.
ACCOUNT_LOCK_NAMESPACE = 0x5041


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _insert(conn: Connection, table: Any) -> Any:
    return postgresql_insert(table) if is_postgresql(conn) else sqlite_insert(table)


def upsert(
    conn: Connection, table: Any, values: Mapping[str, Any], keys: tuple[str, ...] = ("name",)
) -> Any:
    """The row ``values``; on a key clash, its other columns replace the stored ones."""
    stmt = _insert(conn, table).values(dict(values))
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={k: v for k, v in values.items() if k not in keys},
    )


#: The channel every node LISTENs on (PostgresStore.watch): something happened.
EVENTS_CHANNEL = "printhost_events"


def lock_event_log(conn: Connection) -> None:
    """On PostgreSQL, serialise event appends up to COMMIT, so that ``seq`` order is commit
    order (a reader of "events after N" can never see N+2 and later find N+1 appear); and
    NOTIFY the other nodes, who are told at COMMIT (a job became ready, a printer came
    back...) and need not poll."""
    if is_postgresql(conn):
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, EVENT_LOG_KEY)))
        conn.execute(select(func.pg_notify(EVENTS_CHANNEL, "")))


def lock_account(conn: Connection, account: str) -> None:
    """On PostgreSQL, hold the account's lock until COMMIT: reservations, allocations and
    account opening read, decide and write with no other such step in between. (A lock,
    not ``SELECT ... FOR UPDATE`` on the account row, because the row may not exist yet.
    Two names whose hashes collide merely share a lock.)"""
    if is_postgresql(conn):
        key = func.hashtext(account)
        conn.execute(select(func.pg_advisory_xact_lock(ACCOUNT_LOCK_NAMESPACE, key)))


def lock_migrations(conn: Connection) -> None:
    """On PostgreSQL, hold the migration lock until the migrating transaction ends."""
    if is_postgresql(conn):
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_NAMESPACE, MIGRATION_KEY)))
