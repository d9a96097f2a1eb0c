"""An AppSocket (JetDirect, port 9100) sink: a stand-in for a physical printer's raw port.

AppSocket has no protocol beyond "read the bytes until the client closes", so a TCP server
that does exactly that is a *real* peer for it, not a mock: it records what a printer
would have received. Modes, for failure tests:

- ``"read"``: read each connection to EOF, record the bytes, close (a healthy printer);
- ``"hang"``: accept and never read nor close (a wedged printer: the client's writes stall
  once the socket buffers are full);

and :func:`closed_port` gives a port where nothing listens (a printer that is off).

Threaded, so it serves whatever event loop the test runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from peers.procs import LOCALHOST, free_port, wait_until

Mode = Literal["read", "hang"]


class RawSink:
    def __init__(self, mode: Mode = "read") -> None:
        self.mode = mode
        self.received: list[bytes] = []  # one entry per connection closed by the client
        self.connections = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server((LOCALHOST, 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []

    @property
    def uri(self) -> str:
        return f"socket://{LOCALHOST}:{self.port}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def start(self) -> RawSink:
        self._spawn(self._accept_loop)
        return self

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        wait_until(lambda: self.count >= count, timeout, "sink connections")
        with self._lock:
            return list(self.received)

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.close()
        for thread in self._threads:
            thread.join(5.0)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                self.connections += 1
                self._open.append(conn)
            if self.mode == "read":
                self._spawn(self._read_to_eof, conn)

    def _read_to_eof(self, conn: socket.socket) -> None:
        chunks = []
        with conn:
            try:
                conn.settimeout(30.0)  # inside: stop() may have closed it already
                while chunk := conn.recv(1 << 16):
                    chunks.append(chunk)
            except OSError:
                return  # reset or stop(): the job did not arrive whole
        with self._lock:
            self.received.append(b"".join(chunks))

    def __enter__(self) -> RawSink:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting is refused."""
    return free_port()
