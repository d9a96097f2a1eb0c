"""``printhost accounts``, ``balance``, ``credit``, ``release`` and ``charges`` against a
live server with ``[accounting] enabled = true`` (a job its owner cannot pay is held, a
credit releases it), plus the pure helpers behind them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import PrinthostServer, user

from printhost.cli_accounts import charges_table, credit_amount
from printhost.cli_routing import ApiClientError

PRINTHOST = [sys.executable, "-m", "printhost"]
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "adam": "adam-pw", "olga": "olga-pw"}
ROLES = {"adam": "admin", "olga": "operator"}
MONEY_REASON = "account-limit-reached"
EXTRA_TOML = """
[[groups]]
name = "staff"
members = ["bob"]

[[costs]]
mono = "0.10"

[[accounts]]
name = "physics"
members = ["alice"]
groups = ["staff"]
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PRINTHOST_")}
    return subprocess.run(
        [*PRINTHOST, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    srv = PrinthostServer(
        tmp_path_factory.mktemp("accounts-cli"),
        users=[user(n, p, ROLES.get(n, "user")) for n, p in PASSWORDS.items()],
        settings={
            "accounting": {
                "enabled": True,
                "initial_balance": "0.00",
                "insufficient": "hold",
                "currency": "EUR",
            }
        },
        extra_toml=EXTRA_TOML,
    )
    srv.start()
    yield srv
    srv.stop()


def cli(
    server: PrinthostServer, who: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``printhost ARGS`` as ``who`` (password from $PRINTHOST_PASSWORD)."""
    common = ("--server", server.ipp_uri(), "--user", who)
    return run(*args, *common, env={"PRINTHOST_PASSWORD": PASSWORDS[who], **env})


def submit(server: PrinthostServer, tmp_path: Path, owner: str, *options: str) -> int:
    document = tmp_path / f"{owner}-{time.monotonic_ns()}.txt"
    document.write_text("one page of plain text\n")
    done = cli(server, owner, "submit", str(document), "--password", *options)
    assert done.returncode == 0, done.stderr
    found = re.search(r"job (\d+) submitted", done.stdout)
    assert found, done.stdout
    return int(found.group(1))


def job(server: PrinthostServer, job_id: int) -> dict[str, Any]:
    response = httpx.get(
        f"{server.http_url}/api/v1/jobs/{job_id}", auth=("olga", PASSWORDS["olga"]), timeout=10
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def wait_for(server: PrinthostServer, job_id: int, state: str, reason: str = "") -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = job(server, job_id)
        if found["state"] == state and (not reason or reason in found["state_reasons"]):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never became {state} {reason}: {found}")
        time.sleep(0.1)


def test_unpaid_job_is_held_shown_and_released_by_a_credit(
    server: PrinthostServer, tmp_path: Path
) -> None:
    job_id = submit(server, tmp_path, "alice")
    held = wait_for(server, job_id, "pending-held", MONEY_REASON)
    assert held["decision"]["cost"] == "0.10" and held["decision"]["account"] == "alice"

    listed = cli(server, "alice", "charges")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if line.split()[0] == str(job_id)]
    assert row.split()[:7] == [str(job_id), "pending-held", "alice", "1", "0.10", "alice", "allow"]
    assert "(held: " in row
    as_json = json.loads(cli(server, "alice", "charges", "--json").stdout)
    assert [j["id"] for j in as_json] == [job_id]
    others = cli(server, "bob", "charges", "--for", "alice")
    assert others.returncode == 1 and "HTTP 403: you may list your own jobs only" in others.stderr

    balance = cli(server, "alice", "balance")
    assert balance.returncode == 0, balance.stderr
    assert "alice (personal): available 0.00 EUR, reserved 0.00, overdraft 0.00" in balance.stdout
    assert "physics (shared): available 0.00 EUR" in balance.stdout

    refused = cli(server, "alice", "credit", "alice", "5.00", "--reason", "please")
    assert refused.returncode == 1
    assert "HTTP 403: only admins credit or debit accounts" in refused.stderr
    assert wait_for(server, job_id, "pending-held")

    credited = cli(server, "adam", "credit", "alice", "5.00", "--reason", "cash at the desk")
    assert credited.returncode == 0, credited.stderr
    assert credited.stdout.splitlines() == [
        "credited 5.00 EUR to alice: available now 5.00 EUR (reserved 0.00, overdraft 0.00)",
        "1 held job released",
    ]
    done = wait_for(server, job_id, "completed")
    assert done["decision"]["cost"] == "0.10"
    after = json.loads(cli(server, "alice", "balance", "--json").stdout)
    assert after["accounts"][0]["available"] == "4.90"
    others_balance = cli(server, "olga", "balance", "alice", "--json")
    assert json.loads(others_balance.stdout) == after
    completed = cli(server, "olga", "charges", "--which", "completed", "--for", "alice")
    assert f"{job_id}  completed" in completed.stdout


def test_debits_and_bad_amounts(server: PrinthostServer) -> None:
    debited = cli(server, "adam", "credit", "physics", "--debit", "1.50", "--reason", "fee")
    assert debited.returncode == 0, debited.stderr
    assert debited.stdout.splitlines()[0].startswith("debited 1.50 EUR from physics: available")
    assert debited.stdout.splitlines()[1] == "0 held jobs released"
    negative = cli(server, "adam", "credit", "physics", "-0.50", "--reason", "fee", "--json")
    assert negative.returncode == 0, negative.stderr
    result = json.loads(negative.stdout)
    assert (result["transaction"]["kind"], result["transaction"]["amount"]) == ("debit", "-0.50")
    assert result["transaction"]["reason"] == "fee (by adam)"
    bad = cli(server, "adam", "credit", "physics", "1.005", "--reason", "x")
    assert bad.returncode == 1 and "HTTP 400: amount: not an amount of money" in bad.stderr
    signed = cli(server, "adam", "credit", "physics", "--debit", "-1", "--reason", "x")
    assert signed.returncode == 1 and "--debit takes an amount without a sign" in signed.stderr
    wrong = cli(server, "adam", "credit", "physics", "1", "--reason", "x", PRINTHOST_PASSWORD="no")
    assert wrong.returncode == 1 and "HTTP 401: wrong user name or password" in wrong.stderr


def test_accounts_listing(server: PrinthostServer) -> None:
    cli(server, "bob", "balance")  # opens bob's personal account
    mine = cli(server, "bob", "accounts")
    assert mine.returncode == 0, mine.stderr
    names = [line.split()[0] for line in mine.stdout.splitlines()[1:] if line[0] != "("]
    assert names == ["bob", "physics"]
    assert "(amounts in EUR)" in mine.stdout
    everything = json.loads(cli(server, "olga", "accounts", "--json").stdout)
    assert {"bob", "physics"} <= {a["name"] for a in everything}
    for_bob = json.loads(cli(server, "adam", "accounts", "--for", "bob", "--json").stdout)
    assert [a["name"] for a in for_bob] == ["bob", "physics"]
    refused = cli(server, "alice", "accounts", "--for", "bob")
    assert refused.returncode == 1 and "HTTP 403" in refused.stderr


def test_release_of_a_held_job(server: PrinthostServer, tmp_path: Path) -> None:
    funded = cli(server, "adam", "credit", "physics", "10", "--reason", "budget")
    assert funded.returncode == 0, funded.stderr
    job_id = submit(server, tmp_path, "bob", "--hold")
    wait_for(server, job_id, "pending-held")
    not_yours = cli(server, "alice", "release", str(job_id))
    assert not_yours.returncode == 1 and f"HTTP 403: job {job_id} is not yours" in not_yours.stderr
    wrong_account = cli(server, "bob", "release", str(job_id), "--account", "nothing")
    assert wrong_account.returncode == 1
    assert "HTTP 403: account: bob may not charge 'nothing'" in wrong_account.stderr
    wrong_printer = cli(server, "bob", "release", str(job_id), "--printer", "elsewhere")
    assert wrong_printer.returncode == 1
    assert "printer: 'elsewhere' is not a printer of virtual (virtual)" in wrong_printer.stderr
    # --pin reads $PRINTHOST_PIN (stdin is /dev/null: a prompt would fail); this job has none
    released = cli(
        server, "bob", "release", str(job_id), "--account", "physics", "--pin", PRINTHOST_PIN="12"
    )
    assert released.returncode == 0, released.stderr
    assert released.stdout.strip() == f"job {job_id} released, charged to physics: pending"
    done = wait_for(server, job_id, "completed")
    assert done["decision"]["account"] == "physics"
    again = cli(server, "bob", "release", str(job_id))
    assert again.returncode == 1
    assert f"HTTP 409: job {job_id} is completed, not held" in again.stderr


# --- pure helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "debit", "sent"),
    [("5.00", False, "5.00"), ("-2", False, "-2"), (" 2.5 ", True, "-2.5"), ("3", True, "-3")],
)
def test_credit_amount(amount: str, debit: bool, sent: str) -> None:
    assert credit_amount(amount, debit) == sent


def test_credit_amount_refuses_a_signed_debit() -> None:
    with pytest.raises(ApiClientError, match="without a sign"):
        credit_amount("+1", True)


def test_charges_table_shows_unjudged_and_unanalysable_jobs() -> None:
    table = charges_table(
        [
            {"id": 1, "state": "pending", "owner": "al", "analysis": None, "decision": None},
            {
                "id": 2,
                "state": "aborted",
                "owner": "al",
                "state_message": "",
                "analysis": {"error": "truncated PDF"},
                "decision": None,
            },
        ]
    )
    lines = table.splitlines()
    assert lines[1].split() == ["1", "pending", "al", "-", "-", "-", "-", "-"]
    assert lines[2].split()[:4] == ["2", "aborted", "al", "error"]
    assert lines[2].endswith("(truncated PDF)")
    assert charges_table([]).endswith("(no jobs)")
