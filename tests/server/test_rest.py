"""The REST API v1 in process: the real HTTP app (``create_app``) over httpx's ASGI
transport, on services wired by ``app.wire`` around a real SQLite store in a temp dir and
a fake clock (presence expiry is clock time, nothing sleeps).

Covers who may call what (the auth matrix), every validation error naming its field, the
limits (size, content type, nesting, duplicate keys), presence expiry, the effects
(held jobs released, preference changes audited), the OpenAPI document matching the
routes, and fuzzing: arbitrary bodies never produce a 500.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printhost.app import wire
from printhost.auth import hash_password
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobRecord
from printhost.jobs.service import ROUTE_HOLD_REASON, JobSpec
from printhost.server import openapi, rest, rest_input
from printhost.server.http import create_app
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import NewDocument, NewEvent, PrinterRecord, UserRecord
from printhost.store.spool import Spool

TOKEN = "agent-secret-token"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "olga": "olga-pw", "adam": "adam-pw"}
ROLES = {"alice": "user", "bob": "user", "olga": "operator", "adam": "admin"}
MAX_PRESENCE = 3600.0


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)  # scrypt costs ~50 ms: once per password per worker


@dataclass
class World:
    services: Services
    clock: FakeClock
    client: httpx.AsyncClient


def _config(tmp_path: Path, **server: Any) -> Any:
    out = tmp_path / "out"
    return parse_config(
        {
            "server": {"listen": ["127.0.0.1:8631"], "tls_listen": [], **server},
            "storage": {"state_dir": str(tmp_path / "var")},
            "printers": [
                {"name": "p1", "uri": (out / "p1").as_uri(), "location": "floor 2"},
                {"name": "p2", "uri": (out / "p2").as_uri()},
                {"name": "p3", "uri": (out / "p3").as_uri()},
            ],
            "pools": [{"name": "floor2", "members": ["p1", "p2"], "standby": ["p3"]}],
            "queues": [{"name": "myprinter", "destination": "p1"}],
            "routing": {"agent_tokens": ["", TOKEN], "max_presence_seconds": MAX_PRESENCE},
        },
        base=tmp_path,
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _world(tmp_path) as w:
        yield w


@contextlib.asynccontextmanager
async def _world(
    tmp_path: Path, client: tuple[str, int] = ("127.0.0.1", 40000), **server: Any
) -> AsyncIterator[World]:
    config = _config(tmp_path, **server)
    clock = FakeClock()
    store = await open_store(config.storage.effective_database_url)
    services, _dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "t")
    for name, password in PASSWORDS.items():
        await store.put_user(UserRecord(name, _hash(password), ROLES[name]))
    transport = httpx.ASGITransport(app=create_app(services, 8631, None), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://printhost.test") as http:
        yield World(services, clock, http)
    await store.close()


def basic(user: str, password: str | None = None) -> dict[str, str]:
    secret = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {secret}"}


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "token": bearer(),
    "bad-token": bearer("guess"),
    "empty-token": {"Authorization": "Bearer "},
    "wrong-password": basic("alice", "nope"),
    "unknown-scheme": {"Authorization": "Negotiate abc"},
    **{name: basic(name) for name in PASSWORDS},
}

REPORT = {"user": "alice", "host": "WS1", "ttl_seconds": 60}


async def _doc(services: Services) -> NewDocument:
    writer = services.spool.writer("t")
    writer.write(b"%PDF-1.4\n%test\n")
    stored = await writer.commit()
    return NewDocument(
        stored.path, "application/pdf", "application/pdf", "t.pdf", stored.size, stored.sha256
    )


async def _held_job(services: Services, owner: str) -> JobRecord:
    spec = JobSpec(
        queue="myprinter", owner=owner, owner_authenticated=True, originating_host="h", name="j"
    )
    job = await services.jobs.submit(spec, [await _doc(services)])
    held = await services.jobs.hold_for_route(job, f"held: {owner} is logged in nowhere")
    assert held is not None and held.state == JobState.PENDING_HELD
    assert ROUTE_HOLD_REASON in held.state_reasons
    return held


async def _state(services: Services, job: JobRecord) -> JobState:
    record = await services.store.get_job(job.id)
    assert record is not None
    return record.state


# --- the OpenAPI document ---------------------------------------------------------------------


async def test_openapi_describes_every_route_and_nothing_else(world: World) -> None:
    described = {
        (path, method.upper())
        for path, item in openapi.DOCUMENT["paths"].items()
        for method in item
        if method != "parameters"
    }
    routed = {(path, method) for path, methods in rest.PATHS.items() for method in methods}
    assert described == routed
    served = await world.client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.json() == openapi.DOCUMENT
    assert served.json()["openapi"].startswith("3.1")
    refs = {ref.rsplit("/", 1)[1] for ref in _refs(openapi.DOCUMENT)}
    assert refs <= set(openapi.DOCUMENT["components"]["schemas"])


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


# --- who may call what ------------------------------------------------------------------------

PRESENCE_WRITE = {
    "none": 401,
    "token": 204,
    "bad-token": 401,
    "empty-token": 401,
    "wrong-password": 401,
    "unknown-scheme": 401,
    "alice": 403,
    "bob": 403,
    "olga": 204,
    "adam": 204,
}
OWN_PREFERENCES = {
    "none": 401,
    "token": 401,
    "bad-token": 401,
    "empty-token": 401,
    "wrong-password": 401,
    "unknown-scheme": 401,
    "alice": 200,
    "bob": 403,
    "olga": 403,
    "adam": 200,
}
PRESENCE_OF_ALICE = {**OWN_PREFERENCES, "olga": 200}
PRESENCE_OF_ALL = {**PRESENCE_OF_ALICE, "alice": 403}
DESTINATIONS = {
    "none": 200,
    "token": 200,
    "bad-token": 401,
    "empty-token": 401,
    "wrong-password": 401,
    "unknown-scheme": 401,
    "alice": 200,
    "bob": 200,
    "olga": 200,
    "adam": 200,
}

MATRIX = [
    ("POST", "/api/v1/presence", REPORT, PRESENCE_WRITE),
    ("DELETE", "/api/v1/presence?user=alice&host=ws1", None, PRESENCE_WRITE),
    ("GET", "/api/v1/presence?user=alice", None, PRESENCE_OF_ALICE),
    ("GET", "/api/v1/presence", None, PRESENCE_OF_ALL),
    ("GET", "/api/v1/users/alice/preferences", None, OWN_PREFERENCES),
    ("PUT", "/api/v1/users/alice/preferences", {"destination": "p2"}, OWN_PREFERENCES),
    ("GET", "/api/v1/destinations", None, DESTINATIONS),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), MATRIX, ids=lambda v: str(v))
async def test_auth_matrix(
    world: World, method: str, url: str, body: Any, expected: dict[str, int]
) -> None:
    got = {}
    for name, headers in CREDENTIALS.items():
        response = await world.client.request(method, url, json=body, headers=headers)
        got[name] = response.status_code
        if response.status_code >= 400:
            assert response.json()["error"], (name, response.text)
        if response.status_code == 401:
            assert "WWW-Authenticate" in response.headers, name
    assert got == expected


async def test_challenges_name_the_schemes_that_work(world: World) -> None:
    presence = await world.client.post("/api/v1/presence", json=REPORT)
    assert presence.headers["WWW-Authenticate"] == (
        'Bearer realm="printhost", Basic realm="printhost"'
    )
    bad = await world.client.post("/api/v1/presence", json=REPORT, headers=bearer("x"))
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    prefs = await world.client.get("/api/v1/users/alice/preferences")
    assert prefs.headers["WWW-Authenticate"] == 'Basic realm="printhost"'
    as_agent = await world.client.get("/api/v1/users/alice/preferences", headers=bearer())
    assert "a bearer token only reports presence" in as_agent.json()["error"]


async def test_credentials_over_plain_http_from_afar_are_refused(tmp_path: Path) -> None:
    async with _world(tmp_path, client=("192.0.2.7", 40000)) as w:
        for headers in (basic("adam"), bearer()):
            response = await w.client.post("/api/v1/presence", json=REPORT, headers=headers)
            assert response.status_code == 403
            assert "plain HTTP" in response.json()["error"]
        assert (await w.client.get("/api/v1/destinations")).status_code == 200


async def test_plain_http_credentials_allowed_when_configured(tmp_path: Path) -> None:
    async with _world(tmp_path, client=("192.0.2.7", 1), basic_over_plain_http=True) as w:
        response = await w.client.post("/api/v1/presence", json=REPORT, headers=bearer())
        assert response.status_code == 204


async def test_destinations_need_a_user_when_anonymous_use_is_off(tmp_path: Path) -> None:
    async with _world(tmp_path, allow_anonymous=False) as w:
        anonymous = await w.client.get("/api/v1/destinations")
        assert anonymous.status_code == 401
        assert (await w.client.get("/api/v1/destinations", headers=basic("bob"))).is_success


# --- presence ---------------------------------------------------------------------------------


async def test_presence_is_stored_capped_listed_and_expires(world: World) -> None:
    now = world.clock.now()
    report = {
        **REPORT,
        "ttl_seconds": 10**400,
        "agent_uri": "ipp://ws1.example:8641/printers/local",
        "location": "floor 2",
        "source": "login-script",
    }
    posted = await world.client.post("/api/v1/presence", json=report, headers=bearer())
    assert posted.status_code == 204 and posted.content == b""
    agent = await world.services.store.get_agent("ws1")
    assert agent is not None and agent.uri == report["agent_uri"]
    assert (agent.expires_at, agent.location) == (now + MAX_PRESENCE, "floor 2")
    made = {q.name for q in await world.services.store.list_queue_states()}
    assert "local-ws1" in made, "the workstation's queue is made when its agent reports"
    listed = await world.client.get("/api/v1/presence?user=alice", headers=basic("alice"))
    assert listed.json() == [
        {
            "user": "alice",
            "host": "ws1",
            "expires_at": now + MAX_PRESENCE,
            "updated_at": now,
            "source": "login-script",
            "agent_uri": report["agent_uri"],
        }
    ]
    world.clock.advance(MAX_PRESENCE - 1)
    assert len((await world.client.get("/api/v1/presence", headers=basic("olga"))).json()) == 1
    world.clock.advance(1)
    assert (await world.client.get("/api/v1/presence", headers=basic("olga"))).json() == []
    assert await world.services.store.list_presence(world.clock.now()) == []


async def test_presence_source_defaults_to_who_reported(world: World) -> None:
    await world.client.post("/api/v1/presence", json=REPORT, headers=bearer())
    await world.client.post(
        "/api/v1/presence", json={**REPORT, "host": "ws2"}, headers=basic("olga")
    )
    records = await world.services.store.list_presence(world.clock.now(), "alice")
    assert {r.host: r.source for r in records} == {"ws1": "agent", "ws2": "operator olga"}
    listed = await world.client.get("/api/v1/presence?user=alice", headers=basic("olga"))
    assert {p["agent_uri"] for p in listed.json()} == {None}


async def test_logout_deletes_presence(world: World) -> None:
    await world.client.post("/api/v1/presence", json=REPORT, headers=bearer())
    await world.client.post("/api/v1/presence", json={**REPORT, "host": "ws2"}, headers=bearer())
    gone = await world.client.delete("/api/v1/presence?user=alice&host=WS1", headers=bearer())
    assert gone.status_code == 204
    left = await world.services.store.list_presence(world.clock.now(), "alice")
    assert [r.host for r in left] == ["ws2"]
    again = await world.client.delete("/api/v1/presence?user=alice&host=ws1", headers=bearer())
    assert again.status_code == 204, "logging out twice is not an error"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/api/v1/presence?user=alice", "user and host are required"),
        ("/api/v1/presence?host=ws1", "user and host are required"),
        ("/api/v1/presence?user=alice&host=ws1&all=1", "unknown query parameter(s): 'all'"),
        ("/api/v1/presence?user=alice&host=w%20s", "host: must not contain spaces"),
        ("/api/v1/presence?user=a%01&host=ws1", "user: must not contain control characters"),
    ],
)
async def test_logout_validation(world: World, url: str, message: str) -> None:
    response = await world.client.delete(url, headers=bearer())
    assert response.status_code == 400 and message in response.json()["error"]


PRESENCE_ERRORS = [
    ({}, "missing field(s): user, host, ttl_seconds"),
    ({"user": "alice", "host": "ws1"}, "missing field(s): ttl_seconds"),
    ({**REPORT, "ttl_seconds": 0}, "ttl_seconds: must be more than 0"),
    ({**REPORT, "ttl_seconds": -5.5}, "ttl_seconds: must be more than 0"),
    ({**REPORT, "ttl_seconds": "60"}, "ttl_seconds: expected a number, got a string"),
    ({**REPORT, "ttl_seconds": True}, "ttl_seconds: expected a number, got a boolean"),
    ({**REPORT, "user": ""}, "user: must not be empty"),
    ({**REPORT, "user": 7}, "user: expected a string, got an integer"),
    ({**REPORT, "user": "al\x00ice"}, "user: must not contain control characters"),
    ({**REPORT, "user": " alice"}, "user: must not start or end with white space"),
    ({**REPORT, "user": "a" * 256}, "user: longer than 255 characters"),
    ({**REPORT, "host": "ws 1"}, "host: must not contain spaces or control characters"),
    ({**REPORT, "host": "w" * 254}, "host: longer than 253 characters"),
    ({**REPORT, "host": None}, "host: expected a string, got null"),
    ({**REPORT, "source": "x" * 65}, "source: longer than 64 characters"),
    ({**REPORT, "location": ["a"]}, "location: expected a string, got an array"),
    ({**REPORT, "agent_uri": "http://ws1/printers/local"}, "agent_uri: must be ipp:// or ipps://"),
    ({**REPORT, "agent_uri": "ipp:///printers/local"}, "agent_uri: must be ipp:// or ipps://"),
    ({**REPORT, "agent_uri": "ipp://u:p@ws1/printers/local"}, "agent_uri: must not carry"),
    ({**REPORT, "agent_uri": "ipp://ws1:99999/"}, "agent_uri: not a valid URI"),
    ({**REPORT, "agent_uri": ""}, "agent_uri: must not be empty"),
    ({**REPORT, "color": True}, "unknown field(s): 'color'"),
]


@pytest.mark.parametrize(("body", "message"), PRESENCE_ERRORS)
async def test_presence_validation(world: World, body: dict[str, Any], message: str) -> None:
    response = await world.client.post("/api/v1/presence", json=body, headers=bearer())
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await world.services.store.list_presence(world.clock.now()) == []


# --- body limits ---------------------------------------------------------------------------------

JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"[1, 2]", 400, "body must be a JSON object, not an array"),
        (b'"text"', 400, "body must be a JSON object, not a string"),
        (b"null", 400, "not null"),
        (b"", 400, "not valid JSON"),
        (b"{", 400, "not valid JSON"),
        (b'{"user": NaN}', 400, "NaN is not JSON"),
        (b'{"ttl_seconds": Infinity}', 400, "Infinity is not JSON"),
        (b'{"user": "a", "user": "b"}', 400, "duplicate key"),
        (b'{"user": "\xff"}', 400, "not valid JSON"),
        (b"[" * 60_000 + b"]" * 60_000, 413, "larger than 65536 bytes"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "not valid JSON"),
        (b'{"user": "' + b"a" * 70_000 + b'"}', 413, "larger than 65536 bytes"),
        (b'{"user": "\\ud800", "host": "ws1", "ttl_seconds": 1}', 400, "user: must not contain"),
        (b'{"\\ud800": 1}', 400, "unknown field(s): '\\ud800'"),
    ],
)
async def test_body_limits(world: World, body: bytes, status: int, message: str) -> None:
    response = await world.client.post(
        "/api/v1/presence", content=body, headers={**JSON_HEADERS, **bearer()}
    )
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


async def test_body_without_content_length_is_still_bounded(world: World) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"user": "'
        for _ in range(20):
            yield b"a" * 4096

    response = await world.client.post(
        "/api/v1/presence", content=chunks(), headers={**JSON_HEADERS, **bearer()}
    )
    assert response.status_code == 413


async def test_body_must_say_json(world: World) -> None:
    response = await world.client.post(
        "/api/v1/presence",
        content=json.dumps(REPORT),
        headers={"Content-Type": "text/plain", **bearer()},
    )
    assert response.status_code == 415 and "application/json" in response.json()["error"]


async def test_unknown_paths_and_methods_answer_json(world: World) -> None:
    missing = await world.client.get("/api/v1/nothing")
    assert missing.status_code == 404 and "openapi.json" in missing.json()["error"]
    wrong = await world.client.patch("/api/v1/destinations")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD"
    assert "PATCH is not allowed" in wrong.json()["error"]


# --- preferences -------------------------------------------------------------------------------


async def test_preferences_default_then_partial_updates(world: World) -> None:
    url = "/api/v1/users/alice/preferences"
    fresh = await world.client.get(url, headers=basic("alice"))
    assert fresh.json() == {
        "user": "alice",
        "destination": "",
        "banner": None,
        "location": "",
        "updated_at": None,
        "defaults": {
            "sides": "",
            "print_color_mode": "",
            "orientation_requested": 0,
            "max_copies": 0,
        },
    }
    first = await world.client.put(
        url,
        json={
            "destination": "desktop",
            "defaults": {"sides": "two-sided-long-edge"},
            "banner": False,
        },
        headers=basic("alice"),
    )
    assert first.status_code == 200
    world.clock.advance(5)
    second = await world.client.put(
        url, json={"defaults": {"max_copies": 10}, "location": "floor 2"}, headers=basic("alice")
    )
    body = second.json()
    assert body["destination"] == "desktop" and body["banner"] is False
    assert body["defaults"] == {
        "sides": "two-sided-long-edge",
        "print_color_mode": "",
        "orientation_requested": 0,
        "max_copies": 10,
    }
    assert (body["location"], body["updated_at"]) == ("floor 2", world.clock.now())
    stored = await world.services.store.get_preferences("alice")
    assert stored is not None and stored.defaults.max_copies == 10
    assert (await world.client.get(url, headers=basic("alice"))).json() == body
    cleared = await world.client.put(
        url, json={"banner": None, "destination": ""}, headers=basic("alice")
    )
    assert (cleared.json()["banner"], cleared.json()["destination"]) == (None, "")


async def test_preference_changes_are_audited_once(world: World) -> None:
    url = "/api/v1/users/bob/preferences"
    before = await world.services.store.last_event_seq()
    for _ in range(2):  # the second PUT changes nothing: no event
        response = await world.client.put(
            url, json={"destination": "floor2"}, headers=basic("adam")
        )
        assert response.status_code == 200
    events = [
        e
        for e in await world.services.store.events_after(before, 100)
        if e.kind == "user-preferences-changed"
    ]
    assert [(e.data, e.time) for e in events] == [({"user": "bob"}, world.clock.now())]


@pytest.mark.parametrize("destination", ["p1", "p3", "floor2", "desktop", ""])
async def test_valid_destinations(world: World, destination: str) -> None:
    response = await world.client.put(
        "/api/v1/users/alice/preferences",
        json={"destination": destination},
        headers=basic("alice"),
    )
    assert response.status_code == 200 and response.json()["destination"] == destination


PREFERENCE_ERRORS = [
    ({"destination": "nowhere"}, "destination: no printer or pool named 'nowhere'"),
    ({"destination": "myprinter"}, "destination: no printer or pool named 'myprinter'"),
    ({"destination": 3}, "destination: expected a string"),
    ({"defaults": {"sides": "both"}}, "defaults.sides must be one of"),
    ({"defaults": {"print_color_mode": "sepia"}}, "defaults.print_color_mode must be one of"),
    ({"defaults": {"orientation_requested": 7}}, "defaults.orientation_requested must be"),
    ({"defaults": {"max_copies": -1}}, "defaults.max_copies must be"),
    ({"defaults": {"max_copies": 10**30}}, "defaults.max_copies must be"),
    ({"defaults": {"max_copies": "3"}}, "defaults.max_copies: expected an integer"),
    ({"defaults": {"max_copies": 2.0}}, "defaults.max_copies: expected an integer"),
    ({"defaults": {"sides": None}}, "defaults.sides: expected a string"),
    ({"defaults": {"duplex": True}}, "defaults: unknown field(s): 'duplex'"),
    ({"defaults": []}, "defaults: expected an object, got an array"),
    ({"banner": "yes"}, "banner: expected true, false or null, got a string"),
    ({"banner": 1}, "banner: expected true, false or null, got an integer"),
    ({"location": 42}, "location: expected a string, got an integer"),
    ({"location": "x\n"}, "location: must not contain control characters"),
    ({"user": "alice"}, "unknown field(s): 'user'"),
]


@pytest.mark.parametrize(("body", "message"), PREFERENCE_ERRORS)
async def test_preference_validation(world: World, body: dict[str, Any], message: str) -> None:
    response = await world.client.put(
        "/api/v1/users/alice/preferences", json=body, headers=basic("alice")
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await world.services.store.get_preferences("alice") is None


# --- effects: held jobs are released -----------------------------------------------------------


async def test_presence_releases_the_users_route_holds_only(world: World) -> None:
    alices, bobs = await _held_job(world.services, "alice"), await _held_job(world.services, "bob")
    ordinary = await world.services.jobs.submit(
        JobSpec(
            queue="myprinter",
            owner="alice",
            owner_authenticated=True,
            originating_host="h",
            name="j",
            hold_until="indefinite",
        ),
        [await _doc(world.services)],
    )
    response = await world.client.post("/api/v1/presence", json=REPORT, headers=bearer())
    assert response.status_code == 204
    released = await world.services.store.get_job(alices.id)
    assert released is not None
    assert (released.state, released.state_reasons) == (JobState.PENDING, ("none",))
    assert await _state(world.services, bobs) == JobState.PENDING_HELD
    assert await _state(world.services, ordinary) == JobState.PENDING_HELD, "held by its owner"


async def test_logout_and_preference_changes_release_route_holds(world: World) -> None:
    job = await _held_job(world.services, "alice")
    await world.client.delete("/api/v1/presence?user=alice&host=ws1", headers=bearer())
    assert await _state(world.services, job) == JobState.PENDING
    job = await _held_job(world.services, "alice")
    failed = await world.client.put(
        "/api/v1/users/alice/preferences", json={"destination": "x"}, headers=basic("alice")
    )
    assert failed.status_code == 400
    assert await _state(world.services, job) == JobState.PENDING_HELD, "nothing changed"
    changed = await world.client.put(
        "/api/v1/users/alice/preferences", json={"destination": "p2"}, headers=basic("alice")
    )
    assert changed.status_code == 200
    assert await _state(world.services, job) == JobState.PENDING


# --- destinations ------------------------------------------------------------------------------


async def test_destinations_show_live_state(world: World) -> None:
    store, now = world.services.store, world.clock.now()
    await store.set_printer(
        PrinterRecord("p2", is_up=False, state_message="connection refused"),
        NewEvent("printer-state-changed", now),
    )
    listed = {d["name"]: d for d in (await world.client.get("/api/v1/destinations")).json()}
    assert list(listed) == ["p1", "p2", "p3", "floor2"]
    assert listed["p1"] == {
        "name": "p1",
        "kind": "printer",
        "info": "",
        "location": "floor 2",
        "is_up": True,
        "state_message": "",
    }
    assert (listed["p2"]["is_up"], listed["p2"]["state_message"]) == (False, "connection refused")
    assert listed["floor2"]["is_up"] is True
    assert (listed["floor2"]["members"], listed["floor2"]["standby"]) == (["p1", "p2"], ["p3"])
    for name in ("p1", "p3"):
        await store.set_printer(
            PrinterRecord(name, is_up=False), NewEvent("printer-state-changed", now)
        )
    pool = (await world.client.get("/api/v1/destinations")).json()[-1]
    assert (pool["is_up"], pool["state_message"]) == (False, "every member is down")


# --- fuzzing: no body makes a 500 -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
PRESENCE_LIKE = st.fixed_dictionaries(
    {}, optional={key: JSON_VALUES for key in rest_input.PRESENCE_FIELDS}
) | st.fixed_dictionaries(
    {"user": st.text(max_size=8), "host": st.text(max_size=8), "ttl_seconds": JSON_VALUES}
)
PREFS_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "destination": JSON_VALUES | st.sampled_from(["p1", "floor2", "desktop", ""]),
        "banner": JSON_VALUES,
        "location": JSON_VALUES,
        "defaults": JSON_VALUES
        | st.fixed_dictionaries({}, optional={k: JSON_VALUES for k in rest_input.DEFAULT_FIELDS}),
    },
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=JSON_VALUES | PRESENCE_LIKE)
async def test_fuzz_presence_never_500(world: World, body: Any) -> None:
    response = await world.client.post(
        "/api/v1/presence", content=_encode(body), headers={**JSON_HEADERS, **bearer()}
    )
    assert response.status_code in (204, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]


@FUZZ
@given(body=JSON_VALUES | PREFS_LIKE)
async def test_fuzz_preferences_never_500(world: World, body: Any) -> None:
    response = await world.client.put(
        "/api/v1/users/alice/preferences",
        content=_encode(body),
        headers={**JSON_HEADERS, **basic("alice")},
    )
    assert response.status_code in (200, 400), response.text
    assert isinstance(response.json(), dict)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["user", "host", "x"]), st.text(max_size=20)))
async def test_fuzz_logout_query_never_500(world: World, query: dict[str, str]) -> None:
    response = await world.client.delete("/api/v1/presence", params=query, headers=bearer())
    assert response.status_code in (204, 400), response.text


@settings(max_examples=500)
@given(data=st.binary(max_size=200) | JSON_VALUES.map(_encode))
def test_parse_object_raises_only_api_errors(data: bytes) -> None:
    try:
        assert isinstance(rest_input.parse_object(data), dict)
    except rest_input.ApiError as exc:
        assert exc.status == 400 and exc.message
