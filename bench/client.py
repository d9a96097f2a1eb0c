"""The IPP load client: the same bytes, the same way, to printhost and to CUPS.

Theory of operation
-------------------
One asyncio loop in the bench process runs ``clients`` workers. Each worker owns one
keep-alive HTTP/1.1 connection (TCP_NODELAY) and sends one Print-Job at a time: it writes
the request (head + IPP message + document), waits for the whole response, records the
latency and the IPP status, and takes the next job number from a shared counter. So
"4 clients" means at most 4 requests in flight, as 4 users' ``lp`` would give; there is no
pipelining. A worker whose connection is closed by the server (``Connection: close``, a
reset) opens a new one and goes on.

The IPP message is built with printhost's own sans-I/O codec
(``printhost.ipp.encoder.encode_message``); the server under test never sees that: it only
gets bytes, the same for both servers apart from the port in ``printer-uri``. Responses
are parsed only as far as needed (HTTP status line, Content-Length or chunked body, the
IPP status code in octets 2-3); the body of a refused job is decoded for its
``status-message`` so the table can say *why* a server refused.

Every run is bounded twice: by its job count and by a deadline, after which no new job is
started and requests still in flight get ``REQUEST_TIMEOUT`` seconds to finish.

The client's own CPU time (``resource.getrusage``) is reported next to its wall time, so a
reader can see that the client was not the bottleneck (it stays well below one core).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import resource
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from printhost.ipp.constants import Operation, Tag
from printhost.ipp.decoder import IppDecodeError, decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message

#: Longest wait for one response; a server slower than this counts the job as failed.
REQUEST_TIMEOUT = 60.0
#: The document bytes for job number ``n`` (0-based).
DocumentSource = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class Target:
    """Where the jobs go: ``http://host:port/printers/<queue>`` for each queue, round robin."""

    host: str
    port: int
    queues: tuple[str, ...]

    def printer_uri(self, queue: str) -> str:
        return f"ipp://{self.host}:{self.port}/printers/{queue}"


@dataclass(slots=True)
class LoadResult:
    """What a load run saw, raw: every latency and every status."""

    submitted: int = 0
    accepted: int = 0
    refused: int = 0
    errors: int = 0  # no IPP answer at all (reset, timeout, HTTP error)
    latencies: list[float] = field(default_factory=list)  # seconds, accepted jobs only
    accepted_numbers: list[int] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    first_submit: float = 0.0  # time.monotonic()
    last_answer: float = 0.0
    wall_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    timed_out: bool = False

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.wall_seconds if self.wall_seconds > 0 else 0.0


def print_job_request(uri: str, number: int, document_format: str) -> bytes:
    """The IPP part of a Print-Job request (RFC 8011 §4.2.1), without the document."""
    message = Message((2, 0), Operation.PRINT_JOB, number + 1)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, uri)
    group.add("requesting-user-name", Tag.NAME, "bench")
    group.add("job-name", Tag.NAME, f"bench-{number}")
    group.add("document-format", Tag.MIME_MEDIA_TYPE, document_format)
    return encode_message(message)


