"""``printhost agent`` end to end: a real agent process beside a real printhost server, both
on loopback, the agent's printer a ``file:`` directory.

- The agent reports presence (seen through ``GET /api/v1/presence``) and, on SIGTERM,
  logs out before it exits.
- The desktop path: alice prefers "desktop"; her job to ``myprinter`` lands in the output
  directory of the agent she is logged in at.
- Logged in nowhere, her job is held (pending-held, resources-are-not-ready, a message
  saying why); when the agent starts and reports her, it is released and printed there.

Every process is stopped by its pid (process groups, PR_SET_PDEATHSIG as in
support/server.py); every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import PrinthostServer, _die_with_parent, free_port, user

from printhost.agent import AgentOptions, PresenceReporter, agent_config, agent_uri, parse_who
from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import ConfigError, parse_config
from printhost.ipp.constants import JobState, Operation, Tag
from printhost.server.http import create_app
from printhost.store import open_store
from printhost.store.spool import Spool

from .ipp_http import IppHttp, ipp_request

TOKEN = "e2e-agent-token"
ALICE = ("alice", "alice-pw")
OLGA = ("olga", "olga-pw")
WAIT = 30.0
STOP_TIMEOUT = 20.0


class Agent:
    """One ``printhost agent`` process with its own state and output directories."""

    def __init__(
        self, base: Path, server: PrinthostServer, users: tuple[str, ...], ttl: float = 30
    ) -> None:
        self.base = base
        self.output = base / "output"
        self.state = base / "state"
        self.log_path = base / "agent.log"
        self.port = free_port()
        self.host = "ws1"
        self.command = [
            sys.executable,
            "-m",
            "printhost",
            "agent",
            "--server",
            server.ipp_uri(),
            "--host",
            self.host.upper(),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--printer",
            self.output.as_uri(),
            "--state-dir",
            str(self.state),
            "--ttl",
            str(ttl),
            "--location",
            "desk 7",
            *(arg for name in users for arg in ("--user", name)),
        ]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ipp://127.0.0.1:{self.port}/printers/local"

    def start(self) -> Agent:
        self.base.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.base,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PRINTHOST_TOKEN": TOKEN},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    def stop(self) -> int | None:
        """SIGTERM and wait (bounded); SIGKILL the process group if it does not exit."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(
                f"agent ignored SIGTERM for {STOP_TIMEOUT} s\n{self.log()}"
            ) from None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"--- {self.log_path} ---\n{text[-8000:]}--- end ---"


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def make(server: PrinthostServer, *users: str, ttl: float = 30) -> Agent:
        agent = Agent(tmp_path / f"agent-{len(agents)}", server, users, ttl)
        agents.append(agent)
        return agent.start()

    yield make
    for agent in agents:
        agent.stop()


@pytest.fixture
def server(make_printhost_server: Callable[..., PrinthostServer]) -> PrinthostServer:
    return make_printhost_server(
        users=[user(*ALICE), user(*OLGA, "operator")],
        settings={"routing": {"agent_tokens": [TOKEN]}},
    )


def wait_until(check: Callable[[], Any], what: str, *logs: Callable[[], str]) -> Any:
    """Poll ``check`` until it returns something truthy, for at most WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT} s: {what}\n" + "\n".join(log() for log in logs))


def presence(server: PrinthostServer, name: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.http_url}/api/v1/presence", params={"user": name}, auth=OLGA, timeout=10
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def prefer_desktop(server: PrinthostServer) -> None:
    response = httpx.put(
        f"{server.http_url}/api/v1/users/alice/preferences",
        json={"destination": "desktop"},
        auth=ALICE,
        timeout=10,
    )
    assert response.status_code == 200, response.text


def submit_as_alice(server: PrinthostServer, document: Path) -> int:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "printhost",
            "submit",
            str(document),
            "--server",
            server.ipp_uri(),
            "--user",
            "alice",
            "--password",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PRINTHOST_PASSWORD": ALICE[1]},
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[1])


def job_attributes(server: PrinthostServer, job_id: int) -> dict[str, Any]:
    client = IppHttp(server.http_url)
    try:
        request = ipp_request(
            Operation.GET_JOB_ATTRIBUTES, server.ipp_uri(), "alice", job_id=(Tag.INTEGER, job_id)
        )
        reply = client.post(request, auth=ALICE)
    finally:
        client.close()
    group = reply.group(Tag.JOB)
    reasons = [a.values for a in group.attributes if a.name == "job-state-reasons"]
    return {
        "state": JobState(group.integer("job-state")),
        "reasons": [str(v) for v in reasons[0]] if reasons else [],
        "message": str(group.get("job-state-message") or ""),
    }


def printed(agent: Agent, content: bytes) -> list[Path]:
    """The documents the agent's file printer wrote with exactly ``content``."""
    if not agent.output.is_dir():
        return []
    documents = [p for p in agent.output.glob("job-*-*") if p.is_file()]
    return [p for p in documents if p.read_bytes() == content]


