"""Alembic environment for printhost.

``printhost.store.migrate.upgrade`` runs the history programmatically and hands over an
open connection in ``config.attributes["connection"]``; that connection takes the database
write lock when it begins (``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL a transaction-level
advisory lock taken before Alembic reads anything), so when several processes start at
once one migrates and the others wait and then find nothing to do. The one history runs
on both databases: ``batch_alter_table`` rebuilds tables on SQLite and is plain
``ALTER TABLE`` on PostgreSQL. Run from the
``alembic`` command line instead, the URL comes from ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from printhost.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url set")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
