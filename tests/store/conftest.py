"""The store contract's fixtures, shared by every contract file: each test runs once per
store implementation (BACKENDS), on a fresh database.

``postgresql`` runs on a private cluster per pytest session (per xdist worker), started
by ``support.postgres``: every test gets its own database, copied from a migrated template
and dropped afterwards. No system-wide PostgreSQL service is used or needed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from support.postgres import PostgresCluster, start_cluster

from printhost.store.base import Store
from printhost.store.postgres import PostgresStore
from printhost.store.sqlite import SqliteStore

OpenStore = Callable[[], Awaitable[Store]]


@contextlib.asynccontextmanager
async def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"

    async def open_handle() -> Store:
        return await SqliteStore.open(url)

    yield open_handle


@contextlib.asynccontextmanager
async def _postgresql(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create_database()
    url = cluster.url(name)

    async def open_handle() -> Store:
        return await PostgresStore.open(url)

    try:
        yield open_handle
    finally:
        cluster.drop_database(name)


BACKENDS = {"sqlite": _sqlite, "postgresql": _postgresql}


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """This session's (this xdist worker's) private PostgreSQL server."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=sorted(BACKENDS))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens handles on one fresh database; closes them all at the end."""
    async with BACKENDS[request.param](request, tmp_path) as factory:
        handles: list[Store] = []

        async def open_handle() -> Store:
            handle = await factory()
            handles.append(handle)
            return handle

        yield open_handle
        for handle in handles:
            await handle.close()


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()
