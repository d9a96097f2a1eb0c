"""Queues made on first use (``user-<name>`` when a user first prints, ``local-<host>``
when a workstation's agent first reports): a queue row makes the queue show in listings
and gives it a state operators can change. Each is written once."""

from __future__ import annotations

from printhost.clock import Clock
from printhost.store.base import NewEvent, QueueState, Store


class FirstUse:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._known: set[str] = set()

    async def ensure(self, queue: str) -> None:
        if queue in self._known:
            return
        if queue not in {s.name for s in await self._store.list_queue_states()}:
            now = self._clock.now()
            state = QueueState(queue, state_change_time=now)
            await self._store.set_queue_state(state, NewEvent("queue-created", now))
        self._known.add(queue)
