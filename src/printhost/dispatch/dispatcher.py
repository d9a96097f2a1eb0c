"""The dispatcher: claims deliverable jobs with a lease, hands each to the backend of its
printer, and records what happened.

Theory of operation:
- One loop claims work: orphaned jobs first (a node died mid-delivery: its lease expired),
  then pending jobs in priority order, but only for queues whose printer is not busy
  (a physical printer takes one job at a time) and never more than ``workers`` at once.
- Each delivery is a task owned by the dispatcher's TaskGroup. It moves the job to
  processing (compare-and-set), renews the lease while it works, asks the printer first
  when an earlier attempt may have reached it (invariant 2), delivers, and applies the pure
  ``policy.decide`` result. Cancel-Job cancels the task; the backend stops promptly.
- Sleeps until woken (new job, release, resume) or the next retry is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import uuid
from urllib.parse import urlsplit

from printhost.clock import Clock
from printhost.config import Config, DeliveryConfig
from printhost.dispatch import policy
from printhost.dispatch.backends import BACKENDS
from printhost.dispatch.backends.base import (
    Backend,
    DeliveryRequest,
    DeliveryResult,
    DocumentFile,
    Outcome,
    RemoteState,
)
from printhost.ipp.constants import JobState
from printhost.jobs.lifecycle import JobEvent
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.service import JobService
from printhost.server.job_attributes import decode_template
from printhost.store.base import Store
from printhost.store.spool import Spool

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 1.0


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobProgress:
    """Makes a backend's reports durable on the job (remote job id first: recovery needs
    it to find the job on the printer)."""

    def __init__(self, store: Store, job_id: JobId) -> None:
        self._store = store
        self._job_id = job_id

    async def remote_job_created(self, remote_job_id: int) -> None:
        await self._store.update_job(self._job_id, {"remote_job_id": remote_job_id})

    async def message(self, text: str) -> None:
        await self._store.update_job(self._job_id, {"state_message": text[:1023]})


class Dispatcher:
    def __init__(
        self,
        config: Config,
        store: Store,
        jobs: JobService,
        spool: Spool,
        clock: Clock,
        node: str | None = None,
    ) -> None:
        self._config = config
        self._delivery: DeliveryConfig = config.delivery
        self._store = store
        self._jobs = jobs
        self._spool = spool
        self._clock = clock
        self.node = node or node_name()
        self._wake = asyncio.Event()
        self._tasks: dict[JobId, asyncio.Task[None]] = {}
        self._renewers: dict[JobId, asyncio.Task[None]] = {}
        #: Jobs whose outcome was recorded: that move also gave their lease up.
        self._settled: set[JobId] = set()
        self._next_orphan_search = 0.0  # at start: at once (a crash may have left some)
        self._busy_printers: set[str] = set()
        self._backends: dict[str, Backend] = {}

    # --- hooks for the services -----------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def stop_delivery(self, job_id: JobId) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    # --- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        """Runs until cancelled; on cancellation in-flight deliveries are cancelled and
        their leases released, so another node (or the next start) resumes them."""
        async with asyncio.TaskGroup() as group:
            try:
                while True:
                    await self._claim_all(group)
                    await self._sleep()
            finally:
                for task in list(self._tasks.values()):
                    task.cancel()

    async def _sleep(self) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), IDLE_POLL_SECONDS)

    async def _claim_all(self, group: asyncio.TaskGroup) -> None:
        while len(self._tasks) < self._delivery.workers:
            job = await self._claim()
            if job is None:
                return
            printer = self._config.printer(self._printer_of(job))
            assert printer is not None
            self._busy_printers.add(printer.name)
            self._tasks[job.id] = group.create_task(
                self._run_delivery(job, printer.name, printer.uri)
            )

    async def _claim(self) -> JobRecord | None:
        now = self._clock.now()
        until = now + self._delivery.lease_seconds
        orphan = await self._claim_orphan(now, until)
        if orphan is not None:
            if self._printer_of(orphan) not in self._busy_printers:
                return orphan
            await self._store.release_lease(orphan.id, self.node)
        free = [q.name for q in self._config.queues if q.printer not in self._busy_printers]
        if not free:
            return None
        return await self._store.claim_pending(self.node, now, until, free)

    async def _claim_orphan(self, now: float, until: float) -> JobRecord | None:
        """Orphans appear only when a lease expires, so after a search that found none the
        next one waits half a lease, instead of costing a store write on every claim."""
        if now < self._next_orphan_search:
            return None
        orphan = await self._store.claim_orphaned(self.node, now, until)
        if orphan is None:
            self._next_orphan_search = now + self._delivery.lease_seconds / 2
        return orphan

    def _printer_of(self, job: JobRecord) -> str:
        queue = self._config.queue(job.queue)
        return queue.printer if queue else (job.printer or "")

    # --- one delivery --------------------------------------------------------------------
    async def _run_delivery(self, job: JobRecord, printer: str, uri: str) -> None:
        renewer = asyncio.create_task(self._renew(job.id))
        self._renewers[job.id] = renewer
        try:
            await self._deliver(job, printer, uri)
        except asyncio.CancelledError:
            log.info("delivery of job %s stopped", job.id)
            await self._cancel_at_printer(job.id, uri)
        except Exception:
            log.exception("delivery of job %s failed unexpectedly", job.id)
            await self._record(
                job,
                DeliveryResult(Outcome.RETRY, "printer-stopped", "internal error while delivering"),
            )
        finally:
            renewer.cancel()
            self._renewers.pop(job.id, None)
            self._tasks.pop(job.id, None)
            self._busy_printers.discard(printer)
            if job.id in self._settled:
                self._settled.discard(job.id)  # no second write: each costs an fsync
            else:
                await self._store.release_lease(job.id, self.node)
            self.wake()

    async def _deliver(self, job: JobRecord, printer: str, uri: str) -> None:
        started = await self._jobs.move(
            job,
            JobEvent.START,
            changes={
                "printer": printer,
                "delivery_attempts": job.delivery_attempts + 1,
                "next_attempt_at": None,
            },
        )
        if started is None:
            return  # canceled or changed meanwhile
        backend = self._backend(uri)
        request = self._request(started, uri)
        if job.state == JobState.PROCESSING or job.delivery_attempts > 0:
            recovered = await self._recover(started, backend, request)
            if recovered is None:
                return
            request = recovered
        result = await backend.deliver(request, JobProgress(self._store, job.id))
        await self._record(started, result)

    async def _recover(
        self, job: JobRecord, backend: Backend, request: DeliveryRequest
    ) -> DeliveryRequest | None:
        """An earlier attempt may have reached the printer: ask it before sending again."""
        lookup = await backend.lookup(request)
        decision = policy.decide_recovery(lookup)
        if decision is not None:
            await self._apply(job, decision)
            return None
        if lookup.state is RemoteState.ACTIVE and lookup.remote_job_id is not None:
            return dataclasses.replace(request, remote_job_id=lookup.remote_job_id)
        return dataclasses.replace(request, remote_job_id=None)

    async def _record(self, job: JobRecord, result: DeliveryResult) -> None:
        fresh = await self._store.get_job(job.id)
        if fresh is None or fresh.state != JobState.PROCESSING:
            return  # canceled while we delivered
        decision = policy.decide(result, fresh.delivery_attempts, self._delivery, self._clock.now())
        await self._apply(fresh, decision)

    async def _apply(self, job: JobRecord, decision: policy.Decision) -> None:
        # The move below gives the lease up: stop renewing first, or the renewer finds the
        # lease gone, takes it as lost and cancels this task mid-way (documents left behind).
        renewer = self._renewers.pop(job.id, None)
        if renewer is not None:
            renewer.cancel()
        changes = {**decision.changes, "lease_owner": None, "lease_expires": None}
        done = await self._jobs.move(
            job, decision.event, reasons=decision.reasons, message=decision.message, changes=changes
        )
        if done is not None:
            self._settled.add(job.id)
        if done is not None and done.state == JobState.COMPLETED:
            await self._forget_documents(done)

    async def _forget_documents(self, job: JobRecord) -> None:
        """A printed job's documents are deleted at once (CUPS keeps them by default);
        canceled and aborted jobs keep theirs for the history period, for Restart-Job."""
        for document in await self._store.forget_documents(job.id):
            if document.path:
                await self._spool.delete(document.path)

    async def _renew(self, job_id: JobId) -> None:
        interval = max(0.5, self._delivery.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            until = self._clock.now() + self._delivery.lease_seconds
            if not await self._store.renew_lease(job_id, self.node, until):
                log.warning("lost the lease on job %s", job_id)
                self.stop_delivery(job_id)
                return

    async def _cancel_at_printer(self, job_id: JobId, uri: str) -> None:
        """After Cancel-Job stopped a delivery, cancel the job at the printer too, as CUPS's
        ipp backend does (IPP-CLIENTS.md §4.2); else it prints a job we report canceled.
        Shutdown, Suspend-Current-Job and a lost lease stop deliveries too: those jobs are
        not canceled, and recovery follows them at the printer later."""
        job = await self._store.get_job(job_id)
        if job is not None and job.state == JobState.CANCELED:
            await self._backend(uri).cancel_job(self._request(job, uri))

    def _backend(self, uri: str) -> Backend:
        scheme = urlsplit(uri).scheme
        if scheme not in self._backends:
            self._backends[scheme] = BACKENDS[scheme](timeout=self._delivery.timeout_seconds)
        return self._backends[scheme]

    def _request(self, job: JobRecord, uri: str) -> DeliveryRequest:
        documents = tuple(
            DocumentFile(self._spool.path(d.path), d.format, d.name)
            for d in job.documents
            if d.path
        )
        return DeliveryRequest(
            printer_uri=uri,
            job_id=job.id,
            job_uuid=job.uuid,
            job_name=job.name,
            user_name=job.owner,
            documents=documents,
            attributes=tuple(decode_template(job.template)),
            originating_host=job.originating_host,
            remote_job_id=job.remote_job_id,
        )

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
