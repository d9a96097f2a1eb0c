"""``printhost nodes`` against a live server, plus the pure table helper behind it.

Node records are written straight into the server's SQLite store (as other nodes'
heartbeats would write them), so the test does not depend on the server registering
itself; when it does, its own record is one more row, which the assertions allow."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.server import PrinthostServer, user

from printhost.cli_nodes import node_table
from printhost.store import open_store
from printhost.store.base import NodeRecord, NodeState

PRINTHOST = [sys.executable, "-m", "printhost"]
PASSWORDS = {"alice": "alice-pw", "adam": "adam-pw", "olga": "olga-pw"}
ROLES = {"adam": "admin", "olga": "operator"}
NODES = ("test-a", "test-b", "test-c", "test-d")


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


def cli(server: PrinthostServer, who: str, *args: str, password: str | None = None) -> Any:
    common = ("--server", server.ipp_uri(), "--user", who)
    return run(*args, *common, env={"PRINTHOST_PASSWORD": password or PASSWORDS[who]})


async def _insert(url: str, records: list[NodeRecord]) -> None:
    store = await open_store(url)
    try:
        for record in records:
            await store.put_node(record)
    finally:
        await store.close()


def _record(name: str, heartbeat_at: float, state: NodeState, **load: int) -> NodeRecord:
    return NodeRecord(
        name=name,
        address=f"http://{name}.example:8631",
        roles=("dispatch",) if name != "test-a" else ("intake", "dispatch", "web"),
        version="0.1.0",
        started_at=heartbeat_at - 3600,
        heartbeat_at=heartbeat_at,
        state=state,
        load=load,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    srv = PrinthostServer(
        tmp_path_factory.mktemp("nodes-cli"),
        users=[user(n, p, ROLES.get(n, "user")) for n, p in PASSWORDS.items()],
    )
    srv.start()
    # The server uses the system clock: "now" here is the server's now, give or take.
    now = time.time()
    records = [
        _record("test-a", now + 60, NodeState.UP, deliveries=3, workers=8),  # beats far ahead
        _record("test-b", now - 3600, NodeState.UP, deliveries=1, workers=8),  # silent: dead
        _record("test-c", now + 60, NodeState.DRAINING, deliveries=0, workers=8),
        _record("test-d", now - 7200, NodeState.STOPPED),
    ]
    asyncio.run(_insert(f"sqlite:///{srv.state_dir / 'printhost.sqlite3'}", records))
    yield srv
    srv.stop()


def test_operators_see_the_table(server: PrinthostServer) -> None:
    listed = cli(server, "olga", "nodes")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["NODE", "STATE", "ROLES"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert {name: rows[name][1] for name in NODES} == {
        "test-a": "up",
        "test-b": "dead",
        "test-c": "draining",
        "test-d": "stopped",
    }
    assert rows["test-a"][2] == "intake,dispatch,web"
    assert "deliveries=3" in rows["test-a"] and "workers=8" in rows["test-a"]
    assert "http://test-a.example:8631" in rows["test-a"]
    assert rows["test-b"][5:7] in (["60m", "ago"], ["61m", "ago"])  # an hour since it beat


def test_admins_get_the_json(server: PrinthostServer) -> None:
    listed = cli(server, "adam", "nodes", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {node["name"]: node for node in json.loads(listed.stdout)}
    assert set(NODES) <= set(by_name)
    a = by_name["test-a"]
    assert set(a) == {
        "name",
        "address",
        "roles",
        "version",
        "state",
        "load",
        "started_at",
        "heartbeat_at",
        "seconds_since_heartbeat",
    }
    assert a["state"] == "up" and a["load"] == {"deliveries": 3, "workers": 8}
    assert a["roles"] == ["intake", "dispatch", "web"] and a["seconds_since_heartbeat"] == 0
    assert by_name["test-b"]["state"] == "dead"
    assert by_name["test-b"]["seconds_since_heartbeat"] >= 3600


def test_users_and_wrong_passwords_are_refused(server: PrinthostServer) -> None:
    refused = cli(server, "alice", "nodes")
    assert refused.returncode == 1
    assert "HTTP 403: only operators and admins see the cluster's nodes" in refused.stderr
    wrong = cli(server, "olga", "nodes", password="nope")
    assert wrong.returncode == 1 and "HTTP 401: wrong user name or password" in wrong.stderr


def test_an_unreachable_server_is_one_line_on_stderr(server: PrinthostServer) -> None:
    done = run(
        "nodes", "--server", "ipp://127.0.0.1:1/printers/x", "--user", "olga",
        env={"PRINTHOST_PASSWORD": "x"},
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("printhost: http://127.0.0.1:1/api/v1/nodes: ")


# --- the table, pure -------------------------------------------------------------------------


def test_node_table() -> None:
    table = node_table(
        [
            {
                "name": "n1",
                "state": "up",
                "roles": ["web"],
                "load": {"workers": 8, "deliveries": 2},
                "seconds_since_heartbeat": 1.4,
                "version": "0.1.0",
                "address": "https://n1:8632",
            },
            {"name": "n2", "state": "dead", "roles": [], "load": {}, "address": ""},
        ]
    )
    header, first, second = table.splitlines()
    assert header.split() == ["NODE", "STATE", "ROLES", "LOAD", "HEARTBEAT", "VERSION", "ADDRESS"]
    assert first.split() == [
        "n1", "up", "web", "deliveries=2", "workers=8", "1s", "ago", "0.1.0", "https://n1:8632"
    ]  # fmt: skip
    assert second.split() == ["n2", "dead", "-", "-", "?", "?", "-"]
    assert node_table([]).splitlines()[1] == "(no nodes)"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s ago"), (119.9, "119s ago"), (120, "2m ago"), (7199, "119m ago"), (7200, "2h ago"),
     (172_800, "2d ago")],
)  # fmt: skip
def test_heartbeat_ages(seconds: float, shown: str) -> None:
    row = node_table([{"name": "n", "seconds_since_heartbeat": seconds}]).splitlines()[1]
    assert shown in row
