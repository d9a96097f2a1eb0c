"""``printhost accounts``, ``balance``, ``credit``, ``release`` and ``charges``: clients of
the cost-recovery part of the REST API v1 (server/rest_accounts.py; the server needs
``[accounting] enabled = true``).

Every command authenticates with HTTP Basic as ``--user`` (the password comes from
``$PRINTHOST_PASSWORD`` or a prompt, as for ``printhost prefs``); the API's base URL comes
from ``--server`` as in cli_routing.py, with ``--cafile``/``--insecure`` for HTTPS.
``printhost jobs`` (IPP) already shows each job's state message, which carries the judge's
message; ``printhost charges`` lists the judge's decisions in full: pages, cost, account,
verdict and the rules that fired.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import urllib.parse
from collections.abc import Callable
from typing import Any

from printhost.cli_routing import (
    ApiClientError,
    _basic,
    _reporting_errors,
    _tls_options,
    call,
)

WHICH = ("not-completed", "completed", "all")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    accounts = commands.add_parser(
        "accounts",
        help="list accounts and their balances",
        description="Users see their own account and the shared accounts they may charge; "
        "operators and admins see every account.",
    )
    accounts.add_argument(
        "--for", dest="for_user", metavar="USER", help="USER's accounts (operators, admins)"
    )
    balance = commands.add_parser("balance", help="show a user's balance (default: yours)")
    balance.add_argument(
        "whose", nargs="?", metavar="USER", help="another user's (operators, admins)"
    )
    credit = commands.add_parser(
        "credit",
        help="credit or debit an account by hand (admins)",
        description="A negative AMOUNT (or --debit) debits. A credit releases the account's "
        "jobs held for want of money.",
    )
    credit.add_argument("account", metavar="ACCOUNT", help="a user name or a shared account")
    credit.add_argument("amount", metavar="AMOUNT", help="e.g. 5.00, or -2.00 to debit")
    credit.add_argument("--reason", required=True, help="why (kept in the account's history)")
    credit.add_argument("--debit", action="store_true", help="debit AMOUNT instead")
    release = commands.add_parser(
        "release",
        help="release a held job (optionally at one printer, or on another account)",
        description="--pin asks for the job's PIN ($PRINTHOST_PIN, else a prompt); it is "
        "never taken on the command line.",
    )
    release.add_argument("job_id", type=int, metavar="JOB")
    release.add_argument("--printer", help="print at this printer of the job's pool")
    release.add_argument("--pin", action="store_true", help="the job was sent with a PIN")
    release.add_argument("--account", help="charge this account instead")
    charges = commands.add_parser(
        "charges", help="list jobs with their pages, cost, account and the rules that fired"
    )
    charges.add_argument("--which", default="not-completed", choices=WHICH)
    charges.add_argument(
        "--for", dest="for_user", metavar="USER", help="USER's jobs (operators, admins)"
    )
    runs: list[tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], int]]] = [
        (accounts, _accounts),
        (balance, _balance),
        (credit, _credit),
        (release, _release),
        (charges, _charges),
    ]
    for parser, run in runs:
        _options(parser)
        parser.set_defaults(run=_reporting_errors(run))


def _options(parser: argparse.ArgumentParser) -> None:
    # Imported here, not at the top: printhost.cli imports this module.
    from printhost.cli import _client_options

    _client_options(parser)  # --password is implied: every command authenticates
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    _tls_options(parser)


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _money(amount: str, currency: str) -> str:
    return f"{amount} {currency}" if currency else amount


# --- accounts and balances --------------------------------------------------------------------


def _accounts(args: argparse.Namespace) -> int:
    params = {"user": args.for_user} if args.for_user else None
    accounts = call(args, "GET", "/accounts", auth=_basic(args), params=params).json()
    if args.json:
        _print_json(accounts)
        return 0
    print(account_table(accounts))
    return 0


def account_table(accounts: list[dict[str, Any]]) -> str:
    """Accounts as a table for a terminal."""
    lines = [f"{'ACCOUNT':<20} {'KIND':<9} {'AVAILABLE':>12} {'RESERVED':>10} {'OVERDRAFT':>10}"]
    for account in accounts:
        lines.append(
            f"{account.get('name', '?'):<20} {account.get('kind', '?'):<9} "
            f"{account.get('available', '?'):>12} {account.get('reserved', '?'):>10} "
            f"{account.get('overdraft', '?'):>10}"
        )
    currency = next((a.get("currency") for a in accounts if a.get("currency")), "")
    if currency:
        lines.append(f"(amounts in {currency})")
    if not accounts:
        lines.append("(no accounts)")
    return "\n".join(lines)


def _balance(args: argparse.Namespace) -> int:
    whose = args.whose or args.user
    balance = call(args, "GET", f"/users/{_quote(whose)}/balance", auth=_basic(args)).json()
    if args.json:
        _print_json(balance)
        return 0
    currency = balance.get("currency", "")
    for account in balance.get("accounts", []):
        label = "personal" if account.get("name") == balance.get("user") else "shared"
        print(
            f"{account.get('name')} ({label}): available "
            f"{_money(str(account.get('available')), currency)}, reserved "
            f"{account.get('reserved')}, overdraft {account.get('overdraft')}"
        )
    return 0


def _credit(args: argparse.Namespace) -> int:
    amount = credit_amount(args.amount, args.debit)
    body = {"amount": amount, "reason": args.reason}
    path = f"/accounts/{_quote(args.account)}/transactions"
    result = call(args, "POST", path, auth=_basic(args), json=body).json()
    if args.json:
        _print_json(result)
        return 0
    currency = result.get("currency", "")
    moved = str(result.get("transaction", {}).get("amount", amount))
    verb = "debited" if moved.startswith("-") else "credited"
    released = int(result.get("released_jobs", 0))
    print(
        f"{verb} {_money(moved.lstrip('-'), currency)} "
        f"{'from' if verb == 'debited' else 'to'} {result.get('name')}: available now "
        f"{_money(str(result.get('available')), currency)} "
        f"(reserved {result.get('reserved')}, overdraft {result.get('overdraft')})"
    )
    print(f"{released} held job{'' if released == 1 else 's'} released")
    return 0


def credit_amount(amount: str, debit: bool) -> str:
    """The amount to send: ``--debit 2.00`` is ``-2.00``; the server checks the format."""
    amount = amount.strip()
    if not debit:
        return amount
    if amount.startswith(("-", "+")):
        raise ApiClientError(f"--debit takes an amount without a sign, not {amount!r}")
    return f"-{amount}"


# --- jobs ---------------------------------------------------------------------------------------


def _release(args: argparse.Namespace) -> int:
    body: dict[str, str] = {}
    if args.printer:
        body["printer"] = args.printer
    if args.account:
        body["account"] = args.account
    if args.pin:
        body["pin"] = os.environ.get("PRINTHOST_PIN") or getpass.getpass(
            f"PIN for job {args.job_id}: "
        )
    path = f"/jobs/{args.job_id}/release"
    job = call(args, "POST", path, auth=_basic(args), json=body).json()
    if args.json:
        _print_json(job)
        return 0
    where = f" at {job['release_printer']}" if job.get("release_printer") else ""
    account = f", charged to {args.account}" if args.account else ""
    print(f"job {job.get('id')} released{where}{account}: {job.get('state')}")
    return 0


def _charges(args: argparse.Namespace) -> int:
    params = {"which": args.which}
    if args.for_user:
        params["user"] = args.for_user
    jobs = call(args, "GET", "/jobs", auth=_basic(args), params=params).json()
    if args.json:
        _print_json(jobs)
        return 0
    print(charges_table(jobs))
    return 0


def charges_table(jobs: list[dict[str, Any]]) -> str:
    """Jobs with the judge's decisions as a table for a terminal; a job not yet judged
    shows "-"."""
    lines = [
        f"{'ID':>6}  {'STATE':<13} {'OWNER':<10} {'PAGES':>5} {'COST':>8}  "
        f"{'ACCOUNT':<12} {'VERDICT':<7} RULES / MESSAGE"
    ]
    for job in jobs:
        analysis = job.get("analysis") or {}
        decision = job.get("decision") or {}
        pages = analysis.get("pages", "-") if "error" not in analysis else "error"
        rules = ",".join(decision.get("rules", [])) or "-"
        message = job.get("state_message") or analysis.get("error") or ""
        lines.append(
            f"{job.get('id', ''):>6}  {job.get('state', '?'):<13} {job.get('owner', '?'):<10} "
            f"{pages!s:>5} {decision.get('cost', '-'):>8}  "
            f"{decision.get('account') or '-':<12} {decision.get('verdict', '-'):<7} {rules}"
            + (f"  ({message})" if message else "")
        )
    if not jobs:
        lines.append("(no jobs)")
    return "\n".join(lines)
