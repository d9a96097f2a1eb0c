"""A private D-Bus daemon.

ippeveprinter (CUPS 2.4) connects to D-Bus at start even with ``-r off`` (no DNS-SD) and
exits without a bus, so each printer peer gets its own ``dbus-daemon --session`` listening
on a socket in its temporary directory. Children get both bus variables pointing at it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import TracebackType

from peers.procs import start_process, stop_process, wait_until


class DbusDaemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket_path = root / "bus"
        self.address = f"unix:path={self.socket_path}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DbusDaemon:
        self.root.mkdir(parents=True, exist_ok=True)
        argv = ["dbus-daemon", "--session", f"--address={self.address}", "--nofork"]
        self.proc = start_process(argv, log_path=self.root / "dbus.log")
        wait_until(self.socket_path.exists, 10.0, "dbus-daemon", alive=self.proc)
        return self

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus the bus addresses, for a child process."""
        return {
            **os.environ,
            "DBUS_SYSTEM_BUS_ADDRESS": self.address,
            "DBUS_SESSION_BUS_ADDRESS": self.address,
        }

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> DbusDaemon:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
