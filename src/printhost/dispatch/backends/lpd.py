"""The LPD backend: an RFC 1179 client for ``lpd://host[:port]/queue`` (port 515 by default).

Theory of operation
-------------------
One connection per job (RFC 1179 §5.2 "Receive a printer job"):

    client: 02 queue LF                          server: 00
    client: 02 count SP cfA123host LF            server: 00   (§6.2 receive control file)
    client: <count bytes of control file> 00     server: 00
    client: 03 count SP dfA123host LF            server: 00   (§6.3 receive data file)
    client: <count bytes of document> 00         server: 00   (once per document)

The control file goes first, as CUPS's lpd backend does by default (RFC 1179 §6 allows
either order). Building the control file and the file names is pure (no I/O,
see :func:`build_control_file`) and unit-tested on its own; the async part only frames and
acknowledges.

Deliberate departures from the letter of RFC 1179:
- §3.1 wants a source port in 721-731, which needs root and proves nothing today; we use an
  ordinary port (as CUPS does with ``reserve=none``, and Windows' LPR port monitor).
- The ``L`` (banner page) line is only sent with ``?banner=on`` in the URI, like CUPS:
  RFC 1179 §7.5 makes it print an extra page per job.

Fields that come from users (job name, user, host, document names) are untrusted: control
characters are removed and lengths capped at the RFC's limits (§7.2 host and §7.8 user
< 32 octets; §7.4 job name < 100 octets; §7.7 source file name, capped likewise at 99),
because LPD servers pass them to banner programs and shells (IPP-CLIENTS.md §6.2).

An LPD server says nothing about printing, so a job whose bytes were all acknowledged is
COMPLETED and ``lookup`` is always UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from printhost.dispatch.backends.base import (
    DeliveryRequest,
    DeliveryResult,
    Outcome,
    Progress,
    RemoteLookup,
    RemoteState,
)
from printhost.dispatch.backends.common import describe_error, open_documents, unreadable_document

T = TypeVar("T")

DEFAULT_PORT = 515
CHUNK_BYTES = 1 << 16
HOST_MAX = 31  # RFC 1179 §7.2
USER_MAX = 31  # RFC 1179 §7.8
JOB_NAME_MAX = 99  # RFC 1179 §7.4
SOURCE_NAME_MAX = 99  # RFC 1179 §7.7 allows 131; 99 is what every LPD accepts
#: Data file letters: dfA..dfZ then dfa..dfz (what LPRng and CUPS use), so at most 52.
DATA_FILE_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_DOCUMENTS = len(DATA_FILE_LETTERS)

_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_HOST_UNSAFE = re.compile(r"[^A-Za-z0-9.-]")


# -- the pure part: names and the control file (RFC 1179 §7) -----------------------------


@dataclass(frozen=True, slots=True)
class ControlFile:
    name: str  # cfA<nnn><host>
    data_file_names: tuple[str, ...]  # dfA<nnn><host>, dfB<nnn><host>, ...
    content: bytes


def build_control_file(
    *,
    job_id: int,
    host: str,
    user: str,
    job_name: str,
    document_names: Sequence[str],
    banner: bool = False,
) -> ControlFile:
    """The control file for one job of ``len(document_names)`` documents, each printed with
    ``l`` (RFC 1179 §7.22: print as is, control characters included: right for PDF,
    PostScript, PCL and raster data that must not be reformatted)."""
    if not 1 <= len(document_names) <= MAX_DOCUMENTS:
        raise ValueError(f"LPD jobs carry 1 to {MAX_DOCUMENTS} documents")
    number = f"{job_id % 1000:03d}"  # RFC 1179 §2: job numbers are 0-999
    safe_host = sanitize_host(host)
    data_names = tuple(f"df{letter}{number}{safe_host}" for letter in DATA_FILE_LETTERS)
    data_names = data_names[: len(document_names)]
    safe_user = sanitize_field(user, USER_MAX) or "anonymous"
    lines = [f"H{safe_host}", f"P{safe_user}", f"J{sanitize_field(job_name, JOB_NAME_MAX)}"]
    if banner:
        lines.append(f"L{safe_user}")  # §7.5: print a banner page naming this user
    for data_name, doc_name in zip(data_names, document_names, strict=True):
        source = sanitize_field(doc_name or job_name, SOURCE_NAME_MAX)
        # N before the print line: cups-lpd names each document after the N line that
        # precedes it (RFC 1179 §7.7 leaves the order open). Then §7.22 l, §7.11 U.
        lines += [f"N{source}", f"l{data_name}", f"U{data_name}"]
    content = "".join(line + "\n" for line in lines).encode("utf-8")
    return ControlFile(f"cfA{number}{safe_host}", data_names, content)


def sanitize_field(value: str, max_octets: int) -> str:
    """Remove control characters (a LF would start a new control line) and cap the UTF-8
    length without cutting a character in half."""
    clean = _CONTROL_CHARS.sub("", value)
    encoded = clean.encode("utf-8")[:max_octets]
    return encoded.decode("utf-8", errors="ignore")


def sanitize_host(host: str) -> str:
    """Host names also end up in file names (cfA123<host>): keep letters, digits, '.', '-'."""
    return _HOST_UNSAFE.sub("", host)[:HOST_MAX] or "printhost"


def receive_job_command(queue: str) -> bytes:
    return b"\x02" + queue.encode("utf-8") + b"\n"  # RFC 1179 §5.2


def receive_file_command(code: int, size: int, name: str) -> bytes:
    return bytes([code]) + f"{size} {name}\n".encode("ascii")  # RFC 1179 §6.2, §6.3


# -- URI ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LpdTarget:
    host: str
    port: int
    queue: str
    banner: bool = False


def target_from_uri(uri: str) -> LpdTarget | None:
    """``lpd://host[:port]/queue[?banner=on]``; None when malformed."""
    try:
        parts = urlsplit(uri)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        return None
    queue = unquote(parts.path.lstrip("/"))
    if parts.scheme != "lpd" or not parts.hostname or not queue or _CONTROL_CHARS.search(queue):
        return None
    banner = parse_qs(parts.query).get("banner", ["off"])[-1].lower() in ("on", "yes", "true")
    return LpdTarget(parts.hostname, port, queue, banner)


