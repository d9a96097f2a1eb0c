"""Allocation planning: period keys, the three modes, once per period, balanced ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.accounting import ledger
from printhost.accounting.allocations import (
    DATA_NAME,
    DATA_PERIOD,
    AllocationPlan,
    accounts_to_allocate,
    last_applied_key,
    period_key,
    plan_allocation,
)
from printhost.accounting.ledger import (
    FUNDING,
    NewTransaction,
    Posting,
    TransactionKind,
    balances,
)
from printhost.accounting.money import ZERO, Money, total
from printhost.accounting.settings import Allocation, AllocationMode, Period

D, W, M = Period.DAILY, Period.WEEKLY, Period.MONTHLY
ADD, TOP_UP, RESET = AllocationMode.ADD, AllocationMode.TOP_UP, AllocationMode.RESET


def _t(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """A UTC time as POSIX seconds: _t(2026, 11, 21, 23, 59, 59)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def _allocation(
    mode: AllocationMode = TOP_UP, amount: int = 200, period: Period = W, name: str = "q"
) -> Allocation:
    return Allocation(name=name, amount=Money(amount), period=period, mode=mode, users=("a",))


NOW = _t(2026, 11, 21, 12)  # Saturday of ISO week 47


# --- period keys ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "when", "key"),
    [
        # daily: midnight UTC
        (D, _t(2026, 11, 21), "2026-11-21"),
        (D, _t(2026, 11, 21, 23, 59, 59), "2026-11-21"),
        (D, _t(2026, 11, 22), "2026-11-22"),
        (D, _t(2026, 12, 31, 23, 59, 59), "2026-12-31"),
        (D, _t(2027, 1, 1), "2027-01-01"),
        (D, _t(2028, 2, 28, 23, 59, 59), "2028-02-28"),
        (D, _t(2028, 2, 29), "2028-02-29"),
        (D, _t(2028, 3, 1), "2028-03-01"),
        # weekly: ISO weeks from Monday 00:00 UTC; 2026 has 53 of them
        (W, _t(2026, 11, 16), "2026-W47"),  # Monday
        (W, _t(2026, 11, 22, 23, 59, 59), "2026-W47"),  # Sunday
        (W, _t(2026, 11, 23), "2026-W48"),
        (W, _t(2026, 12, 28), "2026-W53"),  # Monday
        (W, _t(2026, 12, 31, 23, 59, 59), "2026-W53"),  # Thursday
        (W, _t(2027, 1, 1), "2026-W53"),  # Friday: still the ISO year 2026
        (W, _t(2027, 1, 3, 23, 59, 59), "2026-W53"),  # Sunday
        (W, _t(2027, 1, 4), "2027-W01"),  # Monday
        (W, _t(2024, 12, 29, 23, 59, 59), "2024-W52"),  # Sunday
        (W, _t(2024, 12, 30), "2025-W01"),  # Monday of week 1 of 2025, in December 2024
        (W, _t(2028, 2, 29), "2028-W09"),  # leap day, a Tuesday
        # monthly
        (M, _t(2026, 11, 1), "2026-11"),
        (M, _t(2026, 11, 30, 23, 59, 59), "2026-11"),
        (M, _t(2026, 12, 1), "2026-12"),
        (M, _t(2026, 12, 31, 23, 59, 59), "2026-12"),
        (M, _t(2027, 1, 1), "2027-01"),
        (M, _t(2028, 2, 29, 23, 59, 59), "2028-02"),
        (M, _t(2028, 3, 1), "2028-03"),
    ],
)
def test_period_keys_at_boundaries(period: Period, when: float, key: str) -> None:
    assert period_key(period, when) == key


def test_period_key_accepts_the_plain_keyword() -> None:
    assert period_key("weekly", NOW) == "2026-W47"


def test_period_key_refuses_other_periods() -> None:
    with pytest.raises(ValueError):
        period_key("hourly", NOW)


