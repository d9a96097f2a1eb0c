"""CUPS's ``ippeveprinter`` as a physical IPP Everywhere printer for tests.

Start-up facts (CUPS 2.4.2, probed here):
- it needs a D-Bus bus even with ``-r off``, so each printer owns a private one
  (:class:`peers.dbus.DbusDaemon`) unless one is passed in;
- ``-n 127.0.0.1`` fails ("Unable to create IPv6 listener"): it opens an IPv4 *and* an
  IPv6 listener for the ``-n`` name, so we give ``-n localhost`` (127.0.0.1 and ::1) and
  use ``ipp://127.0.0.1:PORT/ipp/print``; it does not check the Host header;
- the same port speaks IPP and, after a TLS handshake, IPPS, with a self-signed
  certificate it creates in the ``-K`` directory (without ``-K`` it would write into
  /etc/cups/ssl, shared by every test);
- when the print command exits non-zero the job ends ``aborted``;
- it copies a client's ``job-uuid`` into the job *and* adds its own, so a job has two
  ``job-uuid`` attributes (ipptool warns "Duplicate job-uuid").

The print command (``-c``) is a small shell script that keeps, for each job, the spooled
document as ``OUT/<job-id>-<job-name>.<ext>`` and the ``IPP_*`` environment ippeveprinter
gives it (job-name, job-uuid, copies, sides, document format...) as ``...<ext>.env``, both
renamed into place so a test never sees half a file.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path
from types import TracebackType

from peers.dbus import DbusDaemon
from peers.procs import (
    LOCALHOST,
    PeerStartError,
    can_connect,
    free_port,
    kill_process,
    start_process,
    stop_process,
    wait_until,
)

DEFAULT_FORMATS = (
    "application/pdf",
    "image/jpeg",
    "image/pwg-raster",
    "image/urf",
    "application/postscript",
    "text/plain",
)

_COMMAND = """#!/bin/sh
# ippeveprinter print command for tests: keep what arrived, then succeed or fail.
out={out}
base=$(basename "$1")
sleep {delay}
env | grep -E '^(IPP_|CONTENT_TYPE=)' > "$out/.$base.env.tmp"
mv "$out/.$base.env.tmp" "$out/$base.env"
cp "$1" "$out/.$base.tmp"
mv "$out/.$base.tmp" "$out/$base"
exit {status}
"""


class IppEvePrinter:
    """One ippeveprinter process (see the module docstring).

    ``fail=True`` makes every job end aborted; ``delay`` keeps each job processing that many
    seconds, so a client can be seen polling.
    """

    def __init__(
        self,
        root: Path,
        *,
        name: str = "printhost-test",
        formats: tuple[str, ...] = DEFAULT_FORMATS,
        fail: bool = False,
        delay: float = 0.0,
        bus: DbusDaemon | None = None,
    ) -> None:
        self.root = root
        self.name = name
        self.formats = formats
        self.fail = fail
        self.delay = delay
        self.out_dir = root / "received"
        self.port = 0
        self._own_bus = bus is None
        self.bus = bus or DbusDaemon(root / "dbus")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"ipp://{LOCALHOST}:{self.port}/ipp/print"

    @property
    def ipps_uri(self) -> str:
        return f"ipps://{LOCALHOST}:{self.port}/ipp/print"

    def start(self, attempts: int = 3) -> IppEvePrinter:
        for directory in (self.root, self.out_dir, self.root / "spool", self.root / "ssl"):
            directory.mkdir(parents=True, exist_ok=True)
        if self._own_bus:
            self.bus.start()
        command = self._write_command()
        for _ in range(attempts):
            self.port = free_port()
            self.proc = start_process(
                self._argv(command), env=self.bus.env, log_path=self.root / "ippeveprinter.log"
            )
            try:
                wait_until(lambda: can_connect(self.port), 15.0, "ippeveprinter", alive=self.proc)
                return self
            except PeerStartError:
                stop_process(self.proc)  # most likely the port was taken meanwhile
        self.stop()
        raise PeerStartError(f"ippeveprinter did not start; see {self.root / 'ippeveprinter.log'}")

    def _argv(self, command: Path) -> list[str]:
        return [
            "ippeveprinter",
            *("-p", str(self.port), "-n", "localhost", "-r", "off"),
            *("-c", str(command), "-D", "file:///dev/null"),
            *("-d", str(self.root / "spool"), "-K", str(self.root / "ssl")),
            *("-f", ",".join(self.formats)),
            self.name,
        ]

    def _write_command(self) -> Path:
        script = self.root / "print-command.sh"
        script.write_text(
            _COMMAND.format(
                out=shlex.quote(str(self.out_dir)), delay=self.delay, status=int(self.fail)
            )
        )
        script.chmod(0o755)
        return script

    def received_files(self) -> list[Path]:
        """The documents printed so far, oldest job first."""
        files = [
            p for p in self.out_dir.iterdir() if not p.name.startswith(".") and p.suffix != ".env"
        ]
        return sorted(files, key=lambda p: (int(p.name.split("-", 1)[0]), p.name))

    def wait_for_files(self, count: int, timeout: float = 10.0) -> list[Path]:
        wait_until(lambda: len(self.received_files()) >= count, timeout, "printed files")
        return self.received_files()

    @staticmethod
    def job_environment(document: Path) -> dict[str, str]:
        """The ``IPP_*`` variables ippeveprinter gave the print command for ``document``
        (e.g. ``IPP_JOB_NAME``, ``IPP_JOB_UUID``, ``IPP_COPIES``, ``CONTENT_TYPE``)."""
        text = document.with_name(document.name + ".env").read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
        if self._own_bus:
            self.bus.stop()

    def kill(self) -> None:
        """SIGKILL the printer (a crash or power cut) and wait until its port is closed."""
        if self.proc is not None:
            kill_process(self.proc)
        deadline = time.monotonic() + 5.0
        while can_connect(self.port) and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self) -> IppEvePrinter:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
