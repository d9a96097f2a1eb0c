"""The store contract for cluster nodes (``put_node``, ``list_nodes``,
``delete_nodes_before``), on every backend in ``conftest.BACKENDS`` (SQLite and
PostgreSQL), plus migration 0007 up and down."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from printhost.store.base import NodeRecord, NodeState, Store

from .conftest import OpenStore
from .migration_steps import tables_after

T0 = 1_700_000_000.0


def node(name: str, heartbeat_at: float = T0, **changes: Any) -> NodeRecord:
    record = NodeRecord(
        name=name,
        address=f"http://{name}.example:8631",
        roles=("intake", "dispatch", "web"),
        version="0.1.0",
        started_at=T0 - 60,
        heartbeat_at=heartbeat_at,
        state=NodeState.UP,
        load={"deliveries": 0, "workers": 8},
    )
    return dataclasses.replace(record, **changes)


async def test_no_nodes_at_first(store: Store) -> None:
    assert await store.list_nodes() == []


async def test_put_registers_and_list_returns_every_field(store: Store) -> None:
    record = node("n1", roles=("dispatch",), load={"deliveries": 3, "workers": 8})
    await store.put_node(record)
    assert await store.list_nodes() == [record]
    [stored] = await store.list_nodes()
    assert isinstance(stored.state, NodeState) and stored.roles == ("dispatch",)


async def test_put_again_updates_in_place(store: Store) -> None:
    await store.put_node(node("n1"))
    later = node("n1", T0 + 2, state=NodeState.DRAINING, load={"deliveries": 5})
    await store.put_node(later)
    assert await store.list_nodes() == [later]
    stopped = node("n1", T0 + 4, state=NodeState.STOPPED, load={})
    await store.put_node(stopped)
    assert await store.list_nodes() == [stopped]


async def test_list_is_by_name(store: Store) -> None:
    for name in ("c", "a", "b"):
        await store.put_node(node(name))
    assert [n.name for n in await store.list_nodes()] == ["a", "b", "c"]


async def test_dead_is_never_stored(store: Store) -> None:
    with pytest.raises(ValueError, match="dead"):
        await store.put_node(node("n1", state=NodeState.DEAD))
    assert await store.list_nodes() == []


async def test_delete_before_forgets_only_older_heartbeats(store: Store) -> None:
    await store.put_node(node("gone", T0 - 100, state=NodeState.STOPPED))
    await store.put_node(node("dead", T0 - 50))
    await store.put_node(node("edge", T0))
    await store.put_node(node("live", T0 + 1))
    assert await store.delete_nodes_before(T0) == 2
    assert [n.name for n in await store.list_nodes()] == ["edge", "live"]
    assert await store.delete_nodes_before(T0) == 0


async def test_every_node_sees_every_other(open_store: OpenStore) -> None:
    first, second = await open_store(), await open_store()
    await first.put_node(node("n1"))
    await second.put_node(node("n2"))
    for handle in (first, second):
        assert [n.name for n in await handle.list_nodes()] == ["n1", "n2"]


async def test_records_survive_a_reopen(open_store: OpenStore) -> None:
    first = await open_store()
    await first.put_node(node("n1", load={"deliveries": 2}))
    await first.close()
    again = await open_store()
    assert await again.list_nodes() == [node("n1", load={"deliveries": 2})]


# --- the migration ----------------------------------------------------------------------------


def test_nodes_migration_0007_adds_and_removes_only_its_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    before = tables_after(url, "upgrade", "0006")
    assert "nodes" not in before
    assert tables_after(url, "upgrade", "0007") == before | {"nodes"}
    assert tables_after(url, "downgrade", "0006") == before
    assert "nodes" in tables_after(url, "upgrade", "head")