@given(st.sampled_from(list(Period)), st.integers(0, 4_000_000_000), st.integers(0, 10**8))
def test_period_keys_sort_like_time(period: Period, earlier: int, later: int) -> None:
    assert period_key(period, earlier) <= period_key(period, earlier + later)


# --- the modes ------------------------------------------------------------------------------


def _plan(allocation: Allocation, available: int, last: str | None = None) -> AllocationPlan:
    plan = plan_allocation(allocation, "alice", Money(available), last, NOW)
    assert plan is not None
    return plan


def test_add_credits_the_amount() -> None:
    plan = _plan(_allocation(ADD), 500)
    assert plan.key == "2026-W47"
    assert plan.change == Money(200)
    assert plan.transaction == NewTransaction(
        time=NOW,
        kind=TransactionKind.ALLOCATION,
        job_id=None,
        reason="weekly allocation 2026-W47 (add 2.00)",
        postings=(Posting(FUNDING, Money(-200)), Posting("alice", Money(200))),
        data={"allocation": "q", "allocation_period": "2026-W47"},
    )


@pytest.mark.parametrize(("available", "change"), [(50, 150), (-100, 300), (0, 200)])
def test_top_up_credits_up_to_the_amount(available: int, change: int) -> None:
    plan = _plan(_allocation(TOP_UP), available)
    assert plan.change == Money(change)
    assert plan.transaction.reason == "weekly allocation 2026-W47 (top-up to 2.00)"
    assert balances([plan.transaction])["alice"] == Money(change)


@pytest.mark.parametrize("available", [200, 350])
def test_top_up_of_an_account_at_or_above_the_amount_moves_nothing(available: int) -> None:
    plan = _plan(_allocation(TOP_UP), available)
    assert plan.change == ZERO
    # ... but is still a transaction, so that the period is recorded in the ledger
    assert plan.transaction.data[DATA_PERIOD] == "2026-W47"
    assert balances([plan.transaction]) == {FUNDING: ZERO, "alice": ZERO}


@pytest.mark.parametrize(("available", "change"), [(50, 150), (350, -150), (-100, 300), (200, 0)])
def test_reset_credits_or_debits_the_difference(available: int, change: int) -> None:
    plan = _plan(_allocation(RESET, period=M), available)
    assert plan.change == Money(change)
    assert plan.transaction.kind is TransactionKind.ALLOCATION
    assert plan.transaction.reason == "monthly allocation 2026-11 (reset to 2.00)"
    assert Money(available) + plan.change == Money(200)
    assert balances([plan.transaction])[FUNDING] == Money(-change)


def test_reset_to_zero() -> None:
    assert _plan(_allocation(RESET, amount=0, period=D), 123).change == Money(-123)


def test_a_system_account_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_allocation(_allocation(), FUNDING, ZERO, None, NOW)
    with pytest.raises(ValueError):
        plan_allocation(_allocation(), ledger.reserved_account("alice"), ZERO, None, NOW)


# --- once per period --------------------------------------------------------------------------


def test_the_current_period_is_applied_once() -> None:
    allocation = _allocation(ADD)
    assert plan_allocation(allocation, "alice", ZERO, "2026-W47", NOW) is None
    assert plan_allocation(allocation, "alice", ZERO, "2026-W46", NOW) is not None
    assert plan_allocation(allocation, "alice", ZERO, None, NOW) is not None


def test_a_clock_gone_back_does_not_apply_an_old_period_again() -> None:
    assert plan_allocation(_allocation(ADD), "alice", ZERO, "2026-W48", NOW) is None


def test_a_key_of_another_period_kind_does_not_count() -> None:
    # the allocation was daily before (same name); the first weekly period applies
    plan = plan_allocation(_allocation(ADD), "alice", ZERO, "2026-11-21", NOW)
    assert plan is not None and plan.key == "2026-W47"


