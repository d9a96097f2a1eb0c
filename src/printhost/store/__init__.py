"""Persistence: the ``Store`` port (``base``), its implementations, and the document spool.

``open_store`` is the one place that picks an implementation, by the URL's scheme.
"""

from __future__ import annotations

from printhost.store.base import Store


async def open_store(database_url: str, *, pool_size: int = 4) -> Store:
    """Open (migrating first) the store at ``database_url``.

    ``sqlite:///path`` (any sqlite driver name is accepted: ``sqlite+aiosqlite://``,
    ``sqlite+pysqlite://``) is the embedded store. ``postgresql://user:pw@host/db`` (or
    ``postgresql+psycopg://``; any PostgreSQL driver name runs on psycopg 3) is the cluster
    store, which any number of nodes may share, through ``pool_size`` connections per
    node. Both migrate the database to the newest schema first; several nodes starting at
    once is safe.
    """
    # Imported here so that importing printhost.store.base stays free of SQLAlchemy.
    from sqlalchemy import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        # Do not echo the text: it may hold a password.
        raise ValueError("cannot parse the database URL (expected e.g. sqlite:///path)") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        from printhost.store.sqlite import SqliteStore

        return await SqliteStore.open(database_url)
    if backend == "postgresql":
        from printhost.store.postgres import PostgresStore

        return await PostgresStore.open(database_url, pool_size=pool_size)
    raise ValueError(
        f"unsupported database {backend!r} in {url.render_as_string(hide_password=True)}: "
        "printhost supports sqlite:///path and postgresql://user@host/database"
    )
