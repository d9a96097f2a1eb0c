"""Housekeeping: the periodic chores that keep the store small and the promises kept.

- Job history is kept ``[jobs] history_seconds``, then the job and its documents go
  (printed jobs' documents already went at completion, see the dispatcher).
- A Create-Job left open past ``multiple-operation-time-out`` is closed and printed with
  the documents it has, or canceled when it has none (action process-job, RFC 8011 §5.4.28
  and PWG 5100.7).
- Expired subscriptions are removed (RFC 3995 §5.4).
- Jobs held until a time (job-hold-until evening, 23:00, weekend...) are released when
  it comes (jobs/hold.py).
- Accounting on: held jobs older than ``[accounting] held_job_expiry_hours`` are canceled
  and their documents deleted (their reservation released; the record stays in the
  history); open
  reservations of jobs that ended are settled (a crash between a job's end and its
  settling leaves one); periodic allocations are credited when their period begins.
- Spool files no document refers to are deleted: a crash between the spool's fsync and
  the job's commit leaves one (the job was never acknowledged, so nothing is lost). Only
  files untouched for ``ORPHAN_AGE_SECONDS`` count, so an upload in flight is never taken.

Each chore is a plain coroutine taking ``Services`` so tests drive it on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from printhost.accounting import allocations
from printhost.accounting.ledger import AccountKind, NewTransaction, Transaction
from printhost.accounting.money import ZERO, Money
from printhost.accounting.settings import Allocation
from printhost.ipp.constants import JobState
from printhost.jobs.hold import release_time
from printhost.jobs.service import ACTIVE_STATES, JobNotPossible
from printhost.judge.stage import release_money_holds
from printhost.server.operations.subscriptions import expire_subscriptions
from printhost.server.services import Services
from printhost.store.base import JobFilter

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 10.0
ORPHAN_AGE_SECONDS = 600.0
#: The spool sweep walks the spool directory: at start and then every this many rounds.
SWEEP_EVERY_ROUNDS = 360
#: Settling open reservations and crediting allocations: at start, then every minute.
ACCOUNTING_EVERY_ROUNDS = 6


async def run(services: Services, interval: float = INTERVAL_SECONDS) -> None:
    """Runs until cancelled. A failing round is logged, never fatal: the next retries."""
    rounds = 0
    while True:
        try:
            await expire_history(services)
            await close_abandoned_jobs(services)
            await release_due_holds(services)
            await expire_subscriptions(services)
            await expire_held_jobs(services)
            if rounds % ACCOUNTING_EVERY_ROUNDS == 0 and services.charges is not None:
                await services.charges.resolve_open()
                await apply_allocations(services)
            if rounds % SWEEP_EVERY_ROUNDS == 0:
                await sweep_spool(services)
        except Exception:
            log.exception("housekeeping failed")
        rounds += 1
        await asyncio.sleep(interval)


async def expire_history(services: Services) -> int:
    before = services.clock.now() - services.config.jobs.history_seconds
    removed = 0
    while expired := await services.store.expired_history(before, 100):
        await services.purge([job.id for job in expired])
        removed += len(expired)
    return removed


async def close_abandoned_jobs(services: Services) -> int:
    timeout = services.config.jobs.multiple_operation_timeout_seconds
    now = services.clock.now()
    closed = 0
    open_jobs = JobFilter(states=ACTIVE_STATES, open_for_documents=True)
    for job in await services.jobs.list(open_jobs):
        last = max([job.created_at, *(d.created_at for d in job.documents)])
        if now - last < timeout:
            continue
        with contextlib.suppress(JobNotPossible):
            if job.document_count:
                await services.jobs.close(job)
            else:
                await services.jobs.cancel(
                    job, reason="aborted-by-system", message="no document arrived in time"
                )
            closed += 1
    return closed


async def sweep_spool(services: Services, age: float = ORPHAN_AGE_SECONDS) -> int:
    """Delete spool files that no document refers to and that nobody wrote lately."""
    before = services.clock.now() - age
    candidates = await asyncio.to_thread(services.spool.files_older_than, before)
    referenced = await services.store.document_paths()
    orphans = [path for path in candidates if path not in referenced]
    for path in orphans:
        await services.spool.delete(path)
    if orphans:
        log.info("deleted %d orphaned spool file(s)", len(orphans))
    return len(orphans)


async def release_due_holds(services: Services) -> int:
    """Release held jobs whose job-hold-until time has come. The hold counts from the
    job's creation (the moment the client asked for it)."""
    now = services.clock.now()
    released = 0
    for job in await services.jobs.list(JobFilter(states=(JobState.PENDING_HELD,))):
        if job.hold_until is None or "job-hold-until-specified" not in job.state_reasons:
            continue
        if job.password_hash is not None:
            continue  # when its time comes, a PIN job still waits for its PIN
        due = release_time(job.hold_until, job.created_at)
        if due is not None and due <= now:
            with contextlib.suppress(JobNotPossible):
                await services.jobs.release(job)
                released += 1
    return released


async def expire_held_jobs(services: Services) -> int:
    """Cancel jobs held longer than the configured time (from their submission): a job
    nobody released is deleted with the history, and its reservation released."""
    settings = services.config.accounting
    if not settings.enabled or settings.held_job_expiry_seconds <= 0:
        return 0
    before = services.clock.now() - settings.held_job_expiry_seconds
    expired = 0
    now = services.clock.now()
    for job in await services.jobs.list(JobFilter(states=(JobState.PENDING_HELD,))):
        if job.created_at > before:
            continue
        due = release_time(job.hold_until, job.created_at) if job.hold_until else None
        if due is not None and due > now:
            continue  # held until a time still to come (weekend, night): not abandoned
        hours = settings.held_job_expiry_seconds / 3600
        with contextlib.suppress(JobNotPossible):
            await services.jobs.cancel(
                job,
                reason="job-canceled-by-operator",
                message=f"held for more than {hours:g} h without being released",
            )
            expired += 1
            # Nobody came for it: its documents go now (secure printing leaves no copy
            # behind); the record stays in the history so its owner can see what happened.
            for document in await services.store.forget_documents(job.id):
                if document.path:
                    await services.spool.delete(document.path)
    return expired


async def apply_allocations(services: Services) -> int:
    """Credit each periodic allocation once per period to every account it names (personal
    accounts of users who have one, and shared accounts). Returns how many were posted."""
    allocations_config = services.config.accounting.allocations
    if not allocations_config:
        return 0
    groups = services.config.groups_by_user()
    personal = {
        a.name: groups.get(a.name, ())
        for a in await services.store.list_accounts()
        if a.kind is AccountKind.PERSONAL
    }
    posted = 0
    now = services.clock.now()
    for allocation in allocations_config:
        for account in allocations.accounts_to_allocate(allocation, personal):

            def plan(
                available: Money,
                done: list[Transaction],
                account: str = account,
                allocation: Allocation = allocation,
            ) -> NewTransaction | None:
                last = allocations.last_applied_key(done, allocation.name, account)
                made = allocations.plan_allocation(allocation, account, available, last, now)
                return None if made is None else made.transaction

            made = await services.store.allocate(account, plan)
            if made is not None:
                posted += 1
                if any(p.account == account and p.amount > ZERO for p in made.postings):
                    await release_money_holds(services.jobs, account)
    return posted
