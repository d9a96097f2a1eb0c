"""Who is in the cluster: every node registers itself in the store and heartbeats, and
anyone can read the records (``printhost nodes``, ``GET /api/v1/nodes``).

Theory of operation
-------------------
A node's record (``store.base.NodeRecord``) says what the node last said about itself:
its address, roles, version, start time, state (up, draining, stopped) and load. Its
``Heartbeat`` upserts the record every ``[cluster] heartbeat_seconds``; the first beat
registers the node. On SIGTERM the composition root calls ``drain()``: the state becomes
"draining" and is written at once, not at the next beat. ``stop()`` ends the loop and
writes "stopped" as the last word.

A node that dies says nothing, so "dead" is never stored: readers conclude it with
``node_state`` when the last heartbeat is older than ``[cluster] dead_after_seconds``, on
their own clock (so nodes' clocks must agree to well within that; NTP). Leases, not this
table, decide who delivers a job: a node shown dead here and one whose leases expired are
usually the same node, but nothing relies on it.

A beat that fails (the database is down or failing over) is logged and the next one tries
again; the heartbeat never stops the node. Records of nodes silent for
``FORGET_AFTER_SECONDS`` are deleted (at most once an hour, by whichever node beats), so a
cluster whose nodes come and go (containers) does not list the departed for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping

from printhost.clock import Clock
from printhost.outage import is_store_outage
from printhost.store.base import NodeRecord, NodeState, Store

log = logging.getLogger(__name__)

#: Records whose last heartbeat is older than this are forgotten (a day).
FORGET_AFTER_SECONDS = 86400.0
#: How often a node looks for records to forget.
FORGET_EVERY_SECONDS = 3600.0
#: How long ``Heartbeat.stop()`` waits for the store (a beat in flight, then its write).
STOP_TIMEOUT_SECONDS = 5.0


def node_state(record: NodeRecord, now: float, dead_after: float) -> NodeState:
    """The node's state as seen at ``now``: what it said, unless its heartbeat is older
    than ``dead_after`` seconds (then DEAD). A node that stopped in order stays STOPPED
    however old its last word."""
    if record.state == NodeState.STOPPED:
        return NodeState.STOPPED
    if seconds_since_heartbeat(record, now) > dead_after:
        return NodeState.DEAD
    return record.state


def seconds_since_heartbeat(record: NodeRecord, now: float) -> float:
    """How long ago the node last beat; 0 when its clock is ahead of ours."""
    return max(0.0, now - record.heartbeat_at)


class Heartbeat:
    """Keeps this node's record in the store up to date. ``run()`` is the loop (give it an
    owner: a TaskGroup); ``drain()`` and ``stop()`` are how the node's shutdown tells it."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        name: str,
        address: str,
        roles: tuple[str, ...],
        version: str,
        interval: float,
        load: Callable[[], Mapping[str, int]],
        started_at: float | None = None,
        forget_after: float = FORGET_AFTER_SECONDS,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"heartbeat interval must be more than 0, not {interval}")
        self._store = store
        self._clock = clock
        self._interval = interval
        self._load = load
        self._forget_after = forget_after
        self._next_forget = float("-inf")
        #: Who this node is; heartbeat_at, state and load are filled in by each write.
        self._identity = NodeRecord(
            name=name,
            address=address,
            roles=roles,
            version=version,
            started_at=clock.now() if started_at is None else started_at,
            heartbeat_at=0.0,
            state=NodeState.UP,
        )
        self._state = NodeState.UP
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._stopped = False
        self._failing = False

    @property
    def name(self) -> str:
        return self._identity.name

    @property
    def state(self) -> NodeState:
        """What this node says it is: up, draining, or (after ``stop()``) stopped."""
        return self._state

    async def run(self) -> None:
        """Beat every ``interval`` seconds (at once after ``drain()``) until ``stop()``."""
        while not self._stopped:
            self._wake.clear()
            await self.beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)

    async def beat(self) -> bool:
        """Write this node's record once. False (logged) when the store failed; the next
        beat tries again. After ``stop()`` nothing is written."""
        async with self._write_lock:
            if self._stopped:
                return False
            ok = await self._put(self._state)
        if ok:
            await self._forget_departed()
        return ok

    def drain(self) -> None:
        """From now on this node is draining: written at once (by the running loop)."""
        if self._stopped:
            return
        self._state = NodeState.DRAINING
        self._wake.set()

    async def stop(self) -> None:
        """End the loop and write "stopped": one try, within ``STOP_TIMEOUT_SECONDS`` (a
        node going down does not wait long for a database that is down too; it then shows
        as dead, which is close enough)."""
        if self._stopped:
            return
        self._stopped = True
        self._state = NodeState.STOPPED
        self._wake.set()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_SECONDS), self._write_lock:
                await self._put(NodeState.STOPPED)
        except TimeoutError:
            log.warning("node %s could not record that it stopped (store too slow)", self.name)

    async def _put(self, state: NodeState) -> bool:
        try:
            load = {str(key): int(value) for key, value in self._load().items()}
            now = self._clock.now()
            record = dataclasses.replace(self._identity, heartbeat_at=now, state=state, load=load)
            await self._store.put_node(record)
        except Exception as exc:
            if not is_store_outage(exc):
                # A bug must not leave a node that delivers while the others, seeing its
                # heartbeat stop, take its jobs over: it fails, and so stops, loudly.
                raise
            # The first failure in a row with its traceback; the rest in one line each.
            log.warning(
                "heartbeat of node %s failed (%s: %s); retrying in %gs",
                self.name,
                type(exc).__name__,
                exc,
                self._interval,
                exc_info=not self._failing,
            )
            self._failing = True
            return False
        if self._failing:
            log.info("heartbeat of node %s written again", self.name)
            self._failing = False
        return True

    async def _forget_departed(self) -> None:
        now = self._clock.now()
        if now < self._next_forget:
            return
        self._next_forget = now + FORGET_EVERY_SECONDS
        try:
            forgotten = await self._store.delete_nodes_before(now - self._forget_after)
        except Exception:
            log.warning("could not forget departed nodes; trying again later", exc_info=True)
            return
        if forgotten:
            log.info("forgot %d node(s) silent for %gs", forgotten, self._forget_after)
