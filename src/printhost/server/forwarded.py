"""Requests that come through a load balancer (HAProxy: TLS offload, health checks, and
maybe authentication at the edge).

Headers a proxy adds are believed only when the connection comes from an address in
``[server] trusted_proxies``; from anywhere else they are ignored, so a client cannot
claim another address, TLS it did not use, or a user it did not prove. From a trusted
proxy:

- ``X-Forwarded-For`` / ``X-Forwarded-Proto`` become the client's address and scheme
  (uvicorn's ``ProxyHeadersMiddleware`` does this part: the right-most address the proxies
  did not add is the client), so the rules for credentials over plain HTTP and the URIs
  handed out see what the client used;
- the header named by ``[server] proxy_user_header`` (e.g. ``X-Forwarded-User``), when the
  proxy authenticated the user, is that user's proven identity: it owns the job whatever
  ``requesting-user-name`` says (DESIGN invariant 4).

uvicorn's own handling of these headers is switched off in app.py: by default it trusts
every loopback client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

#: Keys this middleware puts into the ASGI scope.
VIA_PROXY = "printhost.via_proxy"
PROXY_USER = "printhost.proxy_user"
MAX_USER = 255


class ForwardedMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[str], user_header: str = "") -> None:
        self._app = app
        self._networks = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)
        self._forwarded = ProxyHeadersMiddleware(app, trusted_hosts=list(trusted))  # type: ignore[arg-type]
        self._user_header = user_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._networks:
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        peer = _unmapped(str(client[0])) if client is not None else ""
        if not self._is_trusted(peer):
            await self._app(scope, receive, send)
            return
        # uvicorn's middleware compares the address as written: give it the same (unmapped)
        # one we trusted, or on a dual-stack listener it ignores X-Forwarded-* we believe
        scope["client"] = (peer, client[1]) if client is not None else None
        scope[VIA_PROXY] = True
        user = self._proxy_user(scope)
        if user:
            scope[PROXY_USER] = user
        await self._forwarded(scope, receive, send)  # type: ignore[arg-type]

    def _is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def _proxy_user(self, scope: Scope) -> str:
        if not self._user_header:
            return ""
        for name, value in scope["headers"]:
            if name == self._user_header:
                user = value.decode("utf-8", errors="replace").strip()
                return user if 0 < len(user) <= MAX_USER and user.isprintable() else ""
        return ""


def _unmapped(host: str) -> str:
    """An IPv4 client on a dual-stack listener arrives as ::ffff:a.b.c.d: its IPv4 form."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return host


def via_proxy(request: Request) -> bool:
    """The request came through a trusted proxy (its address and scheme are the client's)."""
    return bool(request.scope.get(VIA_PROXY))


def proxy_user(request: Request) -> str | None:
    """The user a trusted proxy authenticated, or None."""
    user = request.scope.get(PROXY_USER)
    return str(user) if user else None
