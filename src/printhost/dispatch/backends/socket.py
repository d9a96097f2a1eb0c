"""The AppSocket / JetDirect backend: ``socket://host[:port]`` (port 9100 by default).

Theory of operation
-------------------
AppSocket has no protocol at all: open a TCP connection, write the document bytes, close.
The printer may send status text back (the "back-channel"), and most printers close their
side once they have taken the job. So we:

1. connect, bounded by ``timeout``;
2. stream each document in chunks; every ``drain`` is bounded by ``timeout``, so a printer
   that stops reading (paper jam, hung firmware) turns into RETRY instead of a hang, while a
   slow but moving printer may take as long as it needs;
3. half-close (``write_eof``) so the printer sees the end of the job;
4. read and discard back-channel data until the printer closes, at most ``EOF_WAIT`` s.

The printer cannot tell us whether it printed, so a job whose bytes were all taken is
COMPLETED and ``lookup`` is always UNKNOWN. When the printer never closes, we ask the
kernel how many bytes are still unacknowledged (``TIOCOUTQ``): if any, the printer never
took the end of the job and we report RETRY rather than pretend it printed.

Several documents are sent back to back on one connection, as the CUPS socket backend
does for a multi-file job.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import struct
import termios
from collections.abc import Sequence
from typing import BinaryIO
from urllib.parse import urlsplit

from printhost.dispatch.backends.base import (
    DeliveryRequest,
    DeliveryResult,
    Outcome,
    Progress,
    RemoteLookup,
    RemoteState,
)
from printhost.dispatch.backends.common import describe_error, open_documents, unreadable_document

DEFAULT_PORT = 9100
CHUNK_BYTES = 1 << 16
#: Longest wait for the printer to close after the job was sent (capped by ``timeout``).
EOF_WAIT = 10.0


class TransferError(Exception):
    """The connection broke or stalled mid-job; ``str()`` says how."""


class SocketBackend:
    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    async def deliver(self, request: DeliveryRequest, progress: Progress) -> DeliveryResult:
        address = address_from_uri(request.printer_uri)
        if address is None:
            return DeliveryResult(
                Outcome.RETRY, "printer-stopped", f"invalid socket URI {request.printer_uri!r}"
            )
        try:
            with open_documents(request.documents) as files:
                return await self._send(address, files, progress)
        except OSError as exc:  # _send turns network errors into results: this is the spool
            return unreadable_document(exc)

    async def cancel_job(self, request: DeliveryRequest) -> None:
        """AppSocket has no job control: a job is done once its bytes are sent."""

    async def aclose(self) -> None:
        """Nothing pooled: each delivery opens and closes its own connection or files."""

    async def lookup(self, request: DeliveryRequest) -> RemoteLookup:
        return RemoteLookup(RemoteState.UNKNOWN, message="AppSocket printers keep no job list")

    async def probe(self, printer_uri: str) -> bool:
        """A TCP connect that we close at once (some printers print nothing for it)."""
        address = address_from_uri(printer_uri)
        if address is None:
            return False
        try:
            _reader, writer = await self._connect(address)
        except (OSError, TimeoutError):
            return False
        writer.transport.abort()
        return True

    async def _connect(
        self, address: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with asyncio.timeout(self.timeout):
            return await asyncio.open_connection(*address)

    async def _send(
        self,
        address: tuple[str, int],
        files: Sequence[BinaryIO],
        progress: Progress,
    ) -> DeliveryResult:
        host, port = address
        try:
            reader, writer = await self._connect(address)
        except (OSError, TimeoutError) as exc:
            return DeliveryResult(
                Outcome.RETRY,
                "printer-stopped",
                f"cannot connect to {host}:{port}: {describe_error(exc)}",
            )
        try:
            await progress.message(f"sending to {host}:{port}")
            for source in files:
                await self._stream(source, writer)
            writer.write_eof()
            await self._wait_for_close(reader, writer)
        except TransferError as exc:
            writer.transport.abort()
            return DeliveryResult(Outcome.RETRY, "submission-interrupted", f"{host}:{port}: {exc}")
        except OSError as exc:  # write_eof on a reset connection, or a spool read error
            writer.transport.abort()
            return DeliveryResult(
                Outcome.RETRY, "submission-interrupted", f"{host}:{port}: {describe_error(exc)}"
            )
        except BaseException:
            writer.transport.abort()
            raise
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return DeliveryResult(
            Outcome.COMPLETED, "job-completed-successfully", f"sent to {host}:{port}"
        )

    async def _stream(self, source: BinaryIO, writer: asyncio.StreamWriter) -> None:
        """Copy one document in chunks; never more than a chunk (plus socket buffers) in
        memory. Local spool reads are fast, so they are done inline."""
        while chunk := source.read(CHUNK_BYTES):
            writer.write(chunk)
            await self._drain(writer)

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except TimeoutError:
            raise TransferError(f"printer stopped taking data for {self.timeout:g} s") from None
        except OSError as exc:
            raise TransferError(f"connection lost while sending: {describe_error(exc)}") from exc

    async def _wait_for_close(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Discard back-channel data until the printer closes or ``EOF_WAIT`` passes."""
        try:
            async with asyncio.timeout(min(self.timeout, EOF_WAIT)):
                while await reader.read(CHUNK_BYTES):
                    pass
            return
        except TimeoutError:
            pass
        except OSError as exc:
            # A reset after our half-close means the printer closed with our data still
            # unread in its buffer (that is when TCP sends RST): it did not take the job.
            raise TransferError(f"printer reset the connection: {describe_error(exc)}") from exc
        unsent = unacknowledged_bytes(writer)
        if unsent:
            raise TransferError(
                f"printer did not take the last {unsent} bytes within {self.timeout:g} s"
            )


def address_from_uri(uri: str) -> tuple[str, int] | None:
    """``socket://host[:port]`` -> (host, port); None when malformed."""
    try:
        parts = urlsplit(uri)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        return None
    if parts.scheme != "socket" or not parts.hostname:
        return None
    return parts.hostname, port


def unacknowledged_bytes(writer: asyncio.StreamWriter) -> int:
    """Bytes the peer's TCP has not acknowledged yet (Linux ``TIOCOUTQ``); 0 if unknown."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0]) + writer.transport.get_write_buffer_size()
