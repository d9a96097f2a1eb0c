"""``printhost prefs`` and ``printhost presence`` against a live server (plain HTTP and
HTTPS with its self-signed certificate), plus the pure helpers behind them."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from support.server import PrinthostServer, user

from printhost.cli_routing import ApiClientError, api_base, preferences_update

PRINTHOST = [sys.executable, "-m", "printhost"]
TOKEN = "cli-agent-token"
PASSWORDS = {"alice": "alice-pw", "adam": "adam-pw", "olga": "olga-pw"}


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


def as_user(name: str, password: str | None = None) -> dict[str, str]:
    return {"PRINTHOST_PASSWORD": password or PASSWORDS[name]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    srv = PrinthostServer(
        tmp_path_factory.mktemp("routing-cli"),
        users=[
            user(n, p, {"adam": "admin", "olga": "operator"}.get(n, "user"))
            for n, p in PASSWORDS.items()
        ],
        settings={"routing": {"agent_tokens": [TOKEN]}},
    )
    srv.start()
    yield srv
    srv.stop()


def _presence(server: PrinthostServer, name: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{server.http_url}/api/v1/presence",
        params={"user": name},
        auth=("olga", PASSWORDS["olga"]),
        timeout=10,
    )
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()
    return result


def test_prefs_set_then_show(server: PrinthostServer) -> None:
    common = ("--server", server.ipp_uri(), "--user", "alice")
    changed = run(
        "prefs",
        "set",
        "--destination",
        "desktop",
        "--sides",
        "two-sided-long-edge",
        "--orientation",
        "landscape",
        "--banner",
        "off",
        *common,
        env=as_user("alice"),
    )
    assert changed.returncode == 0, changed.stderr
    assert "destination:  desktop" in changed.stdout
    partial = run(
        "prefs", "set", "--max-copies", "5", "--sides", "none", *common, env=as_user("alice")
    )
    assert partial.returncode == 0, partial.stderr
    shown = run("prefs", "show", "--json", *common, env=as_user("alice"))
    assert shown.returncode == 0, shown.stderr
    prefs = json.loads(shown.stdout)
    assert prefs["destination"] == "desktop" and prefs["banner"] is False
    assert prefs["defaults"] == {
        "sides": "",
        "print_color_mode": "",
        "orientation_requested": 4,
        "max_copies": 5,
    }
    text = run("prefs", "show", *common, env=as_user("alice")).stdout
    assert "orientation:  landscape" in text and "max copies:   5" in text
    assert "banner:       off" in text


def test_prefs_errors_are_clear(server: PrinthostServer) -> None:
    common = ("--server", server.ipp_uri(), "--user", "alice")
    bad = run("prefs", "set", "--destination", "nowhere", *common, env=as_user("alice"))
    assert bad.returncode == 1
    assert "HTTP 400: destination: no printer or pool named 'nowhere'" in bad.stderr
    nothing = run("prefs", "set", *common, env=as_user("alice"))
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    wrong = run("prefs", "show", *common, env=as_user("alice", "guess"))
    assert wrong.returncode == 1 and "HTTP 401: wrong user name or password" in wrong.stderr
    other = run("prefs", "show", "--for", "adam", *common, env=as_user("alice"))
    assert other.returncode == 1 and "HTTP 403" in other.stderr
    unreachable = run(
        "prefs",
        "show",
        "--server",
        "ipp://127.0.0.1:1/printers/x",
        "--user",
        "alice",
        env=as_user("alice"),
    )
    assert unreachable.returncode == 1 and "ConnectError" in unreachable.stderr


def test_admin_sets_another_users_preferences(server: PrinthostServer) -> None:
    done = run(
        "prefs",
        "set",
        "--for",
        "alice",
        "--location",
        "floor 2",
        "--server",
        server.ipp_uri(),
        "--user",
        "adam",
        env=as_user("adam"),
    )
    assert done.returncode == 0, done.stderr
    assert "user:         alice" in done.stdout and "location:     floor 2" in done.stdout


def test_presence_login_and_logout(server: PrinthostServer) -> None:
    common = ("--server", server.ipp_uri(), "--user", "carol", "--host", "WS7")
    login = run(
        "presence",
        "login",
        "--ttl",
        "600",
        "--agent-uri",
        "ipp://ws7:8641/printers/local",
        *common,
        env={"PRINTHOST_TOKEN": TOKEN},
    )
    assert login.returncode == 0, login.stderr
    [record] = _presence(server, "carol")
    assert (record["host"], record["agent_uri"]) == ("ws7", "ipp://ws7:8641/printers/local")
    logout = run("presence", "logout", *common, "--token", TOKEN)
    assert logout.returncode == 0, logout.stderr
    assert _presence(server, "carol") == []


def test_presence_needs_a_valid_token(server: PrinthostServer) -> None:
    common = ("--server", server.ipp_uri(), "--user", "carol", "--host", "ws7")
    missing = run("presence", "login", *common)
    assert missing.returncode == 1 and "a token is needed" in missing.stderr
    wrong = run("presence", "login", *common, "--token", "guess")
    assert wrong.returncode == 1 and "HTTP 401: invalid bearer token" in wrong.stderr
    assert _presence(server, "carol") == []


def test_https_verifies_the_certificate(server: PrinthostServer) -> None:
    certificate = server.state_dir / "tls" / "printhost.crt"
    common = ("--server", server.ipps_uri(), "--user", "alice")
    refused = run("prefs", "show", *common, env=as_user("alice"))
    assert refused.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    trusted = run("prefs", "show", "--cafile", str(certificate), *common, env=as_user("alice"))
    assert trusted.returncode == 0, trusted.stderr
    insecure = run("prefs", "show", "--insecure", *common, env=as_user("alice"))
    assert insecure.returncode == 0, insecure.stderr


@pytest.mark.parametrize(
    ("server", "base"),
    [
        ("ipp://print.example/printers/myprinter", "http://print.example:631/api/v1"),
        ("ipps://print.example:8632/printers/x", "https://print.example:8632/api/v1"),
        ("IPP://[::1]:8631/", "http://[::1]:8631/api/v1"),
        ("https://print.example:443/whatever", "https://print.example:443/api/v1"),
    ],
)
def test_api_base_from_the_server_uri(server: str, base: str) -> None:
    assert api_base(server) == base


@pytest.mark.parametrize("server", ["lpd://host/queue", "ipp:///printers/x", "printhost"])
def test_api_base_refuses_other_uris(server: str) -> None:
    with pytest.raises(ApiClientError, match="is not an ipp://"):
        api_base(server)


def test_preferences_update_sends_only_what_was_given() -> None:
    names = (
        "destination",
        "sides",
        "color_mode",
        "orientation",
        "max_copies",
        "banner",
        "location",
    )
    nothing = argparse.Namespace(**dict.fromkeys(names))
    assert preferences_update(nothing) == {}
    some = argparse.Namespace(
        **{
            **vars(nothing),
            "destination": "",
            "color_mode": "none",
            "orientation": "none",
            "banner": "default",
        }
    )
    assert preferences_update(some) == {
        "destination": "",
        "banner": None,
        "defaults": {"print_color_mode": "", "orientation_requested": 0},
    }
