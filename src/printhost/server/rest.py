"""The REST API v1, mounted at ``/api/v1``: presence reports from desktop agents and login
scripts, users' routing preferences, and the destinations users can choose from.

Theory of operation: every endpoint first works out who is asking (a bearer token from
``routing.agent_tokens``, or HTTP Basic checked against the store), before reading a byte
of the body. It then reads a bounded JSON body (at most ``MAX_BODY_BYTES``, each chunk
within the server's request timeout), turns it into the store's records with pure
validation functions that name the offending field, writes, and runs the effects: a
change of presence or preferences releases the user's jobs held for want of a route
(``JobService.release_route_holds``), so the dispatcher routes them again.

Every error is an ``ApiError`` carrying its HTTP status; its body is ``{"error": "..."}``.
Responses are encoded with ``ensure_ascii``, so text from a request echoed in an error
can never make encoding fail. The OpenAPI description is in ``openapi.py``; a test keeps
it and ``PATHS`` in step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import math
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from printhost.auth import Principal
from printhost.config import DESKTOP
from printhost.routing.defaults import check_defaults
from printhost.server import openapi
from printhost.server.callers import basic_user, credentials_refused
from printhost.server.services import Services
from printhost.store.base import (
    AgentRecord,
    JobDefaults,
    NewEvent,
    PresenceRecord,
    UserPreferences,
)

log = logging.getLogger(__name__)

#: Bodies are small JSON objects; anything bigger is refused with 413 before parsing.
MAX_BODY_BYTES = 64 * 1024
MAX_NAME = 255  # user names, locations
MAX_HOST = 253  # RFC 1035 §2.3.4: a domain name's text form
MAX_KEYWORD = 64  # sources, job default keywords
MAX_URI = 1024
JSON_TYPE = "application/json"
BASIC = 'Basic realm="printhost"'
BEARER = 'Bearer realm="printhost"'

Handler = Callable[[Services, Request], Awaitable[Response]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


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


# --- reading requests (bounded) ---------------------------------------------------------------


async def read_object(request: Request, timeout: float) -> dict[str, Any]:
    """The request body as a JSON object: at most MAX_BODY_BYTES, each chunk within
    ``timeout`` seconds. Content-Type must say JSON (a browser cannot send that
    cross-site without a CORS preflight, which this API never grants)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != JSON_TYPE:
        raise ApiError(415, f"the body must be {JSON_TYPE}, not {kind[:60]!r}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", _CLOSE)
    body = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise ApiError(408, f"request body stalled for {timeout:g} s", _CLOSE) from None
        except ClientDisconnect:
            raise ApiError(400, "client closed the connection mid-request", _CLOSE) from None
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes", _CLOSE)
    return parse_object(bytes(body))


_CLOSE = {"Connection": "close"}


def parse_object(data: bytes) -> dict[str, Any]:
    """Strict JSON (RFC 8259): UTF-8, no NaN/Infinity, no duplicate keys, an object at the
    top. Nesting is bounded by the size limit and the interpreter's recursion limit."""
    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"body is not valid JSON: {_short(str(exc))}") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"body must be a JSON object, not {_json_kind(value)}")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in an object")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def query(request: Request, allowed: set[str]) -> dict[str, str]:
    params = request.query_params
    unknown = sorted(set(params.keys()) - allowed)
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {_names(unknown)}")
    return {key: params[key] for key in params}


# --- validation (pure) -------------------------------------------------------------------------


def check_fields(data: Mapping[str, Any], allowed: set[str], where: str = "") -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(
            400,
            f"{where}unknown field(s): {_names(unknown)} (allowed: {', '.join(sorted(allowed))})",
        )


