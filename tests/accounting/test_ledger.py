"""The pure ledger: balanced transactions, reservation steps, overdraft decisions."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.accounting import ledger
from printhost.accounting.ledger import (
    FUNDING,
    REVENUE,
    NewTransaction,
    Posting,
    Refused,
    Reservation,
    ReservationError,
    ReservationState,
    Transaction,
    TransactionKind,
    UnbalancedTransaction,
    balances,
    decide_reservation,
)
from printhost.accounting.money import ZERO, Money, total
from printhost.jobs.model import JobId

K = TransactionKind
J = JobId(7)


def _reservation(amount: int, state: ReservationState = ReservationState.RESERVED) -> Reservation:
    return Reservation(J, "alice", Money(amount), state, reserve_transaction_id=1)


# --- balancing -------------------------------------------------------------------------------


def test_a_balanced_transaction_is_accepted() -> None:
    postings = (Posting("alice", Money(-120)), Posting("revenue", Money(120)))
    assert NewTransaction(0.0, K.DEBIT, None, "", postings).postings == postings
    assert Transaction(1, 0.0, K.DEBIT, None, "", postings).id == 1


@pytest.mark.parametrize(
    "postings",
    [
        (Posting("alice", Money(-120)), Posting("revenue", Money(100))),
        (Posting("alice", Money(1)),),
        (),
        (Posting("alice", Money(-1)), Posting("alice", Money(1))),
    ],
)
def test_an_unbalanced_transaction_raises(postings: tuple[Posting, ...]) -> None:
    with pytest.raises(UnbalancedTransaction):
        NewTransaction(0.0, K.CREDIT, None, "", postings)
    with pytest.raises(UnbalancedTransaction):
        Transaction(1, 0.0, K.CREDIT, None, "", postings)


# --- the reservation steps ---------------------------------------------------------------------


def test_reserve_moves_available_to_reserved() -> None:
    tx = ledger.reserve("alice", Money(120), time=1.0, job_id=J, reason="judged")
    assert tx.kind is K.RESERVE and tx.job_id == J
    assert balances([tx]) == {"alice": Money(-120), "reserved:alice": Money(120)}


def test_commit_moves_reserved_to_revenue() -> None:
    tx = ledger.commit(_reservation(120), time=1.0)
    assert balances([tx]) == {"reserved:alice": Money(-120), REVENUE: Money(120)}


def test_release_moves_reserved_back() -> None:
    tx = ledger.release(_reservation(120), time=1.0)
    assert balances([tx]) == {"reserved:alice": Money(-120), "alice": Money(120)}


def test_commit_with_fewer_impressions_refunds_the_difference() -> None:
    reserve = ledger.reserve("alice", Money(120), time=0.0, job_id=J)
    planned = ledger.plan_commit(_reservation(120), Money(80), time=1.0)
    assert [t.kind for t in planned] == [K.COMMIT, K.REFUND]
    assert balances([reserve, *planned]) == {
        "alice": Money(-80),
        "reserved:alice": ZERO,
        REVENUE: Money(80),
    }
    assert [t.kind for t in ledger.plan_commit(_reservation(120), Money(120), time=1.0)] == [
        K.COMMIT
    ]


@pytest.mark.parametrize("charged", [-1, 121])
def test_commit_cannot_charge_outside_the_reservation(charged: int) -> None:
    with pytest.raises(ReservationError):
        ledger.plan_commit(_reservation(120), Money(charged), time=1.0)


@pytest.mark.parametrize("state", [ReservationState.COMMITTED, ReservationState.RELEASED])
def test_a_resolved_reservation_cannot_be_resolved_again(state: ReservationState) -> None:
    with pytest.raises(ReservationError):
        ledger.commit(_reservation(120, state), time=1.0)
    with pytest.raises(ReservationError):
        ledger.release(_reservation(120, state), time=1.0)


def test_refunds_never_exceed_the_committed_charge() -> None:
    committed = _reservation(120, ReservationState.COMMITTED)
    assert ledger.refund(committed, Money(120), time=1.0).kind is K.REFUND
    with pytest.raises(ReservationError):
        ledger.refund(committed, Money(121), time=1.0)
    partly = dataclasses.replace(committed, refunded=Money(100))
    with pytest.raises(ReservationError):
        ledger.refund(partly, Money(21), time=1.0)
    with pytest.raises(ReservationError):  # nothing is refundable before the commit
        ledger.refund(_reservation(120), Money(1), time=1.0)


def test_credit_allocation_and_debit() -> None:
    credit = ledger.credit("alice", Money(500), time=0.0, reason="top-up")
    allocation = ledger.credit("alice", Money(100), time=0.0, reason="monthly", kind=K.ALLOCATION)
    debit = ledger.debit("alice", Money(50), time=0.0, reason="correction")
    assert [credit.kind, allocation.kind, debit.kind] == [K.CREDIT, K.ALLOCATION, K.DEBIT]
    assert balances([credit, allocation, debit]) == {"alice": Money(550), FUNDING: Money(-550)}
    with pytest.raises(ValueError):
        ledger.credit("alice", Money(1), time=0.0, reason="", kind=K.DEBIT)
    with pytest.raises(ValueError):
        ledger.credit("alice", Money(-1), time=0.0, reason="")


def test_system_account_names() -> None:
    assert ledger.is_system_account("revenue") and ledger.is_system_account("funding")
    assert ledger.is_system_account("reserved:alice")
    assert not ledger.is_system_account("alice")


# --- overdraft decisions -------------------------------------------------------------------------


def test_decide_reservation() -> None:
    assert decide_reservation(Money(120), ZERO, Money(120)) is None
    assert decide_reservation(Money(40), ZERO, Money(120)) == Refused("balance 0.40 < cost 1.20")
    assert decide_reservation(Money(40), Money(80), Money(120)) is None
    assert decide_reservation(Money(40), Money(79), Money(120)) == Refused(
        "balance 0.40 + overdraft 0.79 < cost 1.20"
    )
    assert decide_reservation(Money(-10), ZERO, ZERO) is None  # free jobs always print
    with pytest.raises(ValueError):
        decide_reservation(Money(100), ZERO, Money(-1))


# --- conservation under any sequence of operations ------------------------------------------------

ACCOUNTS = ("alice", "bob", "physics")
OVERDRAFT = {"alice": ZERO, "bob": Money(100), "physics": Money(1000)}

amounts = st.integers(0, 500).map(Money)
operations = st.one_of(
    st.tuples(st.just("credit"), st.sampled_from(ACCOUNTS), amounts),
    st.tuples(st.just("allocation"), st.sampled_from(ACCOUNTS), amounts),
    st.tuples(st.just("debit"), st.sampled_from(ACCOUNTS), amounts),
    st.tuples(st.just("reserve"), st.sampled_from(ACCOUNTS), amounts),
    st.tuples(st.just("commit"), st.integers(0, 30), amounts),
    st.tuples(st.just("release"), st.integers(0, 30), amounts),
    st.tuples(st.just("refund"), st.integers(0, 30), amounts),
)


@settings(max_examples=300)
@given(st.lists(operations, max_size=60))
def test_any_sequence_of_operations_conserves_money(ops: list[tuple[str, object, Money]]) -> None:
    journal: list[NewTransaction] = []
    open_: dict[int, Reservation] = {}
    for op, target, amount in ops:
        journal.extend(_apply(op, target, amount, journal, open_))
        book = balances(journal)
        assert total(book.values()) == ZERO
        for account in ACCOUNTS:
            held = [r.amount for r in open_.values() if r.account == account and _is_open(r)]
            assert book.get(ledger.reserved_account(account), ZERO) == total(held)
        charged = [r.amount - r.refunded for r in open_.values() if _is_committed(r)]
        assert book.get(REVENUE, ZERO) == total(charged)


def _is_open(r: Reservation) -> bool:
    return r.state is ReservationState.RESERVED


def _is_committed(r: Reservation) -> bool:
    return r.state is ReservationState.COMMITTED


def _apply(
    op: str,
    target: object,
    amount: Money,
    journal: list[NewTransaction],
    book: dict[int, Reservation],
) -> list[NewTransaction]:
    """One operation as the store would do it: decide, then build the transactions."""
    if op in ("credit", "allocation"):
        return [ledger.credit(str(target), amount, time=0.0, reason="", kind=K(op))]
    if op == "debit":
        return [ledger.debit(str(target), amount, time=0.0, reason="")]
    if op == "reserve":
        account = str(target)
        available = balances(journal).get(account, ZERO)
        if decide_reservation(available, OVERDRAFT[account], amount) is not None:
            return []
        job = JobId(len(book))
        book[job] = Reservation(job, account, amount, ReservationState.RESERVED, 0)
        after = available - amount
        assert amount == ZERO or after >= -OVERDRAFT[account]
        return [ledger.reserve(account, amount, time=0.0, job_id=job)]
    found = book.get(int(str(target)))
    if found is None:
        return []
    return _resolve(op, found, amount, book)


def _resolve(
    op: str, found: Reservation, amount: Money, book: dict[int, Reservation]
) -> list[NewTransaction]:
    if op == "refund":
        if amount > ledger.refundable(found):
            return []
        book[found.job_id] = dataclasses.replace(found, refunded=found.refunded + amount)
        return [ledger.refund(found, amount, time=0.0)]
    if not _is_open(found):
        return []
    if op == "release":
        book[found.job_id] = dataclasses.replace(found, state=ReservationState.RELEASED)
        return [ledger.release(found, time=0.0)]
    charged = min(amount, found.amount)
    book[found.job_id] = dataclasses.replace(
        found, state=ReservationState.COMMITTED, refunded=found.amount - charged
    )
    return list(ledger.plan_commit(found, charged, time=0.0))
