"""The CUPS client helper's environment and password prompt handling, without a server."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from support.cups_clients import CupsClient, parse_job_id

# Behaves like libcups' password callback: prompt and read on /dev/tty only.
FAKE_CLIENT = textwrap.dedent(
    """
    import os, sys
    print("CUPS_SERVER=" + os.environ["CUPS_SERVER"], "CUPS_USER=" + os.environ["CUPS_USER"])
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        print("no terminal", file=sys.stderr)
        sys.exit(1)
    for attempt in range(int(sys.argv[1])):
        os.write(tty, b"Password for oper on 127.0.0.1? ")
        line = b""
        while not line.endswith(b"\\n"):
            line += os.read(tty, 1)
        print("got", repr(line.decode().strip()), flush=True)
    """
)


@pytest.fixture
def fake_client(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_client.py"
    script.write_text(FAKE_CLIENT, encoding="utf-8")
    return [sys.executable, str(script)]


def test_clients_get_only_this_server_and_user(tmp_path: Path) -> None:
    client = CupsClient("127.0.0.1:9", tmp_path, user="alice")

    env = client.env()

    assert env["CUPS_SERVER"] == "127.0.0.1:9"
    assert env["CUPS_USER"] == "alice"
    assert client.env(user="bob")["CUPS_USER"] == "bob"
    assert Path(env["HOME"]).is_dir()
    assert Path(env["CUPS_SERVERROOT"]).is_dir()
    assert not Path(env["CUPS_SERVERROOT"]).resolve().is_relative_to("/etc")


def test_without_password_a_client_cannot_prompt(fake_client: list[str], tmp_path: Path) -> None:
    client = CupsClient("127.0.0.1:9", tmp_path)

    result = client.run(*fake_client, "1")

    assert result.returncode == 1
    assert "no terminal" in result.stderr


def test_password_is_typed_at_each_prompt(fake_client: list[str], tmp_path: Path) -> None:
    client = CupsClient("127.0.0.1:9", tmp_path, user="alice")

    result = client.run(*fake_client, "2", password="op-secret")

    assert result.returncode == 0, result.stdout
    assert "CUPS_SERVER=127.0.0.1:9 CUPS_USER=alice" in result.stdout
    assert result.stdout.count("got 'op-secret'") == 2


def test_wrong_password_loops_end(fake_client: list[str], tmp_path: Path) -> None:
    client = CupsClient("127.0.0.1:9", tmp_path)

    result = client.run(*fake_client, "5", password="wrong", timeout=10)

    assert result.stdout.count("got 'wrong'") == 3
    assert result.stdout.count("got ''") == 2


def test_parse_job_id() -> None:
    assert parse_job_id("request id is myprinter-12 (1 file(s))\n") == 12
    with pytest.raises(AssertionError):
        parse_job_id("lp: The printer or class does not exist.")
