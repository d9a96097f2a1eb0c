"""The double-entry ledger: balanced transactions and reservations, as pure data.

Theory of operation
-------------------
Every movement of money is one ``Transaction`` of two or more ``Posting``s whose amounts
sum to zero; a transaction that does not balance cannot be built (``UnbalancedTransaction``).
An account's balance is the sum of its postings, so the sum over all accounts is zero by
construction and can never drift (DESIGN invariant 3). A positive posting adds to the
account's balance. Account names:

- ``<account>``: a personal or shared account's *available* balance;
- ``reserved:<account>``: money held for that account's judged but unprinted jobs;
- ``revenue``: printing income;
- ``funding``: where credits and allocations come from and debits go (the outside world).

Reservations follow PaperCut: at judgement ``reserve`` moves the cost from available to
reserved, so the available balance drops at once and a second job cannot spend the same
money; on completion ``commit`` moves it from reserved to revenue; on cancel, abort or
failure ``release`` moves it back to available. When the printer reports fewer
impressions than charged, ``refund`` moves the difference from revenue back to available.

The functions here only *build* transactions and decide; the store writes them, one
reservation step and its postings in one database transaction.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from printhost.accounting.money import ZERO, Money, total
from printhost.jobs.model import JobId

REVENUE = "revenue"
FUNDING = "funding"
RESERVED_PREFIX = "reserved:"
SYSTEM_ACCOUNTS = frozenset({REVENUE, FUNDING})


class TransactionKind(StrEnum):
    RESERVE = "reserve"
    COMMIT = "commit"
    RELEASE = "release"
    REFUND = "refund"
    CREDIT = "credit"
    DEBIT = "debit"
    ALLOCATION = "allocation"


#: Kinds only the reservation steps may post (they must move with the reservation row).
RESERVATION_KINDS = frozenset(
    {
        TransactionKind.RESERVE,
        TransactionKind.COMMIT,
        TransactionKind.RELEASE,
        TransactionKind.REFUND,
    }
)


class UnbalancedTransaction(ValueError):
    """The postings do not sum to zero (or are empty, or name an account twice)."""


class ReservationError(ValueError):
    """A reservation step that does not fit the reservation's state or amount."""


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Money


def check_postings(postings: tuple[Posting, ...]) -> None:
    """Raise ``UnbalancedTransaction`` unless the postings are a valid double entry."""
    if len(postings) < 2:
        raise UnbalancedTransaction("a transaction needs at least two postings")
    accounts = [p.account for p in postings]
    if len(set(accounts)) != len(accounts):
        raise UnbalancedTransaction(f"an account is posted twice: {accounts}")
    imbalance = total(p.amount for p in postings)
    if imbalance != ZERO:
        raise UnbalancedTransaction(f"postings sum to {imbalance}, not 0.00")


@dataclass(frozen=True, slots=True)
class NewTransaction:
    """A transaction not yet stored (the store assigns the id)."""

    time: float
    kind: TransactionKind
    job_id: JobId | None
    reason: str
    postings: tuple[Posting, ...]
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_postings(self.postings)


@dataclass(frozen=True, slots=True)
class Transaction:
    id: int
    time: float
    kind: TransactionKind
    job_id: JobId | None
    reason: str
    postings: tuple[Posting, ...]
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_postings(self.postings)


def reserved_account(account: str) -> str:
    return RESERVED_PREFIX + account


def is_system_account(name: str) -> bool:
    """Names users' and shared accounts may not take."""
    return name in SYSTEM_ACCOUNTS or name.startswith(RESERVED_PREFIX)


class AccountKind(StrEnum):
    PERSONAL = "personal"
    SHARED = "shared"


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    kind: AccountKind
    owner: str  # the user (personal) or the administrator responsible (shared)
    #: How far below zero the available balance may go (a positive amount).
    overdraft: Money = ZERO
    created_at: float = 0.0
    #: Users who may charge a shared account (besides its owner).
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    available: Money
    reserved: Money


class ReservationState(StrEnum):
    RESERVED = "reserved"
    COMMITTED = "committed"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Reservation:
    job_id: JobId
    account: str
    amount: Money
    state: ReservationState
    reserve_transaction_id: int
    #: The commit or release transaction; None while reserved.
    resolve_transaction_id: int | None = None
    #: Refunded since the commit (never more than ``amount``).
    refunded: Money = ZERO


@dataclass(frozen=True, slots=True)
class Refused:
    """A reservation that may not be made, with the reason the user is shown."""

    reason: str


# --- decisions -------------------------------------------------------------------------------


