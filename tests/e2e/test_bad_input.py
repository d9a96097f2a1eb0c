"""Hostile and broken requests against a live server over real sockets (invariant 5).

Each is refused with a precise status - HTTP 400/413/415/408 when no IPP request could be
read, an IPP status when one could - in bounded time; no job and no spool file is left
behind by a request that did not complete; and the server keeps serving: after every
test a normal Get-Printer-Attributes still succeeds and the server log holds no
traceback.

The queue is paused for the whole module, so the spool only changes when a request
creates a job; the spool directory is compared before and after each hostile upload.
"""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import PrinthostServer, user

from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Attribute, Message
from printhost.ipp_client import RESPONSE_LIMITS

from .ipp_http import IppHttp, ipp_request

Op, S = Operation, Status
REQUEST_TIMEOUT = 2.0
MAX_DOCUMENT = 256 * 1024
MAX_REQUEST = 2 << 20
OPERATOR = ("olga", "olga-pw")
PRINTER_URI = "ipp://localhost/printers/myprinter"
PATH = "/printers/myprinter"


# --- the server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    server = PrinthostServer(
        tmp_path_factory.mktemp("bad-input"),
        tls=False,
        users=[user(*OPERATOR, role="operator")],
        settings={
            "server": {
                "request_timeout_seconds": REQUEST_TIMEOUT,
                "max_request_bytes": MAX_REQUEST,
            },
            "jobs": {"max_document_bytes": MAX_DOCUMENT},
        },
    )
    server.start()
    try:
        client = IppHttp(server.http_url)
        reply = client.post(ipp_request(Op.PAUSE_PRINTER, PRINTER_URI, "olga"), auth=OPERATOR)
        client.close()
        assert reply.status == S.SUCCESSFUL_OK, reply.status_name
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def still_serving(server: PrinthostServer) -> Iterator[None]:
    """After each test: a normal request works and nothing was logged as a crash."""
    offset = server.log_offset()
    yield
    assert_serving(server)
    log = server.log_text(offset)
    assert "Traceback" not in log and "internal error" not in log, log[-5000:]


def assert_serving(server: PrinthostServer) -> None:
    status, _headers, body = post(server, gpa())
    assert status == 200, body[:300]
    message, _ = decode_message(body, RESPONSE_LIMITS)
    assert message.code == S.SUCCESSFUL_OK


# --- building requests byte by byte ----------------------------------------------------


def gpa(request_id: int = 1, version: tuple[int, int] = (2, 0)) -> bytes:
    return encode_message(
        ipp_request_with_id(Op.GET_PRINTER_ATTRIBUTES, request_id, version, "alice")
    )


def ipp_request_with_id(
    op: int, request_id: int, version: tuple[int, int] = (2, 0), user_name: str | None = None
) -> Message:
    request = ipp_request(Operation.GET_PRINTER_ATTRIBUTES, PRINTER_URI, user_name)
    request.code, request.request_id, request.version = op, request_id, version
    return request


def header(op: int = Op.GET_PRINTER_ATTRIBUTES, request_id: int = 1) -> bytes:
    return struct.pack(">BBHi", 2, 0, op, request_id)


def record(tag: int, name: bytes, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(name)) + name + struct.pack(">H", len(value)) + value


LEADING = (
    b"\x01"
    + record(0x47, b"attributes-charset", b"utf-8")
    + record(0x48, b"attributes-natural-language", b"en")
    + record(0x45, b"printer-uri", PRINTER_URI.encode())
)
END = b"\x03"
ONE = b"\x00\x00\x00\x01"


def print_job_header(user_name: str = "alice", **extra: tuple[int, bytes]) -> bytes:
    attrs = b"".join(
        record(tag, name.replace("_", "-").encode(), v) for name, (tag, v) in extra.items()
    )
    return (
        header(Op.PRINT_JOB)
        + LEADING
        + record(0x42, b"requesting-user-name", user_name.encode())
        + attrs
        + END
    )


