"""A bounded fuzz run against a live server over real sockets (invariant 5).

Two sources of hostile input, both POSTed as complete HTTP requests:

* hypothesis builds requests that get past the codec - real operation codes, real
  attribute names with values of any syntax (right, wrong, out-of-band, collections),
  extra groups, documents with and without compression - plus raw bytes, sent
  anonymously or as a user or an operator;
* seeded mutations (bit flips, truncation, insertion, deletion, duplication) of a real
  Print-Job and a real Get-Jobs.

Every answer must be an HTTP 200 IPP message (never server-error-internal-error, and it
echoes the request-id) or an HTTP 4xx; never a 5xx or a connection dropped without an
answer. Afterwards the server still serves and its log holds no traceback.
"""

from __future__ import annotations

import gzip
import random
import struct
import zlib
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipp.strategies import values as any_value
from support.server import PrinthostServer, user

from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Attribute, AttributeGroup, Message, Value
from printhost.ipp_client import RESPONSE_LIMITS
from printhost.server.ipp_service import OPERATIONS

Op = Operation
PRINTER_URI = "ipp://localhost/printers/myprinter"
USERS = {"anonymous": None, "alice": ("alice", "alice-pw"), "olga": ("olga", "olga-pw")}
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MUTATIONS_PER_REQUEST = 50


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    server = PrinthostServer(
        tmp_path_factory.mktemp("fuzz"),
        tls=False,
        users=[user("alice", "alice-pw"), user("olga", "olga-pw", "operator")],
        settings={
            "server": {"request_timeout_seconds": 5},
            "jobs": {"max_document_bytes": 1 << 20},
        },
    )
    server.start()
    offset = server.log_offset()
    try:
        _seed(server)
        yield server
        log = server.log_text(offset)
        assert "Traceback" not in log and "internal error" not in log, log[-5000:]
    finally:
        server.stop()


def _seed(server: PrinthostServer) -> None:
    """Jobs in several states for the fuzzed job operations to find (ids 1-6)."""
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        for index, op in enumerate([Op.PRINT_JOB, Op.PRINT_JOB, Op.CREATE_JOB] * 2):
            message = _request(op, 1 + index, "alice" if index % 2 else "fuzzer")
            if index < 3:
                message.add_group(Tag.JOB).add("job-hold-until", Tag.KEYWORD, "indefinite")
            document = b"%!PS\nshowpage\n" if op == Op.PRINT_JOB else b""
            auth = USERS["alice"] if index % 2 else None
            response = post(client, encode_message(message) + document, auth)
            assert check_answer(response, 1 + index) == Status.SUCCESSFUL_OK


@pytest.fixture(scope="module")
def client(server: PrinthostServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def serving_afterwards(server: PrinthostServer, client: httpx.Client) -> Iterator[None]:
    offset = server.log_offset()
    yield
    check_answer(post(client, encode_message(_request(Op.GET_PRINTER_ATTRIBUTES, 99))), 99)
    log = server.log_text(offset)
    assert "Traceback" not in log and "internal error" not in log, log[-5000:]


# --- sending and judging -----------------------------------------------------------------


def post(
    client: httpx.Client, body: bytes, auth: tuple[str, str] | None = None, path: str = ""
) -> httpx.Response:
    try:
        return client.post(
            path or "/printers/myprinter",
            content=body,
            headers={"Content-Type": "application/ipp"},
            auth=httpx.BasicAuth(*auth) if auth else httpx.USE_CLIENT_DEFAULT,
        )
    except httpx.HTTPError as exc:  # dropped, reset, timed out: no answer at all
        raise AssertionError(f"no HTTP answer ({exc!r}) to {body[:200].hex()}") from exc


def check_answer(response: httpx.Response, request_id: int | None) -> Status | None:
    """The answer is HTTP 200 with an IPP message, or a 4xx. Returns the IPP status."""
    status = response.status_code
    assert status < 500, f"HTTP {status}: {response.text[:300]}"
    if status != 200:
        assert 400 <= status < 500, f"HTTP {status}"
        return None
    assert response.headers["content-type"] == "application/ipp"
    message, _ = decode_message(response.content, RESPONSE_LIMITS)
    assert message.code != Status.SERVER_ERROR_INTERNAL_ERROR, _status_message(message)
    if request_id is not None:
        assert message.request_id == request_id
    return Status(message.code) if message.code in Status._value2member_map_ else None


def _status_message(message: Message) -> str:
    attr = message.operation_attributes.get("status-message")
    return str(attr.value) if attr is not None else ""


def _request(op: int, request_id: int, user_name: str = "fuzzer") -> Message:
    message = Message((2, 0), op, request_id)
    group = message.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, PRINTER_URI)
    group.add("requesting-user-name", Tag.NAME, user_name)
    return message


