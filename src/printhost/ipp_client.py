"""A thin async IPP client: one IPP request POSTed over HTTP(S), one response back.

IPP messages go through the sans-I/O codec; HTTP is httpx's (RFC 8010 §4: POST with
Content-Type application/ipp, the document streamed after the attributes, chunked).
``ipp://`` maps to ``http://`` and ``ipps://`` to ``https://``, port 631 by default
(RFC 7472 §4). The caller's ``httpx.AsyncClient`` owns connections, proxies and TLS
verification. An IPP error status is a normal response; ``IppClientError`` means no
usable response arrived.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import httpx

from printhost.ipp.constants import Operation, Tag
from printhost.ipp.decoder import DecodeLimits, IppDecodeError, MessageDecoder
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message

__all__ = [
    "RESPONSE_LIMITS",
    "IppClientError",
    "http_url_for",
    "new_request",
    "send_ipp",
]

#: Printers answer Get-Printer-Attributes with far more than a request may carry
#: (media-col-database alone can hold thousands of members), so responses get roomier
#: bounds than the server's defaults for requests; still bounded.
RESPONSE_LIMITS = DecodeLimits(
    max_header_bytes=16 << 20,
    max_attributes=200_000,
    max_values_per_attribute=50_000,
    max_value_length=0xFFFF,
)

_IPP_PORT = 631
_SCHEMES = {"ipp": "http", "ipps": "https"}
_HEADERS = {"Content-Type": "application/ipp"}


class IppClientError(Exception):
    """No usable IPP response: ``status`` is the HTTP status when the server answered
    with something other than 200; None for transport failures and undecodable bodies."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def http_url_for(uri: str) -> str:
    """``ipp://host[:port]/path`` -> ``http://host:port/path`` (``ipps`` -> ``https``);
    ``http``/``https`` URIs are returned unchanged. Raise ValueError for anything else."""
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.hostname:
        return uri
    if scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(f"not an ipp:// or ipps:// URI: {uri!r}")
    if parts.username is not None:
        raise ValueError(f"credentials in {uri!r}: pass auth= instead")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    query = f"?{parts.query}" if parts.query else ""
    return f"{_SCHEMES[scheme]}://{host}:{parts.port or _IPP_PORT}{parts.path or '/'}{query}"


def new_request(
    operation: Operation,
    printer_uri: str,
    request_id: int,
    user: str | None = None,
    version: tuple[int, int] = (2, 0),
) -> Message:
    """A request holding the operation attributes every request starts with; charset and
    natural language come first, in that order (RFC 8011 §4.1.4)."""
    request = Message(version, operation, request_id)
    group = request.add_group(Tag.OPERATION)
    group.add("attributes-charset", Tag.CHARSET, "utf-8")
    group.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en")
    group.add("printer-uri", Tag.URI, printer_uri)
    if user is not None:
        group.add("requesting-user-name", Tag.NAME, user)
    return request


async def send_ipp(
    client: httpx.AsyncClient,
    uri: str,
    request: Message,
    document: AsyncIterator[bytes] | None = None,
    *,
    timeout: float = 30.0,
    auth: tuple[str, str] | None = None,
    limits: DecodeLimits = RESPONSE_LIMITS,
) -> Message:
    """POST ``request`` to ``uri``, streaming ``document`` after it; return the response.

    Without a document the body is sent with a Content-Length, which every printer
    accepts; with one it is sent chunked. Raise ``IppClientError`` when no valid IPP
    response arrives (HTTP error, transport failure or timeout, undecodable body).
    """
    url = http_url_for(uri)
    header = encode_message(request)
    content = header if document is None else _body(header, document)
    basic_auth = httpx.USE_CLIENT_DEFAULT if auth is None else httpx.BasicAuth(*auth)
    try:
        async with client.stream(
            "POST", url, content=content, headers=_HEADERS, timeout=timeout, auth=basic_auth
        ) as response:
            if response.status_code != httpx.codes.OK:
                reason = f"HTTP {response.status_code} {response.reason_phrase}"
                raise IppClientError(f"{url}: {reason}", response.status_code)
            return await _read_response(response, url, limits)
    except httpx.HTTPError as exc:
        raise IppClientError(f"{url}: {type(exc).__name__}: {exc}") from exc


async def _body(header: bytes, document: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield header
    async for chunk in document:
        if chunk:  # an empty chunk means nothing to send, not the end of the body
            yield chunk


async def _read_response(response: httpx.Response, url: str, limits: DecodeLimits) -> Message:
    """Decode the response as it arrives; whatever follows its attributes is not read."""
    decoder = MessageDecoder(limits)
    message = None
    try:
        async for chunk in response.aiter_bytes():
            message = decoder.feed(chunk)
            if message is not None:
                break
        decoder.close()  # raises if the body ended before the end-of-attributes tag
    except IppDecodeError as exc:
        raise IppClientError(f"{url}: undecodable IPP response: {exc}") from exc
    assert message is not None
    return message
