"""What every REST endpoint starts with: who is asking (a bearer token from
``routing.agent_tokens``, or HTTP Basic checked against the store, never over plain HTTP
from another host) and how it answers (``json_response``)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from printhost.auth import Principal
from printhost.server.callers import basic_user, credentials_refused, proxy_principal
from printhost.server.rest_input import JSON_TYPE, ApiError
from printhost.server.services import Services

BASIC = 'Basic realm="printhost"'
BEARER = 'Bearer realm="printhost"'


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return Response(body.encode(), status, headers=dict(headers or {}), media_type=JSON_TYPE)


# --- who is asking --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Caller:
    #: Verified HTTP Basic credentials, or None.
    principal: Principal | None = None
    #: Presented a valid bearer token (an agent, a login script, a badge reader).
    agent: bool = False

    def require_reporter(self) -> None:
        """Presence may be reported by token holders and by operators."""
        if self.agent or (self.principal is not None and self.principal.is_operator):
            return
        if self.principal is None:
            raise ApiError(
                401,
                "authentication required (bearer token or HTTP Basic)",
                {"WWW-Authenticate": f"{BEARER}, {BASIC}"},
            )
        raise ApiError(403, "only agents (bearer token), operators and admins report presence")

    def require_user(self) -> Principal:
        if self.principal is None:
            detail = "a bearer token only reports presence; " if self.agent else ""
            raise ApiError(
                401, f"{detail}authenticate with HTTP Basic", {"WWW-Authenticate": BASIC}
            )
        return self.principal


async def identify(services: Services, request: Request) -> Caller:
    proxied = await proxy_principal(services, request)
    if proxied is not None:
        return Caller(principal=proxied)  # a trusted proxy authenticated the user
    header = request.headers.get("authorization", "")
    if not header:
        return Caller()
    _refuse_plain_http(services, request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        if not is_agent_token(services.config.routing.agent_tokens, token.strip()):
            raise ApiError(
                401,
                "invalid bearer token",
                {"WWW-Authenticate": f'{BEARER}, error="invalid_token"'},
            )
        return Caller(agent=True)
    principal = await basic_user(services, header)
    if principal is None:
        raise ApiError(401, "wrong user name or password", {"WWW-Authenticate": BASIC})
    return Caller(principal=principal)


def is_agent_token(tokens: tuple[str, ...], token: str) -> bool:
    """Constant-time comparison with every configured (non-empty) token."""
    given = token.encode("utf-8", "replace")
    found = False
    for expected in tokens:
        if expected:
            found |= hmac.compare_digest(expected.encode(), given)
    return found and bool(token)


def _refuse_plain_http(services: Services, request: Request) -> None:
    if credentials_refused(services, request):
        raise ApiError(403, "credentials over plain HTTP are refused: use https://")