# --- talking HTTP over a raw socket ------------------------------------------------------


def post(
    server: PrinthostServer,
    body: bytes,
    *,
    content_type: str | None = "application/ipp",
    path: str = PATH,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One POST with http.client on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        all_headers = {
            **({"Content-Type": content_type} if content_type else {}),
            **(headers or {}),
        }
        connection.request("POST", path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """A raw client socket that reads HTTP/1.1 responses (Content-Length framed, or up to
    the close) and keeps whatever follows one response for the next."""

    def __init__(self, server: PrinthostServer, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.buffer = b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def read_response(self) -> RawResponse | None:
        """The next response; None when the server closed without answering."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                assert not self.buffer, f"incomplete response: {self.buffer[:300]!r}"
                return None
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 100:
            return RawResponse(status, headers, b"")
        length = int(headers.get("content-length", "-1"))
        while (length < 0 or len(self.buffer) < length) and self._fill():
            pass
        if length < 0:
            body, self.buffer = self.buffer, b""
        else:
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, headers, body)


def connect(server: PrinthostServer, timeout: float = 20.0) -> Connection:
    return Connection(server, timeout)


def http_head(length: int | None, *, extra: str = "") -> bytes:
    framing = (
        f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    )
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ipp\r\n"
        f"{framing}{extra}\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def spool_files(server: PrinthostServer) -> set[Path]:
    root = server.state_dir / "spool"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def job_count(server: PrinthostServer) -> int:
    client = IppHttp(server.http_url)
    try:
        request = ipp_request(
            Op.GET_JOBS,
            PRINTER_URI,
            "olga",
            which_jobs=(Tag.KEYWORD, "all"),
            requested_attributes=(Tag.KEYWORD, "job-id"),
        )
        reply = client.post(request, auth=OPERATOR)
    finally:
        client.close()
    assert reply.status == S.SUCCESSFUL_OK, reply.status_name
    return len(reply.groups(Tag.JOB))


def wait_until(condition: object, timeout: float = 5.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def ipp_status(body: bytes) -> int:
    message, _ = decode_message(body, RESPONSE_LIMITS)
    return message.code


def status_message(body: bytes) -> str:
    message, _ = decode_message(body, RESPONSE_LIMITS)
    attr = message.operation_attributes.get("status-message")
    return str(attr.value) if attr is not None else ""


# --- malformed IPP: HTTP 400 / 413 with a precise message ---------------------------------

MALFORMED = {
    "garbage": (b"This is not an IPP message at all\n", 400, "name-length 28532 exceeds"),
    "empty body": (b"", 400, "truncated after 0 octets"),
    "truncated header": (header()[:6], 400, "truncated after 6 octets, in the 8-octet header"),
    "truncated attribute": (
        header() + LEADING[:-10],
        400,
        "truncated after 111 octets, before end-of-attributes",
    ),
    "no end-of-attributes": (header() + LEADING, 400, "before end-of-attributes"),
    "reserved delimiter tag": (
        header() + LEADING + b"\x00" + END,
        400,
        "reserved delimiter tag 0x00",
    ),
    "attribute before group": (
        header() + record(0x47, b"attributes-charset", b"utf-8") + END,
        400,
        "attribute before the first group tag",
    ),
    "additional value without attribute": (
        header() + b"\x01" + record(0x47, b"", b"utf-8") + END,
        400,
        "additional value (name-length 0) first in its group",
    ),
    "member outside collection": (
        header() + LEADING + record(0x4A, b"", b"media-size") + END,
        400,
        "member-attr-name outside a collection",
    ),
    "end-collection outside collection": (
        header() + LEADING + record(0x37, b"", b"") + END,
        400,
        "end-collection outside a collection",
    ),
    "integer of 3 octets": (
        header() + LEADING + record(0x21, b"job-id", b"\x00\x00\x01") + END,
        400,
        "bad integer value (length 3, must be 4)",
    ),
    "boolean 2": (
        header() + LEADING + record(0x22, b"my-jobs", b"\x02") + END,
        400,
        "bad boolean value",
    ),
    "invalid utf-8 name": (
        header() + LEADING + record(0x42, b"requesting-user-name", b"\xff\xfe") + END,
        400,
        "invalid UTF-8",
    ),
    "control character in keyword": (
        header() + LEADING + record(0x44, b"which-jobs", b"a\x01b") + END,
        400,
        "control character",
    ),
    "short extension value": (
        header() + LEADING + record(0x7F, b"x-ext", b"\x00\x01") + END,
        400,
        "extended type",
    ),
    "name over 255 octets": (
        header() + LEADING + record(0x44, b"x" * 300, b"a") + END,
        400,
        "name-length 300 exceeds the limit 255",
    ),
    "over-long value": (
        header() + LEADING + record(0x41, b"job-name", b"a" * 40_000) + END,
        400,
        "value-length 40000 exceeds the limit 32767",
    ),
    "collections nested 10 deep": (
        header()
        + LEADING
        + b"".join(
            record(0x34, b"media-col" if i == 0 else b"", b"") + record(0x4A, b"", b"m")
            for i in range(10)
        )
        + END,
        400,
        "collections nested deeper than 8",
    ),
    "too many attributes": (
        header() + LEADING + b"".join(record(0x21, b"a%d" % i, ONE) for i in range(2001)) + END,
        413,
        "more than 2000 attributes",
    ),
    "too many values": (
        header()
        + LEADING
        + record(0x21, b"a", ONE)
        + b"".join(record(0x21, b"", ONE) for _ in range(1001))
        + END,
        413,
        "more than 1000 values",
    ),
    "header over 1 MiB": (
        header() + LEADING + b"".join(record(0x41, b"t%d" % i, b"a" * 32_000) for i in range(40)),
        413,
        "exceeds max_header_bytes 1048576",
    ),
}


@pytest.mark.parametrize(("body", "http_status", "fragment"), MALFORMED.values(), ids=MALFORMED)
def test_malformed_ipp(
    server: PrinthostServer, body: bytes, http_status: int, fragment: str
) -> None:
    status, headers, text = post(server, body)
    assert status == http_status, text[:300]
    assert headers["content-type"].startswith("text/plain")
    assert text.startswith(b"malformed IPP request: "), text[:300]
    assert fragment.encode() in text, text[:300]


# --- decodable but wrong: an IPP status -------------------------------------------------


def _without(names: tuple[str, ...]) -> bytes:
    request = ipp_request(Op.GET_PRINTER_ATTRIBUTES, PRINTER_URI, "alice")
    group = request.operation_attributes
    group.attributes = [a for a in group.attributes if a.name not in names]
    return encode_message(request)


def _swapped() -> bytes:
    request = ipp_request(Op.GET_PRINTER_ATTRIBUTES, PRINTER_URI, "alice")
    attrs = request.operation_attributes.attributes
    attrs[0], attrs[1] = attrs[1], attrs[0]
    return encode_message(request)


def _charset(value: str) -> bytes:
    request = ipp_request(Op.GET_PRINTER_ATTRIBUTES, PRINTER_URI, "alice")
    request.operation_attributes.attributes[0] = Attribute.of(
        "attributes-charset", Tag.CHARSET, value
    )
    return encode_message(request)


WRONG = {
    "version 0.0": (gpa(version=(0, 0)), S.SERVER_ERROR_VERSION_NOT_SUPPORTED, "0.0"),
    "version 3.0": (gpa(version=(3, 0)), S.SERVER_ERROR_VERSION_NOT_SUPPORTED, "3.0"),
    "request-id 0": (gpa(request_id=0), S.CLIENT_ERROR_BAD_REQUEST, "request-id"),
    "request-id negative": (gpa(request_id=-5), S.CLIENT_ERROR_BAD_REQUEST, "request-id"),
    "operation 0x7777": (
        encode_message(ipp_request_with_id(0x7777, 1)),
        S.SERVER_ERROR_OPERATION_NOT_SUPPORTED,
        "0x7777",
    ),
    "no operation group": (header() + END, S.CLIENT_ERROR_BAD_REQUEST, "operation attributes"),
    "no charset": (_without(("attributes-charset",)), S.CLIENT_ERROR_BAD_REQUEST, "charset"),
    "no natural-language": (
        _without(("attributes-natural-language",)),
        S.CLIENT_ERROR_BAD_REQUEST,
        "natural-language",
    ),
    "neither": (
        _without(("attributes-charset", "attributes-natural-language")),
        S.CLIENT_ERROR_BAD_REQUEST,
        "must come first",
    ),
    "natural-language first": (_swapped(), S.CLIENT_ERROR_BAD_REQUEST, "must come first"),
    "charset latin1": (_charset("iso-8859-1"), S.CLIENT_ERROR_CHARSET_NOT_SUPPORTED, "utf-8"),
    "unknown queue": (
        encode_message(ipp_request(Op.GET_PRINTER_ATTRIBUTES, "ipp://localhost/printers/nope")),
        S.CLIENT_ERROR_NOT_FOUND,
        "nope",
    ),
    "printer-uri outside /printers": (
        encode_message(ipp_request(Op.GET_PRINTER_ATTRIBUTES, "ipp://localhost/etc/passwd")),
        S.CLIENT_ERROR_NOT_FOUND,
        "no queue",
    ),
    # unsupported values that are not valid keywords / media types: echoed as sent in the
    # unsupported-attributes group (once a crash: the server re-tagged them as keywords)
    "compression as a name with control characters": (
        encode_message(
            ipp_request(Op.VALIDATE_JOB, PRINTER_URI, "alice", compression=(Tag.NAME, "\x17Q"))
        ),
        S.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED,
        "compression",
    ),
    "document-format not ASCII": (
        encode_message(
            ipp_request(Op.VALIDATE_JOB, PRINTER_URI, "alice", document_format=(Tag.TEXT, "\x90"))
        ),
        S.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
        "document-format",
    ),
    "which-jobs with a control character": (
        encode_message(
            ipp_request(Op.GET_JOBS, PRINTER_URI, "alice", which_jobs=(Tag.NAME, "all\x01"))
        ),
        S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
        "which-jobs",
    ),
}


@pytest.mark.parametrize(("body", "status", "fragment"), WRONG.values(), ids=WRONG)
def test_wrong_request_gets_ipp_status(
    server: PrinthostServer, body: bytes, status: Status, fragment: str
) -> None:
    http_status, headers, text = post(server, body)
    assert http_status == 200, text[:300]
    assert headers["content-type"] == "application/ipp"
    assert ipp_status(text) == status, status_message(text)
    assert fragment in status_message(text)
    request_id = struct.unpack(">i", body[4:8])[0]
    assert struct.unpack(">i", text[4:8])[0] == request_id  # echoed (RFC 8011 §4.1.1)


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_non_ipp_content_type(server: PrinthostServer, content_type: str | None) -> None:
    status, _headers, text = post(server, gpa(), content_type=content_type)
    assert status == 415
    assert b"application/ipp" in text


def test_content_type_with_parameters_is_ipp(server: PrinthostServer) -> None:
    status, _headers, text = post(server, gpa(), content_type="Application/IPP; charset=binary")
    assert status == 200 and ipp_status(text) == S.SUCCESSFUL_OK


# --- uploads that do not finish ------------------------------------------------------------


def test_client_closes_mid_document(server: PrinthostServer) -> None:
    before_files, before_jobs = spool_files(server), job_count(server)
    head = print_job_header()
    sock = connect(server)
    sock.sendall(http_head(len(head) + 100_000) + head + b"%!PS\n" + b"x" * 20_000)
    time.sleep(0.2)
    sock.close()
    assert wait_until(lambda: spool_files(server) == before_files), "spool file left behind"
    assert job_count(server) == before_jobs


def test_chunked_body_without_last_chunk(server: PrinthostServer) -> None:
    before_files, before_jobs = spool_files(server), job_count(server)
    sock = connect(server)
    sock.sendall(http_head(None) + chunk(print_job_header()) + chunk(b"%!PS\n" + b"y" * 30_000))
    time.sleep(0.2)
    sock.sock.shutdown(socket.SHUT_WR)  # EOF where the 0-length chunk should be
    response = sock.read_response()
    sock.close()
    assert response is None or response.status in (400, 408), response
    assert wait_until(lambda: spool_files(server) == before_files), "spool file left behind"
    assert job_count(server) == before_jobs


def test_client_closes_inside_ipp_header(server: PrinthostServer) -> None:
    head = print_job_header()
    sock = connect(server)
    sock.sendall(http_head(len(head)) + head[: len(head) // 2])
    sock.close()


STALLED = {
    "silent": b"",  # connects and says nothing
    "half-headers": b"POST /printers/myprinter HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty",
    "headers-only": http_head(None),  # not even the first chunk of the body
    "ipp-header-then-nothing": http_head(len(print_job_header()) + 10_000)
    + print_job_header()
    + b"%!PS\n",
}


def test_stalled_clients_are_cut_off(server: PrinthostServer) -> None:
    """Clients that stall at each stage of a request (slowloris) get 408 or a close
    after the request timeout; others are served without delay meanwhile; the upload
    that stalled leaves no job and no spool file."""
    before_files, before_jobs = spool_files(server), job_count(server)
    stalled = {name: connect(server) for name in STALLED}
    for name, sock in stalled.items():
        sock.sendall(STALLED[name])
    started = time.monotonic()
    for _ in range(5):
        t0 = time.monotonic()
        assert_serving(server)
        assert time.monotonic() - t0 < 1.0
    for name, sock in stalled.items():
        response = sock.read_response()
        elapsed = time.monotonic() - started
        sock.close()
        assert response is None or response.status == 408, (name, response)
        assert elapsed <= REQUEST_TIMEOUT + 3, (name, elapsed)
    assert time.monotonic() - started >= REQUEST_TIMEOUT * 0.9
    assert wait_until(lambda: spool_files(server) == before_files)
    assert job_count(server) == before_jobs


# --- documents that inflate or do not decompress -----------------------------------------


def _print_job(server: PrinthostServer, document: bytes, compression: str) -> tuple[int, bytes]:
    head = print_job_header(compression=(0x44, compression.encode()))
    status, _headers, body = post(server, head + document)
    return status, body


def _peak_rss_kib(server: PrinthostServer) -> int:
    status = Path(f"/proc/{server.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def _gzip_zeros(size: int) -> bytes:
    """``size`` zero bytes as gzip members of 16 MiB each (RFC 1952 §2.2 allows a series;
    one member of 16 MiB compresses in milliseconds, 1 GiB in one stream takes seconds)."""
    member = gzip.compress(b"\0" * (16 << 20), compresslevel=9)
    return member * (size // (16 << 20))


def test_gzip_bomb(server: PrinthostServer) -> None:
    """1 GiB of zeros in 1 MiB of gzip: refused at the document limit, never inflated
    in memory (the server's peak RSS barely moves)."""
    before_files, before_jobs = spool_files(server), job_count(server)
    bomb = _gzip_zeros(1 << 30)
    assert len(bomb) < 2 << 20
    peak = _peak_rss_kib(server)
    started = time.monotonic()
    status, body = _print_job(server, bomb, "gzip")
    assert time.monotonic() - started < 5
    assert status == 200
    assert ipp_status(body) == S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, status_message(body)
    assert str(MAX_DOCUMENT) in status_message(body)
    assert _peak_rss_kib(server) - peak < 32 * 1024, "the bomb was inflated in memory"
    assert spool_files(server) == before_files
    assert job_count(server) == before_jobs


def test_deflate_bomb(server: PrinthostServer) -> None:
    before_files = spool_files(server)
    bomb = zlib.compress(b"\0" * (MAX_DOCUMENT * 64), 9)
    status, body = _print_job(server, bomb, "deflate")
    assert status == 200
    assert ipp_status(body) == S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, status_message(body)
    assert spool_files(server) == before_files


def test_plain_document_over_the_limit(server: PrinthostServer) -> None:
    before_files = spool_files(server)
    status, body = _print_job(server, b"z" * (MAX_DOCUMENT + 1), "none")
    assert status == 200
    assert ipp_status(body) == S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, status_message(body)
    assert spool_files(server) == before_files


def _empty_gzip_members(size: int) -> bytes:
    """Exactly ``size`` bytes of gzip members that inflate to nothing (RFC 1952: the
    last member pads with an FNAME field)."""
    empty = gzip.compress(b"", mtime=0)  # 20 bytes
    count, rest = divmod(size - 21, len(empty))
    padded = b"\x1f\x8b\x08\x08" + empty[4:10] + b"a" * rest + b"\x00" + empty[10:]
    data = empty * count + padded
    assert len(data) == size and gzip.decompress(empty + padded) == b""
    return data


def test_request_body_over_max_request_bytes(server: PrinthostServer) -> None:
    """Endless gzip members that inflate to nothing never reach the document limit; the
    request limit ([server] max_request_bytes) stops them."""
    before_files, before_jobs = spool_files(server), job_count(server)
    head = print_job_header(compression=(0x44, b"gzip"))
    body = head + _empty_gzip_members(MAX_REQUEST + 1 - len(head))
    status, headers, text = post(server, body)
    assert status == 413, text[:300]
    assert f"larger than {MAX_REQUEST} bytes".encode() in text
    assert headers.get("connection") == "close"
    assert spool_files(server) == before_files
    assert job_count(server) == before_jobs
    # at the limit the request is read: an empty document is the handler's to refuse
    status, _headers, text = post(server, head + _empty_gzip_members(MAX_REQUEST - len(head)))
    assert status == 200
    assert ipp_status(text) == S.CLIENT_ERROR_BAD_REQUEST, status_message(text)
    assert "without document data" in status_message(text)


@pytest.mark.parametrize(
    "document",
    [
        b"this is not gzip at all",
        gzip.compress(b"hello world\n" * 100)[:-20],  # cut short
        gzip.compress(b"hello") + b"trailing garbage",  # not a second member
        b"\x1f\x8b\x08\x00" + os.urandom(64),
    ],
    ids=["not-gzip", "truncated", "trailing-garbage", "random-after-magic"],
)
def test_corrupt_gzip(server: PrinthostServer, document: bytes) -> None:
    before_files, before_jobs = spool_files(server), job_count(server)
    status, body = _print_job(server, document, "gzip")
    assert status == 200
    assert ipp_status(body) == S.CLIENT_ERROR_COMPRESSION_ERROR, status_message(body)
    assert "gzip" in status_message(body)
    assert spool_files(server) == before_files
    assert job_count(server) == before_jobs


@pytest.mark.parametrize(
    "document",
    [
        gzip.compress(b"%!PS\nshowpage\n"),
        gzip.compress(b"%!PS\n") + gzip.compress(b"showpage\n"),  # two members (RFC 1952)
    ],
    ids=["one-member", "two-members"],
)
def test_good_gzip_document_is_accepted(server: PrinthostServer, document: bytes) -> None:
    status, body = _print_job(server, document, "gzip")
    assert status == 200 and ipp_status(body) == S.SUCCESSFUL_OK, status_message(body)
    message, _ = decode_message(body, RESPONSE_LIMITS)
    job = message.group(Tag.JOB)
    job_id = job.get("job-id") if job is not None else None
    assert job_id is not None and isinstance(job_id.value, int)
    spooled = _document_bytes(server, job_id.value)
    assert spooled == b"%!PS\nshowpage\n"


def _document_bytes(server: PrinthostServer, job_id: int) -> bytes:
    """The spooled document of a job (the queue is paused, so it is still there)."""
    with sqlite3.connect(server.state_dir / "printhost.sqlite3") as db:
        [(path,)] = db.execute("SELECT path FROM documents WHERE job_id = ?", (job_id,))
    return (server.state_dir / "spool" / str(path)).read_bytes()


# --- HTTP features real clients use ---------------------------------------------------------


def test_expect_100_continue(server: PrinthostServer) -> None:
    head = print_job_header()
    document = b"%!PS\n" + b"c" * 5000
    sock = connect(server)
    sock.sendall(http_head(len(head) + len(document), extra="Expect: 100-continue\r\n") + head)
    interim = sock.read_response()
    assert interim is not None and interim.status == 100, interim
    sock.sendall(document)
    response = sock.read_response()
    sock.close()
    assert response is not None and response.status == 200, response
    assert ipp_status(response.body) == S.SUCCESSFUL_OK, status_message(response.body)


def test_keep_alive_50_requests_on_one_connection(server: PrinthostServer) -> None:
    sock = connect(server)
    started = time.monotonic()
    try:
        for request_id in range(1, 51):
            body = gpa(request_id=request_id)
            sock.sendall(http_head(len(body)) + body)
            response = sock.read_response()
            assert response is not None and response.status == 200, (request_id, response)
            assert struct.unpack(">i", response.body[4:8])[0] == request_id
            assert response.headers.get("connection", "") != "close"
    finally:
        sock.close()
    # ~3 ms each; 40+ ms each when the server's sockets lack TCP_NODELAY (Nagle meets
    # delayed ACK: uvicorn writes the response head and body apart)
    assert time.monotonic() - started < 1.5


def test_error_answers_keep_the_connection_usable_or_close_it(server: PrinthostServer) -> None:
    """An IPP-level error keeps the connection; the next request on it works."""
    sock = connect(server)
    try:
        for body in (gpa(request_id=0), encode_message(ipp_request_with_id(0x7777, 3)), gpa(4)):
            sock.sendall(http_head(len(body)) + body)
            response = sock.read_response()
            assert response is not None and response.status == 200, response
    finally:
        sock.close()


def test_chunked_request_body(server: PrinthostServer) -> None:
    head = print_job_header()
    sock = connect(server)
    pieces = [head[:10], head[10:50], head[50:], b"%!PS\n", b"d" * 10_000, b"showpage\n"]
    sock.sendall(http_head(None) + b"".join(chunk(p) for p in pieces) + b"0\r\n\r\n")
    response = sock.read_response()
    sock.close()
    assert response is not None and response.status == 200, response
    assert ipp_status(response.body) == S.SUCCESSFUL_OK, status_message(response.body)


def test_pipelined_requests(server: PrinthostServer) -> None:
    sock = connect(server)
    try:
        bodies = [gpa(request_id=i) for i in (7, 8, 9)]
        sock.sendall(b"".join(http_head(len(b)) + b for b in bodies))
        for request_id in (7, 8, 9):
            response = sock.read_response()
            assert response is not None and response.status == 200
            assert struct.unpack(">i", response.body[4:8])[0] == request_id
    finally:
        sock.close()


def test_many_hostile_clients_at_once(server: PrinthostServer) -> None:
    """Twenty clients that stall while others keep being served."""
    socks = [connect(server) for _ in range(20)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(http_head(10_000) + header() if i % 2 else b"POST / HTTP/1.1\r\n")
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                for _ in range(5):
                    assert_serving(server)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=serve) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert not errors, errors
    finally:
        for sock in socks:
            sock.close()
