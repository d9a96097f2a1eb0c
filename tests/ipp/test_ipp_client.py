"""The IPP client: URI mapping, request scaffolding, and one exchange through httpx.

The exchanges run over ``httpx.MockTransport``, httpx's own in-process transport, so
the real httpx request and response machinery runs without sockets; tests against a
real server on 127.0.0.1 belong with the transport tests.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Coroutine

import httpx
import pytest

from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message
from printhost.ipp_client import IppClientError, http_url_for, new_request, send_ipp

PRINTER = "ipp://printhost.example/printers/myprinter"


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("ipp://host/printers/p", "http://host:631/printers/p"),
        ("ipp://host:8631/ipp/print", "http://host:8631/ipp/print"),
        ("ipps://host/ipp/print", "https://host:631/ipp/print"),
        ("IPPS://Host.Example:443/x", "https://host.example:443/x"),
        ("ipp://host", "http://host:631/"),
        ("ipp://[::1]/printers/p", "http://[::1]:631/printers/p"),
        ("ipp://host/p?waitjob=false", "http://host:631/p?waitjob=false"),
        ("http://host:631/printers/p", "http://host:631/printers/p"),
        ("https://host/ipp/print", "https://host/ipp/print"),
    ],
)
def test_http_url_for(uri: str, url: str) -> None:
    assert http_url_for(uri) == url


@pytest.mark.parametrize(
    "uri",
    ["lpd://host/queue", "ipp:///printers/p", "ipp:printers/p", "ipp://u:pw@host/p", "ipp://h:x/"],
)
def test_http_url_for_refuses(uri: str) -> None:
    with pytest.raises(ValueError):
        http_url_for(uri)


def test_new_request_starts_with_charset_and_language() -> None:
    request = new_request(Operation.GET_JOBS, PRINTER, 7, user="alice")
    assert (request.version, request.code, request.request_id) == ((2, 0), Operation.GET_JOBS, 7)
    [operation] = request.groups
    assert operation.tag == Tag.OPERATION
    assert [(a.name, a.tag, a.value) for a in operation] == [
        ("attributes-charset", Tag.CHARSET, "utf-8"),
        ("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en"),
        ("printer-uri", Tag.URI, PRINTER),
        ("requesting-user-name", Tag.NAME, "alice"),
    ]
    assert decode_message(encode_message(request)) == (request, b"")


def test_new_request_without_user_and_with_version() -> None:
    request = new_request(Operation.GET_PRINTER_ATTRIBUTES, PRINTER, 1, version=(1, 1))
    assert request.version == (1, 1)
    assert "requesting-user-name" not in request.operation_attributes


# --- one exchange through httpx ---

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def _response(request_id: int, status: Status = Status.SUCCESSFUL_OK) -> Message:
    response = Message((2, 0), status, request_id)
    group = response.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    return response


def _client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _document() -> AsyncIterator[bytes]:
    for chunk in (b"%PDF-1.7\n", b"", b"page one\n", b"%%EOF\n"):
        yield chunk


async def test_send_ipp_posts_the_request_and_streams_the_document() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen.append(request)
        return httpx.Response(200, content=encode_message(_response(3)) + b"trailing")

    request = new_request(Operation.PRINT_JOB, PRINTER, 3, user="alice")
    async with _client(handler) as client:
        response = await send_ipp(client, PRINTER, request, _document())
    assert response == _response(3)
    [sent] = seen
    assert (sent.method, str(sent.url)) == (
        "POST",
        "http://printhost.example:631/printers/myprinter",
    )
    assert sent.headers["content-type"] == "application/ipp"
    assert sent.headers["transfer-encoding"] == "chunked"
    assert sent.content == encode_message(request) + b"%PDF-1.7\npage one\n%%EOF\n"


async def test_send_ipp_without_document_sends_a_content_length() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        assert request.headers["content-length"] == str(len(body))
        assert "authorization" not in request.headers
        return httpx.Response(200, content=encode_message(_response(1)))

    async with _client(handler) as client:
        await send_ipp(client, PRINTER, new_request(Operation.GET_JOBS, PRINTER, 1))


async def test_send_ipp_sends_basic_auth() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        assert request.headers["authorization"] == expected
        return httpx.Response(200, content=encode_message(_response(1)))

    async with _client(handler) as client:
        request = new_request(Operation.GET_JOBS, PRINTER, 1)
        await send_ipp(client, PRINTER, request, auth=("alice", "s3cret"))


async def test_an_ipp_error_status_is_a_response() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=encode_message(_response(1, Status.CLIENT_ERROR_NOT_FOUND))
        )

    async with _client(handler) as client:
        response = await send_ipp(client, PRINTER, new_request(Operation.GET_JOBS, PRINTER, 1))
    assert response.code == Status.CLIENT_ERROR_NOT_FOUND


async def test_an_http_error_raises_with_its_status() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="printhost"'})

    async with _client(handler) as client:
        with pytest.raises(IppClientError, match="HTTP 401") as info:
            await send_ipp(client, PRINTER, new_request(Operation.GET_JOBS, PRINTER, 1))
    assert info.value.status == 401


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>not ipp</html>", encode_message(_response(1))[:-1]],
    ids=["empty", "html", "truncated"],
)
async def test_an_undecodable_response_raises(body: bytes) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with _client(handler) as client:
        with pytest.raises(IppClientError, match="undecodable IPP response") as info:
            await send_ipp(client, PRINTER, new_request(Operation.GET_JOBS, PRINTER, 1))
    assert info.value.status is None


async def test_a_transport_failure_raises() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with _client(handler) as client:
        with pytest.raises(IppClientError, match="ConnectError: connection refused") as info:
            await send_ipp(client, PRINTER, new_request(Operation.GET_JOBS, PRINTER, 1))
    assert info.value.status is None
