"""Where the judge meets the job flow: the dispatcher asks ``admit`` before it routes a job
to a printer, once the job's destination is known (the price depends on it).

``admit`` answers:
- ``WAIT``: the job is not analysed yet (the analyser is woken); the job's route waits, so
  jobs behind it keep their order;
- ``SETTLED``: the judge held or denied the job (done here, with the reason and message);
- a ``Decision``: print it, as decided. Its cost is reserved by then.

Order of writes, for crashes: the decision is stored before the reservation is made, and
the reservation is repeated (idempotent) on every admission, so a crash between the two
leaves a decided job whose next admission reserves; a crash after the reservation leaves an
open reservation that the job's end (or the sweep) settles.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from printhost.accounting.charges import Charges
from printhost.jobs.model import JobRecord
from printhost.jobs.service import JobService
from printhost.judge.judge import MONEY_REASON, Deny, HoldJob, Judge
from printhost.judge.modification import judged
from printhost.judge.records import Decision, JobAnalysis
from printhost.store.base import Store


class Admission(Enum):
    WAIT = "wait"
    SETTLED = "settled"


WAIT = Admission.WAIT
SETTLED = Admission.SETTLED


class JudgeStage:
    def __init__(
        self,
        judge: Judge,
        charges: Charges,
        jobs: JobService,
        store: Store,
        *,
        deny_unpaid: bool,
        wake_analyser: Callable[[], None],
    ) -> None:
        self._judge = judge
        self._charges = charges
        self._jobs = jobs
        self._store = store
        self._deny_unpaid = deny_unpaid
        self._wake_analyser = wake_analyser

    async def admit(self, job: JobRecord, destination: str) -> Decision | Admission:
        if job.analysis is None:
            self._wake_analyser()
            return WAIT
        decision = judged(job)
        if decision is not None and decision.destination != destination:
            # routed elsewhere since it was judged (its owner moved, preferences changed):
            # another price, maybe other rules
            await self._charges.repriced(job)
            decision = None
        if decision is None:
            outcome = await self._judge.judge(job, JobAnalysis.from_json(job.analysis), destination)
            if isinstance(outcome, Deny):
                await self._jobs.deny(job, outcome.message)
                return SETTLED
            if isinstance(outcome, HoldJob):
                kept = {"judgement": outcome.decision.to_json()} if outcome.decision else None
                await self._jobs.hold_because(job, outcome.reason, outcome.message, kept)
                return SETTLED
            decision = outcome
            await self._store.update_job(
                job.id, {"judgement": decision.to_json(), "state_message": decision.message}
            )
        refused = await self._charges.reserve(job, decision)
        if refused is None:
            return decision
        if self._deny_unpaid:
            await self._jobs.deny(job, f"denied: {refused.reason}")
        else:
            # The decision stays: after a credit releases it, the same cost is reserved
            # (a job its owner already released from a rule's hold is not held again).
            await self._jobs.hold_because(job, MONEY_REASON, f"held: {refused.reason}")
        return SETTLED


async def release_money_holds(jobs: JobService, account: str) -> int:
    """Money came into ``account`` (a credit, an allocation): the jobs held because it
    could not pay get another try. Returns how many."""

    def charged_here(job: JobRecord) -> bool:
        decision = judged(job)
        return (decision.account if decision and decision.account else job.owner) == account

    return await jobs.release_holds(frozenset({MONEY_REASON}), where=charged_here)
