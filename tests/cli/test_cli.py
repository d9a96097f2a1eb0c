"""The ``printhost`` command against a live server: submit, jobs, cancel, printers,
user add, and precise errors (exit codes, messages on stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.server import PrinthostServer, user

PRINTHOST = [sys.executable, "-m", "printhost"]


def run(
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRINTHOST, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    base = tmp_path_factory.mktemp("cli")
    srv = PrinthostServer(
        base,
        users=[user("olga", "op-secret", "operator")],
        settings={"routing": {"probe_interval_seconds": 0.2}},
    )
    srv.start()
    yield srv
    srv.stop()


def test_submit_prints_and_jobs_lists_it(server: PrinthostServer, tmp_path: Path) -> None:
    document = tmp_path / "hello.txt"
    document.write_text("hello from the printhost CLI\n")
    submitted = run("submit", str(document), "--server", server.ipp_uri(), "--user", "carol")
    assert submitted.returncode == 0, submitted.stderr
    job_id = int(submitted.stdout.split()[1])
    metadata, files = server.wait_for_job_output(job_id)
    assert [f.read_bytes() for f in files] == [document.read_bytes()]
    assert metadata["job-originating-user-name"] == "carol"
    listing = run("jobs", "--which", "all", "--server", server.ipp_uri(), "--user", "carol")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.split()[0] == str(job_id))
    assert "carol" in row and "hello.txt" in row


def test_held_job_is_canceled_by_its_owner(server: PrinthostServer, tmp_path: Path) -> None:
    document = tmp_path / "held.txt"
    document.write_text("wait for me\n")
    submitted = run(
        "submit", str(document), "--hold", "--server", server.ipp_uri(), "--user", "dave"
    )
    job_id = submitted.stdout.split()[1]
    listing = run("jobs", "--mine", "--server", server.ipp_uri(), "--user", "dave")
    assert "pending-held" in listing.stdout
    canceled = run("cancel", job_id, "--server", server.ipp_uri(), "--user", "dave")
    assert canceled.returncode == 0, canceled.stderr
    again = run("cancel", job_id, "--server", server.ipp_uri(), "--user", "dave")
    assert again.returncode == 1
    assert "client-error-not-possible" in again.stderr and "already canceled" in again.stderr


def test_printers_lists_queue_state(server: PrinthostServer) -> None:
    listed = run("printers", "--server", server.ipp_uri())
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("myprinter: idle, accepting")


def test_authenticated_client_over_ipps(server: PrinthostServer, tmp_path: Path) -> None:
    document = tmp_path / "secure.txt"
    document.write_text("over TLS\n")
    submitted = run(
        "submit",
        str(document),
        "--server",
        server.ipps_uri(),
        "--user",
        "olga",
        "--password",
        env={"PRINTHOST_PASSWORD": "op-secret"},
    )
    assert submitted.returncode == 0, submitted.stderr
    wrong = run(
        "jobs",
        "--server",
        server.ipps_uri(),
        "--user",
        "olga",
        "--password",
        env={"PRINTHOST_PASSWORD": "wrong"},
    )
    assert wrong.returncode == 1 and "401" in wrong.stderr


def test_errors_are_precise(server: PrinthostServer, tmp_path: Path) -> None:
    missing = run("submit", str(tmp_path / "nope.pdf"), "--server", server.ipp_uri())
    assert missing.returncode == 1 and "No such file" in missing.stderr
    unknown = run("jobs", "--server", server.ipp_uri().replace("myprinter", "nosuchqueue"))
    assert unknown.returncode == 1 and "client-error-not-found" in unknown.stderr
    refused = run("jobs", "--server", "ipp://127.0.0.1:9/printers/x")
    assert refused.returncode == 1 and refused.stderr.startswith("printhost:")


def test_user_add_then_authenticate(
    tmp_path: Path, make_printhost_server: Callable[..., PrinthostServer]
) -> None:
    srv = make_printhost_server()
    added = run(
        "user",
        "add",
        "erin",
        "--role",
        "operator",
        "--password-stdin",
        "--config",
        str(srv.config_path),
        stdin="erins-password\n",
    )
    assert added.returncode == 0, added.stderr
    assert "erin (operator)" in added.stdout
    listing = run(
        "jobs",
        "--server",
        srv.ipps_uri(),
        "--user",
        "erin",
        "--password",
        env={"PRINTHOST_PASSWORD": "erins-password"},
    )
    assert listing.returncode == 0, listing.stderr


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nlisten = ['nowhere']\n")
    result = run("serve", "--config", str(config))
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "not HOST:PORT" in result.stderr
