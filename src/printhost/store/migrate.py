"""Run the migration history (``alembic upgrade head``) from code, before the store opens.

Migrations always run on a synchronous engine: Alembic is synchronous, and a migration is a
one-off at start, so there is nothing to gain from the async driver the store uses at run
time. ``sqlite+aiosqlite://`` URLs are therefore rewritten to ``sqlite://``.

One history serves SQLite and PostgreSQL. ``postgresql://`` URLs run on psycopg 3
(``postgresql+psycopg://``), the driver the store uses.

Several processes may start at once. On SQLite the migration connection begins with
``BEGIN IMMEDIATE`` (see ``printhost.store.sqlite.configure_engine``), so the first process
takes the write lock, reads ``alembic_version`` and migrates; the others wait (busy_timeout)
and then find the database already at head. On PostgreSQL the migrating transaction first
takes an advisory lock (``pg_advisory_xact_lock``, ``sql_dialect.lock_migrations``), before
Alembic reads or creates ``alembic_version``: the first node migrates, the others wait for
its COMMIT and then find the database at head. PostgreSQL's DDL is transactional, so the
whole upgrade commits or rolls back as one, and the lock goes with the transaction even if
the node dies mid-way.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url

from printhost.store.sql_dialect import lock_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration built in code (no alembic.ini), pointing at our history."""
    config = Config()
    # Config values go through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def sync_url(database_url: str) -> str:
    """The synchronous-driver form of a store URL (``sqlite+aiosqlite`` → ``sqlite``,
    any ``postgresql`` → ``postgresql+psycopg``)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
    elif url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def upgrade(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema revision."""
    url = sync_url(database_url)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        from printhost.store.sqlite import configure_engine

        configure_engine(engine, begin="BEGIN IMMEDIATE")
    try:
        with engine.connect() as connection:
            lock_migrations(connection)  # PostgreSQL only; begins the transaction
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()
