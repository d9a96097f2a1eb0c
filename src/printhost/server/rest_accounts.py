"""REST API v1 for cost recovery: accounts and balances, manual credits and debits, jobs
with what the judge decided, and releasing held jobs ("release at any printer of pool X").

Who may do what: every endpoint needs HTTP Basic. A user sees their own personal account
and the shared accounts they may charge, and their own jobs; operators and admins see
everything; only admins post credits and debits. A credit releases the account's jobs
that were held for want of money, so the dispatcher judges and reserves them again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from printhost.accounting import ledger
from printhost.accounting.ledger import Account, Transaction
from printhost.accounting.money import ZERO, Money
from printhost.auth import Principal
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.pin import PinRefused, check_pin
from printhost.jobs.service import TERMINAL_STATES, JobNotPossible
from printhost.judge.modification import judged
from printhost.judge.records import Decision, RecordError, analysis_of
from printhost.judge.stage import release_money_holds
from printhost.routing.facts import RoutingPass
from printhost.routing.router import Unroutable
from printhost.server.rest_base import identify, json_response
from printhost.server.rest_input import (
    MAX_NAME,
    ApiError,
    check_fields,
    query,
    read_object,
    text,
)
from printhost.server.services import Services
from printhost.store.base import JobFilter

MAX_REASON = 200
MAX_TRANSACTIONS = 50
MAX_JOBS = 500
MAX_PIN = 16
#: The largest manual credit or debit: the ledger stores cents as 64-bit integers.
MAX_AMOUNT = Money(100_000_000)  # 1000000.00


# --- accounts ---------------------------------------------------------------------------------


async def get_accounts(services: Services, request: Request) -> Response:
    principal = await _user(services, request)
    params = query(request, {"user"})
    user = _name("user", params["user"]) if "user" in params else None
    if not principal.is_operator:
        if user not in (None, principal.name):
            raise ApiError(403, "you may list your own accounts only")
        user = principal.name
    accounts = await services.store.list_accounts(user)
    return json_response([await _account_json(services, a) for a in accounts])


async def get_account(services: Services, request: Request) -> Response:
    principal = await _user(services, request)
    account = await _visible_account(services, principal, str(request.path_params["name"]))
    result = await _account_json(services, account)
    transactions = await services.store.list_transactions(account.name)
    result["transactions"] = [
        _transaction_json(t, account.name) for t in transactions[-MAX_TRANSACTIONS:]
    ]
    return json_response(result)


async def get_balance(services: Services, request: Request) -> Response:
    """A user's personal balance, and the shared accounts they may charge. A user's own
    first look opens their account (with the initial balance); an operator's look at a
    user without one opens nothing (a mistyped name must not become an account)."""
    principal = await _user(services, request)
    name = _name("name", str(request.path_params["name"]))
    if name != principal.name and not principal.is_operator:
        raise ApiError(403, "you may see your own balance only")
    if ledger.is_system_account(name):
        raise ApiError(400, f"name: {name!r} is a system account, not a user")
    charges = _charges(services)
    if await services.store.get_account(name) is None:
        if name != principal.name:
            raise ApiError(404, f"{name} has no account yet (it is opened on their first job)")
        await charges.open_personal(name)
    accounts = await services.store.list_accounts(name)
    return json_response(
        {
            "user": name,
            "currency": services.config.accounting.currency,
            "accounts": [await _account_json(services, a) for a in accounts],
        }
    )


async def post_transaction(services: Services, request: Request) -> Response:
    """A manual credit (positive amount) or debit (negative) by an admin, with a reason."""
    principal = await _user(services, request)
    if principal.role != "admin":
        raise ApiError(403, "only admins credit or debit accounts")
    name = _name("name", str(request.path_params["name"]))
    data = await read_object(request, services.config.server.request_timeout_seconds)
    check_fields(data, {"amount", "reason"})
    missing = [key for key in ("amount", "reason") if key not in data]
    if missing:
        raise ApiError(400, f"missing field(s): {', '.join(missing)}")
    amount = _money("amount", data.get("amount"))
    reason = text("reason", data.get("reason", ""), max_len=MAX_REASON, empty=False)
    if amount == ZERO:
        raise ApiError(400, "amount: must not be zero")
    if not -MAX_AMOUNT <= amount <= MAX_AMOUNT:
        raise ApiError(400, f"amount: at most {MAX_AMOUNT} either way")
    if await services.store.get_account(name) is None:
        if ledger.is_system_account(name):
            raise ApiError(400, f"{name!r} is a system account")
        await _charges(services).open_personal(name)  # a user who never printed yet
    now = services.clock.now()
    by = f"{reason} (by {principal.name})"
    transaction = (
        ledger.credit(name, amount, time=now, reason=by)
        if amount > ZERO
        else ledger.debit(name, -amount, time=now, reason=by)
    )
    posted = await services.store.post_transaction(transaction)
    released = 0
    if amount > ZERO:
        released = await release_money_holds(services.jobs, name)
    account = await services.store.get_account(name)
    assert account is not None
    result = await _account_json(services, account)
    result["transaction"] = _transaction_json(posted, name)
    result["released_jobs"] = released
    return json_response(result)


# --- jobs -----------------------------------------------------------------------------------


async def get_jobs(services: Services, request: Request) -> Response:
    principal = await _user(services, request)
    params = query(request, {"user", "which"})
    which = params.get("which", "not-completed")
    if which not in ("not-completed", "completed", "all"):
        raise ApiError(400, "which: must be not-completed, completed or all")
    user = _name("user", params["user"]) if "user" in params else None
    if not principal.is_operator:
        if user not in (None, principal.name):
            raise ApiError(403, "you may list your own jobs only")
        user = principal.name
    states = {
        "not-completed": tuple(s for s in JobState if s not in TERMINAL_STATES),
        "completed": TERMINAL_STATES,
        "all": None,
    }[which]
    found = await services.store.list_jobs(JobFilter(owner=user, states=states, limit=MAX_JOBS))
    return json_response([job_json(j) for j in found])


async def get_job(services: Services, request: Request) -> Response:
    principal = await _user(services, request)
    return json_response(job_json(await _own_job(services, principal, request)))


async def post_release(services: Services, request: Request) -> Response:
    """Release a held job: its owner (with the job's PIN, if it has one) or an operator,
    optionally at one printer of the job's destination, or charged to another account."""
    principal = await _user(services, request)
    job = await _own_job(services, principal, request)
    data = await read_object(request, services.config.server.request_timeout_seconds)
    check_fields(data, {"printer", "pin", "account"})
    pin = text("pin", data["pin"], max_len=MAX_PIN) if "pin" in data else None
    if job.state != JobState.PENDING_HELD:
        raise ApiError(409, f"job {job.id} is {job.state.keyword}, not held")
    changes: dict[str, Any] = {}
    if "printer" in data:
        changes["release_printer"] = await _release_printer(services, job, data["printer"])
    if "account" in data:
        account = _chargeable(services, job.owner, _name("account", data["account"]))
        reservation = await services.store.get_reservation(job.id)
        if reservation is None:
            changes["account"] = account
            changes["judgement"] = _charged_to(judged(job), account)
        elif reservation.account != account:
            # judged again, it would need a second reservation (the store refuses that)
            raise ApiError(
                409, f"job {job.id}'s cost is already reserved on {reservation.account!r}"
            )
    if job.password_hash is not None and not principal.is_operator:
        try:
            await check_pin(job.id, job.password_hash, pin)
        except PinRefused as exc:
            raise ApiError(403, str(exc)) from None
    try:
        if changes:
            job = await services.jobs.update(job, changes)
        released = await services.jobs.release(job, operator=True)  # the PIN was checked
    except JobNotPossible as exc:
        raise ApiError(409, str(exc)) from None
    return json_response(job_json(released))


def _charged_to(decision: Decision | None, account: str) -> str | None:
    """A decision kept (a job its owner releases from a rule's hold is not held by that rule
    again), charged to ``account``; without one the job is judged again."""
    if decision is None:
        return None
    return dataclasses.replace(decision, account=account if decision.cost_cents else "").to_json()


def job_json(job: JobRecord) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "owner": job.owner,
        "queue": job.queue,
        "state": job.state.keyword,
        "state_reasons": list(job.state_reasons),
        "state_message": job.state_message,
        "printer": job.printer,
        "release_printer": job.release_printer,
        "created_at": job.created_at,
        "completed_at": job.completed_at,
        "impressions_completed": job.impressions_completed,
        "analysis": None,
        "decision": None,
    }
    try:
        analysis = analysis_of(job)
        decision = judged(job)
    except RecordError:
        return result
    if analysis is not None:
        result["analysis"] = (
            {"error": analysis.error}
            if analysis.error
            else {"pages": analysis.pages, "color_pages": analysis.color_pages}
        )
    if decision is not None:
        result["decision"] = {
            "verdict": decision.verdict,
            "message": decision.message,
            "rules": list(decision.rules),
            "destination": decision.destination,
            "account": decision.account or None,
            "cost": str(Money(decision.cost_cents)),
            "impressions": decision.impressions,
            "color_impressions": decision.color_impressions,
            "sheets": decision.sheets,
            "grayscale": decision.grayscale,
            "duplex": decision.duplex,
            "watermarks": list(decision.watermarks),
        }
    return result


