"""Who is calling, for every HTTP endpoint (IPP and REST alike): the client's address,
whether credentials may cross the connection it came on, and the user HTTP Basic names."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from printhost.auth import Principal, parse_basic
from printhost.server.forwarded import proxy_user
from printhost.server.services import Services


def client_host(request: Request) -> str:
    return request.client.host if request.client else ""


def is_loopback(request: Request) -> bool:
    try:
        address = ipaddress.ip_address(client_host(request))
    except ValueError:
        return False
    # on a dual-stack [::] listener IPv4 clients arrive as ::ffff:a.b.c.d, which
    # Python 3.11 never calls loopback
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def credentials_refused(services: Services, request: Request) -> bool:
    """Credentials (passwords and tokens alike) do not cross a network in the clear
    unless the configuration says so (IPP-CLIENTS.md §8); loopback is not a network."""
    return (
        request.url.scheme == "http"
        and not is_loopback(request)
        and not services.config.server.basic_over_plain_http
    )


async def proxy_principal(services: Services, request: Request) -> Principal | None:
    """The user a trusted proxy authenticated (server/forwarded.py), with the role the
    store gives them (``user`` when the store does not know them); None otherwise."""
    name = proxy_user(request)
    if name is None:
        return None
    user = await services.store.get_user(name)
    return Principal(name=name, role=user.role if user else "user", authenticated=True)


async def basic_user(services: Services, header: str) -> Principal | None:
    """The user an ``Authorization: Basic`` header proves; None when it proves nothing."""
    credentials = parse_basic(header)
    user = await services.store.get_user(credentials[0]) if credentials else None
    if (
        credentials is None
        or user is None
        or not services.credentials.check(credentials[0], credentials[1], user.password_hash)
    ):
        return None
    return Principal(name=user.name, role=user.role, authenticated=True)
