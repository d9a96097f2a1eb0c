"""GET /api/v1/nodes (server/rest_nodes.py) in process: the real HTTP app over httpx's
ASGI transport, on services wired by ``app.wire`` around a real SQLite store in a temp
dir and a fake clock. Node records are written through the store, as heartbeats do.

Covers who may look (the auth matrix), the JSON shape, and the state as seen now: a node
whose heartbeat is older than dead_after_seconds (10 by default) is dead, one that stopped
in order stays stopped."""

from __future__ import annotations

import base64
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from printhost.app import wire
from printhost.auth import hash_password
from printhost.clock import FakeClock
from printhost.cluster.nodes import Heartbeat
from printhost.config import parse_config
from printhost.server.http import create_app
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import NodeRecord, NodeState, UserRecord
from printhost.store.spool import Spool

TOKEN = "agent-secret-token"
PASSWORDS = {"alice": "alice-pw", "olga": "olga-pw", "adam": "adam-pw"}
ROLES = {"alice": "user", "olga": "operator", "adam": "admin"}
URL = "/api/v1/nodes"
T0 = 1_800_000_000.0


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)  # scrypt costs ~50 ms: once per password per worker


@dataclass
class World:
    services: Services
    clock: FakeClock
    client: httpx.AsyncClient


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _world(tmp_path) as w:
        yield w


@contextlib.asynccontextmanager
async def _world(tmp_path: Path) -> AsyncIterator[World]:
    config = parse_config(
        {
            "server": {"listen": ["127.0.0.1:8631"], "tls_listen": []},
            "storage": {"state_dir": str(tmp_path / "var")},
            "printers": [{"name": "p1", "uri": (tmp_path / "out").as_uri()}],
            "queues": [{"name": "myprinter", "destination": "p1"}],
            "routing": {"agent_tokens": [TOKEN]},
        },
        base=tmp_path,
    )
    clock = FakeClock(T0)
    store = await open_store(config.storage.effective_database_url)
    services, _dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "t")
    for name, password in PASSWORDS.items():
        await store.put_user(UserRecord(name, _hash(password), ROLES[name]))
    transport = httpx.ASGITransport(app=create_app(services, 8631, None), client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://printhost.test") as http:
        yield World(services, clock, http)
    await store.close()


def basic(user: str, password: str | None = None) -> dict[str, str]:
    secret = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {secret}"}


CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "token": {"Authorization": f"Bearer {TOKEN}"},
    "wrong-password": basic("alice", "nope"),
    **{name: basic(name) for name in PASSWORDS},
}
EXPECTED = {
    "none": 401,
    "token": 401,
    "wrong-password": 401,
    "alice": 403,
    "olga": 200,
    "adam": 200,
}


def node(name: str, heartbeat_at: float = T0, state: NodeState = NodeState.UP) -> NodeRecord:
    return NodeRecord(
        name=name,
        address=f"http://{name}.example:8631",
        roles=("intake", "web") if name == "web1" else ("dispatch",),
        version="0.1.0",
        started_at=T0 - 100,
        heartbeat_at=heartbeat_at,
        state=state,
        load={"deliveries": 2, "workers": 8},
    )


@pytest.mark.parametrize("who", sorted(CREDENTIALS))
async def test_who_may_list_nodes(world: World, who: str) -> None:
    response = await world.client.get(URL, headers=CREDENTIALS[who])
    assert response.status_code == EXPECTED[who], response.text
    if response.status_code != 200:
        assert "error" in response.json()
    if response.status_code == 401:
        assert "WWW-Authenticate" in response.headers


async def test_no_nodes_yet(world: World) -> None:
    response = await world.client.get(URL, headers=basic("olga"))
    assert response.status_code == 200 and response.json() == []


async def test_json_shape_and_order(world: World) -> None:
    await world.services.store.put_node(node("web1", T0 - 1.5))
    await world.services.store.put_node(node("disp1"))
    response = await world.client.get(URL, headers=basic("adam"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == [
        {
            "name": "disp1",
            "address": "http://disp1.example:8631",
            "roles": ["dispatch"],
            "version": "0.1.0",
            "state": "up",
            "load": {"deliveries": 2, "workers": 8},
            "started_at": T0 - 100,
            "heartbeat_at": T0,
            "seconds_since_heartbeat": 0.0,
        },
        {
            "name": "web1",
            "address": "http://web1.example:8631",
            "roles": ["intake", "web"],
            "version": "0.1.0",
            "state": "up",
            "load": {"deliveries": 2, "workers": 8},
            "started_at": T0 - 100,
            "heartbeat_at": T0 - 1.5,
            "seconds_since_heartbeat": 1.5,
        },
    ]


async def test_a_silent_node_becomes_dead_as_the_clock_moves(world: World) -> None:
    store = world.services.store
    await store.put_node(node("a"))
    await store.put_node(node("b", state=NodeState.DRAINING))
    await store.put_node(node("c", state=NodeState.STOPPED))

    async def states() -> dict[str, tuple[str, float]]:
        response = await world.client.get(URL, headers=basic("olga"))
        assert response.status_code == 200
        return {n["name"]: (n["state"], n["seconds_since_heartbeat"]) for n in response.json()}

    assert await states() == {"a": ("up", 0), "b": ("draining", 0), "c": ("stopped", 0)}
    world.clock.advance(10)  # exactly dead_after: not dead yet
    assert await states() == {"a": ("up", 10), "b": ("draining", 10), "c": ("stopped", 10)}
    world.clock.advance(1)
    assert await states() == {"a": ("dead", 11), "b": ("dead", 11), "c": ("stopped", 11)}
    await store.put_node(node("a", world.clock.now()))  # it beats again: back up
    assert (await states())["a"] == ("up", 0)


async def test_a_heartbeat_shows_up_drains_and_stops(world: World) -> None:
    beat = Heartbeat(
        world.services.store,
        world.clock,
        name="self",
        address="http://self.example:8631",
        roles=("intake", "dispatch", "web"),
        version="0.1.0",
        interval=2.0,
        load=lambda: {"deliveries": 1, "workers": 8},
    )
    seen = []
    for step in (beat.beat, beat.drain, beat.beat, beat.stop):
        result = step()
        if result is not None:
            await result
        response = await world.client.get(URL, headers=basic("olga"))
        seen.append([n["state"] for n in response.json()])
    assert seen == [["up"], ["up"], ["draining"], ["stopped"]]


async def test_query_parameters_are_refused(world: World) -> None:
    response = await world.client.get(URL, params={"state": "up"}, headers=basic("olga"))
    assert response.status_code == 400 and "state" in response.json()["error"]


async def test_other_methods_are_not_allowed(world: World) -> None:
    response = await world.client.post(URL, json={}, headers=basic("adam"))
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