def test_agent_reports_presence_and_logs_out_on_sigterm(
    server: PrinthostServer, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(server, "alice", "bob")
    for name in ("alice", "bob"):
        [record] = wait_until(lambda n=name: presence(server, n), f"{name} present", agent.log)
        assert (record["host"], record["agent_uri"]) == ("ws1", agent.uri)
        assert record["source"] == "printhost agent"
    health = httpx.get(f"http://127.0.0.1:{agent.port}/healthz", timeout=10)
    assert health.status_code == 200, "the agent's desktop printer serves"
    assert agent.stop() == 0, agent.log()
    assert presence(server, "alice") == [] and presence(server, "bob") == [], agent.log()


def test_desktop_job_prints_at_the_agent(
    server: PrinthostServer, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    prefer_desktop(server)
    agent = make_agent(server, "alice")
    wait_until(lambda: presence(server, "alice"), "alice present", agent.log)
    document = tmp_path / "desk.txt"
    document.write_bytes(b"printed at alice's desk\n")
    job_id = submit_as_alice(server, document)
    logs = (agent.log, server.log_tail)
    wait_until(lambda: printed(agent, document.read_bytes()), "job at the agent", *logs)
    done = wait_until(
        lambda: (a := job_attributes(server, job_id))["state"] == JobState.COMPLETED and a,
        "central job completed",
        *logs,
    )
    assert done["state"] == JobState.COMPLETED
    assert not server.job_output(job_id), "nothing printed on the central printer"


def test_desktop_job_waits_until_its_user_logs_in(
    server: PrinthostServer, make_agent: Callable[..., Agent], tmp_path: Path
) -> None:
    prefer_desktop(server)
    document = tmp_path / "later.txt"
    document.write_bytes(b"printed once alice logs in\n")
    job_id = submit_as_alice(server, document)
    held = wait_until(
        lambda: (a := job_attributes(server, job_id))["state"] == JobState.PENDING_HELD and a,
        "job held while alice is logged in nowhere",
        server.log_tail,
    )
    assert "resources-are-not-ready" in held["reasons"], held
    assert "alice" in held["message"], held
    agent = make_agent(server, "alice")
    logs = (agent.log, server.log_tail)
    wait_until(lambda: printed(agent, document.read_bytes()), "held job printed", *logs)
    wait_until(
        lambda: job_attributes(server, job_id)["state"] == JobState.COMPLETED,
        "central job completed",
        *logs,
    )
    assert not server.job_output(job_id)


def test_agent_outlives_an_unreachable_server(
    server: PrinthostServer, make_agent: Callable[..., Agent]
) -> None:
    server.stop()
    agent = make_agent(server, "alice", ttl=3)  # a report every second
    wait_until(lambda: "retrying next round" in agent.log(), "a failed report logged", agent.log)
    assert agent.is_running(), agent.log()
    server.start()  # same ports and state
    wait_until(
        lambda: presence(server, "alice"),
        "alice reported once the server is up",
        agent.log,
        server.log_tail,
    )
    assert agent.stop() == 0, agent.log()
    assert presence(server, "alice") == []


def test_agent_refuses_a_bad_printer_and_a_taken_port(tmp_path: Path) -> None:
    def agent(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "printhost",
                "agent",
                "--server",
                "ipp://127.0.0.1:1/",
                "--state-dir",
                str(tmp_path / "state"),
                "--user",
                "alice",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PRINTHOST_TOKEN": TOKEN},
        )

    bad = agent("--listen", "127.0.0.1:0", "--printer", "http://printer.example/")
    assert bad.returncode == 2 and "configuration error" in bad.stderr, bad.stderr
    assert "printers.local.uri" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = agent("--listen", f"127.0.0.1:{port}", "--printer", tmp_path.as_uri())
    assert busy.returncode == 1 and "address already in use" in busy.stderr.lower(), busy.stderr
    no_token = subprocess.run(
        [
            sys.executable,
            "-m",
            "printhost",
            "agent",
            "--listen",
            "127.0.0.1:0",
            "--printer",
            tmp_path.as_uri(),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "PRINTHOST_TOKEN"},
    )
    assert no_token.returncode == 2 and "a token is needed" in no_token.stderr


# --- the agent's parts in process ------------------------------------------------------------


def test_who_output_gives_each_user_once() -> None:
    output = (
        "alice    pts/0        2026-11-21 09:00 (10.0.0.5)\n"
        "bob      tty2         2026-11-21 08:55\n"
        "alice    pts/3        2026-11-21 09:10 (tmux(1234).%0)\n\n"
    )
    assert parse_who(output) == ["alice", "bob"]
    assert parse_who("") == []


@pytest.mark.parametrize(
    ("listen", "advertise", "uri"),
    [
        ("127.0.0.1:8641", "", "ipp://127.0.0.1:8641/printers/local"),
        ("0.0.0.0:8641", "ws1.example", "ipp://ws1.example:8641/printers/local"),
        ("[::1]:8641", "", "ipp://[::1]:8641/printers/local"),
        ("[::]:8641", "fd00::7", "ipp://[fd00::7]:8641/printers/local"),
        ("0.0.0.0:8641", "", f"ipp://{socket.getfqdn()}:8641/printers/local"),
    ],
)
def test_agent_uri(listen: str, advertise: str, uri: str) -> None:
    assert agent_uri(_options(listen=listen, advertise=advertise)) == uri


def test_agent_config_is_one_printer_behind_one_queue(tmp_path: Path) -> None:
    config = agent_config(_options(state_dir=tmp_path / "s", printer="socket://10.0.0.9:9100"))
    assert [(p.name, p.uri) for p in config.printers] == [("local", "socket://10.0.0.9:9100")]
    assert [(q.name, q.destination) for q in config.queues] == [("local", "local")]
    assert (config.default_queue, config.routing.default_destination) == ("local", "local")
    assert (config.server.listen, config.server.tls_listen, config.lpd.listen) == (
        ("127.0.0.1:8641",),
        (),
        (),
    )
    assert config.storage.state_dir == tmp_path / "s"
    with pytest.raises(ConfigError, match="printers"):
        agent_config(_options(printer="http://printer.example/"))


async def test_reporter_reports_logs_out_leavers_and_survives_errors(tmp_path: Path) -> None:
    config = parse_config(
        {"storage": {"state_dir": str(tmp_path / "var")}, "routing": {"agent_tokens": [TOKEN]}},
        base=tmp_path,
    )
    clock = FakeClock()
    store = await open_store(config.storage.effective_database_url)
    services, _ = wire(config, store, Spool(config.storage.spool_dir), clock, "t")
    transport = httpx.ASGITransport(app=create_app(services, 8631, None))
    logged_in = ["alice", "bob"]

    async def users() -> list[str]:
        return list(logged_in)

    try:
        async with httpx.AsyncClient(transport=transport) as client:
            options = _options(api="http://central.test/api/v1", ttl=90)
            reporter = PresenceReporter(client, options, users)
            await reporter.report_once()
            present = await store.list_presence(clock.now())
            assert sorted((p.user, p.host, p.expires_at - clock.now()) for p in present) == [
                ("alice", "ws1", 90),
                ("bob", "ws1", 90),
            ]
            agent = await store.get_agent("ws1")
            assert agent is not None and agent.uri == "ipp://127.0.0.1:8641/printers/local"
            logged_in.remove("bob")
            await reporter.report_once()
            assert [p.user for p in await store.list_presence(clock.now())] == ["alice"]
            assert reporter.reported == {"alice"}
            wrong = PresenceReporter(client, _options(api=options.api, token="wrong"), users)
            await wrong.report_once()  # logged (HTTP 401), not raised
            await reporter.logout_all()
            assert await store.list_presence(clock.now()) == [] and reporter.reported == set()
        async with httpx.AsyncClient() as unreachable:
            closed = PresenceReporter(unreachable, _options(api="http://127.0.0.1:1/api/v1"), users)
            await closed.report_once()  # ConnectError: logged, retried next round
            assert closed.reported == {"alice"}, "still to be logged out"
    finally:
        await store.close()


def _options(**changes: Any) -> AgentOptions:
    values: dict[str, Any] = {
        "api": "http://127.0.0.1:8631/api/v1",
        "token": TOKEN,
        "host": "ws1",
        "listen": "127.0.0.1:8641",
        "printer": "file:///tmp/agent-output",
        "state_dir": Path("state"),
    }
    return AgentOptions(**{**values, **changes})
