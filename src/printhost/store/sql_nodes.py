"""The SQL store's cluster nodes: the records nodes upsert by heartbeat (cluster/nodes.py).

A mixin of ``SqlStore`` (split out by concern, like ``sql_routing``). Each write is one
transaction of the store's. ``put_node`` is an upsert (``INSERT ... ON CONFLICT``), so a
node's first heartbeat registers it and every later one updates it, on either database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, select

from printhost.store.base import NodeRecord, NodeState
from printhost.store.schema import nodes
from printhost.store.sql_dialect import upsert
from printhost.store.sql_rows import dumps

T = TypeVar("T")


class NodeTables:
    async def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def put_node(self, node: NodeRecord) -> None:
        if node.state == NodeState.DEAD:
            raise ValueError(f"node {node.name!r}: 'dead' is concluded by others, not stored")
        values = {
            "name": node.name,
            "address": node.address,
            "roles": dumps(list(node.roles)),
            "version": node.version,
            "started_at": node.started_at,
            "heartbeat_at": node.heartbeat_at,
            "state": str(node.state),
            "load": json.dumps(dict(node.load), separators=(",", ":"), sort_keys=True),
        }
        await self._write(lambda conn: conn.execute(upsert(conn, nodes, values)))

    async def list_nodes(self) -> list[NodeRecord]:
        stmt = select(nodes).order_by(nodes.c.name)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_node(row) for row in rows]

    async def delete_nodes_before(self, time: float) -> int:
        stmt = delete(nodes).where(nodes.c.heartbeat_at < time)
        return await self._write(lambda conn: int(conn.execute(stmt).rowcount))


def _node(row: Row[Any]) -> NodeRecord:
    return NodeRecord(
        name=row.name,
        address=row.address,
        roles=tuple(str(role) for role in json.loads(row.roles)),
        version=row.version,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        state=_state(row.state),
        load={str(k): int(v) for k, v in json.loads(row.load).items()},
    )


def _state(text: str) -> NodeState:
    # During a rolling upgrade nodes of two versions share the table: a state this version
    # does not know is not worth failing the whole listing for; the heartbeat still tells
    # whether that node lives.
    try:
        state = NodeState(text)
    except ValueError:
        return NodeState.UP
    return NodeState.UP if state == NodeState.DEAD else state