def http_post(host: str, port: int, path: str, body_length: int, extra: str = "") -> bytes:
    """The request head; ``extra`` is more header lines, each ending in CRLF."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
        f"Content-Type: application/ipp\r\nContent-Length: {body_length}\r\n\r\n"
    ).encode("ascii")


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: list[bytes]) -> bytes:
        """Send one request (already framed), return the response body."""
        if self._writer is None or self._writer.is_closing():
            await self._open()
        assert self._reader is not None and self._writer is not None
        self._writer.writelines(request)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head)
        body = await self._read_body(headers)
        if headers.get("connection", "").lower() == "close":
            await self.close()
        if status != 200:
            raise HttpError(f"HTTP {status}")
        return body

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await self._read_chunked()
        return await self._reader.readexactly(int(headers.get("content-length", "0")))

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers are expected
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class HttpError(Exception):
    """The server answered, but not with 200 OK and an IPP body."""


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


def ipp_status(body: bytes) -> int:
    """The status-code of an IPP response (RFC 8010 §3.1.1: octets 2-3)."""
    if len(body) < 8:
        raise HttpError("short IPP response")
    return int.from_bytes(body[2:4], "big")


def status_message(body: bytes) -> str:
    """``status-message`` of a response, or ``""`` (only decoded for refusals)."""
    try:
        message, _rest = decode_message(body)
    except IppDecodeError:
        return ""
    attr = message.operation_attributes.get("status-message")
    return str(attr.value) if attr is not None else ""


class PrintJobLoad:
    """``count`` Print-Jobs over ``clients`` connections, bounded by ``deadline_seconds``."""

    def __init__(
        self,
        target: Target,
        documents: DocumentSource,
        document_format: str,
        *,
        count: int,
        clients: int,
        deadline_seconds: float,
    ) -> None:
        self.target = target
        self.documents = documents
        self.document_format = document_format
        self.count = count
        self.clients = max(1, min(clients, count))
        self.deadline_seconds = deadline_seconds
        self.result = LoadResult()
        self._numbers = itertools.count()
        self._deadline = 0.0

    async def run(self) -> LoadResult:
        cpu_before = _cpu_seconds()
        start = time.monotonic()
        self.result.first_submit = start
        self._deadline = start + self.deadline_seconds
        async with asyncio.TaskGroup() as group:
            for _ in range(self.clients):
                group.create_task(self._worker())
        self.result.wall_seconds = self.result.last_answer - start
        self.result.client_cpu_seconds = _cpu_seconds() - cpu_before
        return self.result

    async def _worker(self) -> None:
        connection = Connection(self.target.host, self.target.port)
        try:
            while (number := next(self._numbers)) < self.count:
                if time.monotonic() > self._deadline:
                    self.result.timed_out = True
                    return
                await self._submit(connection, number)
        finally:
            await connection.close()

    async def _submit(self, connection: Connection, number: int) -> None:
        queue = self.target.queues[number % len(self.target.queues)]
        ipp = print_job_request(self.target.printer_uri(queue), number, self.document_format)
        document = self.documents(number)
        head = http_post(
            self.target.host, self.target.port, f"/printers/{queue}", len(ipp) + len(document)
        )
        self.result.submitted += 1
        sent = time.monotonic()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):  # no task per request, unlike wait_for
                body = await connection.exchange([head, ipp, document])
            status = ipp_status(body)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, HttpError, ValueError) as exc:
            await connection.close()
            self.result.errors += 1
            self.result.statuses[f"error: {type(exc).__name__} {exc}"[:120]] += 1
            self.result.last_answer = time.monotonic()
            return
        self._record(number, status, body, time.monotonic() - sent)

    def _record(self, number: int, status: int, body: bytes, latency: float) -> None:
        self.result.last_answer = time.monotonic()
        if status < 0x0100:  # successful-ok and its variants (RFC 8011 §4.1.6)
            self.result.accepted += 1
            self.result.latencies.append(latency)
            self.result.accepted_numbers.append(number)
            self.result.statuses["successful-ok"] += 1
            return
        self.result.refused += 1
        reason = status_message(body) or "(no status-message)"
        self.result.statuses[f"0x{status:04x} {reason}"[:120]] += 1


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def ipp_request(
    host: str, port: int, path: str, message: Message, *, basic_auth: str = ""
) -> Message:
    """One IPP request on a fresh connection (control operations, printer polling).
    ``basic_auth`` is ``user:password`` for HTTP Basic."""
    body = encode_message(message)
    extra = ""
    if basic_auth:
        extra = f"Authorization: Basic {base64.b64encode(basic_auth.encode()).decode()}\r\n"
    connection = Connection(host, port)
    try:
        head = http_post(host, port, path, len(body), extra)
        async with asyncio.timeout(REQUEST_TIMEOUT):
            raw = await connection.exchange([head, body])
    finally:
        await connection.close()
    response, _rest = decode_message(raw)
    return response