# --- helpers ----------------------------------------------------------------------------------


async def _user(services: Services, request: Request) -> Principal:
    if not services.config.accounting.enabled:
        raise ApiError(404, "accounting is not enabled on this server ([accounting] enabled)")
    return (await identify(services, request)).require_user()


def _charges(services: Services) -> Any:
    if services.charges is None:
        raise ApiError(404, "accounting is not enabled on this server")
    return services.charges


async def _visible_account(services: Services, principal: Principal, name: str) -> Account:
    name = _name("name", name)
    account = await services.store.get_account(name)
    if account is None:
        raise ApiError(404, f"no account {name!r}")
    if not principal.is_operator and principal.name not in (account.owner, *account.members):
        raise ApiError(403, f"you may not see account {name!r}")
    return account


async def _own_job(services: Services, principal: Principal, request: Request) -> JobRecord:
    raw = str(request.path_params["job_id"])
    if not raw.isdigit() or len(raw) > 10:
        raise ApiError(400, "job id: expected a positive integer")
    job = await services.store.get_job(JobId(int(raw)))
    if job is None:
        raise ApiError(404, f"no job {raw}")
    if not principal.is_operator and not principal.owns(job.owner, job.owner_authenticated):
        raise ApiError(403, f"job {raw} is not yours")
    return job


