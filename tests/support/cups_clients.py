"""Run the CUPS command-line clients (lp, lpstat, cancel, lpr, lpq, lprm) against a test server.

Every client here talks IPP to the server named by ``CUPS_SERVER``: the
System V tools from cups-client and the Berkeley ones from cups-bsd alike
(cups-bsd's lpr/lpq/lprm speak IPP, not LPD). Each run gets a private
``HOME`` and ``CUPS_SERVERROOT``, so neither ``~/.cups/lpoptions`` and
``client.conf`` nor ``/etc/cups/lpoptions`` and ``client.conf`` on the
machine can change the destination, the user or the encryption, and
``CUPS_USER`` fixes the requesting-user-name the clients claim.

Clients run without a controlling terminal, so a server that answers 401
makes them fail at once instead of prompting on the developer's terminal.
When a test gives a ``password``, the client runs on a private
pseudo-terminal instead and we type the password at CUPS' prompt
(``Password for USER on HOST? ``): libcups reads passwords only from
``/dev/tty``, never from stdin or the environment.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEOUT = 30.0
DEFAULT_USER = "tester"

#: libcups' password prompt (cups/usersys.c): "Password for %s on %s? ".
_PASSWORD_PROMPT = re.compile(rb"Password for \S+ on \S+\? ")
_PASSWORD_TRIES = 3

#: ``lp`` and ``lpr``'s confirmation: ``request id is myprinter-12 (1 file(s))``.
_REQUEST_ID = re.compile(r"request id is (?P<queue>\S+)-(?P<id>\d+)\b")


def is_installed(program: str) -> bool:
    return shutil.which(program) is not None


def parse_job_id(output: str) -> int:
    """The job id from lp's ``request id is QUEUE-ID (...)`` line."""
    match = _REQUEST_ID.search(output)
    if match is None:
        raise AssertionError(f"no 'request id is QUEUE-ID' in lp output: {output!r}")
    return int(match["id"])


@dataclass(frozen=True)
class CupsClient:
    """CUPS clients pointed at one server (``host:port``) as one user."""

    server: str
    home: Path
    user: str = DEFAULT_USER
    timeout: float = DEFAULT_TIMEOUT
    #: CUPS_ENCRYPTION: Never, IfRequested, Required (HTTP Upgrade to TLS) or
    #: Always (TLS from the first byte: use it with the server's ipps port).
    encryption: str = "IfRequested"
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def env(self, user: str | None = None) -> dict[str, str]:
        """The environment for a client run: only this server, only this user."""
        home = self.home / "home"
        server_root = self.home / "serverroot"
        home.mkdir(parents=True, exist_ok=True)
        server_root.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CUPS_", "LPDEST", "PRINTER", "IPP_"))
        }
        env.update(
            HOME=str(home),
            CUPS_SERVERROOT=str(server_root),
            CUPS_SERVER=self.server,
            CUPS_USER=user or self.user,
            CUPS_ENCRYPTION=self.encryption,
            LC_ALL="C",
            LANG="C",
        )
        env.update(self.extra_env)
        return env

    def run(
        self,
        program: str,
        *args: str | os.PathLike[str],
        user: str | None = None,
        password: str | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run one client; never raises on a non-zero exit (assert on the result).

        With ``password`` the client runs on a pseudo-terminal that answers
        CUPS' password prompt; its stdout and stderr then arrive merged in
        ``stdout`` (with the prompt), and ``input`` is not supported.
        """
        command = [program, *(os.fspath(arg) for arg in args)]
        limit = self.timeout if timeout is None else timeout
        if password is not None:
            if input is not None:
                raise ValueError("input and password cannot be combined")
            return run_with_password(command, self.env(user), password, limit)
        result = subprocess.run(
            command,
            env=self.env(user),
            input=input,
            capture_output=True,
            timeout=limit,
            check=False,
            start_new_session=True,  # no controlling tty: never prompt
        )
        return subprocess.CompletedProcess(
            command,
            result.returncode,
            result.stdout.decode("utf-8", errors="replace"),
            result.stderr.decode("utf-8", errors="replace"),
        )

    # System V tools (cups-client) and Berkeley tools (cups-bsd). For -U
    # (another user name) pass it in args; ``user`` sets CUPS_USER instead.

    def lp(
        self, *args: str | os.PathLike[str], user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("lp", *args, user=user, password=password)

    def lpstat(
        self, *args: str, user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("lpstat", *args, user=user, password=password)

    def cancel(
        self, *args: str, user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("cancel", *args, user=user, password=password)

    def lpr(
        self, *args: str | os.PathLike[str], user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("lpr", *args, user=user, password=password)

    def lpq(
        self, *args: str, user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("lpq", *args, user=user, password=password)

    def lprm(
        self, *args: str, user: str | None = None, password: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("lprm", *args, user=user, password=password)

    def print_file(
        self,
        queue: str,
        document: Path,
        *options: str,
        user: str | None = None,
    ) -> int:
        """``lp -d QUEUE [options] FILE``; asserts success and returns the job id."""
        result = self.lp("-d", queue, *options, document, user=user)
        assert result.returncode == 0, describe(result)
        return parse_job_id(result.stdout)


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """A one-glance account of a client run for assertion messages."""
    args: Sequence[str] = result.args
    return (
        f"$ {' '.join(args)}\nexit status {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


def run_with_password(
    command: Sequence[str], env: Mapping[str, str], password: str, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` on a new pseudo-terminal (its controlling tty) and answer
    each CUPS password prompt with ``password``."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            command,
            env=dict(env),
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            start_new_session=True,
            # After setsid(): make the pty (now fd 0) the controlling terminal,
            # which is what libcups opens as /dev/tty.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
    finally:
        os.close(terminal)
    try:
        transcript = _answer_prompts(controller, process, password.encode(), timeout)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
        process.wait()
    text = transcript.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(list(command), process.returncode, text, "")


def _answer_prompts(
    controller: int, process: subprocess.Popen[bytes], password: bytes, timeout: float
) -> bytes:
    transcript, answered = b"", 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if not ready:
            if process.poll() is not None:
                break
            continue
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: every holder of the terminal has closed it
            break
        transcript += chunk
        prompts = len(_PASSWORD_PROMPT.findall(transcript))
        if prompts > answered:
            # A wrong password is asked again; after three tries answer with
            # an empty one, which makes libcups give up instead of looping.
            os.write(controller, (password if answered < _PASSWORD_TRIES else b"") + b"\n")
            answered = prompts
    else:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise subprocess.TimeoutExpired(list(process.args), timeout, transcript)  # type: ignore[arg-type]
    return transcript
