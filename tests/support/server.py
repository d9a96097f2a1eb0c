"""Run the real printhost server as a subprocess for end-to-end tests.

Theory of operation
-------------------
:class:`PrinthostServer` owns one server process and a private directory::

    base_dir/
      printhost.toml      configuration written by us
      printhost.log       the server's stdout and stderr (appended across restarts)
      var/                storage.state_dir: sqlite db, spool/, tls/
      var/output/         where the built-in ``file:`` printer "virtual" writes

It picks free ports on 127.0.0.1, starts ``python -m printhost serve
--config printhost.toml`` in its own process group, and waits (bounded) until
``GET /healthz`` answers 200 and the TLS port, if any, accepts connections.
If the process exits first, :class:`ServerStartError` carries the log tail;
a port that another process grabbed in between is retried with new ports.

``stop()`` is the orderly path (SIGTERM, then SIGKILL after a grace period);
``kill()`` is a crash (SIGKILL to the whole process group) for durability
tests; ``restart()`` starts again on the same ports, state and config.
The child also gets ``PR_SET_PDEATHSIG`` so that a test process killed
outright does not leave servers behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from .toml_writer import TomlTable, TomlValue, dumps

HOST = "127.0.0.1"
DEFAULT_QUEUE = "myprinter"
DEFAULT_PRINTER = "virtual"
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_PORT_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """The server did not become healthy; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def user(name: str, password: str, role: str = "user") -> dict[str, TomlValue]:
    """A ``[[users]]`` entry; role is user, operator or admin."""
    return {"name": name, "password": password, "role": role}


# Resolved once in the parent: the pre-exec hook below runs in a freshly forked
# child, where loading a library (dlopen's lock) could deadlock.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL the
    # server if the test process that started it dies.
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


