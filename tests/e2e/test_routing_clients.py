"""Routing end to end with real clients: LPRng's ``lpr`` and ipptool print to
``myprinter``, and each job reaches its owner's preferred printer, set through the REST
API; a legacy system's user name is mapped on its ``from-vm`` queue before routing; an
unmapped name is held with a reason; user default options apply where the job says
nothing. (The desktop path, with a real agent, is tests/e2e/test_agent.py.)
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from peers.lprng import LprngClient, lprng_program
from support.server import PrinthostServer, user

from .delivery_helpers import acknowledged_id, ipptool_submitter

ADMIN = ("root-admin", "admin-secret")
ALICE = ("alice", "alice-secret")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("routing-printers")
    return {name: base / name for name in ("front", "back")}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, outputs: dict[str, Path]
) -> Iterator[PrinthostServer]:
    lprng_program("lpr")  # fail early, with advice, when `make tools` has not run
    srv = PrinthostServer(
        tmp_path_factory.mktemp("routing"),
        name="routing",
        tls=False,
        printers=[{"name": n, "uri": d.as_uri()} for n, d in outputs.items()],
        queues=[{"name": "myprinter", "destination": "front"}],
        users=[user(*ADMIN, "admin"), user(*ALICE)],
        extra_toml=(
            '[[mappings]]\nqueue = "from-vm"\nusers = { JSMITH7 = "jsmith" }\nunknown = "hold"\n'
        ),
    )
    srv.start()
    _put_preferences(srv, "alice", {"destination": "back"}, ALICE)
    _put_preferences(
        srv, "jsmith", {"destination": "back", "defaults": {"sides": "two-sided-long-edge"}}, ADMIN
    )
    yield srv
    srv.stop()


def _put_preferences(
    server: PrinthostServer, name: str, body: dict[str, Any], auth: tuple[str, str]
) -> None:
    url = f"{server.http_url}/api/v1/users/{name}/preferences"
    response = httpx.put(url, json=body, auth=auth, timeout=10)
    assert response.status_code == 200, response.text


def _printed(directory: Path, title: str, timeout: float = 30.0) -> dict[str, Any]:
    """The sidecar of the job named ``title`` once the file printer wrote it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sidecar in directory.glob("job-*.json") if directory.is_dir() else ():
            data: dict[str, Any] = json.loads(sidecar.read_text())
            if data["job-name"] == title:
                return data
        time.sleep(0.05)
    raise AssertionError(f"{title!r} never printed in {directory}")


@pytest.fixture
def lpr(server: PrinthostServer, tmp_path: Path) -> LprngClient:
    return LprngClient(server.lpd_port, tmp_path / "lprng-home")


def test_lpr_to_myprinter_reaches_each_users_preferred_printer(
    server: PrinthostServer, lpr: LprngClient, outputs: dict[str, Path], tmp_path: Path
) -> None:
    document = tmp_path / "memo.txt"
    document.write_text("memo\n")
    for who, title in (("alice", "lpr-alice"), ("bob", "lpr-bob")):
        done = lpr.lpr("myprinter", document, user=who, title=title)
        assert done.returncode == 0, done.stderr
    assert _printed(outputs["back"], "lpr-alice")["job-originating-user-name"] == "alice"
    assert _printed(outputs["front"], "lpr-bob")["job-originating-user-name"] == "bob"


def test_ipp_to_myprinter_reaches_the_preferred_printer(
    server: PrinthostServer, outputs: dict[str, Path], tmp_path: Path
) -> None:
    document = tmp_path / "memo.txt"
    document.write_text("ipp memo\n")
    printing = ipptool_submitter(server, tmp_path / "ipptool", requester="alice")(
        "ipp-alice", document
    )
    assert acknowledged_id(printing) is not None
    assert _printed(outputs["back"], "ipp-alice")["job-originating-user-name"] == "alice"


MY_JOBS = """{
\tNAME "Get-Jobs"
\tOPERATION Get-Jobs
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name $requester
\tATTR boolean my-jobs true
\tATTR keyword requested-attributes job-name,job-state,job-state-message
\tSTATUS successful-ok
\tDISPLAY job-name
\tDISPLAY job-state
\tDISPLAY job-state-message
}
"""


def _my_jobs(server: PrinthostServer, tmp_path: Path, requester: str, queue: str) -> str:
    """Get-Jobs my-jobs as ``requester``: what ipptool displays of each job."""
    test = tmp_path / "my-jobs.test"
    test.write_text(MY_JOBS)
    done = subprocess.run(
        ["ipptool", "-t", "-T", "30", "-d", f"requester={requester}", server.ipp_uri(queue),
         str(test)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout


def test_legacy_user_is_mapped_then_routed_with_their_defaults(
    server: PrinthostServer, lpr: LprngClient, outputs: dict[str, Path], tmp_path: Path
) -> None:
    document = tmp_path / "report.txt"
    document.write_text("report\n")
    done = lpr.lpr("from-vm", document, user="JSMITH7", title="vm-report")
    assert done.returncode == 0, done.stderr
    sidecar = _printed(outputs["back"], "vm-report")
    assert sidecar["job-originating-user-name"] == "jsmith"
    assert sidecar["attributes"]["sides"] == "two-sided-long-edge"


def test_unmapped_legacy_user_is_held_with_the_reason(
    server: PrinthostServer, lpr: LprngClient, tmp_path: Path
) -> None:
    document = tmp_path / "who.txt"
    document.write_text("who am i\n")
    done = lpr.lpr("from-vm", document, user="NOBODY9", title="vm-unknown")
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while True:
        out = _my_jobs(server, tmp_path, "NOBODY9", "from-vm")
        if "job-state (enum) = pending-held" in out or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "job-name (nameWithoutLanguage) = vm-unknown" in out, out
    assert "job-state (enum) = pending-held" in out, out
    message = next(line for line in out.splitlines() if "job-state-message" in line)
    assert "NOBODY9" in message and "from-vm" in message, message
