"""Cost recovery end to end with real peers: CUPS's ``lp`` submits, ``ippeveprinter`` is
the printer, ipptool reads what the user sees (job-state-reasons and job-state-message),
and ``printhost credit`` (the CLI, as an admin) tops the account up.

- A user with too little balance: the job is held with account-limit-reached and the
  reason ("held: balance 0.10 < cost 0.15"); nothing prints; a credit releases it; it prints
  once and the balance shows the charge.
- A colour job under a grayscale rule reaches the printer with print-color-mode
  monochrome, charged at the mono rate; under a deny rule it is refused with the reason.
- kill -9 twice while jobs are charged and printed: each prints once, is charged once,
  nothing stays reserved and the ledger sums to zero.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from peers.ippeveprinter import IppEvePrinter
from support.cups_clients import CupsClient
from support.server import PrinthostServer, user

from printhost.accounting.ledger import ReservationState
from printhost.accounting.money import ZERO, Money
from printhost.store import open_store

from .delivery_helpers import FAST_DELIVERY, FAST_PROBE, ipp_printer, printed_names, wait_for_state

ADMIN = ("adam", "adam-pw")
ALICE = ("alice", "alice-pw")
RULES = """
[[costs]]
mono = "0.05"
color = "0.50"

[[rules]]
name = "no-colour-for-bob"
users = ["bob"]
action = "deny"
reason = "colour is not allowed for you"
color = true

