"""Periodic allocations (quotas) as pure planning: which period it is, and what to post.

Theory of operation
-------------------
An ``Allocation`` (see ``settings``) applies once per period to each account it names:
the personal accounts of its users and of its groups' members, and its shared accounts.
Periods are UTC calendar periods named by a key that sorts like time:

- daily: ``"2026-11-21"``;
- weekly: the ISO week, Monday to Sunday, ``"2026-W47"`` (its year is the ISO year, so
  Thursday 2026-12-31 is in ``"2026-W53"`` and Friday 2027-01-01 as well);
- monthly: ``"2026-11"``.

The ledger itself remembers what was applied: every allocation transaction carries
``data = {"allocation": <allocation name>, "allocation_period": <key>}``, and
``last_applied_key`` finds the latest key in an account's transactions. A plan whose
mode moves nothing (a top-up of an account already at or above the amount, a reset of one
exactly at it) is still a transaction, of two zero postings: without it the period would
not be recorded and a later run in the same period would top up or reset again after the
user had spent (the ledger accepts zero postings; they do not change any balance). The
scheduler therefore posts every plan and the ledger and the record of the period are
written together, in one database transaction, so a crash cannot apply a period twice.

Modes, with ``available`` the account's available balance (reserved money excluded):

- add: credit ``amount``;
- top-up: credit ``max(0, amount - available)``;
- reset: credit (or debit, when above) ``amount - available``.

Money comes from, and a reset's debit goes to, the ``funding`` account, so every plan
balances. The transaction kind is ``TransactionKind.ALLOCATION`` in every case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from printhost.accounting import ledger
from printhost.accounting.ledger import (
    FUNDING,
    NewTransaction,
    Posting,
    Transaction,
    TransactionKind,
)
from printhost.accounting.money import ZERO, Money
from printhost.accounting.settings import Allocation, AllocationMode, Period

#: ``NewTransaction.data`` keys of an allocation transaction.
DATA_NAME = "allocation"
DATA_PERIOD = "allocation_period"


@dataclass(frozen=True, slots=True)
class AllocationPlan:
    """One period of one allocation for one account: post ``transaction`` (always; it
    records ``key`` in the ledger even when it moves nothing)."""

    key: str
    transaction: NewTransaction

    @property
    def change(self) -> Money:
        """What the account's available balance changes by (negative for a reset down)."""
        return self.transaction.postings[1].amount


def period_key(period: str, when: float) -> str:
    """The key of the UTC period containing the POSIX time ``when``; ValueError for a
    period that is not daily, weekly or monthly."""
    moment = datetime.fromtimestamp(when, tz=UTC)
    kind = Period(period)
    if kind is Period.DAILY:
        return moment.strftime("%Y-%m-%d")
    if kind is Period.WEEKLY:
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return moment.strftime("%Y-%m")


def plan_allocation(
    allocation: Allocation, account: str, available: Money, last_key: str | None, now: float
) -> AllocationPlan | None:
    """The allocation of the period containing ``now`` for ``account``, whose available
    balance is ``available``; None when that period (or a later one: the clock went back)
    was already applied, ``last_key`` being the last applied key (``last_applied_key``)."""
    if ledger.is_system_account(account):
        raise ValueError(f"{account!r} is a system account")
    key = period_key(allocation.period, now)
    if last_key is not None and len(last_key) == len(key) and key <= last_key:
        return None  # keys of one period kind have one length and sort like time
    change = _change(allocation, available)
    reason = f"{allocation.period} allocation {key} ({_describe(allocation)})"
    transaction = NewTransaction(
        time=now,
        kind=TransactionKind.ALLOCATION,
        job_id=None,
        reason=reason,
        postings=(Posting(FUNDING, -change), Posting(account, change)),
        data={DATA_NAME: allocation.name, DATA_PERIOD: key},
    )
    return AllocationPlan(key, transaction)


def last_applied_key(
    transactions: Iterable[Transaction | NewTransaction], allocation: str, account: str
) -> str | None:
    """The period key of the last transaction (in ledger order) applying the allocation
    named ``allocation`` to ``account``; None when it never was."""
    last: str | None = None
    for transaction in transactions:
        if transaction.kind is not TransactionKind.ALLOCATION:
            continue
        if transaction.data.get(DATA_NAME) != allocation:
            continue
        key = transaction.data.get(DATA_PERIOD)
        if isinstance(key, str) and any(p.account == account for p in transaction.postings):
            last = key
    return last


def accounts_to_allocate(
    allocation: Allocation, users_with_groups: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The accounts ``allocation`` applies to: the personal accounts (named like their
    users) of the known users it names or that are in one of its groups, sorted; then its
    shared accounts in configuration order. ``users_with_groups`` maps the known users
    (those with a personal account) to their groups; a user named by the allocation but
    not known there has no account yet and is skipped."""
    groups = set(allocation.groups)
    personal = sorted(
        user
        for user, user_groups in users_with_groups.items()
        if user in allocation.users or groups.intersection(user_groups)
    )
    result: list[str] = []
    for name in (*personal, *allocation.accounts):
        if name not in result:
            result.append(name)
    return tuple(result)


def _change(allocation: Allocation, available: Money) -> Money:
    if allocation.mode is AllocationMode.ADD:
        return allocation.amount
    if allocation.mode is AllocationMode.TOP_UP:
        return max(ZERO, allocation.amount - available)
    return allocation.amount - available


def _describe(allocation: Allocation) -> str:
    if allocation.mode is AllocationMode.ADD:
        return f"add {allocation.amount}"
    return f"{allocation.mode} to {allocation.amount}"
