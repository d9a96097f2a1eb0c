"""Health endpoints for load balancers, in process (real app, real SQLite store):
``/livez`` answers while the process does; ``/readyz`` (and ``/healthz``) only while the
node takes work — not while it drains after SIGTERM, not while its store fails."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.server.http import create_app
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.spool import Spool


@contextlib.asynccontextmanager
async def _world(tmp_path: Path) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    config = parse_config({"storage": {"state_dir": str(tmp_path / "var")}}, base=tmp_path)
    store = await open_store(config.storage.effective_database_url)
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), FakeClock())
    transport = httpx.ASGITransport(app=create_app(services, 8631, None))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            yield services, http
    finally:
        await dispatcher.aclose()
        with contextlib.suppress(Exception):
            await store.close()


async def test_ready_and_alive(tmp_path: Path) -> None:
    async with _world(tmp_path) as (_, http):
        for path in ("/readyz", "/healthz"):
            response = await http.get(path)
            assert (response.status_code, response.text) == (200, "ok\n")
        assert (await http.get("/livez")).text == "alive\n"


async def test_draining_is_not_ready_but_alive(tmp_path: Path) -> None:
    async with _world(tmp_path) as (services, http):
        services.draining = True
        response = await http.get("/readyz")
        assert (response.status_code, response.text) == (503, "draining\n")
        assert (await http.get("/livez")).status_code == 200


async def test_a_store_that_fails_is_not_ready(tmp_path: Path) -> None:
    async with _world(tmp_path) as (services, http):
        await services.store.close()  # the database is gone from under the node
        response = await http.get("/readyz")
        assert (response.status_code, response.text) == (503, "store unavailable\n")
        assert (await http.get("/livez")).status_code == 200