# -- the I/O part ------------------------------------------------------------------------


class LpdError(Exception):
    """The exchange failed; carries the result to report."""

    def __init__(self, outcome: Outcome, reason: str, message: str) -> None:
        super().__init__(message)
        self.result = DeliveryResult(outcome, reason, message)


class LpdBackend:
    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    async def deliver(self, request: DeliveryRequest, progress: Progress) -> DeliveryResult:
        target = target_from_uri(request.printer_uri)
        if target is None:
            return DeliveryResult(
                Outcome.RETRY, "printer-stopped", f"invalid lpd URI {request.printer_uri!r}"
            )
        if not 1 <= len(request.documents) <= MAX_DOCUMENTS:
            return DeliveryResult(
                Outcome.FAILED,
                "aborted-by-system",
                f"an LPD job carries 1 to {MAX_DOCUMENTS} documents, not {len(request.documents)}",
            )
        control = build_control_file(
            job_id=request.job_id,
            host=request.originating_host or socket.gethostname(),
            user=request.user_name,
            job_name=request.job_name,
            document_names=[d.name for d in request.documents],
            banner=target.banner,
        )
        try:
            with open_documents(request.documents) as files:
                await self._send_job(target, control, files, progress)
        except LpdError as exc:
            return exc.result
        except OSError as exc:  # _send_job turns network errors into LpdError: this is the spool
            return unreadable_document(exc)
        return DeliveryResult(
            Outcome.COMPLETED,
            "job-completed-successfully",
            f"accepted by queue {target.queue!r} on {target.host}:{target.port}",
        )

    async def cancel_job(self, request: DeliveryRequest) -> None:
        """Not yet: RFC 1179 remove-jobs (0x05) could withdraw a job still queued there."""

    async def aclose(self) -> None:
        """Nothing pooled: each delivery opens and closes its own connection or files."""

    async def lookup(self, request: DeliveryRequest) -> RemoteLookup:
        return RemoteLookup(RemoteState.UNKNOWN, message="LPD cannot look a job up by uuid")

    async def probe(self, printer_uri: str) -> bool:
        """Can we connect? (Asking for the queue state, §5.3, prints nothing but is parsed
        differently by every server; a connect is the common denominator.)"""
        target = target_from_uri(printer_uri)
        if target is None:
            return False
        try:
            _reader, writer = await self._connect(target)
        except LpdError:
            return False
        writer.transport.abort()
        return True

    async def _connect(
        self, target: LpdTarget
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.open_connection(target.host, target.port)
        except (OSError, TimeoutError) as exc:
            where = f"{target.host}:{target.port}"
            raise LpdError(
                Outcome.RETRY,
                "printer-stopped",
                f"cannot connect to {where}: {describe_error(exc)}",
            ) from exc

    async def _send_job(
        self,
        target: LpdTarget,
        control: ControlFile,
        files: Sequence[BinaryIO],
        progress: Progress,
    ) -> None:
        reader, writer = await self._connect(target)
        try:
            await progress.message(f"sending to LPD queue {target.queue!r} on {target.host}")
            session = _Session(reader, writer, self.timeout)
            await session.command(receive_job_command(target.queue), "receive-job", queue=True)
            await session.command(
                receive_file_command(2, len(control.content), control.name), "receive-control-file"
            )
            await session.send_bytes(control.content, "control file")
            for name, source in zip(control.data_file_names, files, strict=True):
                size = _size_of(source)
                await session.command(receive_file_command(3, size, name), "receive-data-file")
                await session.send_stream(source, size, name)
        except BaseException:
            writer.transport.abort()
            raise
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class _Session:
    """One RFC 1179 conversation: write, then wait for the one-octet acknowledgement."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    async def command(self, data: bytes, what: str, *, queue: bool = False) -> None:
        self.writer.write(data)
        await self._acknowledged(what, queue=queue)

    async def send_bytes(self, data: bytes, what: str) -> None:
        self.writer.write(data + b"\x00")  # §6.2: the file is followed by one zero octet
        await self._acknowledged(what)

    async def send_stream(self, source: BinaryIO, size: int, what: str) -> None:
        sent = 0
        while chunk := source.read(min(CHUNK_BYTES, size - sent)):
            self.writer.write(chunk)
            sent += len(chunk)
            await self._io(self.writer.drain(), f"sending {what}")
        if sent != size:
            raise LpdError(
                Outcome.RETRY, "submission-interrupted", f"spool file {what} changed size"
            )
        self.writer.write(b"\x00")  # §6.3
        await self._acknowledged(what)

    async def _acknowledged(self, what: str, *, queue: bool = False) -> None:
        await self._io(self.writer.drain(), f"sending {what}")
        ack = await self._io(self.reader.read(1), f"waiting for the {what} acknowledgement")
        if ack == b"\x00":
            return
        if not ack:
            raise LpdError(
                Outcome.RETRY,
                "submission-interrupted",
                f"LPD server closed the connection instead of acknowledging the {what}",
            )
        raise _refusal(what, ack[0], queue=queue)

    async def _io(self, awaitable: Awaitable[T], doing: str) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                return await awaitable
        except (OSError, TimeoutError) as exc:
            raise LpdError(
                Outcome.RETRY, "submission-interrupted", f"{doing}: {describe_error(exc)}"
            ) from exc


def _refusal(what: str, code: int, *, queue: bool) -> LpdError:
    if queue:
        # RFC 1179 §5.2 gives one octet and no reason; servers answer non-zero when the
        # queue does not exist or does not accept jobs. Resending will not fix either.
        return LpdError(
            Outcome.FAILED,
            "aborted-by-system",
            f"LPD server refused the queue (receive-job answered {code:#04x}): "
            "no such queue, or it is not accepting jobs",
        )
    # §6.2/§6.3: a refused file is usually a full spool: worth retrying later.
    return LpdError(
        Outcome.RETRY,
        "submission-interrupted",
        f"LPD server refused the {what} (answered {code:#04x}; out of spool space?)",
    )


def _size_of(source: BinaryIO) -> int:
    return os.fstat(source.fileno()).st_size
