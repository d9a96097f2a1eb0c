"""The money side of a job's life (DESIGN invariant 3), on the store's ledger.

- ``available``: what an account may still spend (available balance + overdraft limit). A
  user's personal account is opened on their first judged job, with the configured initial
  balance credited from ``funding`` in the same transaction.
- ``reserve``: at judgement, the job's cost is reserved (the store checks the balance and
  writes the reservation atomically: concurrent jobs never overdraw).
- ``settle``: when the job ends. Completed: the reservation is committed, and when the
  printer reported fewer impressions than were charged, the difference is refunded in the
  same transaction. Canceled or aborted: the reservation is released.
- ``resolve_open``: after a crash (or on another node), every open reservation whose job
  has ended or is gone is settled. Each step is idempotent by job id, so a crash between
  any two steps leaves the ledger balanced and the next sweep finishes the work.
"""

from __future__ import annotations

import logging

from printhost.accounting import ledger
from printhost.accounting.ledger import Account, AccountKind, Refused, ReservationState
from printhost.accounting.money import ZERO, Money
from printhost.accounting.settings import AccountingConfig
from printhost.clock import Clock
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobId, JobRecord
from printhost.judge.records import Decision, RecordError, decision_of
from printhost.store.base import Store

log = logging.getLogger(__name__)


class Charges:
    def __init__(self, settings: AccountingConfig, store: Store, clock: Clock) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock

    async def sync_shared_accounts(self, members_of_group: dict[str, tuple[str, ...]]) -> None:
        """Write the configured shared accounts (members by name and by group) to the
        store, so reservations find them and their overdraft limits."""
        for shared in self._settings.accounts:
            members = set(shared.members)
            for group in shared.groups:
                members.update(members_of_group.get(group, ()))
            existing = await self._store.get_account(shared.name)
            account = Account(
                name=shared.name,
                kind=AccountKind.SHARED,
                owner=shared.owner,
                overdraft=shared.overdraft,
                created_at=existing.created_at if existing else self._clock.now(),
                members=tuple(sorted(members)),
            )
            await self._store.put_account(account)

    async def open_personal(self, user: str) -> None:
        """Open ``user``'s personal account unless it exists."""
        initial = self._settings.initial_balance
        now = self._clock.now()
        opening = (
            ledger.credit(user, initial, time=now, reason="opening balance")
            if initial > ZERO
            else None
        )
        account = Account(
            user, AccountKind.PERSONAL, user, overdraft=self._settings.overdraft, created_at=now
        )
        await self._store.open_account(account, opening)

    async def available(self, account: str, owner: str) -> Money:
        """What ``account`` may still spend: its available balance plus its overdraft."""
        found = await self._store.get_account(account)
        if found is None and account == owner:
            await self.open_personal(owner)
            found = await self._store.get_account(account)
        if found is None:
            return ZERO
        balance = await self._store.get_balance(account)
        return balance.available + found.overdraft

    async def reserve(self, job: JobRecord, decision: Decision) -> Refused | None:
        """Reserve the job's cost. None when reserved (or free); Refused with the reason
        the user is shown. Repeating it for the same job is harmless (a retry)."""
        if decision.cost_cents == 0:
            return None
        if decision.account == job.owner and await self._store.get_account(job.owner) is None:
            await self.open_personal(job.owner)
        made = await self._store.reserve(
            job.id,
            decision.account,
            Money(decision.cost_cents),
            time=self._clock.now(),
            reason=f"job {job.id} on {decision.destination}",
        )
        return made if isinstance(made, Refused) else None

    async def settle(self, job: JobRecord) -> None:
        """Commit or release the reservation of a job that has ended (no-op otherwise)."""
        now = self._clock.now()
        if job.state == JobState.COMPLETED:
            charged = await self._charged(job)
            await self._store.commit_reservation(
                job.id, time=now, reason=f"job {job.id} completed", charged=charged
            )
        elif job.state.is_terminal:
            await self._store.release_reservation(
                job.id, time=now, reason=f"job {job.id} {job.state.keyword}"
            )

    async def repriced(self, job: JobRecord) -> None:
        """The job changed before it printed (Set-Job-Attributes, another destination):
        what was reserved for it goes back; judging it again reserves the new cost."""
        await self._store.release_reservation(
            job.id, time=self._clock.now(), reason=f"job {job.id} changed before printing"
        )

    async def resolve_open(self) -> int:
        """Settle every open reservation whose job has ended; release those whose job is
        gone. Returns how many were settled."""
        settled = 0
        for reservation in await self._store.list_reservations(ReservationState.RESERVED):
            job = await self._store.get_job(JobId(reservation.job_id))
            if job is None:
                await self._store.release_reservation(
                    reservation.job_id, time=self._clock.now(), reason="job no longer exists"
                )
                settled += 1
            elif job.state.is_terminal:
                await self.settle(job)
                settled += 1
        return settled

    async def _charged(self, job: JobRecord) -> Money | None:
        """The amount to charge a completed job: the reservation, less a refund in
        proportion when the printer reported fewer impressions than were charged. A printer
        that reports no impressions (0) is taken not to count them."""
        reservation = await self._store.get_reservation(job.id)
        if reservation is None:
            return None
        try:
            decision = decision_of(job)
        except RecordError:
            log.warning("job %s: stored decision unreadable; charging the reservation", job.id)
            return None
        reported = job.impressions_completed
        if decision is None or not 0 < reported < decision.impressions:
            return None
        cents = -(-reservation.amount.cents * reported // decision.impressions)  # round up
        return Money(min(cents, reservation.amount.cents))
