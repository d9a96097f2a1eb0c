"""uvicorn's httptools protocol with a bound on the wait for a request's head.

uvicorn closes a keep-alive connection that stays idle *between* requests
(``timeout_keep_alive``) but sets no timer on a connection that never sends a byte, nor
while a request line and headers trickle in. A client that opens connections and sends
header bytes slowly (slowloris) would hold them for ever, and once ``limit_concurrency``
connections are held every other client is refused. Here a connection whose request head
has not fully arrived within the request timeout - counted from the connection opening,
or from the first byte of the next request on a keep-alive connection - is answered 408
(when part of a head arrived) and closed. The body has its own per-chunk bound
(``http._timed``), so every phase of a request is bounded in time (invariant 5).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)


class BoundedHeadProtocol(HttpToolsProtocol):
    """Set ``head_timeout`` (seconds) in a subclass: see ``bounded_head_protocol``."""

    head_timeout = 60.0
    _head_timer: asyncio.TimerHandle | None = None
    _head_started = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_timer()  # the first bytes of the next request
        if data and self._head_timer is not None:
            self._head_started = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_started = False
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            text = f"request head not received within {self.head_timeout:g} s\n".encode()
            self.transport.write(_TIMEOUT_RESPONSE % (len(text), text))
        self.transport.close()


def bounded_head_protocol(timeout: float) -> type[BoundedHeadProtocol]:
    """The protocol class for uvicorn's ``http=``, with ``timeout`` seconds for a head."""
    return type("BoundedHeadProtocol", (BoundedHeadProtocol,), {"head_timeout": timeout})