# --- mutations of real requests --------------------------------------------------------


def _print_job() -> bytes:
    message = _request(Op.PRINT_JOB, 4242)
    message.operation_attributes.add("job-name", Tag.NAME, "quarterly report")
    message.operation_attributes.add("document-format", Tag.MIME_MEDIA_TYPE, "text/plain")
    job = message.add_group(Tag.JOB)
    job.add("copies", Tag.INTEGER, 2)
    job.add("sides", Tag.KEYWORD, "two-sided-long-edge")
    job.add("job-hold-until", Tag.KEYWORD, "indefinite")
    return encode_message(message) + b"Hello, printer.\n" * 20


def _get_jobs() -> bytes:
    message = _request(Op.GET_JOBS, 4243)
    message.operation_attributes.add("which-jobs", Tag.KEYWORD, "all")
    message.operation_attributes.add("my-jobs", Tag.BOOLEAN, False)
    message.operation_attributes.add("limit", Tag.INTEGER, 10)
    message.operation_attributes.add(
        "requested-attributes", Tag.KEYWORD, "job-id", "job-state", "job-name"
    )
    return encode_message(message)


def mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "truncate", "insert", "delete", "duplicate", "flips"])
    buffer = bytearray(data)
    if kind in ("flip", "flips"):
        for _ in range(1 if kind == "flip" else rng.randint(2, 16)):
            position = rng.randrange(len(buffer))
            buffer[position] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        del buffer[rng.randrange(len(buffer)) :]
    elif kind == "insert":
        position = rng.randrange(len(buffer) + 1)
        buffer[position:position] = rng.randbytes(rng.randint(1, 16))
    elif kind == "delete":
        start = rng.randrange(len(buffer))
        del buffer[start : start + rng.randint(1, 16)]
    else:
        start = rng.randrange(len(buffer))
        buffer[start:start] = buffer[start : start + rng.randint(1, 64)]
    return bytes(buffer)


@pytest.mark.parametrize("base", [_print_job(), _get_jobs()], ids=["Print-Job", "Get-Jobs"])
def test_mutated_real_requests(server: PrinthostServer, client: httpx.Client, base: bytes) -> None:
    restart = encode_message(_request(Op.RESTART_PRINTER, 7))  # accepting, not paused
    assert check_answer(post(client, restart, USERS["olga"]), 7) == Status.SUCCESSFUL_OK
    rng = random.Random(base[2:4] + b"printhost")  # per request, reproducible
    for index in range(MUTATIONS_PER_REQUEST):
        body = mutate(base, rng)
        request_id = struct.unpack(">i", body[4:8])[0] if len(body) >= 8 else None
        response = post(client, body)
        try:
            check_answer(response, request_id if response.status_code == 200 else None)
        except AssertionError as exc:
            raise AssertionError(f"mutation {index}: {body.hex()}") from exc


# --- hypothesis: requests that reach the handlers -----------------------------------------

#: Attribute names the handlers read, so the fuzz reaches their checks.
KNOWN_NAMES = [
    "job-id", "job-ids", "job-uri", "printer-uri", "which-jobs", "requested-attributes",
    "my-jobs", "limit", "first-index", "document-format", "compression", "job-name",
    "document-name", "last-document", "document-number", "requesting-user-name",
    "ipp-attribute-fidelity", "job-hold-until", "job-priority", "job-uuid", "copies",
    "sides", "media", "media-col", "print-quality", "page-ranges", "finishings",
    "job-id-after", "message", "identify-actions", "notify-job-id",
    "notify-subscription-id", "notify-subscription-ids", "notify-sequence-numbers",
    "notify-wait", "notify-lease-duration", "notify-pull-method", "notify-events",
    "notify-recipient-uri", "notify-user-data", "notify-time-interval",
    "printer-message-from-operator", "first-printer-name", "my-subscriptions",
    "job-password", "multiple-document-handling", "orientation-requested",
]  # fmt: skip
KEYWORDS = [
    "all", "completed", "not-completed", "gzip", "deflate", "none", "indefinite", "no-hold",
    "ippget", "job-completed", "job-state-changed", "printer-state-changed", "two-sided-long-edge",
    "iso_a4_210x297mm", "application/pdf", "application/octet-stream", "text/plain",
    "image/pwg-raster", "job-template", "printer-description", "display", "sound",
]  # fmt: skip