def test_last_applied_key_reads_the_ledger() -> None:
    allocation = _allocation(ADD)
    first = _plan(allocation, 0)
    later = plan_allocation(allocation, "alice", Money(200), first.key, _t(2026, 11, 23))
    assert later is not None
    other_allocation = _plan(_allocation(ADD, name="other"), 0)
    other_account = plan_allocation(allocation, "bob", ZERO, None, _t(2026, 12, 1))
    assert other_account is not None
    unrelated = ledger.credit("alice", Money(5), time=NOW, reason="manual")
    transactions = [
        first.transaction,
        later.transaction,
        other_allocation.transaction,
        other_account.transaction,
        unrelated,
    ]
    assert last_applied_key(transactions, "q", "alice") == "2026-W48"
    assert last_applied_key(transactions, "q", "bob") == "2026-W49"
    assert last_applied_key(transactions, "other", "alice") == "2026-W47"
    assert last_applied_key(transactions, "q", "carol") is None
    assert last_applied_key([], "q", "alice") is None


# --- which accounts ---------------------------------------------------------------------------


def test_accounts_to_allocate() -> None:
    allocation = Allocation(
        name="q",
        amount=Money(100),
        period=D,
        mode=ADD,
        users=("zoe", "alice", "unknown"),
        groups=("students",),
        accounts=("physics", "chemistry"),
    )
    users = {
        "alice": (),
        "bob": ("students", "staff"),
        "carol": ("staff",),
        "zoe": ("students",),
        "dave": ("students",),
    }
    assert accounts_to_allocate(allocation, users) == (
        "alice",
        "bob",
        "dave",
        "zoe",
        "physics",
        "chemistry",
    )


def test_accounts_to_allocate_shared_only() -> None:
    allocation = Allocation(name="q", amount=Money(100), period=D, mode=ADD, accounts=("physics",))
    assert accounts_to_allocate(allocation, {"alice": ("staff",)}) == ("physics",)


def test_accounts_to_allocate_with_no_known_users() -> None:
    assert accounts_to_allocate(_allocation(), {}) == ()


# --- property: any sequence of times and spending -----------------------------------------------

_STEPS = st.lists(
    st.tuples(st.integers(0, 3 * 86_400), st.integers(-500, 1_500)), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(list(AllocationMode)),
    period=st.sampled_from(list(Period)),
    amount=st.integers(1, 1_000),
    start=st.integers(int(_t(2020, 1, 1)), int(_t(2040, 1, 1))),
    steps=_STEPS,
)
def test_allocations_over_time_keep_the_ledger_balanced(
    mode: AllocationMode, period: Period, amount: int, start: int, steps: list[tuple[int, int]]
) -> None:
    allocation = Allocation(
        name="quota", amount=Money(amount), period=period, mode=mode, users=("alice",)
    )
    transactions: list[NewTransaction] = []
    applied: list[str] = []
    now = float(start)
    for advance, spent in steps:
        now += advance
        if spent > 0:  # the user prints (or an administrator debits)...
            transactions.append(ledger.debit("alice", Money(spent), time=now, reason="spent"))
        elif spent < 0:  # ... or is credited
            transactions.append(ledger.credit("alice", Money(-spent), time=now, reason="gift"))
        before = balances(transactions).get("alice", ZERO)
        last = last_applied_key(transactions, allocation.name, "alice")
        plan = plan_allocation(allocation, "alice", before, last, now)
        key = period_key(period, now)
        if plan is None:
            assert last == key
            continue
        assert last != key and plan.key == key
        transactions.append(plan.transaction)
        applied.append(key)
        after = balances(transactions)["alice"]
        if mode is AllocationMode.ADD:
            assert after == before + Money(amount)
        elif mode is AllocationMode.TOP_UP:
            assert after >= Money(amount)
            assert after == max(before, Money(amount))
        else:
            assert after == Money(amount)
        # applying again in the same period does nothing
        again = last_applied_key(transactions, allocation.name, "alice")
        assert again == key
        assert plan_allocation(allocation, "alice", after, again, now) is None
        assert total(balances(transactions).values()) == ZERO
    assert total(balances(transactions).values()) == ZERO
    assert len(applied) == len(set(applied))  # each period at most once
    assert applied == sorted(applied)
    assert all(t.kind is TransactionKind.ALLOCATION for t in transactions if DATA_NAME in t.data)
