"""The PrinthostServer helper, driven against a stand-in server.

The stand-in reads the same TOML configuration, answers ``GET /healthz`` on
every ``listen`` address and accepts TCP on every ``tls_listen`` address, and
exits 0 on SIGTERM, so the helper's start-up, shutdown, crash and restart
paths are tested without depending on the real server being complete.
"""

from __future__ import annotations

import json
import signal
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest

from support.server import DEFAULT_QUEUE, PrinthostServer, ServerStartError, user

STAND_IN = textwrap.dedent(
    """
    import http.server, signal, socket, sys, threading, tomllib

    # Blocked before any thread starts, so that only sigwait() below sees it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    config = tomllib.load(open(sys.argv[sys.argv.index("--config") + 1], "rb"))
    if config.get("test", {}).get("exit_status") is not None:
        print("stand-in refusing to start", flush=True)
        sys.exit(config["test"]["exit_status"])

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

    def split(address):
        host, port = address.rsplit(":", 1)
        return host, int(port)

    servers = [http.server.ThreadingHTTPServer(split(a), Health)
               for a in config["server"]["listen"]]
    listeners = [socket.create_server(split(a)) for a in config["server"]["tls_listen"]]
    # Said before anything answers: the harness reads the log once /healthz answers.
    print("stand-in ready", flush=True)
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for listener in listeners:
        threading.Thread(target=lambda l=listener: [l.accept() for _ in iter(int, 1)],
                         daemon=True).start()
    signal.sigwait({signal.SIGTERM})
    print("stand-in stopping", flush=True)
    """
)


class StandInServer(PrinthostServer):
    script: Path

    @property
    def command(self) -> list[str]:
        return [sys.executable, str(self.script), "--config", str(self.config_path)]


@pytest.fixture
def stand_in(tmp_path: Path) -> type[StandInServer]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN, encoding="utf-8")
    StandInServer.script = script
    return StandInServer


def test_config_defaults(tmp_path: Path) -> None:
    server = PrinthostServer(tmp_path)

    config = tomllib.loads(server.config_text())

    assert config["server"]["listen"] == [f"127.0.0.1:{server.port}"]
    assert config["server"]["tls_listen"] == [f"127.0.0.1:{server.tls_port}"]
    assert config["server"]["allow_anonymous"] is True
    assert config["storage"]["state_dir"] == str(tmp_path.resolve() / "var")
    assert config["printers"] == [
        {"name": "virtual", "uri": (tmp_path.resolve() / "var" / "output").as_uri()}
    ]
    assert config["queues"] == [{"name": DEFAULT_QUEUE, "printer": "virtual"}]
    assert "users" not in config
    assert config["routing"]["probe_interval_seconds"] == 0.5


def test_config_overrides(tmp_path: Path) -> None:
    server = PrinthostServer(
        tmp_path,
        printers=[{"name": "p1", "uri": "ipp://127.0.0.1:9/ipp/print"}],
        queues=[{"name": "q", "printer": "p1"}],
        users=[user("alice", 'se"cret\\', role="admin")],
        settings={"jobs": {"history_seconds": 5}, "lpd": {"listen": ["127.0.0.1:5515"]}},
        extra_toml='[[rules]]\nname = "deny-color"\n',
        tls=False,
        allow_anonymous=False,
    )

    config = tomllib.loads(server.config_text())

    assert server.tls_port is None
    assert config["server"]["tls_listen"] == []
    assert config["server"]["allow_anonymous"] is False
    assert config["jobs"] == {"history_seconds": 5}
    assert config["lpd"] == {"listen": ["127.0.0.1:5515"]}
    assert config["users"] == [{"name": "alice", "password": 'se"cret\\', "role": "admin"}]
    assert config["queues"] == [{"name": "q", "printer": "p1"}]
    assert config["rules"] == [{"name": "deny-color"}]


def test_uris(tmp_path: Path) -> None:
    server = PrinthostServer(tmp_path)

    assert server.ipp_uri() == f"ipp://127.0.0.1:{server.port}/printers/myprinter"
    assert server.ipps_uri("q") == f"ipps://127.0.0.1:{server.tls_port}/printers/q"
    assert server.ipp_uri(username="al ice", password="p@ss:") == (
        f"ipp://al%20ice:p%40ss%3A@127.0.0.1:{server.port}/printers/myprinter"
    )
    assert server.http_url == f"http://127.0.0.1:{server.port}"
    with pytest.raises(RuntimeError):
        _ = PrinthostServer(tmp_path / "plain", tls=False).ipps_uri()


def test_start_stop_kill_restart(stand_in: type[StandInServer], tmp_path: Path) -> None:
    server = stand_in(tmp_path).start()
    try:
        assert server.is_running()
        assert server.stop() == 0
        assert "stand-in stopping" in server.log_text()

        server.start()
        port = server.port
        server.kill()
        assert server.returncode == -signal.SIGKILL

        server.restart()
        assert server.is_running()
        assert server.port == port
        assert server.log_text().count("stand-in ready") == 3
    finally:
        server.stop()


def test_start_failure_reports_the_log(stand_in: type[StandInServer], tmp_path: Path) -> None:
    server = stand_in(tmp_path, settings={"test": {"exit_status": 3}})
    started = time.monotonic()

    with pytest.raises(ServerStartError) as failure:
        server.start()

    assert time.monotonic() - started < 10
    assert "status 3" in str(failure.value)
    assert "stand-in refusing to start" in str(failure.value)


def test_wait_for_job_output(tmp_path: Path) -> None:
    server = PrinthostServer(tmp_path)
    server.write_config()
    (server.output_dir / "job-7-1.pdf").write_bytes(b"%PDF-")
    (server.output_dir / "job-7.json").write_text(json.dumps({"job-id": 7}))
    (server.output_dir / "job-70-1.pdf").write_bytes(b"other job")

    metadata, documents = server.wait_for_job_output(7, timeout=1)

    assert metadata == {"job-id": 7}
    assert [path.name for path in documents] == ["job-7-1.pdf"]
    with pytest.raises(AssertionError, match="job 8"):
        server.wait_for_job_output(8, timeout=0.2)
