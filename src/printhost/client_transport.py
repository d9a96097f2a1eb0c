"""Client connections that try every address a name resolves to, in order, as the LISA
system's clients did with DNS round robin: several printhost nodes (or balancers) under
one name, and a client whose first address is dead still gets through.

An httpx transport (async and sync) resolves the URL's host, and connects to each address
until one answers; the request keeps its Host header and TLS server name (SNI, and the
certificate is checked against the name, not the address). Only a failure to connect moves
on to the next address: once a request has been sent, it is never sent again (a print job
must not be submitted twice).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

Resolve = Callable[[str, int], list[str]]
AsyncResolve = Callable[[str, int], Awaitable[list[str]]]
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


def system_resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def system_resolve_async(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _at(request: httpx.Request, address: str) -> httpx.Request:
    """The same request, sent to ``address`` (Host header and SNI keep the name)."""
    host = request.url.host
    url = request.url.copy_with(host=address)
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions.setdefault("sni_hostname", host)
    return httpx.Request(
        request.method, url, headers=request.headers, stream=request.stream,
        extensions=extensions,
    )  # fmt: skip


class RoundRobinTransport(httpx.AsyncHTTPTransport):
    def __init__(self, resolve: AsyncResolve = system_resolve_async, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._resolve = resolve

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if _is_address(host):
            return await super().handle_async_request(request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await super().handle_async_request(_at(request, address))
            except _CONNECT_ERRORS as exc:
                failure = exc  # nothing was sent: the next address may answer
        raise httpx.ConnectError(
            f"no address of {host} answered ({', '.join(addresses) or 'none'}): {failure}",
            request=request,
        )


class RoundRobinSyncTransport(httpx.HTTPTransport):
    def __init__(self, resolve: Resolve = system_resolve, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._resolve = resolve

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if _is_address(host):
            return super().handle_request(request)
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        try:
            addresses = self._resolve(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return super().handle_request(_at(request, address))
            except _CONNECT_ERRORS as exc:
                failure = exc
        raise httpx.ConnectError(
            f"no address of {host} answered ({', '.join(addresses) or 'none'}): {failure}",
            request=request,
        )