[[rules]]
name = "mono-only"
action = "grayscale"
color = true
"""


def _server(
    make: Callable[..., PrinthostServer], eve: IppEvePrinter, initial: str = "0.10"
) -> PrinthostServer:
    return make(
        printers=[ipp_printer(eve)],
        queues=[{"name": "myprinter", "printer": "eve"}],
        users=[user(*ADMIN, "admin"), user(*ALICE)],
        settings={
            "delivery": dict(FAST_DELIVERY),
            "routing": dict(FAST_PROBE),
            "accounting": {"enabled": True, "initial_balance": initial},
        },
        extra_toml=RULES,
        tls=False,
    )


def _balance(server: PrinthostServer, name: str) -> str:
    response = httpx.get(
        f"{server.http_url}/api/v1/users/{name}/balance", auth=ALICE if name == "alice" else ADMIN
    )
    response.raise_for_status()
    accounts: list[dict[str, Any]] = response.json()["accounts"]
    return str(next(a["available"] for a in accounts if a["name"] == name))


def _colour_pdf(path: Path) -> Path:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].Contents = pdf.make_stream(b"1 0 0 rg 50 50 200 200 re f")
    pdf.save(path)
    return path


def test_too_little_balance_holds_until_a_credit(
    make_printhost_server: Callable[..., PrinthostServer],
    make_eve: Callable[..., IppEvePrinter],
    tmp_path: Path,
) -> None:
    eve = make_eve()
    server = _server(make_printhost_server, eve)
    client = CupsClient(server.address, tmp_path / "cups")
    document = tmp_path / "three-pages.txt"
    document.write_text("line\n" * 66 * 3)
    job_id = client.print_file("myprinter", document, "-t", "three-pages", user="alice")
    held = wait_for_state(server, job_id, tmp_path / "q", {"pending-held"})[-1]
    assert "account-limit-reached" in held["job-state-reasons"], held
    assert held["job-state-message"] == "held: balance 0.10 < cost 0.15", held
    assert not printed_names(eve), "nothing prints before the credit"

    credit = subprocess.run(
        [sys.executable, "-m", "printhost", "credit", "alice", "1.00", "--reason", "top up",
         "--server", server.ipp_uri(), "--user", ADMIN[0]],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        env={**os.environ, "PRINTHOST_PASSWORD": ADMIN[1]},
    )  # fmt: skip
    assert credit.returncode == 0, credit.stdout + credit.stderr
    assert "1 held job" in credit.stdout, credit.stdout
    done = wait_for_state(server, job_id, tmp_path / "q", {"completed", "aborted"})[-1]
    assert done["job-state"] == "completed", done
    assert "cost 0.15 to alice" in done["job-state-message"], done
    assert printed_names(eve) == {"three-pages": 1}
    assert _balance(server, "alice") == "0.95"


def test_colour_is_printed_grey_or_refused_as_the_rules_say(
    make_printhost_server: Callable[..., PrinthostServer],
    make_eve: Callable[..., IppEvePrinter],
    tmp_path: Path,
) -> None:
    eve = make_eve()
    server = _server(make_printhost_server, eve)
    client = CupsClient(server.address, tmp_path / "cups")
    pdf = _colour_pdf(tmp_path / "colour.pdf")
    colour = ("-o", "print-color-mode=color")
    job_id = client.print_file("myprinter", pdf, "-t", "chart", *colour, user="alice")
    done = wait_for_state(server, job_id, tmp_path / "q", {"completed", "aborted"})[-1]
    assert done["job-state"] == "completed", done
    assert "printed in grayscale by rule 'mono-only'" in done["job-state-message"], done
    assert "cost 0.05 to alice" in done["job-state-message"], done
    [received] = eve.received_files()
    assert eve.job_environment(received).get("IPP_PRINT_COLOR_MODE") == "monochrome"

    refused_id = client.print_file("myprinter", pdf, "-t", "bob-chart", *colour, user="bob")
    refused = wait_for_state(server, refused_id, tmp_path / "q", {"completed", "aborted"})[-1]
    assert refused["job-state"] == "aborted", refused
    assert refused["job-state-message"] == (
        "denied by rule 'no-colour-for-bob': colour is not allowed for you (1 colour page)"
    )
    assert "bob-chart" not in printed_names(eve)
    charges = httpx.get(f"{server.http_url}/api/v1/jobs?which=all", auth=ADMIN).json()
    decisions = {j["name"]: j["decision"] for j in charges}
    assert decisions["chart"]["grayscale"] is True
    assert decisions["chart"]["rules"] == ["mono-only"]
    assert json.dumps(decisions["bob-chart"]) == "null"  # denied: nothing to print or charge


def test_kill_9_while_charging_leaves_every_job_charged_once(
    make_printhost_server: Callable[..., PrinthostServer],
    make_eve: Callable[..., IppEvePrinter],
    tmp_path: Path,
) -> None:
    """Money under kill -9 (DESIGN invariant 3): jobs are judged, reserved, printed and
    committed while printhost is killed twice mid-flow and restarted on the same state.
    At the end every job printed once and was charged once, nothing stays reserved, and the
    ledger sums to zero."""
    eve = make_eve(delay=0.2)
    server = _server(make_printhost_server, eve, initial="1.00")
    client = CupsClient(server.address, tmp_path / "cups")
    count = 12
    ids = []
    for n in range(count):
        document = tmp_path / f"page-{n}.txt"
        document.write_text(f"page {n}\n")
        ids.append(client.print_file("myprinter", document, "-t", f"page-{n}", user="alice"))
    for printed_before_kill in (2, 6):
        deadline = time.monotonic() + 60
        while len(printed_names(eve)) < printed_before_kill:
            assert time.monotonic() < deadline, printed_names(eve)
            time.sleep(0.02)
        server.kill()
        server.start()
    for job_id in ids:
        done = wait_for_state(server, job_id, tmp_path / "q", {"completed", "aborted"}, 60)
        assert done[-1]["job-state"] == "completed", done
    assert printed_names(eve) == {f"page-{n}": 1 for n in range(count)}
    balance = httpx.get(f"{server.http_url}/api/v1/users/alice/balance", auth=ALICE).json()
    [alice] = [a for a in balance["accounts"] if a["name"] == "alice"]
    assert (alice["available"], alice["reserved"]) == ("0.40", "0.00"), alice  # 1.00 - 12 x 0.05
    server.stop()
    assert asyncio.run(_ledger_sum(server)) == ZERO


async def _ledger_sum(server: PrinthostServer) -> Money:
    store = await open_store(f"sqlite:///{server.state_dir / 'printhost.sqlite3'}")
    try:
        assert await store.list_reservations(ReservationState.RESERVED) == []
        return await store.ledger_sum()
    finally:
        await store.close()
