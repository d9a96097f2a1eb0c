"""The store contract's fixtures, shared by every contract file: each test runs once per
store implementation (BACKENDS), on a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from printhost.store.base import Store
from printhost.store.sqlite import SqliteStore

OpenStore = Callable[[], Awaitable[Store]]


async def _sqlite(tmp_path: Path) -> Callable[[], Awaitable[Store]]:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"

    async def open_handle() -> Store:
        return await SqliteStore.open(url)

    return open_handle


BACKENDS = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens handles on one fresh database; closes them all at the end."""
    factory = await BACKENDS[request.param](tmp_path)
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