class PrinthostServer:
    """One printhost server process with its own configuration and state."""

    def __init__(
        self,
        base_dir: Path,
        *,
        printers: Sequence[TomlTable] | None = None,
        queues: Sequence[TomlTable] | None = None,
        users: Sequence[TomlTable] = (),
        settings: Mapping[str, TomlTable] | None = None,
        extra_toml: str = "",
        tls: bool = True,
        allow_anonymous: bool = True,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        name: str = "printhost",
    ) -> None:
        """Describe a server; nothing runs until :meth:`start`.

        ``printers``/``queues``/``users`` become ``[[printers]]``,
        ``[[queues]]`` and ``[[users]]``; by default one ``file:`` printer
        "virtual" writing to :attr:`output_dir` behind the queue "myprinter".
        ``settings`` overrides or adds keys of the ``[server]``, ``[storage]``,
        ``[jobs]`` and ``[delivery]`` tables (or adds new tables);
        ``extra_toml`` is appended verbatim (it must not repeat a table).
        """
        self.name = name
        self.base_dir = base_dir.resolve()
        self.state_dir = self.base_dir / "var"
        self.output_dir = self.state_dir / "output"
        self.config_path = self.base_dir / "printhost.toml"
        self.log_path = self.base_dir / "printhost.log"
        self.printers: list[TomlTable] = list(
            printers
            if printers is not None
            else [{"name": DEFAULT_PRINTER, "uri": self.output_dir.as_uri()}]
        )
        self.queues: list[TomlTable] = list(
            queues if queues is not None else [{"name": DEFAULT_QUEUE, "printer": DEFAULT_PRINTER}]
        )
        self.users: list[TomlTable] = list(users)
        self.settings = {table: dict(values) for table, values in (settings or {}).items()}
        self.extra_toml = extra_toml
        self.tls = tls
        self.allow_anonymous = allow_anonymous
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.tls_port: int | None = free_port() if tls else None
        #: The LPD (RFC 1179) port: each server gets its own, since the default (8515)
        #: would collide between parallel tests. ``settings={"lpd": {...}}`` adds limits.
        self.lpd_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    # -- addresses -----------------------------------------------------------

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, as CUPS clients take it (``-h`` / ``CUPS_SERVER``)."""
        return f"{HOST}:{self.port}"

    @property
    def tls_address(self) -> str:
        """``127.0.0.1:TLS_PORT`` for CUPS clients with ``CUPS_ENCRYPTION=Always``."""
        return f"{HOST}:{self._require_tls_port()}"

    @property
    def http_url(self) -> str:
        return f"http://{self.address}"

    @property
    def https_url(self) -> str:
        return f"https://{HOST}:{self._require_tls_port()}"

    def ipp_uri(
        self,
        queue: str = DEFAULT_QUEUE,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        """``ipp://[user:pass@]127.0.0.1:PORT/printers/QUEUE``."""
        return f"ipp://{_userinfo(username, password)}{self.address}/printers/{queue}"

    def ipps_uri(
        self,
        queue: str = DEFAULT_QUEUE,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> str:
        """``ipps://[user:pass@]127.0.0.1:TLS_PORT/printers/QUEUE``."""
        authority = f"{_userinfo(username, password)}{HOST}:{self._require_tls_port()}"
        return f"ipps://{authority}/printers/{queue}"

    def _require_tls_port(self) -> int:
        if self.tls_port is None:
            raise RuntimeError(f"server {self.name} was configured without TLS")
        return self.tls_port

    # -- configuration -------------------------------------------------------

    def config_text(self) -> str:
        """The TOML configuration the server is started with."""
        tables: dict[str, dict[str, TomlValue]] = {
            "server": {
                "listen": [self.address],
                "tls_listen": [f"{HOST}:{self.tls_port}"] if self.tls_port is not None else [],
                "tls_cert": "",
                "tls_key": "",
                "allow_anonymous": self.allow_anonymous,
            },
            "storage": {"state_dir": str(self.state_dir)},
            "jobs": {"history_seconds": 86400},
            "lpd": {"listen": [f"{HOST}:{self.lpd_port}"]},
            "delivery": {"timeout_seconds": 30, "lease_seconds": 30},
            "routing": {"probe_interval_seconds": 0.5},
        }
        for table, values in self.settings.items():
            tables.setdefault(table, {}).update(values)
        arrays = {"printers": self.printers, "queues": self.queues, "users": self.users}
        text = dumps(tables, {key: value for key, value in arrays.items() if value})
        return text + ("\n" + self.extra_toml.strip() + "\n" if self.extra_toml.strip() else "")

    def write_config(self) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_text(), encoding="utf-8")
        return self.config_path

    # -- lifecycle -----------------------------------------------------------

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-m", "printhost", "serve", "--config", str(self.config_path)]

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process is not None else None

    def start(self) -> Self:
        """Write the config, start the server and wait until it is healthy."""
        if self.is_running():
            raise RuntimeError(f"server {self.name} is already running")
        for attempt in range(_PORT_ATTEMPTS):
            self.write_config()
            self._spawn()
            try:
                self.wait_ready()
                return self
            except ServerStartError:
                if attempt + 1 < _PORT_ATTEMPTS and self._lost_port_race():
                    self.port = free_port()
                    self.tls_port = free_port() if self.tls else None
                    self.lpd_port = free_port()
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        with self.log_path.open("ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} starting {self.command}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=self.base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def _lost_port_race(self) -> bool:
        log = self.log_text().lower()
        return "address already in use" in log or "errno 98" in log

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until /healthz answers 200 (and the TLS port accepts), or raise."""
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if not self.is_running():
                raise ServerStartError(
                    f"printhost exited with status {self.returncode} during start-up\n"
                    + self.log_tail()
                )
            if self._healthy() and self._tls_accepting():
                return
            time.sleep(0.05)
        self.kill()
        raise ServerStartError(
            f"printhost did not answer {self.http_url}/healthz within "
            f"{self.startup_timeout if timeout is None else timeout} s\n" + self.log_tail()
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/healthz", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _tls_accepting(self) -> bool:
        if self.tls_port is None:
            return True
        try:
            with socket.create_connection((HOST, self.tls_port), timeout=1.0):
                return True
        except OSError:
            return False

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Orderly shutdown: SIGTERM, wait, then SIGKILL. Returns the exit status."""
        process = self.process
        if process is None or process.poll() is not None:
            return self.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._log_note(f"did not stop within {timeout} s of SIGTERM; sending SIGKILL")
            self.kill()
            return self.returncode

    def kill(self) -> None:
        """Crash the server: SIGKILL to its whole process group, then reap it."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group we created with setsid
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()

    def restart(self) -> Self:
        """Stop (if running) and start again with the same ports, config and state."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- observation ---------------------------------------------------------

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", errors="replace")

    def log_tail(self, since: int = 0, max_chars: int = 20_000) -> str:
        text = self.log_text(since)
        if len(text) > max_chars:
            text = f"... ({len(text) - max_chars} characters omitted)\n" + text[-max_chars:]
        return f"--- {self.log_path} ---\n{text}--- end of log ---"

    def _log_note(self, message: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"=== harness: {message}\n")

    def job_output(self, job_id: int, output_dir: Path | None = None) -> list[Path]:
        """Documents the ``file:`` printer wrote for a job: ``job-<id>-<n>.<ext>``."""
        directory = output_dir or self.output_dir
        return sorted(directory.glob(f"job-{job_id}-*"))

    def wait_for_job_output(
        self, job_id: int, *, output_dir: Path | None = None, timeout: float = 30.0
    ) -> tuple[dict[str, object], list[Path]]:
        """Wait until the file printer has written ``job-<id>.json`` and its documents.

        Returns the parsed JSON and the document paths.
        """
        directory = output_dir or self.output_dir
        metadata = directory / f"job-{job_id}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            documents = self.job_output(job_id, directory)
            if metadata.is_file() and documents:
                with contextlib.suppress(json.JSONDecodeError):
                    parsed = json.loads(metadata.read_text(encoding="utf-8"))
                    return (parsed if isinstance(parsed, dict) else {"value": parsed}), documents
            if not self.is_running():
                break
            time.sleep(0.05)
        listing = sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []
        raise AssertionError(
            f"job {job_id}: no {metadata.name} + job-{job_id}-* in {directory} within "
            f"{timeout} s (found {listing})\n{self.log_tail(max_chars=5000)}"
        )

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"stopped ({self.returncode})"
        return f"<PrinthostServer {self.name} {self.http_url} {state} in {self.base_dir}>"


def _userinfo(username: str | None, password: str | None) -> str:
    if username is None:
        return ""
    secret = "" if password is None else ":" + quote(password, safe="")
    return f"{quote(username, safe='')}{secret}@"
