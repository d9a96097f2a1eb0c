"""Printer health: a printer is marked down after one failed delivery, and a prober brings
it back as soon as it answers again.

Down is a fact in the store (``printers.is_up``) with a ``printer-state-changed`` event, so
every node routes around the same printers and users can be told. The prober asks each
down printer every ``routing.probe_interval_seconds`` with the backend's cheap ``probe``
(TCP connect; IPP Get-Printer-Attributes), bounded in time, all printers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from printhost.clock import Clock
from printhost.config import Config
from printhost.dispatch.backends.base import Backend
from printhost.routing.router import Target
from printhost.store.base import NewEvent, PrinterRecord, Store

log = logging.getLogger(__name__)
#: Longest a probe may take; a printer that answers slower stays down.
PROBE_TIMEOUT_SECONDS = 5.0


class PrinterHealth:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        *,
        backend_for: Callable[[str], Backend],
        target_named: Callable[[str], Awaitable[Target | None]],
        printer_back: Callable[[], None],
    ) -> None:
        self._interval = config.routing.probe_interval_seconds
        self._timeout = min(PROBE_TIMEOUT_SECONDS, config.delivery.timeout_seconds)
        self._store = store
        self._clock = clock
        self._backend_for = backend_for
        self._target_named = target_named
        self._printer_back = printer_back
        #: Printers this node marked down, for probing those it cannot name again (a
        #: workstation whose queue name is spelt with a hash: names.local_queue).
        self._marked: dict[str, Target] = {}

    async def mark_down(self, target: Target, why: str) -> None:
        log.warning("printer %s is down: %s", target.name, why)
        self._marked[target.name] = target
        await self._set(target.name, up=False, message=why or "delivery failed")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.probe_down_printers()

    async def probe_down_printers(self) -> None:
        down = [p.name for p in await self._store.list_printers() if not p.is_up]
        if down:
            await asyncio.gather(*(self._probe(name) for name in down))

    async def _probe(self, name: str) -> None:
        target = await self._target_named(name) or self._marked.get(name)
        if target is None:
            return  # no longer configured (or its agent is gone): nothing to bring back
        up = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout):  # not wait_for: see Dispatcher._sleep
                up = await self._backend_for(target.uri).probe(target.uri)
        if up:
            log.info("printer %s is back", name)
            self._marked.pop(name, None)
            await self._set(name, up=True, message="")
            self._printer_back()

    async def _set(self, name: str, *, up: bool, message: str) -> None:
        now = self._clock.now()
        record = PrinterRecord(
            name=name,
            is_up=up,
            state_reasons=("none",) if up else ("offline-report",),
            state_message=message[:1023],
            state_change_time=now,
        )
        event = NewEvent("printer-state-changed", now, printer=name, data={"up": up})
        await self._store.set_printer(record, event)