def decide_reservation(available: Money, overdraft: Money, cost: Money) -> Refused | None:
    """None when ``cost`` may be reserved: available - cost must stay >= -overdraft.
    A zero cost is always allowed (a free printer prints even for an account in debt)."""
    if cost < ZERO:
        raise ValueError(f"a cost cannot be negative: {cost}")
    if cost == ZERO or available - cost >= -overdraft:  # a free job prints even in debt
        return None
    if overdraft == ZERO:
        return Refused(f"balance {available} < cost {cost}")
    return Refused(f"balance {available} + overdraft {overdraft} < cost {cost}")


def refundable(reservation: Reservation) -> Money:
    """What may still be refunded: the committed amount less earlier refunds."""
    if reservation.state is not ReservationState.COMMITTED:
        return ZERO
    return reservation.amount - reservation.refunded


# --- builders ----------------------------------------------------------------------------------


def _move(
    kind: TransactionKind,
    source: str,
    target: str,
    amount: Money,
    *,
    time: float,
    job_id: JobId | None,
    reason: str,
) -> NewTransaction:
    if amount < ZERO:
        raise ValueError(f"an amount moved cannot be negative: {amount}")
    postings = (Posting(source, -amount), Posting(target, amount))
    return NewTransaction(time, kind, job_id, reason, postings)


def reserve(
    account: str, amount: Money, *, time: float, job_id: JobId, reason: str = ""
) -> NewTransaction:
    return _move(
        TransactionKind.RESERVE,
        account,
        reserved_account(account),
        amount,
        time=time,
        job_id=job_id,
        reason=reason,
    )


def commit(reservation: Reservation, *, time: float, reason: str = "") -> NewTransaction:
    _expect(reservation, ReservationState.RESERVED, "commit")
    return _move(
        TransactionKind.COMMIT,
        reserved_account(reservation.account),
        REVENUE,
        reservation.amount,
        time=time,
        job_id=reservation.job_id,
        reason=reason,
    )


def release(reservation: Reservation, *, time: float, reason: str = "") -> NewTransaction:
    _expect(reservation, ReservationState.RESERVED, "release")
    return _move(
        TransactionKind.RELEASE,
        reserved_account(reservation.account),
        reservation.account,
        reservation.amount,
        time=time,
        job_id=reservation.job_id,
        reason=reason,
    )


def refund(
    reservation: Reservation, amount: Money, *, time: float, reason: str = ""
) -> NewTransaction:
    """Give back part of a committed charge (the printer did fewer impressions)."""
    if amount > refundable(reservation):
        raise ReservationError(
            f"cannot refund {amount} of job {reservation.job_id}: "
            f"only {refundable(reservation)} is refundable"
        )
    return _move(
        TransactionKind.REFUND,
        REVENUE,
        reservation.account,
        amount,
        time=time,
        job_id=reservation.job_id,
        reason=reason,
    )


def plan_commit(
    reservation: Reservation, charged: Money, *, time: float, reason: str = ""
) -> tuple[NewTransaction, ...]:
    """Commit the reservation, then refund what was reserved but not charged."""
    if charged < ZERO or charged > reservation.amount:
        raise ReservationError(
            f"job {reservation.job_id}: charged {charged} is outside 0.00..{reservation.amount}"
        )
    committed = commit(reservation, time=time, reason=reason)
    if charged == reservation.amount:
        return (committed,)
    after = dataclasses.replace(reservation, state=ReservationState.COMMITTED)
    return (committed, refund(after, reservation.amount - charged, time=time, reason=reason))


def credit(
    account: str,
    amount: Money,
    *,
    time: float,
    reason: str,
    kind: TransactionKind = TransactionKind.CREDIT,
) -> NewTransaction:
    """Money in from outside: a manual credit, or a periodic ``allocation``."""
    if kind not in (TransactionKind.CREDIT, TransactionKind.ALLOCATION):
        raise ValueError(f"a credit is a credit or an allocation, not {kind}")
    return _move(kind, FUNDING, account, amount, time=time, job_id=None, reason=reason)


def debit(account: str, amount: Money, *, time: float, reason: str) -> NewTransaction:
    """A manual debit by an administrator (may take the account below its overdraft)."""
    return _move(
        TransactionKind.DEBIT, account, FUNDING, amount, time=time, job_id=None, reason=reason
    )


def balances(transactions: Iterable[NewTransaction | Transaction]) -> dict[str, Money]:
    """Every account's balance after ``transactions`` (pure; the store sums in SQL)."""
    result: defaultdict[str, Money] = defaultdict(lambda: ZERO)
    for transaction in transactions:
        for posting in transaction.postings:
            result[posting.account] = result[posting.account] + posting.amount
    return dict(result)


def _expect(reservation: Reservation, state: ReservationState, step: str) -> None:
    if reservation.state is not state:
        raise ReservationError(
            f"cannot {step} job {reservation.job_id}: its reservation is {reservation.state}"
        )
