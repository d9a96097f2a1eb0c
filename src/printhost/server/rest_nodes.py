"""REST API v1 for the cluster: ``GET /nodes`` lists every node that shares the store,
with its state as seen now (cluster/nodes.py: a node whose heartbeat is older than
``[cluster] dead_after_seconds`` is dead). Operators and admins only: node addresses and
load are the operators' business."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from printhost.cluster.nodes import node_state, seconds_since_heartbeat
from printhost.server.rest_base import identify, json_response
from printhost.server.rest_input import ApiError, query
from printhost.server.services import Services
from printhost.store.base import NodeRecord


async def get_nodes(services: Services, request: Request) -> Response:
    principal = (await identify(services, request)).require_user()
    if not principal.is_operator:
        raise ApiError(403, "only operators and admins see the cluster's nodes")
    query(request, set())  # no parameters: refuse unknown ones as the other endpoints do
    now = services.clock.now()
    dead_after = dead_after_seconds(services)
    nodes = await services.store.list_nodes()
    return json_response([node_json(node, now, dead_after) for node in nodes])


def node_json(node: NodeRecord, now: float, dead_after: float) -> dict[str, Any]:
    return {
        "name": node.name,
        "address": node.address,
        "roles": list(node.roles),
        "version": node.version,
        "state": str(node_state(node, now, dead_after)),
        "load": dict(node.load),
        "started_at": node.started_at,
        "heartbeat_at": node.heartbeat_at,
        "seconds_since_heartbeat": round(seconds_since_heartbeat(node, now), 3),
    }


def dead_after_seconds(services: Services) -> float:
    """``[cluster] dead_after_seconds``: a node silent longer is shown dead."""
    return services.config.cluster.dead_after_seconds


Handler = Callable[[Services, Request], Awaitable[Response]]

#: The endpoints of this module, by path and method (``rest.PATHS`` includes them).
NODE_PATHS: dict[str, dict[str, Handler]] = {
    "/nodes": {"GET": get_nodes},
}