plausible_values = st.one_of(
    st.integers(-3, 30).map(lambda v: Value(Tag.INTEGER, v)),
    st.booleans().map(lambda v: Value(Tag.BOOLEAN, v)),
    st.sampled_from(KEYWORDS).map(lambda v: Value(Tag.KEYWORD, v)),
    st.sampled_from(KEYWORDS).map(lambda v: Value(Tag.MIME_MEDIA_TYPE, v)),
    st.sampled_from(
        [PRINTER_URI, "ipp://localhost/jobs/1", "ipp://localhost/", "ipp://x/printers/nope"]
    ).map(lambda v: Value(Tag.URI, v)),
    st.text(max_size=40).map(lambda v: Value(Tag.NAME, v)),
)
attribute_values = st.one_of(plausible_values, any_value(1))
attribute_names = st.one_of(
    st.sampled_from(KNOWN_NAMES), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
)
fuzz_attributes = st.builds(
    Attribute, attribute_names, st.lists(attribute_values, min_size=1, max_size=4)
)
operations = st.one_of(
    st.sampled_from(sorted(int(op) for op in OPERATIONS)), st.integers(0, 0xFFFF)
)
extra_group_tags = st.sampled_from(
    [Tag.JOB, Tag.SUBSCRIPTION, Tag.DOCUMENT, Tag.PRINTER, Tag.OPERATION, 0x0F]
)


def mostly(usual: object, unusual: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """``usual`` nine times in ten, else a draw from ``unusual``."""
    return st.integers(0, 9).flatmap(lambda n: unusual if n == 0 else st.just(usual))


@st.composite
def fuzz_requests(draw: st.DrawFn) -> tuple[bytes, int, str, str]:
    """(body, request-id, user, path). Mostly well-formed up to the handler's own checks,
    so that the fuzz reaches them; each generic check is broken now and then."""
    op = draw(st.one_of(st.sampled_from(sorted(int(op) for op in OPERATIONS)), operations))
    request_id = draw(mostly(1234, st.integers(-(2**31), 2**31 - 1)))
    version = draw(mostly((2, 0), st.sampled_from([(1, 1), (2, 2), (1, 0), (0, 0), (9, 9)])))
    message = Message(version, op, request_id)  # type: ignore[arg-type]
    group = message.add_group(Tag.OPERATION)
    if draw(mostly(True, st.just(False))):
        group.add("attributes-charset", Tag.CHARSET, "utf-8")
        group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    if draw(mostly(True, st.just(False))):
        group.add("printer-uri", Tag.URI, PRINTER_URI)
    if draw(st.booleans()):
        group.add("job-id", Tag.INTEGER, draw(st.integers(0, 12)))
    group.attributes.extend(draw(st.lists(fuzz_attributes, max_size=6)))
    for _ in range(draw(st.integers(0, 2))):
        tag = draw(extra_group_tags)
        message.groups.append(AttributeGroup(tag, draw(st.lists(fuzz_attributes, max_size=4))))
    try:
        body = encode_message(message)
    except (TypeError, ValueError):
        body = draw(st.binary(max_size=512))  # a value the encoder refuses: raw bytes
    body += draw(documents)
    user_name = draw(st.sampled_from(sorted(USERS)))
    path = draw(st.sampled_from(["/printers/myprinter", "/", "/jobs/1", "/admin/", "/ipp/print"]))
    return body, request_id, user_name, path  # type: ignore[return-value]


documents = st.one_of(
    st.just(b""),
    st.binary(max_size=2048),
    st.binary(max_size=512).map(gzip.compress),
    st.binary(max_size=512).map(zlib.compress),
    st.binary(max_size=512).map(lambda data: gzip.compress(data)[: len(data) // 2]),
    st.just(b"%PDF-1.7\n%%EOF\n"),
)


@FUZZ
@given(fuzz_requests())
def test_fuzzed_requests(
    server: PrinthostServer, client: httpx.Client, case: tuple[bytes, int, str, str]
) -> None:
    body, request_id, user_name, path = case
    response = post(client, body, USERS[user_name], path)
    check_answer(response, request_id if response.status_code == 200 else None)


@FUZZ
@given(st.binary(max_size=1024))
def test_random_bytes(server: PrinthostServer, client: httpx.Client, body: bytes) -> None:
    check_answer(post(client, body), None)
