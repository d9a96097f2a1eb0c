"""The judge: a job's facts gathered (analysis, options, price, balance, history), then the
rules (rules/evaluate.py) decide. The result is one of:

- ``Deny``: the job is refused with the reason (it is aborted; the user sees why);
- ``HoldJob``: the job waits for its owner (a hold rule, an account to choose, an account it
  may not charge), with the reason keyword and message;
- a ``Decision``: allowed, with its price, the account to charge and what the job must be
  printed with (grayscale, duplex, watermarks).

Paying is not judged here: the dispatcher reserves the cost (accounting/charges.py), and
the store refuses a reservation the account cannot pay, atomically.
"""

from __future__ import annotations

from dataclasses import dataclass

from printhost.accounting.charges import Charges
from printhost.accounting.costs import CostSchedule, price
from printhost.accounting.ledger import is_system_account
from printhost.accounting.money import Money
from printhost.accounting.settings import AccountingConfig
from printhost.analysis.model import Charge
from printhost.ipp.constants import JobState
from printhost.jobs.model import JobRecord
from printhost.judge.counting import PrintOptions, count, forced, options_of
from printhost.judge.records import Decision, JobAnalysis
from printhost.rules.evaluate import Judgement, Verdict, evaluate, history_seconds
from printhost.rules.model import JobFacts, Recent, Rule
from printhost.server.job_attributes import decode_template
from printhost.store.base import JobFilter, Store

#: job-state-reasons (PWG 5100.7 §5.3.x / IANA registry) the judge holds jobs with.
REVIEW_REASON = "job-held-for-review"
ACCOUNT_NEEDED_REASON = "account-info-needed"
ACCOUNT_REFUSED_REASON = "account-authorization-failed"
MONEY_REASON = "account-limit-reached"
#: How many of the owner's recent jobs rate limits and duplicate checks look at.
HISTORY_JOBS = 1000


@dataclass(frozen=True, slots=True)
class Deny:
    message: str


@dataclass(frozen=True, slots=True)
class HoldJob:
    reason: str
    message: str
    #: Kept on the job when a rule held it, so its release is not held again.
    decision: Decision | None = None


class Judge:
    def __init__(
        self,
        settings: AccountingConfig,
        rules: tuple[Rule, ...],
        groups_of: dict[str, tuple[str, ...]],
        store: Store,
        charges: Charges,
    ) -> None:
        self._settings = settings
        self._rules = rules
        self._groups_of = groups_of
        self._store = store
        self._charges = charges

    async def judge(
        self, job: JobRecord, analysis: JobAnalysis, destination: str
    ) -> Deny | HoldJob | Decision:
        if analysis.error:
            return Deny(f"denied: the document cannot be printed ({analysis.error})")
        options = options_of(decode_template(job.template))
        groups = self._groups_of.get(job.owner, ())
        account = job.account or options.account_id or job.owner
        if is_system_account(account):  # revenue, funding, reserved:*: never a payer
            return Deny(f"denied: {account!r} is a name the ledger keeps for itself")
        if account != job.owner and not self._may_charge(job.owner, groups, account):
            return HoldJob(
                ACCOUNT_REFUSED_REASON,
                f"held: {job.owner} may not charge account {account!r}; "
                "release it choosing another account",
            )
        schedule = self._settings.schedule_for(destination, job.release_printer)
        counts = count(analysis, options)
        cost = _price(schedule, counts, options)
        available = await self._charges.available(account, job.owner)
        facts = JobFacts(
            user=job.owner,
            groups=groups,
            queue=job.queue,
            destination=destination,
            document_format=analysis.documents[0].format if analysis.documents else "",
            pages=analysis.pages,
            color_pages=analysis.color_pages,
            impressions=counts.impressions,
            color_impressions=counts.color_impressions,
            sheets=counts.sheets,
            copies=options.copies,
            sides=options.sides,
            print_color_mode=options.print_color_mode,
            document_sha256=job.documents[0].sha256 if job.documents else "",
            submitted_at=job.created_at,
            cost=cost,
            balance_available=available,
            account=account if account != job.owner else None,
            recent=await self._recent(job),
        )
        judgement = evaluate(self._rules, facts)
        if judgement.verdict is Verdict.DENY:
            return Deny(judgement.message)
        printed = forced(options, grayscale=judgement.grayscale, duplex=judgement.duplex)
        if printed != options:
            counts = count(analysis, printed)
            cost = _price(schedule, counts, printed)
        decision = _decision(judgement, destination, account, cost, counts)
        if judgement.verdict is Verdict.HOLD:
            return HoldJob(REVIEW_REASON, judgement.message, decision)
        if judgement.require_account and account == job.owner:
            names = ", ".join(a.name for a in self._settings.accounts_for(job.owner, groups))
            return HoldJob(
                ACCOUNT_NEEDED_REASON,
                f"held: {judgement.message}; release it choosing an account"
                + (f" ({names})" if names else ""),
            )
        return decision

    def _may_charge(self, user: str, groups: tuple[str, ...], account: str) -> bool:
        return any(a.name == account for a in self._settings.accounts_for(user, groups))

    async def _recent(self, job: JobRecord) -> Recent:
        span = history_seconds(self._rules)
        if span <= 0:
            return Recent()
        since = job.created_at - span
        listed = await self._store.list_jobs(
            JobFilter(owner=job.owner, newest_first=True, limit=HISTORY_JOBS)
        )
        earlier = [
            j
            for j in listed
            if j.id != job.id
            and since <= j.created_at <= job.created_at
            and j.state != JobState.ABORTED
        ]
        digests = {d.sha256 for d in job.documents}
        same = [j.created_at for j in earlier if digests & {d.sha256 for d in j.documents}]
        return Recent(
            submissions=tuple(j.created_at for j in earlier),
            same_document_within=job.created_at - max(same) if same else None,
        )


def _price(schedule: CostSchedule, counts: Charge, options: PrintOptions) -> Money:
    return price(
        schedule, counts.impressions, counts.color_impressions, counts.sheets, options.media
    )


def _decision(
    judgement: Judgement, destination: str, account: str, cost: Money, counts: Charge
) -> Decision:
    return Decision(
        verdict=str(judgement.verdict),
        message=judgement.message,
        rules=tuple(f.rule for f in judgement.fired),
        destination=destination,
        account=account if cost.cents else "",
        cost_cents=cost.cents,
        impressions=counts.impressions,
        color_impressions=counts.color_impressions,
        sheets=counts.sheets,
        grayscale=judgement.grayscale,
        duplex=judgement.duplex,
        watermarks=judgement.watermarks,
    )


__all__ = ["Deny", "HoldJob", "Judge", "PrintOptions"]
