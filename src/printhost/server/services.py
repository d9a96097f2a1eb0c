"""The services an IPP handler may call, wired once by the composition root (app.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from printhost.accounting.charges import Charges
from printhost.auth import CredentialCache
from printhost.clock import Clock
from printhost.config import Config
from printhost.jobs.model import JobId
from printhost.jobs.service import JobService
from printhost.routing.first_use import FirstUse
from printhost.server.queues import QueueRegistry
from printhost.store.base import Store
from printhost.store.spool import Spool


class EventBell:
    """Rung after every write that appends an event, so Get-Notifications with
    notify-wait can sleep until something happens instead of polling the table."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True if rung within ``timeout`` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True


@dataclass(slots=True)
class Services:
    config: Config
    store: Store
    spool: Spool
    jobs: JobService
    queues: QueueRegistry
    clock: Clock
    started_at: float
    #: Makes user- and local- queues on first use.
    first_use: FirstUse
    credentials: CredentialCache = field(default_factory=CredentialCache)
    event_bell: EventBell = field(default_factory=EventBell)
    wake_dispatcher: Callable[[], None] = lambda: None
    #: Accounting (None when it is off): balances, reservations, settling.
    charges: Charges | None = None
    #: Set on SIGTERM: readiness says 503 so load balancers stop sending work here.
    draining: bool = False

    def up_time(self) -> int:
        """printer-up-time (RFC 8011 §5.4.29). Like CUPS we count on the epoch clock, so
        time-at-creation and friends (stored as epoch seconds) stay comparable with it
        across restarts and across nodes."""
        return int(self.clock.now())

    async def purge(self, job_ids: Collection[JobId]) -> None:
        """Forget terminal jobs and delete their documents (Purge-Jobs, history expiry)."""
        for job_id in job_ids:
            for document in await self.store.forget_documents(job_id):
                if document.path:
                    with contextlib.suppress(FileNotFoundError):
                        await self.spool.delete(document.path)
        await self.store.delete_jobs(job_ids)
