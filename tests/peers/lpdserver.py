"""A real LPD server: CUPS's ``cups-lpd`` behind ``socat``, feeding a private cupsd.

``cups-lpd`` is an inetd-style program (one process per connection, protocol on stdin and
stdout), so ``socat TCP-LISTEN:PORT,fork EXEC:cups-lpd`` makes it a server. It turns each
RFC 1179 job into IPP Create-Job + Send-Document on the cupsd named by ``CUPS_SERVER``,
so a delivered job appears as a completed job of that cupsd, with the bytes kept in its
spool (see :mod:`peers.cupsd`). ``-o document-format=application/octet-stream`` stops
cupsd from auto-typing and filtering the data (what CUPS's docs advise for raw LPD).

socat forks a child per connection; the whole process group is stopped with it.
"""

from __future__ import annotations

import subprocess
from types import TracebackType

from peers.cupsd import PrivateCupsd
from peers.procs import (
    LOCALHOST,
    PeerStartError,
    free_port,
    is_listening,
    start_process,
    stop_process,
    wait_until,
)

CUPS_LPD = "/usr/lib/cups/daemon/cups-lpd"


class CupsLpdServer:
    def __init__(self, cupsd: PrivateCupsd) -> None:
        self.cupsd = cupsd
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def uri(self, queue: str) -> str:
        return f"lpd://{LOCALHOST}:{self.port}/{queue}"

    def start(self, attempts: int = 3) -> CupsLpdServer:
        for _ in range(attempts):
            self.port = free_port()
            listen = f"TCP-LISTEN:{self.port},bind={LOCALHOST},reuseaddr,fork"
            program = f"EXEC:{CUPS_LPD} -o document-format=application/octet-stream,nofork"
            self.proc = start_process(
                ["socat", listen, program],
                env=self.cupsd.env,
                log_path=self.cupsd.root / "log" / "cups-lpd.out",
            )
            try:
                wait_until(lambda: is_listening(self.port), 10.0, "socat", alive=self.proc)
                return self
            except PeerStartError:
                stop_process(self.proc)
        raise PeerStartError("socat + cups-lpd did not start")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> CupsLpdServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