async def _release_printer(services: Services, job: JobRecord, value: Any) -> str:
    printer = _name("printer", value)
    routing = RoutingPass(services.config, services.store, services.clock.now())
    destination = await routing.destination(job.queue, job.owner)
    if isinstance(destination, Unroutable):
        raise ApiError(409, f"job {job.id} cannot be routed now: {destination.message}")
    members = [t.name for t in (*destination.members, *destination.standby)]
    if printer not in members:
        choices = ", ".join(members)
        raise ApiError(
            400, f"printer: {printer!r} is not a printer of {destination.name} ({choices})"
        )
    return printer


def _chargeable(services: Services, owner: str, account: str) -> str:
    if account == owner:
        return account
    groups = services.config.groups_by_user().get(owner, ())
    allowed = [a.name for a in services.config.accounting.accounts_for(owner, groups)]
    if account not in allowed:
        raise ApiError(403, f"account: {owner} may not charge {account!r}")
    return account


async def _account_json(services: Services, account: Account) -> dict[str, Any]:
    balance = await services.store.get_balance(account.name)
    return {
        "name": account.name,
        "kind": str(account.kind),
        "owner": account.owner,
        "members": list(account.members),
        "available": str(balance.available),
        "reserved": str(balance.reserved),
        "overdraft": str(account.overdraft),
        "currency": services.config.accounting.currency,
    }


def _transaction_json(transaction: Transaction, account: str) -> dict[str, Any]:
    amount = sum((p.amount for p in transaction.postings if p.account == account), ZERO)
    return {
        "id": transaction.id,
        "time": transaction.time,
        "kind": str(transaction.kind),
        "job_id": transaction.job_id,
        "reason": transaction.reason,
        "amount": str(amount),
    }


def _name(field: str, value: Any) -> str:
    return text(field, value, max_len=MAX_NAME, empty=False, spaces=False)


def _money(field: str, value: Any) -> Money:
    if not isinstance(value, str):
        raise ApiError(400, f'{field}: expected a string such as "5.00"')
    try:
        return Money.parse(value)
    except ValueError as exc:
        raise ApiError(400, f"{field}: {exc}") from None


Handler = Callable[[Services, Request], Awaitable[Response]]

#: The endpoints of this module, by path and method (``rest.PATHS`` includes them).
ACCOUNT_PATHS: dict[str, dict[str, Handler]] = {
    "/accounts": {"GET": get_accounts},
    "/accounts/{name}": {"GET": get_account},
    "/accounts/{name}/transactions": {"POST": post_transaction},
    "/users/{name}/balance": {"GET": get_balance},
    "/jobs": {"GET": get_jobs},
    "/jobs/{job_id}": {"GET": get_job},
    "/jobs/{job_id}/release": {"POST": post_release},
}
