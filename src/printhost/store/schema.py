"""The relational schema, as SQLAlchemy Core tables. Migrations must produce exactly this.

``tests/store/test_migrations.py`` runs the migration history on an empty database and
checks with Alembic's ``compare_metadata`` that the result equals ``metadata`` — the CI
check that models and migrations agree (STYLE: "one migration history, checked in CI").

Conventions:
- Times are POSIX seconds as floats; "absent" is NULL.
- Tuples (state reasons, subscribed events) and event data are JSON text, so the same
  schema works on SQLite and PostgreSQL without array types.
- ``jobs``, ``events`` and ``subscriptions`` use AUTOINCREMENT on SQLite, so an id is never
  reused after a row is deleted: a client holding job-id 41 must never see another job 41,
  and a notification sequence number must never go backwards. On PostgreSQL these keys are
  ``SERIAL`` (a sequence), which never hands a value out twice either. (A sequence hands
  values out in INSERT order, not COMMIT order: see ``postgres.py`` for how event seqs are
  kept in commit order.)
- Types map one to one: ``LargeBinary`` is BLOB on SQLite and ``bytea`` on PostgreSQL,
  ``Float`` is REAL / ``double precision``, ``Boolean`` is 0/1 / ``boolean``.
- Index for the dispatcher's claim: ``(state, priority DESC, id)``. The claim filters on
  state and walks jobs in queue order until one passes the remaining checks (not open,
  attempt due, lease free, queue not paused), so with this index it reads the first few
  pending jobs and never sorts. ``next_attempt_at`` is a range test; placing it before
  ``priority`` in the index (as first sketched) would force a sort of every pending job.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("queue", String(128), nullable=False),
    Column("owner", String(256), nullable=False),
    Column("owner_authenticated", Boolean, nullable=False),
    Column("originating_host", String(256), nullable=False),
    Column("name", Text, nullable=False),
    Column("state", Integer, nullable=False),
    Column("state_reasons", Text, nullable=False),  # JSON array of keywords
    Column("state_message", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("hold_until", String(64), nullable=True),
    Column("template", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("processing_at", Float, nullable=True),
    Column("completed_at", Float, nullable=True),
    Column("open_for_documents", Boolean, nullable=False),
    Column("document_count", Integer, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("printer", String(128), nullable=True),
    Column("remote_job_id", Integer, nullable=True),
    Column("impressions_completed", Integer, nullable=False),
    Column("delivery_attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=True),
    Column("lease_owner", String(256), nullable=True),
    Column("lease_expires", Float, nullable=True),
    Column("password_hash", Text, nullable=True),  # PIN printing: jobs/pin.py
    # judging (judge/): JSON analysis and decision, the account charged, release printer
    Column("analysis", Text, nullable=True),
    Column("judgement", Text, nullable=True),
    Column("account", String(256), nullable=True),
    Column("release_printer", String(128), nullable=True),
    sqlite_autoincrement=True,
)
Index("ix_jobs_claim", jobs.c.state, jobs.c.priority.desc(), jobs.c.id)
Index("ix_jobs_queue_state", jobs.c.queue, jobs.c.state)
Index("ix_jobs_completed_at", jobs.c.completed_at)

documents = Table(
    "documents",
    metadata,
    Column(
        "job_id",
        Integer,
        ForeignKey("jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True),  # the primary key indexes (job_id, number)
    Column("path", Text, nullable=False),  # relative to the spool root; '' once forgotten
    Column("format", String(128), nullable=False),
    Column("declared_format", String(128), nullable=False),
    Column("name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True),  # the primary key indexes seq
    Column("time", Float, nullable=False),
    Column("kind", String(64), nullable=False),
    # No foreign key: the log outlives the jobs it mentions.
    Column("job_id", Integer, nullable=True),
    Column("queue", String(128), nullable=True),
    Column("printer", String(128), nullable=True),
    Column("data", Text, nullable=False),  # JSON object
    sqlite_autoincrement=True,
)

queues = Table(
    "queues",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("is_accepting_jobs", Boolean, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("hold_new_jobs", Boolean, nullable=False),
    Column("state_message", Text, nullable=False),
    Column("state_change_time", Float, nullable=False),
)

printers = Table(
    "printers",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("is_up", Boolean, nullable=False),
    Column("state_reasons", Text, nullable=False),  # JSON array of keywords
    Column("state_message", Text, nullable=False),
    Column("state_change_time", Float, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner", String(256), nullable=False),
    Column("queue", String(128), nullable=True),
    Column("job_id", Integer, nullable=True),
    Column("events", Text, nullable=False),  # JSON array of event keywords
    Column("pull_method", String(64), nullable=False),
    Column("lease_duration", Integer, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("time_interval", Integer, nullable=False),
    Column("user_data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("start_seq", Integer, nullable=False),
    Column("owner_authenticated", Boolean, nullable=False, server_default=false()),
    sqlite_autoincrement=True,
)

user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user", String(256), primary_key=True),
    Column("destination", String(256), nullable=False),
    Column("defaults", Text, nullable=False),  # JSON object of JobDefaults fields
    Column("banner", Boolean, nullable=True),  # NULL = as the queue says
    Column("location", String(256), nullable=False),
    Column("updated_at", Float, nullable=False),
)

presence = Table(
    "presence",
    metadata,
    Column("user", String(256), primary_key=True),
    Column("host", String(256), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("source", String(64), nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("host", String(256), primary_key=True),
    Column("uri", Text, nullable=False),
    Column("location", String(256), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# --- ledger (DESIGN invariant 3; printhost.accounting.ledger) ---------------------------------
# Amounts are integer cents. Balances are never stored: an account's balance is the SUM of
# its postings (the index on (account, amount_cents) covers that sum), so nothing can drift.
# ledger_transactions and ledger_postings are append-only. No foreign key to jobs: the
# ledger outlives the jobs it mentions.

accounts = Table(
    "accounts",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("kind", String(16), nullable=False),  # "personal" | "shared"
    Column("owner", String(256), nullable=False),
    Column("overdraft_cents", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

account_members = Table(
    "account_members",
    metadata,
    Column(
        "account",
        String(256),
        ForeignKey("accounts.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("user", String(256), primary_key=True),
)
Index("ix_account_members_user", account_members.c.user)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("time", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("job_id", Integer, nullable=True),
    Column("reason", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON object
    sqlite_autoincrement=True,
)
Index("ix_ledger_transactions_job_id", ledger_transactions.c.job_id)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column(
        "transaction_id",
        Integer,
        ForeignKey("ledger_transactions.id"),
        primary_key=True,
    ),
    Column("account", String(256), primary_key=True),
    Column("amount_cents", BigInteger, nullable=False),
)
Index("ix_ledger_postings_account", ledger_postings.c.account, ledger_postings.c.amount_cents)

reservations = Table(
    "reservations",
    metadata,
    Column("job_id", Integer, primary_key=True),
    Column("account", String(256), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("refunded_cents", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # "reserved" | "committed" | "released"
    Column(
        "reserve_transaction_id",
        Integer,
        ForeignKey("ledger_transactions.id"),
        nullable=False,
    ),
    Column("resolve_transaction_id", Integer, ForeignKey("ledger_transactions.id"), nullable=True),
)
Index("ix_reservations_state", reservations.c.state)

# --- cluster nodes (printhost.cluster.nodes) ---------------------------------------------------
# One row per printhost process that shares this store, upserted by its heartbeat. "dead" is
# never stored: readers conclude it from an old heartbeat_at.

nodes = Table(
    "nodes",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("address", Text, nullable=False),  # the URL it is reached at; '' = unknown
    Column("roles", Text, nullable=False),  # JSON array of role names
    Column("version", String(64), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("state", String(16), nullable=False),  # "up" | "draining" | "stopped"
    Column("load", Text, nullable=False),  # JSON object of counters
)
