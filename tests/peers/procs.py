"""Helpers shared by the peers: free ports, readiness polling, orderly process shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now. Another process may take it before our peer
    binds it; peers therefore retry start-up with a new port when binding fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def can_connect(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def is_listening(port: int) -> bool:
    """Whether some socket listens on ``port`` (IPv4), without connecting to it: a probe
    connection would wake inetd-style servers (socat ``fork``) for nothing."""
    wanted = f":{port:04X} "
    with open("/proc/net/tcp") as table:
        return any(
            wanted in fields[1] + " " and fields[3] == "0A"
            for fields in (line.split() for line in table.readlines()[1:])
        )


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    alive: subprocess.Popen[bytes] | None = None,
    interval: float = 0.02,
) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` s or when ``alive`` exits."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if alive is not None and alive.poll() is not None:
            raise PeerStartError(f"{what}: process exited with status {alive.returncode}")
        if time.monotonic() > deadline:
            raise PeerStartError(f"{what}: not ready after {timeout:g} s")
        time.sleep(interval)


class PeerStartError(RuntimeError):
    """A peer did not come up (bad port, missing program...)."""


def start_process(
    argv: list[str], *, env: dict[str, str] | None = None, log_path: os.PathLike[str] | str
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group (so helpers it forks can be stopped with
    it) with stdout and stderr going to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 5.0) -> None:
    """SIGTERM the process group we created for ``proc``, wait, then SIGKILL it."""
    if proc is None:
        return
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_process(proc)
    # Children it forked (socat, ippeveprinter print commands) may outlive it.
    _signal_group(proc, signal.SIGKILL)


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL, as a crash or power loss would; reaps the process."""
    _signal_group(proc, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5.0)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # start_new_session=True made proc.pid the id of a group holding only what we started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
