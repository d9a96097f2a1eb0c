"""The REST API v1 for cost recovery (server/rest_accounts.py) in process: the real HTTP
app over httpx's ASGI transport, on services wired by ``app.wire`` around a real SQLite
store in a temp dir and a fake clock, with ``[accounting] enabled = true``.

Covers who may see and do what (the auth matrix), validation errors naming their field,
credits and debits reflected in balances, a credit releasing the jobs held for want of
money on that account (and only those), releasing held jobs (PIN, printer, account),
job listings, accounting switched off (404), and fuzzing: no body makes a 500.
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

from printhost.accounting.money import Money
from printhost.analysis.model import Analysis
from printhost.app import wire
from printhost.auth import hash_password
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobRecord
from printhost.jobs.pin import PIN_WAIT_REASON
from printhost.jobs.service import JobSpec
from printhost.judge.judge import MONEY_REASON
from printhost.judge.records import Decision, JobAnalysis
from printhost.server.http import create_app
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import NewDocument, UserRecord
from printhost.store.spool import Spool

TOKEN = "agent-secret-token"
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "olga": "olga-pw", "adam": "adam-pw"}
ROLES = {"alice": "user", "bob": "user", "olga": "operator", "adam": "admin"}
API = "/api/v1"
JSON_HEADERS = {"Content-Type": "application/json"}
LETTER = (612.0, 792.0)


@functools.cache
def _hash(password: str) -> str:
    return hash_password(password)  # scrypt costs ~50 ms: once per password per worker


@dataclass
class World:
    services: Services
    clock: FakeClock
    client: httpx.AsyncClient


def _config(tmp_path: Path, *, enabled: bool = True) -> Any:
    out = tmp_path / "out"
    return parse_config(
        {
            "server": {"listen": ["127.0.0.1:8631"], "tls_listen": []},
            "storage": {"state_dir": str(tmp_path / "var")},
            "printers": [
                {"name": "p1", "uri": (out / "p1").as_uri()},
                {"name": "p2", "uri": (out / "p2").as_uri()},
                {"name": "p3", "uri": (out / "p3").as_uri()},
            ],
            "pools": [{"name": "floor2", "members": ["p1", "p2"], "standby": ["p3"]}],
            "queues": [
                {"name": "myprinter", "destination": "p1"},
                {"name": "pooled", "destination": "floor2"},
            ],
            "routing": {"agent_tokens": [TOKEN]},
            "groups": [{"name": "staff", "members": ["bob"]}],
            "accounting": {
                "enabled": enabled,
                "initial_balance": "1.00",
                "currency": "EUR",
                "insufficient": "hold",
            },
            "costs": [{"mono": "0.10", "color": "0.50"}],
            "accounts": [
                {"name": "physics", "members": ["alice"], "groups": ["staff"], "overdraft": "5"},
                {"name": "chem", "members": ["olga"], "owner": "adam"},
            ],
        },
        base=tmp_path,
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with _world(tmp_path) as w:
        yield w


@contextlib.asynccontextmanager
async def _world(tmp_path: Path, *, enabled: bool = True) -> AsyncIterator[World]:
    config = _config(tmp_path, enabled=enabled)
    clock = FakeClock()
    store = await open_store(config.storage.effective_database_url)
    services, _dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "t")
    if services.charges is not None:  # as app._services does at start
        await services.charges.sync_shared_accounts(config.members_by_group())
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


# --- jobs made directly through the job service -------------------------------------------------


async def _doc(services: Services) -> NewDocument:
    writer = services.spool.writer("t")
    writer.write(b"one page of text\n")
    stored = await writer.commit()
    return NewDocument(stored.path, "text/plain", "text/plain", "t.txt", stored.size, stored.sha256)


async def _job(
    services: Services,
    owner: str,
    *,
    queue: str = "myprinter",
    held: bool = True,
    pin_hash: str | None = None,
    account: str | None = None,
    cost_cents: int = 30,
) -> JobRecord:
    """A job of ``owner``, analysed (3 pages) and judged (charged to ``account``)."""
    spec = JobSpec(
        queue=queue,
        owner=owner,
        owner_authenticated=True,
        originating_host="h",
        name=f"{owner}'s report",
        hold_until="indefinite" if held and pin_hash is None else None,
        password_hash=pin_hash,
    )
    job = await services.jobs.submit(spec, [await _doc(services)])
    analysis = JobAnalysis((Analysis("text/plain", 3, (), (LETTER,) * 3),))
    decision = Decision(
        verdict="allow",
        message="",
        rules=("cap-copies",),
        destination="p1",
        account=account or owner,
        cost_cents=cost_cents,
        impressions=3,
        sheets=3,
    )
    return await services.jobs.update(
        job, {"analysis": analysis.to_json(), "judgement": decision.to_json()}
    )


async def _money_held(services: Services, owner: str, account: str | None = None) -> JobRecord:
    """A job held because ``account`` could not pay, as the judge stage holds it."""
    job = await _job(services, owner, account=account)
    held = await services.jobs.hold_because(job, MONEY_REASON, "held: not enough money")
    assert held is not None and held.state == JobState.PENDING_HELD
    assert held.state_reasons == (MONEY_REASON,)
    return held


async def _get(services: Services, job: JobRecord) -> JobRecord:
    record = await services.store.get_job(job.id)
    assert record is not None
    return record


async def _post(world: World, url: str, body: Any, who: str = "adam") -> httpx.Response:
    return await world.client.post(API + url, json=body, headers=basic(who))


# --- who may see and do what ----------------------------------------------------------------------

NOBODY = {"none": 401, "token": 401, "wrong-password": 401}
EVERY_USER = {**NOBODY, "alice": 200, "bob": 200, "olga": 200, "adam": 200}
ALICE_AND_STAFF = {**EVERY_USER, "bob": 403}
ADMIN_ONLY = {**EVERY_USER, "alice": 403, "bob": 403, "olga": 403}
STAFF_ONLY = {**ADMIN_ONLY, "olga": 200}

MATRIX = [
    ("GET", "/accounts", None, EVERY_USER),
    ("GET", "/accounts?user=alice", None, ALICE_AND_STAFF),
    ("GET", "/accounts/alice", None, ALICE_AND_STAFF),
    ("GET", "/accounts/physics", None, EVERY_USER),  # alice a member, bob through staff
    ("GET", "/accounts/chem", None, STAFF_ONLY),
    ("POST", "/accounts/alice/transactions", {"amount": "1.00", "reason": "x"}, ADMIN_ONLY),
    ("POST", "/accounts/physics/transactions", {"amount": "-1", "reason": "x"}, ADMIN_ONLY),
    ("GET", "/users/alice/balance", None, ALICE_AND_STAFF),
    ("GET", "/users/bob/balance", None, {**ALICE_AND_STAFF, "alice": 403, "bob": 200}),
    ("GET", "/jobs", None, EVERY_USER),
    ("GET", "/jobs?user=alice&which=all", None, ALICE_AND_STAFF),
    ("GET", "/jobs/{job}", None, ALICE_AND_STAFF),
    # the job is not held: its owner and the staff get 409, others 403
    (
        "POST",
        "/jobs/{job}/release",
        {},
        {**ALICE_AND_STAFF, "alice": 409, "olga": 409, "adam": 409},
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "expected"), MATRIX, ids=lambda v: str(v))
async def test_auth_matrix(
    world: World, method: str, url: str, body: Any, expected: dict[str, int]
) -> None:
    assert world.services.charges is not None
    await world.services.charges.open_personal("alice")
    job = await _job(world.services, "alice", held=False)
    got = {}
    for name, headers in CREDENTIALS.items():
        response = await world.client.request(
            method, API + url.format(job=job.id), json=body, headers=headers
        )
        got[name] = response.status_code
        if response.status_code >= 400:
            assert response.json()["error"], (name, response.text)
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"] == 'Basic realm="printhost"', name
    assert got == expected


async def test_users_list_only_what_they_may_charge(world: World) -> None:
    assert world.services.charges is not None
    for user in ("alice", "bob"):
        await world.services.charges.open_personal(user)
    mine = await world.client.get(f"{API}/accounts", headers=basic("alice"))
    assert [a["name"] for a in mine.json()] == ["alice", "physics"]
    bobs = await world.client.get(f"{API}/accounts", headers=basic("bob"))
    assert [a["name"] for a in bobs.json()] == ["bob", "physics"]
    other = await world.client.get(f"{API}/accounts?user=bob", headers=basic("alice"))
    assert other.status_code == 403 and "your own accounts" in other.json()["error"]
    everything = await world.client.get(f"{API}/accounts", headers=basic("olga"))
    assert [a["name"] for a in everything.json()] == ["alice", "bob", "chem", "physics"]
    physics = {a["name"]: a for a in everything.json()}["physics"]
    assert physics == {
        "name": "physics",
        "kind": "shared",
        "owner": "",
        "members": ["alice", "bob"],
        "available": "0.00",
        "reserved": "0.00",
        "overdraft": "5.00",
        "currency": "EUR",
    }
    missing = await world.client.get(f"{API}/accounts/nobody", headers=basic("olga"))
    assert missing.status_code == 404 and "no account 'nobody'" in missing.json()["error"]


# --- credits and debits ---------------------------------------------------------------------------


async def test_credit_then_debit_show_in_the_balance(world: World) -> None:
    first = await world.client.get(f"{API}/users/alice/balance", headers=basic("alice"))
    assert first.status_code == 200
    assert first.json()["currency"] == "EUR"
    assert [(a["name"], a["available"]) for a in first.json()["accounts"]] == [
        ("alice", "1.00"),  # opened on first look, with the initial balance
        ("physics", "0.00"),
    ]
    world.clock.advance(10)
    credited = await _post(world, "/accounts/alice/transactions", {"amount": "5", "reason": "cash"})
    assert credited.status_code == 200, credited.text
    body = credited.json()
    assert (body["name"], body["available"], body["released_jobs"]) == ("alice", "6.00", 0)
    assert body["transaction"]["kind"] == "credit"
    assert body["transaction"]["amount"] == "5.00"
    assert body["transaction"]["reason"] == "cash (by adam)"
    assert body["transaction"]["time"] == world.clock.now()
    after = await world.client.get(f"{API}/users/alice/balance", headers=basic("alice"))
    assert after.json()["accounts"][0]["available"] == "6.00"
    debited = await _post(
        world, "/accounts/alice/transactions", {"amount": "-2.50", "reason": "paper jam fee"}
    )
    assert debited.status_code == 200, debited.text
    assert debited.json()["available"] == "3.50"
    assert (debited.json()["transaction"]["kind"], debited.json()["transaction"]["amount"]) == (
        "debit",
        "-2.50",
    )
    detail = await world.client.get(f"{API}/accounts/alice", headers=basic("alice"))
    assert [(t["kind"], t["amount"]) for t in detail.json()["transactions"]] == [
        ("credit", "1.00"),
        ("credit", "5.00"),
        ("debit", "-2.50"),
    ]
    assert await world.services.store.ledger_sum() == Money(0)


async def test_a_debit_may_go_below_the_overdraft(world: World) -> None:
    response = await _post(world, "/accounts/physics/transactions", {"amount": "-9", "reason": "x"})
    assert response.status_code == 200 and response.json()["available"] == "-9.00"


async def test_credit_opens_the_account_of_a_user_who_never_printed(world: World) -> None:
    response = await _post(world, "/accounts/carol/transactions", {"amount": "2", "reason": "new"})
    assert response.status_code == 200, response.text
    assert (response.json()["kind"], response.json()["available"]) == ("personal", "3.00")


@pytest.mark.parametrize("name", ["funding", "revenue", "reserved:alice"])
async def test_system_accounts_take_no_manual_transactions(world: World, name: str) -> None:
    response = await _post(world, f"/accounts/{name}/transactions", {"amount": "1", "reason": "x"})
    assert response.status_code == 400, response.text
    assert "system account" in response.json()["error"]
    assert await world.services.store.ledger_sum() == Money(0)


@pytest.mark.parametrize("name", ["funding", "revenue", "reserved:alice"])
async def test_system_accounts_are_no_users_balance(world: World, name: str) -> None:
    response = await world.client.get(f"{API}/users/{name}/balance", headers=basic("olga"))
    assert response.status_code == 400, response.text
    assert await world.services.store.get_account(name) is None


TRANSACTION_ERRORS = [
    ({"amount": 5, "reason": "x"}, 'amount: expected a string such as "5.00"'),
    ({"amount": 5.0, "reason": "x"}, 'amount: expected a string such as "5.00"'),
    ({"amount": None, "reason": "x"}, 'amount: expected a string such as "5.00"'),
    ({"amount": "0", "reason": "x"}, "amount: must not be zero"),
    ({"amount": "-0.00", "reason": "x"}, "amount: must not be zero"),
    ({"amount": "5.001", "reason": "x"}, "amount: not an amount of money"),
    ({"amount": "5,00", "reason": "x"}, "amount: not an amount of money"),
    ({"amount": "1e3", "reason": "x"}, "amount: not an amount of money"),
    ({"amount": "", "reason": "x"}, "amount: not an amount of money"),
    ({"amount": "EUR 5", "reason": "x"}, "amount: not an amount of money"),
    ({"amount": "9" * 30, "reason": "x"}, "amount: at most"),
    ({"amount": "-" + "9" * 30, "reason": "x"}, "amount: at most"),
    ({"amount": "5.00", "reason": ""}, "reason: must not be empty"),
    ({"amount": "5.00", "reason": 3}, "reason: expected a string, got an integer"),
    ({"amount": "5.00", "reason": "x" * 201}, "reason: longer than 200 characters"),
    ({"amount": "5.00", "reason": "a\nb"}, "reason: must not contain control characters"),
    ({"amount": "5.00"}, "missing field(s): reason"),
    ({"reason": "x"}, "missing field(s): amount"),
    ({}, "missing field(s): amount, reason"),
    ({"amount": "5.00", "reason": "x", "job": 1}, "unknown field(s): 'job'"),
]


@pytest.mark.parametrize(("body", "message"), TRANSACTION_ERRORS)
async def test_transaction_validation(world: World, body: dict[str, Any], message: str) -> None:
    response = await _post(world, "/accounts/alice/transactions", body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert await world.services.store.list_transactions("alice") == []


async def test_transaction_body_must_be_a_json_object(world: World) -> None:
    response = await world.client.post(
        f"{API}/accounts/alice/transactions",
        content=b"[]",
        headers={**JSON_HEADERS, **basic("adam")},
    )
    assert response.status_code == 400 and "JSON object" in response.json()["error"]
    plain = await world.client.post(
        f"{API}/accounts/alice/transactions",
        content=b"{}",
        headers={"Content-Type": "text/plain", **basic("adam")},
    )
    assert plain.status_code == 415


# --- a credit releases the jobs held for want of money --------------------------------------------


async def test_credit_releases_the_accounts_money_holds_only(world: World) -> None:
    services = world.services
    on_physics = await _money_held(services, "alice", "physics")
    on_bobs_physics = await _money_held(services, "bob", "physics")
    on_alice = await _money_held(services, "alice")
    by_owner = await _job(services, "alice", account="physics")  # held by its owner
    debit = await _post(world, "/accounts/physics/transactions", {"amount": "-1", "reason": "x"})
    assert debit.json()["released_jobs"] == 0
    assert (await _get(services, on_physics)).state == JobState.PENDING_HELD
    credit = await _post(world, "/accounts/physics/transactions", {"amount": "10", "reason": "y"})
    assert credit.json()["released_jobs"] == 2
    for job in (on_physics, on_bobs_physics):
        released = await _get(services, job)
        assert (released.state, released.state_reasons) == (JobState.PENDING, ("none",))
    assert (await _get(services, on_alice)).state == JobState.PENDING_HELD
    assert (await _get(services, by_owner)).state == JobState.PENDING_HELD
    own = await _post(world, "/accounts/alice/transactions", {"amount": "1", "reason": "z"})
    assert own.json()["released_jobs"] == 1
    assert (await _get(services, on_alice)).state == JobState.PENDING


# --- releasing held jobs --------------------------------------------------------------------------


async def test_release_of_a_job_that_is_not_held(world: World) -> None:
    job = await _job(world.services, "alice", held=False)
    response = await _post(world, f"/jobs/{job.id}/release", {}, "alice")
    assert response.status_code == 409
    assert response.json()["error"] == f"job {job.id} is pending, not held"


async def test_release_with_the_pin(world: World) -> None:
    job = await _job(world.services, "alice", held=False, pin_hash=_hash("4711"))
    assert job.state == JobState.PENDING_HELD and PIN_WAIT_REASON in job.state_reasons
    url = f"/jobs/{job.id}/release"
    for body, message in [({}, "send job-password"), ({"pin": "1234"}, "wrong PIN")]:
        refused = await _post(world, url, body, "alice")
        assert refused.status_code == 403 and message in refused.json()["error"]
    assert (await _get(world.services, job)).state == JobState.PENDING_HELD
    bad = await _post(world, url, {"pin": 4711}, "alice")
    assert bad.status_code == 400 and "pin: expected a string" in bad.json()["error"]
    released = await _post(world, url, {"pin": "4711"}, "alice")
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "pending"


async def test_operators_release_without_the_pin(world: World) -> None:
    job = await _job(world.services, "alice", held=False, pin_hash=_hash("4711"))
    released = await _post(world, f"/jobs/{job.id}/release", {}, "olga")
    assert released.status_code == 200 and released.json()["state"] == "pending"


async def test_release_at_one_printer_of_the_pool(world: World) -> None:
    job = await _job(world.services, "alice", queue="pooled")
    url = f"/jobs/{job.id}/release"
    wrong = await _post(world, url, {"printer": "p9"}, "alice")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "printer: 'p9' is not a printer of floor2 (p1, p2, p3)"
    for value, message in [(3, "printer: expected a string"), ("", "printer: must not be empty")]:
        bad = await _post(world, url, {"printer": value}, "alice")
        assert bad.status_code == 400 and message in bad.json()["error"]
    assert (await _get(world.services, job)).state == JobState.PENDING_HELD
    released = await _post(world, url, {"printer": "p3"}, "alice")
    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["state"], body["release_printer"]) == ("pending", "p3")
    stored = await _get(world.services, job)
    assert (stored.state, stored.release_printer) == (JobState.PENDING, "p3")


async def test_release_on_another_account(world: World) -> None:
    job = await _job(world.services, "alice")
    url = f"/jobs/{job.id}/release"
    refused = await _post(world, url, {"account": "chem"}, "alice")
    assert refused.status_code == 403
    assert refused.json()["error"] == "account: alice may not charge 'chem'"
    assert (await _get(world.services, job)).judgement is not None, "nothing changed"
    released = await _post(world, url, {"account": "physics"}, "alice")
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "pending"
    assert released.json()["decision"]["account"] == "physics"
    stored = await _get(world.services, job)
    assert stored.account == "physics"
    # The decision is kept, charged to the chosen account: a job its owner released from
    # a rule's hold is not held by that rule again.
    assert stored.judgement is not None and Decision.from_json(stored.judgement).account == (
        "physics"
    )


async def test_release_on_another_account_of_an_unjudged_job_is_judged_again(
    world: World,
) -> None:
    job = await _job(world.services, "alice")
    await world.services.store.update_job(job.id, {"judgement": None})
    released = await _post(world, f"/jobs/{job.id}/release", {"account": "physics"}, "alice")
    assert released.status_code == 200, released.text
    stored = await _get(world.services, job)
    assert (stored.account, stored.judgement) == ("physics", None)


async def test_release_keeps_an_existing_reservation_on_its_account(world: World) -> None:
    services = world.services
    assert services.charges is not None
    job = await _job(services, "alice", held=False)
    decision = Decision(
        verdict="allow", message="", destination="p1", account="alice", cost_cents=30
    )
    assert await services.charges.reserve(job, decision) is None  # 1.00 opening balance
    held = await services.jobs.hold(job)
    url = f"/jobs/{job.id}/release"
    moved = await _post(world, url, {"account": "physics"}, "alice")
    assert moved.status_code == 409
    assert moved.json()["error"] == f"job {job.id}'s cost is already reserved on 'alice'"
    assert (await _get(services, held)).state == JobState.PENDING_HELD
    same = await _post(world, url, {"account": "alice"}, "alice")
    assert same.status_code == 200, same.text
    assert same.json()["decision"] is not None, "the decision (and reservation) stay"


async def test_release_of_another_users_job_is_refused(world: World) -> None:
    job = await _job(world.services, "alice")
    response = await _post(world, f"/jobs/{job.id}/release", {}, "bob")
    assert response.status_code == 403 and response.json()["error"] == f"job {job.id} is not yours"
    missing = await _post(world, "/jobs/999999/release", {}, "olga")
    assert missing.status_code == 404 and missing.json()["error"] == "no job 999999"
    garbage = await _post(world, "/jobs/x1/release", {}, "olga")
    assert garbage.status_code == 400 and "job id" in garbage.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"queue": "p1"}, "unknown field(s): 'queue'"),
        ({"account": ""}, "account: must not be empty"),
        ({"account": ["physics"]}, "account: expected a string, got an array"),
        ({"pin": "1" * 17}, "pin: longer than 16 characters"),
    ],
)
async def test_release_validation(world: World, body: dict[str, Any], message: str) -> None:
    job = await _job(world.services, "alice")
    response = await _post(world, f"/jobs/{job.id}/release", body, "alice")
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert (await _get(world.services, job)).state == JobState.PENDING_HELD


# --- job listings ---------------------------------------------------------------------------------


async def test_jobs_show_the_judges_decision(world: World) -> None:
    job = await _money_held(world.services, "alice", "physics")
    response = await world.client.get(f"{API}/jobs/{job.id}", headers=basic("alice"))
    body = response.json()
    assert (body["id"], body["owner"], body["state"]) == (job.id, "alice", "pending-held")
    assert (body["state_reasons"], body["state_message"]) == (
        [MONEY_REASON],
        "held: not enough money",
    )
    assert body["analysis"] == {"pages": 3, "color_pages": 0}
    assert body["decision"] == {
        "verdict": "allow",
        "message": "",
        "rules": ["cap-copies"],
        "destination": "p1",
        "account": "physics",
        "cost": "0.30",
        "impressions": 3,
        "color_impressions": 0,
        "sheets": 3,
        "grayscale": False,
        "duplex": False,
        "watermarks": [],
    }


async def test_users_list_their_own_jobs_operators_everybodys(world: World) -> None:
    alices = await _job(world.services, "alice")
    bobs = await _job(world.services, "bob")
    done = await _job(world.services, "alice", held=False)
    await world.services.jobs.cancel(done)

    async def listed(who: str, query: str = "") -> list[int]:
        response = await world.client.get(f"{API}/jobs{query}", headers=basic(who))
        assert response.status_code == 200, response.text
        return [j["id"] for j in response.json()]

    assert await listed("alice") == [alices.id]
    assert await listed("bob") == [bobs.id]
    assert await listed("alice", "?which=completed") == [done.id]
    assert sorted(await listed("alice", "?which=all")) == [alices.id, done.id]
    assert sorted(await listed("olga")) == [alices.id, bobs.id]
    assert await listed("adam", "?user=bob") == [bobs.id]
    assert await listed("bob", "?user=bob&which=completed") == []
    for query, message in [
        ("?which=mine", "which: must be not-completed, completed or all"),
        ("?owner=alice", "unknown query parameter(s): 'owner'"),
        ("?user=", "user: must not be empty"),
    ]:
        response = await world.client.get(f"{API}/jobs{query}", headers=basic("olga"))
        assert response.status_code == 400 and message in response.json()["error"]


async def test_a_job_without_analysis_or_decision(world: World) -> None:
    spec = JobSpec(
        queue="myprinter", owner="bob", owner_authenticated=True, originating_host="h", name="j"
    )
    job = await world.services.jobs.submit(spec, [await _doc(world.services)])
    body = (await world.client.get(f"{API}/jobs/{job.id}", headers=basic("bob"))).json()
    assert (body["analysis"], body["decision"], body["printer"]) == (None, None, None)


# --- accounting switched off ----------------------------------------------------------------------

ALL_ENDPOINTS = [
    ("GET", "/accounts"),
    ("GET", "/accounts/alice"),
    ("POST", "/accounts/alice/transactions"),
    ("GET", "/users/alice/balance"),
    ("GET", "/jobs"),
    ("GET", "/jobs/1"),
    ("POST", "/jobs/1/release"),
]


async def test_accounting_disabled_answers_404(tmp_path: Path) -> None:
    async with _world(tmp_path, enabled=False) as w:
        assert w.services.charges is None
        for method, url in ALL_ENDPOINTS:
            for headers in ({}, basic("adam")):
                body = {"amount": "1", "reason": "x"} if method == "POST" else None
                response = await w.client.request(method, API + url, json=body, headers=headers)
                assert response.status_code == 404, (method, url, response.text)
                assert "accounting is not enabled" in response.json()["error"]


# --- fuzzing: no body makes a 500 -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
AMOUNTS = st.from_regex(r"[+-]?[0-9]{0,25}(\.[0-9]{0,3})?", fullmatch=True) | JSON_VALUES
TRANSACTION_LIKE = st.fixed_dictionaries(
    {}, optional={"amount": AMOUNTS, "reason": JSON_VALUES | st.text(max_size=210)}
)
RELEASE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "printer": JSON_VALUES | st.sampled_from(["p1", "p3", "floor2", "p9"]),
        "pin": JSON_VALUES | st.sampled_from(["4711", "1234", ""]),
        "account": JSON_VALUES | st.sampled_from(["alice", "physics", "chem", "funding"]),
    },
)
ACCOUNTS = st.sampled_from(
    ["alice", "physics", "carol", "funding", "reserved:x", "a%20b", "x" * 300]
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


@FUZZ
@given(body=JSON_VALUES | TRANSACTION_LIKE, account=ACCOUNTS)
async def test_fuzz_transactions_never_500(world: World, body: Any, account: str) -> None:
    response = await world.client.post(
        f"{API}/accounts/{account}/transactions",
        content=_encode(body),
        headers={**JSON_HEADERS, **basic("adam")},
    )
    assert response.status_code in (200, 400), response.text
    assert isinstance(response.json(), dict)
    assert await world.services.store.ledger_sum() == Money(0)


@FUZZ
@given(body=JSON_VALUES | RELEASE_LIKE, who=st.sampled_from(["alice", "bob", "olga"]))
async def test_fuzz_release_never_500(world: World, body: Any, who: str) -> None:
    job = await _job(world.services, "alice", queue="pooled", pin_hash=_hash("4711"))
    response = await world.client.post(
        f"{API}/jobs/{job.id}/release",
        content=_encode(body),
        headers={**JSON_HEADERS, **basic(who)},
    )
    assert response.status_code in (200, 400, 403), response.text
    assert response.json()


async def test_an_operators_look_at_a_user_without_an_account_opens_nothing(
    world: World,
) -> None:
    response = await world.client.get(f"{API}/users/alcie/balance", headers=basic("olga"))
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "alcie has no account yet (it is opened on their first job)"
    assert await world.services.store.get_account("alcie") is None
