"""The printers both servers deliver to, and how the bench sees what reached them.

* :class:`SinkPrinter` - an AppSocket printer: the ``bench.sink`` process on 127.0.0.1,
  killable and restartable on the same port (the failover row).
* :class:`CatPrinter` - ``ippeveprinter -c /bin/cat -D file:///dev/null``: a real IPP
  Everywhere printer that takes one job at a time and completes it as soon as ``cat`` has
  copied it to /dev/null. It is ``tests/peers``' :class:`IppEvePrinter` with ``/bin/cat``
  instead of the test suite's recording script; several share one private D-Bus daemon
  (``dbus-daemon --session --address=unix:path=DIR/bus``, exported as
  ``DBUS_SYSTEM_BUS_ADDRESS`` by :class:`peers.dbus.DbusDaemon`).

What arrived is read from files, not asked from the printers: the sink's job log and
ippeveprinter's own output, which has one ``[Job N] Command "/bin/cat" completed
successfully.`` line per job. :class:`LogTail` reads only what was appended since the last
look, so polling every few milliseconds stays cheap even after 10,000 jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from peers.dbus import DbusDaemon
from peers.ippeveprinter import IppEvePrinter
from peers.procs import (
    LOCALHOST,
    PeerStartError,
    free_port,
    is_listening,
    kill_process,
    start_process,
    stop_process,
    wait_until,
)

from bench import PROJECT_DIR

START_TIMEOUT = 10.0
START_ATTEMPTS = 3
EVE_DONE = b'" completed successfully.'


class LogTail:
    """The complete lines appended to a file since the last :meth:`read`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read(self) -> list[bytes]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return lines


@dataclass(frozen=True, slots=True)
class Delivery:
    """One job the sink took whole: when (time.monotonic()), how big, which bench job."""

    at: float
    size: int
    seq: int


class SinkPrinter:
    """One ``bench.sink`` process; ``deliveries()`` gives what it took since last asked."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.log_path = root / f"{name}.jobs"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._tail = LogTail(self.log_path)

    @property
    def uri(self) -> str:
        return f"socket://{LOCALHOST}:{self.port}"

    def start(self) -> SinkPrinter:
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(START_ATTEMPTS):
            self.port = free_port()
            if self._spawn():
                return self
        raise PeerStartError(f"sink {self.name} did not start; see {self.root}")

    def restart(self) -> None:
        """Start again on the same port (after :meth:`kill`), as a rebooted printer would."""
        if not self._spawn():
            raise PeerStartError(f"sink {self.name} did not come back on port {self.port}")

    def _spawn(self) -> bool:
        argv = [sys.executable, "-m", "bench.sink", "--port", str(self.port)]
        argv += ["--log", str(self.log_path)]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}  # so that -m bench.sink works
        self.proc = start_process(argv, env=env, log_path=self.root / f"{self.name}.out")
        try:
            wait_until(lambda: is_listening(self.port), START_TIMEOUT, "sink", alive=self.proc)
        except PeerStartError:
            stop_process(self.proc)
            return False
        return True

    def kill(self) -> None:
        """SIGKILL: the printer loses power; connections in progress are reset."""
        if self.proc is not None:
            kill_process(self.proc)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def deliveries(self) -> list[Delivery]:
        found = []
        for line in self._tail.read():
            at, size, seq = line.split()
            found.append(Delivery(float(at), int(size), int(seq)))
        return found


class CatPrinter(IppEvePrinter):
    """ippeveprinter printing with ``/bin/cat`` to ``/dev/null``; counts its completed jobs."""

    def __init__(self, root: Path, name: str, bus: DbusDaemon) -> None:
        super().__init__(root, name=name, bus=bus)
        self._tail = LogTail(root / "ippeveprinter.log")

    def _write_command(self) -> Path:
        return Path("/bin/cat")

    def completed(self) -> int:
        """Jobs completed since last asked."""
        return sum(1 for line in self._tail.read() if line.endswith(EVE_DONE))
