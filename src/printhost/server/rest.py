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

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from printhost.outage import is_store_outage
from printhost.routing.names import local_queue
from printhost.server import openapi
from printhost.server.rest_accounts import ACCOUNT_PATHS
from printhost.server.rest_base import Caller, identify, json_response
from printhost.server.rest_input import (
    MAX_NAME,
    ApiError,
    host_name,
    parse_preferences,
    parse_presence,
    query,
    read_object,
    text,
)
from printhost.server.rest_nodes import NODE_PATHS
from printhost.server.services import Services
from printhost.store.base import (
    AgentRecord,
    NewEvent,
    PresenceRecord,
    UserPreferences,
)

log = logging.getLogger(__name__)

Handler = Callable[[Services, Request], Awaitable[Response]]


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
        await services.first_use.ensure(local_queue(report.host))
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
    **ACCOUNT_PATHS,
    **NODE_PATHS,
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
        except Exception as exc:
            if is_store_outage(exc):  # e.g. PostgreSQL restarting: retry later
                unavailable = {"error": "the store is unavailable; try again"}
                return json_response(unavailable, 503, {"Retry-After": "1"})
            log.exception("internal error in %s %s", request.method, request.url.path)
            return json_response({"error": "internal error (logged)"}, 500)

    return endpoint


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    response = json_response({"error": "no such API endpoint (see /api/v1/openapi.json)"}, 404)
    await response(scope, receive, send)
