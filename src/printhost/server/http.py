"""The HTTP/1.1 transport: IPP (POST application/ipp on any of the paths CUPS clients use:
``/``, ``/printers/...``, ``/jobs/...``, ``/admin/...``, ``/classes/...``, ``/ipp/print``),
the status page and health checks share one port, as in CUPS.

Thin on purpose: it reads the IPP header with the sans-I/O decoder, works out who is asking
(HTTP Basic), hands the still-streaming document body to ``ipp_service.handle`` and
writes the encoded response. uvicorn provides keep-alive, chunked request bodies,
``Expect: 100-continue`` (it answers 100 when the body is first read) and TLS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from printhost.auth import Principal
from printhost.ipp.constants import Status
from printhost.ipp.decoder import DecodeLimits, IppDecodeError, MessageDecoder
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message
from printhost.outage import is_store_outage
from printhost.server import ipp_service, rest, web
from printhost.server.callers import (
    basic_user,
    client_host,
    credentials_refused,
    proxy_principal,
)
from printhost.server.forwarded import ForwardedMiddleware, via_proxy
from printhost.server.reply import IppError
from printhost.server.services import Services
from printhost.server.uris import Uris

log = logging.getLogger(__name__)

IPP_TYPE = "application/ipp"
#: After the response, at most this much unread request body is drained to keep the
#: connection; past it the connection is closed instead.
DRAIN_LIMIT = 64 << 20
CHALLENGE = {"WWW-Authenticate": 'Basic realm="printhost"'}


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def create_app(services: Services, plain_port: int | None, tls_port: int | None) -> Starlette:
    async def ipp(request: Request) -> Response:
        return await _ipp_endpoint(services, request, plain_port, tls_port)

    server = services.config.server
    # Health checks on every node; the rest by the node's roles (a cluster may split them).
    routes: list[BaseRoute] = [
        Route("/healthz", web.healthz(services), methods=["GET"]),
        Route("/readyz", web.healthz(services), methods=["GET"]),
        Route("/livez", web.livez, methods=["GET"]),
    ]
    if "web" in server.roles:
        routes += [
            Route("/icons/printer-{size:int}.png", web.icon, methods=["GET"]),
            Route("/", web.status_page(services), methods=["GET"]),
            rest.mount(services),  # /api/v1
        ]
    if "intake" in server.roles:
        routes.append(Route("/{path:path}", ipp, methods=["POST"]))
    if "web" in server.roles:
        routes.append(Route("/{path:path}", web.status_page(services), methods=["GET"]))
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                ForwardedMiddleware,
                trusted=server.trusted_proxies,
                user_header=server.proxy_user_header,
            )
        ],
    )


async def _ipp_endpoint(
    services: Services, request: Request, plain_port: int | None, tls_port: int | None
) -> Response:
    try:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != IPP_TYPE:
            raise HttpError(415, f"POST needs Content-Type {IPP_TYPE}, not {content_type!r}")
        server = services.config.server
        body = _timed(request.stream(), server.request_timeout_seconds, server.max_request_bytes)
        message, leftover = await _read_header(body)
        uris = _uris(request, plain_port, tls_port)
        try:
            principal = await _principal(services, request, message)
        except Exception as exc:  # the user lookup needs the store
            if not is_store_outage(exc):
                raise
            response = _unavailable(message)
        else:
            response = await _handle(
                services, message, principal, uris, _chain(leftover, body), client_host(request)
            )
        headers = CHALLENGE if response.code == Status.CLIENT_ERROR_NOT_AUTHENTICATED else {}
        close = not await _drain(body)
        if close:
            headers = {**headers, "Connection": "close"}
        status = 401 if headers.get("WWW-Authenticate") else 200
        return Response(
            _encode(message, response), status_code=status, media_type=IPP_TYPE, headers=headers
        )
    except HttpError as exc:
        return PlainTextResponse(
            exc.message + "\n", exc.status, headers={**exc.headers, "Connection": "close"}
        )


async def _handle(
    services: Services,
    message: Message,
    principal: Principal,
    uris: Uris,
    body: AsyncIterator[bytes],
    client_host: str,
) -> Message:
    try:
        return await ipp_service.handle(services, message, principal, uris, body, client_host)
    except (TimeoutError, HttpError):
        raise
    except Exception as exc:
        if is_store_outage(exc):
            return _unavailable(message)
        log.exception("internal error in operation 0x%04x", message.code)
        return ipp_service.error_response(
            message, IppError(Status.SERVER_ERROR_INTERNAL_ERROR, "internal error (logged)"), []
        )


def _unavailable(message: Message) -> Message:
    """The store is unreachable (e.g. PostgreSQL restarting): a status clients retry
    (RFC 8011 §13.1.5.2). Nothing was acknowledged, so nothing is lost."""
    log.warning("operation 0x%04x refused: the store is unreachable", message.code)
    error = IppError(
        Status.SERVER_ERROR_SERVICE_UNAVAILABLE, "the job store is unavailable; try again"
    )
    return ipp_service.error_response(message, error, [])


def _encode(request: Message, response: Message) -> bytes:
    """A response that cannot be encoded is a bug: logged, answered with internal-error."""
    try:
        return encode_message(response)
    except (TypeError, ValueError):
        log.exception("internal error encoding the response to operation 0x%04x", request.code)
        error = IppError(Status.SERVER_ERROR_INTERNAL_ERROR, "internal error (logged)")
        return encode_message(ipp_service.error_response(request, error, []))


async def _read_header(body: AsyncIterator[bytes]) -> tuple[Message, bytes]:
    decoder = MessageDecoder(DecodeLimits())
    try:
        async for chunk in body:
            message = decoder.feed(chunk)
            if message is not None:
                return message, decoder.leftover
        decoder.close()
    except IppDecodeError as exc:
        status = 413 if exc.status == Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE else 400
        raise HttpError(status, f"malformed IPP request: {exc}") from None
    raise HttpError(400, "malformed IPP request: empty body")


async def _timed(
    stream: AsyncIterator[bytes], timeout: float, max_bytes: int
) -> AsyncIterator[bytes]:
    """The request body, each chunk within ``timeout`` seconds (slow clients, RFC 9112
    gives no bound of its own), at most ``max_bytes`` in all (the document limit counts
    decompressed bytes; this bounds what a client may send, e.g. endless empty gzip
    members)."""
    iterator = stream.__aiter__()
    received = 0
    while True:
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise HttpError(408, f"request body stalled for {timeout:g} s") from None
        except ClientDisconnect:
            # the client went away mid-request: nobody reads the answer, but the handler
            # must unwind (the spool writer aborts) and it is not a server error
            raise HttpError(400, "client closed the connection mid-request") from None
        received += len(chunk)
        if received > max_bytes:
            raise HttpError(413, f"request body larger than {max_bytes} bytes")
        if chunk:
            yield chunk


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk


async def _drain(body: AsyncIterator[bytes]) -> bool:
    """Read what the handler left unread; False when too much is left (close instead)."""
    left = 0
    try:
        async for chunk in body:
            left += len(chunk)
            if left > DRAIN_LIMIT:
                return False
    except (HttpError, RuntimeError):
        return False
    return True


async def _principal(services: Services, request: Request, message: Message) -> Principal:
    proxied = await proxy_principal(services, request)
    if proxied is not None:
        return proxied  # the proxy proved who it is (invariant 4)
    header = request.headers.get("authorization")
    if header:
        return await _authenticated(services, request, header)
    claimed = message.operation_attributes.get("requesting-user-name")
    name = str(claimed.value)[:255] if claimed is not None and claimed.value else "anonymous"
    return Principal(name=name, authenticated=False)


async def _authenticated(services: Services, request: Request, header: str) -> Principal:
    if credentials_refused(services, request):
        raise HttpError(403, "credentials over plain HTTP are refused: use ipps:// (TLS)")
    principal = await basic_user(services, header)
    if principal is None:
        raise HttpError(401, "wrong user name or password", CHALLENGE)
    return principal


def _uris(request: Request, plain_port: int | None, tls_port: int | None) -> Uris:
    host = request.url.hostname or "localhost"
    scheme = "ipps" if request.url.scheme == "https" else "ipp"
    if via_proxy(request):
        # The client reached the proxy, not us: its port (from Host) and scheme are the
        # ones to hand out; our own ports mean nothing to it.
        port = request.url.port or (443 if scheme == "ipps" else 80)
        plain_port, tls_port = (None, port) if scheme == "ipps" else (port, None)
    return Uris(host=host, plain_port=plain_port, tls_port=tls_port, scheme=scheme)
