"""Run the migration history (``alembic upgrade head``) from code, before the store opens.

Migrations always run on a synchronous engine: Alembic is synchronous, and a migration is a
one-off at start, so there is nothing to gain from the async driver the store uses at run
time. ``sqlite+aiosqlite://`` URLs are therefore rewritten to ``sqlite://``.

Several processes may start at once. On SQLite the migration connection begins with
``BEGIN IMMEDIATE`` (see ``printhost.store.sqlite.configure_engine``), so the first process
takes the write lock, reads ``alembic_version`` and migrates; the others wait (busy_timeout)
and then find the database already at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic configuration built in code (no alembic.ini), pointing at our history."""
    config = Config()
    # Config values go through ConfigParser interpolation: escape '%' in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def sync_url(database_url: str) -> str:
    """The synchronous-driver form of a store URL (``sqlite+aiosqlite`` → ``sqlite``)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")
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
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()
