"""The dispatcher: routes each deliverable job to a printer when it is dispatched (late
binding), claims it with a lease, hands it to the backend of that printer, and records
what happened.

Theory of operation:
- One loop claims work: orphaned jobs first (a node died mid-delivery: its lease expired;
  they go back to the printer they were sent to, which is asked before resending), then
  pending jobs in priority order. Each is routed (routing/router.py: destination, then a
  member that can print it, is up and is free), then claimed by id. A physical printer
  takes one job at a time, and never more than ``workers`` deliveries run at once.
- Jobs on one route (a user's jobs to their destination, or a queue's) stay in order: when
  the first cannot go (its printer is busy or down, or its retry is not due), those behind
  it wait too, so a retry never lets a later job overtake an earlier one.
- A job no printer could take as things are (its user logged in nowhere, no pool member
  can print colour) is held with the reason; presence, preference or printer changes
  release it for another try.
- A failed delivery (refused, timed out, reset, printer stopped) marks the printer down at
  once; the job goes back to pending with no delay and is re-routed to another member of
  its pool, if any. The health prober (dispatch/health.py) brings the printer back.
- Each delivery is a task owned by the dispatcher's TaskGroup. It moves the job to
  processing (compare-and-set), renews the lease while it works, asks the printer first
  when an earlier attempt may have reached it (invariant 2), delivers, and applies the pure
  ``policy.decide`` result. Cancel-Job cancels the task; the backend stops promptly.
- Sleeps until woken (new job, release, resume, printer back) or a second passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
from urllib.parse import urlsplit

from printhost.clock import Clock
from printhost.cluster.nodes import node_state
from printhost.config import Config, DeliveryConfig
from printhost.dispatch import banners, policy
from printhost.dispatch.backends import BACKENDS
from printhost.dispatch.backends.base import (
    Backend,
    DeliveryRequest,
    DeliveryResult,
    Outcome,
    RemoteState,
)
from printhost.dispatch.health import PrinterHealth
from printhost.dispatch.modifications import WatermarkFailed, modified_documents, needs_changes
from printhost.dispatch.requests import JobProgress, delivery_request, node_name
from printhost.ipp.constants import JobState
from printhost.jobs.lifecycle import JobEvent
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.service import JobService
from printhost.judge.analyser import Analyser
from printhost.judge.judge import REVIEW_REASON
from printhost.judge.modification import forced_needs, judged, note
from printhost.judge.records import Decision
from printhost.judge.stage import SETTLED, WAIT, JudgeStage
from printhost.outage import is_store_outage, riding_out_outages, suppressed_outage
from printhost.routing import names
from printhost.routing.facts import RoutingPass
from printhost.routing.recent import RecentDeliveries
from printhost.routing.router import (
    Hold,
    Target,
    Unroutable,
    Wait,
    choose,
    follows_owner,
    narrowed,
    needs_of,
    route_key,
    target,
)
from printhost.server.job_attributes import decode_template
from printhost.store.base import NodeState, Store
from printhost.store.spool import Spool

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 1.0
#: Pending jobs read per look at the queue, and looks per pass (bounds one pass's work
#: when many routes are blocked).
PEEK_BATCH = 32
MAX_PEEKS_PER_PASS = 64
INTERNAL_ERROR_PAUSE_SECONDS = 10.0
JUDGE_FAILED = "held: it could not be judged (internal error, logged); an operator may release it"
_UNLEASED = {"lease_owner": None, "lease_expires": None, "printer": None}


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
        #: Per destination, the member chosen last (round-robin pools).
        self._last_chosen: dict[str, str] = {}
        self._recent = RecentDeliveries()
        self._judging: JudgeStage | None = None
        self._analyser: Analyser | None = None
        self._health = PrinterHealth(
            config,
            store,
            clock,
            backend_for=self._backend,
            target_named=self._target_named,
            printer_back=self.wake,
        )

    # --- hooks for the services -----------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    @property
    def in_flight(self) -> int:
        """Deliveries running now (this node's load, for its heartbeat)."""
        return len(self._tasks)

    def stop_delivery(self, job_id: JobId) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()

    # --- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        """Runs until cancelled; on cancellation in-flight deliveries are cancelled and
        their leases released, so another node (or the next start) resumes them."""
        async with asyncio.TaskGroup() as group:
            helpers = [
                group.create_task(riding_out_outages("prober", self._health.run)),
                # other nodes' news (PostgreSQL NOTIFY): wake at once, not at the next poll
                group.create_task(
                    riding_out_outages("store watch", lambda: self._store.watch(self.wake))
                ),
            ]
            if self._analyser is not None:
                analyser = self._analyser
                helpers.append(group.create_task(riding_out_outages("analyser", analyser.run)))
            try:
                while True:
                    with suppressed_outage("dispatcher"):  # the store restarting: next pass
                        await self._claim_all(group)
                    await self._sleep()
            finally:
                for helper in helpers:
                    helper.cancel()
                for task in list(self._tasks.values()):
                    task.cancel()

    async def _sleep(self) -> None:
        self._wake.clear()
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation that
        # arrives as the wait ends (a wake-up with the shutdown), and run() never stops.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(IDLE_POLL_SECONDS):
                await self._wake.wait()

    async def _claim_all(self, group: asyncio.TaskGroup) -> None:
        now = self._clock.now()
        while len(self._tasks) < self._delivery.workers:
            orphan = await self._claim_orphan(now, now + self._delivery.lease_seconds)
            if orphan is None:
                break
            await self._resume_orphan(group, orphan)
        routing = RoutingPass(self._config, self._store, now)
        down = {p.name for p in await self._store.list_printers() if not p.is_up}
        blocked: set[str] = set()
        exclude: set[tuple[str, str | None]] = set()
        for _ in range(MAX_PEEKS_PER_PASS):
            if len(self._tasks) >= self._delivery.workers:
                return
            batch = await self._store.peek_pending(now, exclude, PEEK_BATCH)
            if not batch:
                return
            for job in batch:
                if len(self._tasks) >= self._delivery.workers:
                    return
                key = route_key(self._config, job.queue, job.owner)
                if key in blocked or not await self._dispatch(group, routing, job, down, now):
                    # The route waits, and its jobs on every queue leave the next look
                    # (else one user's waiting jobs could fill every batch).
                    blocked.add(key)
                    owner = job.owner if follows_owner(self._config, job.queue) else None
                    exclude.add((job.queue, owner))

    async def _dispatch(
        self,
        group: asyncio.TaskGroup,
        routing: RoutingPass,
        job: JobRecord,
        down: set[str],
        now: float,
    ) -> bool:
        """Route and start one job. False when it must wait, and those behind it too."""
        if job.next_attempt_at is not None and job.next_attempt_at > now:
            return False
        destination = await routing.destination(job.queue, job.owner)
        if isinstance(destination, Unroutable):
            await self._jobs.hold_for_route(job, destination.message)
            return True
        needs = needs_of(decode_template(job.template))
        if self._judging is not None:
            try:
                admitted = await self._judging.admit(job, destination.name)
            except Exception as exc:
                if is_store_outage(exc):
                    return False  # the next pass tries again, in order
                # A bug, or stored data it cannot read: the job is held for an operator,
                # saying so, so it does not block the jobs behind it on every pass.
                log.exception("judging job %s failed", job.id)
                await self._jobs.hold_because(job, REVIEW_REASON, JUDGE_FAILED)
                return True
            if admitted is WAIT:
                return False
            if admitted is SETTLED:
                return True
            assert isinstance(admitted, Decision)
            needs = forced_needs(needs, admitted)  # e.g. forced to grayscale: any printer
        decision = choose(
            narrowed(destination, job.release_printer),
            needs,
            busy=self._busy_printers,
            down=down,
            recent=self._recent.counts(now),
            after=self._last_chosen.get(destination.name),
        )
        if isinstance(decision, Hold):
            await self._jobs.hold_for_route(job, decision.message)
            return True
        if isinstance(decision, Wait):
            return False
        claimed = await self._store.claim_job(
            job.id, self.node, now, now + self._delivery.lease_seconds
        )
        if claimed is not None:
            self._last_chosen[destination.name] = decision.target.name
            self._recent.add(decision.target.name, now)
            self._start(group, claimed, decision.target)
        return True

    def set_judging(self, judging: JudgeStage, analyser: Analyser) -> None:
        """Judge every job before it is routed (accounting enabled: judge/stage.py); the
        analyser runs under this dispatcher."""
        self._judging = judging
        self._analyser = analyser

    def _start(self, group: asyncio.TaskGroup, job: JobRecord, target: Target) -> None:
        self._busy_printers.add(target.name)
        self._tasks[job.id] = group.create_task(self._run_delivery(job, target))

    async def _resume_orphan(self, group: asyncio.TaskGroup, orphan: JobRecord) -> None:
        """An orphan goes back to the printer it was being sent to: only that printer can
        say whether it already printed it (invariant 2)."""
        target = await self._target_named(orphan.printer or "")
        if target is None:
            await self._jobs.move(orphan, JobEvent.RETRY, changes=_UNLEASED)
        elif target.name in self._busy_printers:
            await self._store.release_lease(orphan.id, self.node)
        else:
            self._start(group, orphan, target)

    async def _target_named(self, name: str) -> Target | None:
        printer = self._config.printer(name)
        if printer is not None:
            return target(printer)
        if names.is_local_queue(name):
            agent = await self._store.get_agent(name[len(names.LOCAL_PREFIX) :])
            if agent is not None and agent.expires_at > self._clock.now():
                return Target(name, agent.uri)
        return None

    async def _claim_orphan(self, now: float, until: float) -> JobRecord | None:
        """Orphans appear when a lease expires or its node is declared dead (its heartbeat
        stopped for ``[cluster] dead_after_seconds``: its jobs are taken over then, not a
        whole lease later). After a search that found none the next one waits half the
        shorter of the two, instead of costing a store write on every claim."""
        if now < self._next_orphan_search:
            return None
        orphan = await self._store.claim_orphaned(self.node, now, until, await self._dead(now))
        if orphan is None:
            wait = min(self._delivery.lease_seconds, self._config.cluster.dead_after_seconds)
            self._next_orphan_search = now + wait / 2
        return orphan

    async def _dead(self, now: float) -> list[str]:
        """The other nodes whose heartbeat stopped."""
        dead_after = self._config.cluster.dead_after_seconds
        return [
            n.name
            for n in await self._store.list_nodes()
            if n.name != self.node and node_state(n, now, dead_after) is NodeState.DEAD
        ]

    # --- one delivery --------------------------------------------------------------------
    async def _run_delivery(self, job: JobRecord, target: Target) -> None:
        renewer = asyncio.create_task(self._renew(job.id))
        self._renewers[job.id] = renewer
        try:
            await self._deliver(job, target)
        except asyncio.CancelledError:
            log.info("delivery of job %s stopped", job.id)
            with suppressed_outage(f"cancelling job {job.id} at its printer"):
                await self._cancel_at_printer(job.id, target.uri)
        except Exception as exc:
            if is_store_outage(exc):
                # Its lease runs out and a node (maybe this one) resumes it, asking the
                # printer first whether it has it (invariant 2).
                log.warning("delivery of job %s: the store became unreachable", job.id)
            else:
                await self._internal_error(job)
        finally:
            renewer.cancel()
            self._renewers.pop(job.id, None)
            self._tasks.pop(job.id, None)
            self._busy_printers.discard(target.name)
            if job.id in self._settled:
                self._settled.discard(job.id)  # no second write: each costs an fsync
            else:
                with suppressed_outage(f"releasing the lease of job {job.id}"):
                    await self._store.release_lease(job.id, self.node)
            self.wake()

    async def _internal_error(self, job: JobRecord) -> None:
        log.exception("delivery of job %s failed unexpectedly", job.id)
        with suppressed_outage(f"recording the failure of job {job.id}"):
            await self._record(
                job,
                DeliveryResult(Outcome.RETRY, "printer-stopped", "internal error while delivering"),
            )
            # Not the printer's fault, so it is not marked down; a pause keeps a bug that
            # strikes every attempt from spinning (the job keeps its place in line).
            later = {"next_attempt_at": self._clock.now() + INTERNAL_ERROR_PAUSE_SECONDS}
            await self._store.update_job(job.id, later)

    async def _deliver(self, job: JobRecord, target: Target) -> None:
        uri = target.uri
        # Only the printer an earlier attempt went to can have the job (invariant 2). A job
        # re-routed elsewhere is not looked up there: a lookup by remote id or name could
        # take another job of ours for it and report it printed.
        reached_before = job.printer == target.name and (
            job.state == JobState.PROCESSING or job.delivery_attempts > 0
        )
        changes: dict[str, object] = {
            "printer": target.name,
            "delivery_attempts": job.delivery_attempts + 1,
            "next_attempt_at": None,
        }
        if job.printer != target.name:
            changes["remote_job_id"] = None  # an id at another printer means nothing here
        started = await self._jobs.move(
            job, JobEvent.START, message=note(judged(job)), changes=changes
        )
        if started is None:
            return  # canceled or changed meanwhile
        backend = self._backend(uri)
        request = self._request(started, uri)
        if reached_before:
            recovered = await self._recover(started, backend, request)
            if recovered is None:
                return
            request = recovered
        workdir = None
        decision = judged(started)
        if request.remote_job_id is None and needs_changes(decision, request.documents):
            assert decision is not None
            try:
                workdir, changed = await modified_documents(
                    started, decision, request.documents, self._clock.now()
                )
            except WatermarkFailed as exc:
                await self._record(started, DeliveryResult(Outcome.FAILED, "", str(exc)))
                return
            request = dataclasses.replace(request, documents=changed)
        banner_path = None
        if request.remote_job_id is None and await banners.wants_banner(
            self._config, self._store, started
        ):
            banner_path, page = await banners.spool_banner(
                self._config, self._spool, started, target.name, self._clock.now()
            )
            request = dataclasses.replace(request, documents=(page, *request.documents))
        try:
            result = await backend.deliver(request, JobProgress(self._store, job.id))
        finally:
            if banner_path is not None:
                await self._spool.delete(banner_path)
            if workdir is not None:
                await asyncio.to_thread(shutil.rmtree, workdir, True)
        if result.outcome is Outcome.RETRY:
            await self._health.mark_down(target, result.message or result.reason)
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
        decision = policy.decide(result, fresh.delivery_attempts, self._delivery)
        charged = note(judged(fresh))
        if decision.event is JobEvent.COMPLETE and charged:
            said = "; ".join(m for m in (charged, decision.message) if m)
            decision = dataclasses.replace(decision, message=said)
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
        lease = self._delivery.lease_seconds
        interval = max(0.5, lease / 3)
        # Other nodes may take the job once its lease runs out, or once this node's
        # heartbeat has been silent dead_after seconds: past the earlier of the two without
        # reaching the store, this node must stop delivering it (invariant 2).
        reached = self._clock.now()
        held_until = reached + lease  # claimed just before this task started
        while True:
            await asyncio.sleep(interval)
            now = self._clock.now()
            try:
                renewed = await self._store.renew_lease(job_id, self.node, now + lease)
            except Exception as exc:
                if not is_store_outage(exc):
                    raise
                safe_until = min(held_until, reached + self._config.cluster.dead_after_seconds)
                if now + interval < safe_until:
                    log.warning("renewing the lease of job %s: the store is unreachable", job_id)
                    continue  # the delivery goes on; the next renewal may reach the store
                log.warning("job %s: the store unreachable too long; delivery stopped", job_id)
                self.stop_delivery(job_id)
                return
            reached, held_until = now, now + lease
            if not renewed:
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
        return delivery_request(job, uri, self._spool)

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
