"""cluster/nodes.py: the pure node state rule, and ``Heartbeat`` on a fake clock with a
real SQLite store in a temp dir (registers, updates, drains, stops, survives a failing
store)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc

from printhost.clock import FakeClock
from printhost.cluster.nodes import (
    FORGET_AFTER_SECONDS,
    FORGET_EVERY_SECONDS,
    Heartbeat,
    node_state,
    seconds_since_heartbeat,
)
from printhost.store.base import NodeRecord, NodeState, Store
from printhost.store.sqlite import SqliteStore

T0 = 1_800_000_000.0
ROLES = ("dispatch", "web")


def record(state: NodeState, heartbeat_at: float = T0) -> NodeRecord:
    return NodeRecord("n1", "http://n1:8631", ROLES, "0.1.0", T0 - 60, heartbeat_at, state)


# --- node_state ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", [NodeState.UP, NodeState.DRAINING])
def test_a_live_node_is_what_it_says(state: NodeState) -> None:
    assert node_state(record(state), T0, 10) == state
    assert node_state(record(state), T0 + 10, 10) == state  # exactly dead_after: still alive


@pytest.mark.parametrize("state", [NodeState.UP, NodeState.DRAINING])
def test_a_silent_node_is_dead(state: NodeState) -> None:
    assert node_state(record(state), T0 + 10.5, 10) == NodeState.DEAD
    assert node_state(record(state), T0 + 10_000, 10) == NodeState.DEAD


def test_a_stopped_node_stays_stopped_however_old() -> None:
    assert node_state(record(NodeState.STOPPED), T0, 10) == NodeState.STOPPED
    assert node_state(record(NodeState.STOPPED), T0 + 10_000, 10) == NodeState.STOPPED


def test_a_clock_ahead_of_ours_is_not_negative_age() -> None:
    assert seconds_since_heartbeat(record(NodeState.UP, T0 + 5), T0) == 0.0
    assert seconds_since_heartbeat(record(NodeState.UP, T0), T0 + 3) == 3.0
    assert node_state(record(NodeState.UP, T0 + 5), T0, 10) == NodeState.UP


# --- Heartbeat -----------------------------------------------------------------------------


class FlakyStore:
    """The real store, whose ``put_node`` fails while ``failing`` is set."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.failing = False
        self.puts = 0

    async def put_node(self, node: NodeRecord) -> None:
        self.puts += 1
        if self.failing:
            raise sqlalchemy.exc.OperationalError("put_node", {}, OSError("unreachable"))
        await self.store.put_node(node)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlakyStore]:
    real = await SqliteStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    yield FlakyStore(real)
    await real.close()


def heartbeat(
    store: Any, clock: FakeClock, load: dict[str, int] | None = None, interval: float = 2.0
) -> Heartbeat:
    return Heartbeat(
        store,
        clock,
        name="n1",
        address="http://n1.example:8631",
        roles=ROLES,
        version="0.1.0",
        interval=interval,
        load=lambda: load if load is not None else {"deliveries": 0, "workers": 8},
    )


async def only_node(store: FlakyStore) -> NodeRecord:
    [node] = await store.list_nodes()
    return node


async def test_the_first_beat_registers_the_node(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock)
    assert await store.list_nodes() == []
    assert await beat.beat()
    assert await only_node(store) == NodeRecord(
        name="n1",
        address="http://n1.example:8631",
        roles=ROLES,
        version="0.1.0",
        started_at=T0,
        heartbeat_at=T0,
        state=NodeState.UP,
        load={"deliveries": 0, "workers": 8},
    )