def text(field: str, value: Any, *, max_len: int, empty: bool = True, spaces: bool = True) -> str:
    """A string without control characters or lone surrogates, at most ``max_len``."""
    if not isinstance(value, str):
        raise ApiError(400, f"{field}: expected a string, got {_json_kind(value)}")
    if not value and not empty:
        raise ApiError(400, f"{field}: must not be empty")
    if len(value) > max_len:
        raise ApiError(400, f"{field}: longer than {max_len} characters")
    for char in value:
        if unicodedata.category(char) in ("Cc", "Cs") or (not spaces and char.isspace()):
            what = "control characters" if spaces else "spaces or control characters"
            raise ApiError(400, f"{field}: must not contain {what}")
    if value != value.strip():
        raise ApiError(400, f"{field}: must not start or end with white space")
    return value


def integer(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{field}: expected an integer, got {_json_kind(value)}")
    return value


def number(field: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{field}: expected a number, got {_json_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ApiError(400, f"{field}: must be finite")
    return value


def ipp_uri(field: str, value: Any) -> str:
    uri = text(field, value, max_len=MAX_URI, empty=False, spaces=False)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ApiError(400, f"{field}: not a valid URI") from None
    if parts.scheme not in ("ipp", "ipps") or not parts.hostname:
        raise ApiError(400, f"{field}: must be ipp:// or ipps:// with a host")
    if parts.username is not None:
        raise ApiError(400, f"{field}: must not carry credentials")
    return uri


@dataclass(frozen=True, slots=True)
class PresenceReport:
    user: str
    host: str
    ttl_seconds: float
    source: str = ""
    agent_uri: str = ""
    location: str = ""


PRESENCE_FIELDS = {"user", "host", "ttl_seconds", "source", "agent_uri", "location"}


def parse_presence(data: Mapping[str, Any], max_ttl: float) -> PresenceReport:
    check_fields(data, PRESENCE_FIELDS)
    missing = [k for k in ("user", "host", "ttl_seconds") if k not in data]
    if missing:
        raise ApiError(400, f"missing field(s): {', '.join(missing)}")
    ttl = number("ttl_seconds", data["ttl_seconds"])
    if ttl <= 0:
        raise ApiError(400, "ttl_seconds: must be more than 0")
    return PresenceReport(
        user=text("user", data["user"], max_len=MAX_NAME, empty=False),
        host=host_name("host", data["host"]),
        ttl_seconds=float(min(ttl, max_ttl)),  # min first: a huge int has no float
        source=text("source", data.get("source", ""), max_len=MAX_KEYWORD),
        agent_uri=ipp_uri("agent_uri", data["agent_uri"]) if "agent_uri" in data else "",
        location=text("location", data.get("location", ""), max_len=MAX_NAME),
    )


def host_name(field: str, value: Any) -> str:
    """Workstation names compare case-insensitively (DNS, RFC 4343): kept in lower case."""
    return text(field, value, max_len=MAX_HOST, empty=False, spaces=False).lower()


PREFERENCE_FIELDS = {"destination", "defaults", "banner", "location"}
DEFAULT_FIELDS = {f.name for f in dataclasses.fields(JobDefaults)}


def parse_preferences(
    data: Mapping[str, Any], current: UserPreferences, is_destination: Callable[[str], bool]
) -> UserPreferences:
    """Apply a partial update: fields absent (also inside ``defaults``) keep their value."""
    check_fields(data, PREFERENCE_FIELDS)
    changes: dict[str, Any] = {}
    if "destination" in data:
        destination = text("destination", data["destination"], max_len=MAX_NAME)
        if destination not in ("", DESKTOP) and not is_destination(destination):
            raise ApiError(
                400,
                f"destination: no printer or pool named {_short(destination)!r} "
                f'(see GET /api/v1/destinations; "{DESKTOP}" = where you are logged in, '
                '"" = the default)',
            )
        changes["destination"] = destination
    if "defaults" in data:
        changes["defaults"] = parse_defaults(data["defaults"], current.defaults)
    if "banner" in data:
        banner = data["banner"]
        if banner is not None and not isinstance(banner, bool):
            raise ApiError(400, f"banner: expected true, false or null, got {_json_kind(banner)}")
        changes["banner"] = banner
    if "location" in data:
        changes["location"] = text("location", data["location"], max_len=MAX_NAME)
    return dataclasses.replace(current, **changes)


def parse_defaults(value: Any, current: JobDefaults) -> JobDefaults:
    if not isinstance(value, dict):
        raise ApiError(400, f"defaults: expected an object, got {_json_kind(value)}")
    check_fields(value, DEFAULT_FIELDS, "defaults: ")
    changes: dict[str, Any] = {}
    for key in ("sides", "print_color_mode"):
        if key in value:
            changes[key] = text(f"defaults.{key}", value[key], max_len=MAX_KEYWORD)
    for key in ("orientation_requested", "max_copies"):
        if key in value:
            changes[key] = integer(f"defaults.{key}", value[key])
    defaults = dataclasses.replace(current, **changes)
    problems = check_defaults(defaults)
    if problems:
        raise ApiError(400, "; ".join(f"defaults.{p}" for p in problems))
    return defaults


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {str: "a string", int: "an integer", float: "a number", list: "an array"}
    return names.get(type(value), "an object")


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _names(names: list[str]) -> str:
    return ", ".join(repr(_short(n, 40)) for n in names[:10])


# --- endpoints -------------------------------------------------------------------------------


async def post_presence(services: Services, request: Request) -> Response:
    caller = await identify(services, request)
    caller.require_reporter()
    routing = services.config.routing
    data = await read_object(request, services.config.server.request_timeout_seconds)
    report = parse_presence(data, routing.max_presence_seconds)
    now = services.clock.now()
    expires = now + report.ttl_seconds
    source = report.source or _reporter(caller)
    await services.store.put_presence(
        PresenceRecord(report.user, report.host, expires, now, source)
    )
    if report.agent_uri:
        agent = AgentRecord(report.host, report.agent_uri, expires, now, report.location)
        await services.store.put_agent(agent)
    await services.jobs.release_route_holds(report.user)
    return Response(status_code=204)


async def delete_presence(services: Services, request: Request) -> Response:
    caller = await identify(services, request)
    caller.require_reporter()
    params = query(request, {"user", "host"})
    if "user" not in params or "host" not in params:
        raise ApiError(400, "user and host are required query parameters")
    user = text("user", params["user"], max_len=MAX_NAME, empty=False)
    host = host_name("host", params["host"])
    await services.store.delete_presence(user, host)
    await services.jobs.release_route_holds(user)
    return Response(status_code=204)


async def get_presence(services: Services, request: Request) -> Response:
    principal = (await identify(services, request)).require_user()
    params = query(request, {"user"})
    user = text("user", params["user"], max_len=MAX_NAME, empty=False) if "user" in params else None
    if not principal.is_operator and user != principal.name:
        raise ApiError(403, "you may see your own presence only (add ?user=<your name>)")
    now = services.clock.now()
    records = await services.store.list_presence(now, user)
    return json_response([await _presence_json(services, r, now) for r in records])


async def _presence_json(services: Services, record: PresenceRecord, now: float) -> dict[str, Any]:
    agent = await services.store.get_agent(record.host)
    return {
        "user": record.user,
        "host": record.host,
        "expires_at": record.expires_at,
        "updated_at": record.updated_at,
        "source": record.source,
        "agent_uri": agent.uri if agent is not None and agent.expires_at > now else None,
    }


async def get_preferences(services: Services, request: Request) -> Response:
    name = await _preferences_owner(services, request)
    stored = await services.store.get_preferences(name)
    return json_response(preferences_json(stored or UserPreferences(name), stored is not None))


async def put_preferences(services: Services, request: Request) -> Response:
    name = await _preferences_owner(services, request)
    data = await read_object(request, services.config.server.request_timeout_seconds)
    stored = await services.store.get_preferences(name)
    current = stored or UserPreferences(name)
    updated = parse_preferences(data, current, services.config.is_destination)
    if stored is not None and updated == current:
        return json_response(preferences_json(current, True))
    now = services.clock.now()
    updated = dataclasses.replace(updated, updated_at=now)
    event = NewEvent("user-preferences-changed", now, data={"user": name})
    await services.store.put_preferences(updated, event)
    services.event_bell.ring()
    await services.jobs.release_route_holds(name)
    return json_response(preferences_json(updated, True))


async def _preferences_owner(services: Services, request: Request) -> str:
    principal = (await identify(services, request)).require_user()
    name = str(request.path_params["name"])
    if name != principal.name and principal.role != "admin":
        raise ApiError(403, "you may see and change your own preferences only")
    return text("name", name, max_len=MAX_NAME, empty=False)


def preferences_json(prefs: UserPreferences, stored: bool) -> dict[str, Any]:
    return {
        "user": prefs.user,
        "destination": prefs.destination,
        "defaults": dataclasses.asdict(prefs.defaults),
        "banner": prefs.banner,
        "location": prefs.location,
        "updated_at": prefs.updated_at if stored else None,
    }


async def get_destinations(services: Services, request: Request) -> Response:
    caller = await identify(services, request)
    if not services.config.server.allow_anonymous and not (caller.agent or caller.principal):
        caller.require_user()
    config = services.config
    result = []
    for printer in config.printers:
        record = await services.store.get_printer(printer.name)
        result.append(
            {
                "name": printer.name,
                "kind": "printer",
                "info": printer.info,
                "location": printer.location,
                "is_up": record.is_up,
                "state_message": record.state_message,
            }
        )
    up = {d["name"] for d in result if d["is_up"]}
    for pool in config.pools:
        members = (*pool.members, *pool.standby)
        is_up = any(m in up for m in members)
        result.append(
            {
                "name": pool.name,
                "kind": "pool",
                "info": pool.info,
                "location": pool.location,
                "is_up": is_up,
                "state_message": "" if is_up else "every member is down",
                "members": list(pool.members),
                "standby": list(pool.standby),
            }
        )
    return json_response(result)


async def get_openapi(services: Services, request: Request) -> Response:
    return json_response(openapi.DOCUMENT)


def _reporter(caller: Caller) -> str:
    """Who reported presence, for the audit trail when the report does not say."""
    principal = caller.principal
    return f"{principal.role} {principal.name}" if principal is not None else "agent"


#: Every path and method of the API (the OpenAPI document describes exactly these).
PATHS: dict[str, dict[str, Handler]] = {
    "/presence": {"POST": post_presence, "DELETE": delete_presence, "GET": get_presence},
    "/users/{name}/preferences": {"GET": get_preferences, "PUT": put_preferences},
    "/destinations": {"GET": get_destinations},
    "/openapi.json": {"GET": get_openapi},
}


PREFIX = "/api/v1"
#: Routes take every method, so that a wrong one is answered in JSON (405 with Allow).
_ANY_METHOD = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def mount(services: Services) -> Mount:
    """The API, for the HTTP app's routes (before its catch-all IPP route)."""
    routes: list[BaseRoute] = [
        Route(path, _endpoint(services, methods), methods=_ANY_METHOD)
        for path, methods in PATHS.items()
    ]
    return Mount(PREFIX, app=Router(routes=routes, default=_not_found, redirect_slashes=False))


def _endpoint(
    services: Services, methods: dict[str, Handler]
) -> Callable[[Request], Awaitable[Response]]:
    allow = {"Allow": ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else methods))}

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        handler = methods.get(method)
        try:
            if handler is None:
                raise ApiError(405, f"{request.method} is not allowed here", allow)
            return await handler(services, request)
        except ApiError as exc:
            return json_response({"error": exc.message}, exc.status, exc.headers)
        except Exception:
            log.exception("internal error in %s %s", request.method, request.url.path)
            return json_response({"error": "internal error (logged)"}, 500)

    return endpoint


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    response = json_response({"error": "no such API endpoint (see /api/v1/openapi.json)"}, 404)
    await response(scope, receive, send)