async def test_later_beats_update_time_and_load(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    load = {"deliveries": 0, "workers": 8}
    beat = heartbeat(store, clock, load)
    await beat.beat()
    clock.advance(2)
    load["deliveries"] = 3
    await beat.beat()
    node = await only_node(store)
    assert (node.started_at, node.heartbeat_at) == (T0, T0 + 2)
    assert node.load == {"deliveries": 3, "workers": 8}
    assert node_state(node, clock.now() + 10, 10) == NodeState.UP
    assert node_state(node, clock.now() + 11, 10) == NodeState.DEAD


async def test_draining_is_written_and_kept(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock)
    await beat.beat()
    beat.drain()
    assert beat.state == NodeState.DRAINING
    clock.advance(1)
    await beat.beat()
    assert (await only_node(store)).state == NodeState.DRAINING
    clock.advance(2)
    await beat.beat()
    node = await only_node(store)
    assert (node.state, node.heartbeat_at) == (NodeState.DRAINING, T0 + 3)


async def test_stop_writes_stopped_and_nothing_after(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock)
    await beat.beat()
    beat.drain()
    clock.advance(5)
    await beat.stop()
    node = await only_node(store)
    assert (node.state, node.heartbeat_at) == (NodeState.STOPPED, T0 + 5)
    clock.advance(5)
    assert not await beat.beat()
    beat.drain()  # too late: stopped is the last word
    await beat.stop()
    assert await only_node(store) == node
    assert node_state(node, clock.now() + 10_000, 10) == NodeState.STOPPED


async def test_a_failing_beat_is_logged_and_the_next_one_recovers(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock)
    await beat.beat()
    store.failing = True
    clock.advance(2)
    with caplog.at_level(logging.WARNING, logger="printhost.cluster.nodes"):
        assert not await beat.beat()
        assert not await beat.beat()
    failures = [r for r in caplog.records if "heartbeat of node n1 failed" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info and not failures[1].exc_info  # one traceback per outage
    assert (await only_node(store)).heartbeat_at == T0
    store.failing = False
    clock.advance(2)
    assert await beat.beat()
    assert (await only_node(store)).heartbeat_at == T0 + 4


async def test_a_bug_fails_loudly_instead_of_leaving_a_silent_live_node(
    store: FlakyStore,
) -> None:
    """Others would take the jobs of a node whose heartbeat stops while it still delivers:
    anything but an outage of the store stops the node instead."""

    def broken() -> dict[str, int]:
        raise RuntimeError("dispatcher gone")

    beat = Heartbeat(
        store,  # type: ignore[arg-type]
        FakeClock(T0),
        name="n1",
        address="",
        roles=ROLES,
        version="0.1.0",
        interval=2.0,
        load=broken,
    )
    with pytest.raises(RuntimeError, match="dispatcher gone"):
        await beat.beat()
    assert await store.list_nodes() == []


async def test_run_beats_until_stopped_and_survives_a_failing_store(
    store: FlakyStore,
) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock, interval=0.01)
    store.failing = True
    async with asyncio.TaskGroup() as tasks:
        task = tasks.create_task(beat.run())
        await _until(lambda: store.puts >= 3)
        assert not task.done()  # failures did not end the loop
        store.failing = False
        clock.advance(2)
        puts = store.puts
        await _until(lambda: store.puts > puts + 1)
        assert (await only_node(store)).heartbeat_at == T0 + 2
        await beat.stop()
    assert task.done() and task.exception() is None
    assert (await only_node(store)).state == NodeState.STOPPED


async def test_drain_wakes_the_loop_at_once(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    beat = heartbeat(store, clock, interval=3600)  # the next regular beat is an hour away
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(beat.run())
        await _until(lambda: store.puts == 1)
        beat.drain()
        await _until(lambda: store.puts == 2)
        assert (await only_node(store)).state == NodeState.DRAINING
        await beat.stop()


async def test_nodes_silent_for_a_day_are_forgotten(store: FlakyStore) -> None:
    clock = FakeClock(T0)
    gone = NodeRecord("gone", "", ROLES, "0.0.9", T0 - 5, T0 - 1, NodeState.STOPPED)
    await store.put_node(gone)
    beat = heartbeat(store, clock)
    await beat.beat()
    assert [n.name for n in await store.list_nodes()] == ["gone", "n1"]
    clock.advance(FORGET_AFTER_SECONDS - 10)
    await beat.beat()  # looked, but "gone" is not silent for a day yet
    assert [n.name for n in await store.list_nodes()] == ["gone", "n1"]
    clock.advance(30)
    await beat.beat()  # a day now, but within the hour since the last look
    assert [n.name for n in await store.list_nodes()] == ["gone", "n1"]
    clock.advance(FORGET_EVERY_SECONDS)
    await beat.beat()
    assert [n.name for n in await store.list_nodes()] == ["n1"]


async def _until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
