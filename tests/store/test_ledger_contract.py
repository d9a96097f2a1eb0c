"""The store contract for the ledger: accounts, balances, reservations (DESIGN invariant 3).

Written against the ``Store`` protocol only, with the same kind of ``open_store`` fixture
as ``test_contract.py`` (handles on one fresh database; several handles stand for several
nodes), so it runs on every backend in ``conftest.BACKENDS``: SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from printhost.accounting import ledger
from printhost.accounting.ledger import (
    FUNDING,
    REVENUE,
    Account,
    AccountKind,
    Balance,
    NewTransaction,
    Refused,
    Reservation,
    ReservationError,
    ReservationState,
    Transaction,
    TransactionKind,
)
from printhost.accounting.money import ZERO, Money
from printhost.jobs.model import JobId
from printhost.store.base import Store

from .conftest import OpenStore
from .migration_steps import tables_after

T0 = 1_700_000_000.0
R = ReservationState
K = TransactionKind


async def _account(store: Store, name: str, balance: str = "0", overdraft: str = "0") -> None:
    """A personal account with an opening credit."""
    account = Account(name, AccountKind.PERSONAL, name, Money.parse(overdraft), T0)
    await store.put_account(account)
    if Money.parse(balance) != ZERO:
        await store.post_transaction(
            ledger.credit(name, Money.parse(balance), time=T0, reason="opening balance")
        )


async def _conserved(store: Store) -> None:
    assert await store.ledger_sum() == ZERO


def _cents(text: str) -> Money:
    return Money.parse(text)


# --- accounts ------------------------------------------------------------------------------------


async def test_accounts_with_members(store: Store) -> None:
    shared = Account("physics", AccountKind.SHARED, "prof", Money(500), T0, ("bob", "alice"))
    await store.put_account(shared)
    await store.put_account(Account("alice", AccountKind.PERSONAL, "alice", created_at=T0))
    assert await store.get_account("physics") == Account(
        "physics", AccountKind.SHARED, "prof", Money(500), T0, ("alice", "bob")
    )
    assert await store.get_account("nobody") is None
    assert [a.name for a in await store.list_accounts()] == ["alice", "physics"]
    assert [a.name for a in await store.list_accounts("alice")] == ["alice", "physics"]
    assert [a.name for a in await store.list_accounts("prof")] == ["physics"]
    assert await store.list_accounts("carol") == []
    await store.put_account(dataclasses.replace(shared, members=("carol",)))
    assert [a.name for a in await store.list_accounts("carol")] == ["physics"]
    assert [a.name for a in await store.list_accounts("bob")] == []


@pytest.mark.parametrize("name", ["revenue", "funding", "reserved:alice"])
async def test_system_names_are_not_accounts(store: Store, name: str) -> None:
    with pytest.raises(ValueError):
        await store.put_account(Account(name, AccountKind.PERSONAL, "x"))


# --- balances and manual transactions -------------------------------------------------------


async def test_credit_debit_allocation_and_balance(store: Store) -> None:
    await _account(store, "alice", "5.00")
    await store.post_transaction(
        ledger.credit("alice", _cents("1.00"), time=T0, reason="monthly", kind=K.ALLOCATION)
    )
    debit = await store.post_transaction(
        ledger.debit("alice", _cents("0.50"), time=T0 + 1, reason="admin: lost paper")
    )
    assert debit.id > 0 and debit.kind is K.DEBIT and debit.reason == "admin: lost paper"
    assert await store.get_balance("alice") == Balance("alice", _cents("5.50"), ZERO)
    assert (await store.get_balance(FUNDING)).available == _cents("-5.50")
    assert await store.get_balance("never-posted") == Balance("never-posted", ZERO, ZERO)
    listed = await store.list_transactions(account="alice")
    assert [t.kind for t in listed] == [K.CREDIT, K.ALLOCATION, K.DEBIT]
    assert listed[-1] == debit
    await _conserved(store)


async def test_manual_transactions_cannot_touch_reservations(store: Store) -> None:
    await _account(store, "alice", "5.00")
    with pytest.raises(ValueError):
        await store.post_transaction(ledger.reserve("alice", Money(1), time=T0, job_id=JobId(1)))
    move = ledger.debit("alice", Money(1), time=T0, reason="")
    sneaky = ledger.NewTransaction(
        T0,
        K.DEBIT,
        None,
        "",
        (ledger.Posting("alice", Money(-1)), ledger.Posting("reserved:alice", Money(1))),
    )
    with pytest.raises(ValueError):
        await store.post_transaction(sneaky)
    assert (await store.post_transaction(move)).kind is K.DEBIT
    await _conserved(store)


# --- reservations -------------------------------------------------------------------------------


async def test_reserve_then_commit(store: Store) -> None:
    await _account(store, "alice", "2.00")
    made = await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0, reason="judged")
    assert isinstance(made, Reservation) and made.state is R.RESERVED
    assert await store.get_balance("alice") == Balance("alice", _cents("0.80"), _cents("1.20"))
    done = await store.commit_reservation(JobId(1), time=T0 + 5, reason="completed")
    assert done is not None and done.state is R.COMMITTED
    assert done.resolve_transaction_id is not None
    assert await store.get_reservation(JobId(1)) == done
    assert await store.get_balance("alice") == Balance("alice", _cents("0.80"), ZERO)
    assert (await store.get_balance(REVENUE)).available == _cents("1.20")
    assert [t.kind for t in await store.list_transactions(job_id=JobId(1))] == [
        K.RESERVE,
        K.COMMIT,
    ]
    await _conserved(store)


async def test_reserve_then_release(store: Store) -> None:
    await _account(store, "alice", "2.00")
    await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    done = await store.release_reservation(JobId(1), time=T0 + 5, reason="canceled")
    assert done is not None and done.state is R.RELEASED
    assert await store.get_balance("alice") == Balance("alice", _cents("2.00"), ZERO)
    assert (await store.get_balance(REVENUE)).available == ZERO
    await _conserved(store)


async def test_commit_of_fewer_impressions_refunds(store: Store) -> None:
    await _account(store, "alice", "2.00")
    await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    done = await store.commit_reservation(JobId(1), time=T0 + 5, charged=_cents("0.80"))
    assert done is not None and done.refunded == _cents("0.40")
    assert await store.get_balance("alice") == Balance("alice", _cents("1.20"), ZERO)
    assert (await store.get_balance(REVENUE)).available == _cents("0.80")
    assert [t.kind for t in await store.list_transactions(job_id=JobId(1))] == [
        K.RESERVE,
        K.COMMIT,
        K.REFUND,
    ]
    await _conserved(store)


async def test_refund_after_commit_is_bounded(store: Store) -> None:
    await _account(store, "alice", "2.00")
    await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    await store.commit_reservation(JobId(1), time=T0 + 5)
    refunded = await store.refund_reservation(JobId(1), _cents("1.00"), time=T0 + 9, reason="jam")
    assert refunded is not None and refunded.refunded == _cents("1.00")
    with pytest.raises(ReservationError):
        await store.refund_reservation(JobId(1), _cents("0.21"), time=T0 + 9)
    assert await store.refund_reservation(JobId(2), Money(1), time=T0) is None
    assert await store.get_balance("alice") == Balance("alice", _cents("1.80"), ZERO)
    await _conserved(store)


async def test_refund_of_an_uncommitted_reservation_is_refused(store: Store) -> None:
    await _account(store, "alice", "2.00")
    await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    with pytest.raises(ReservationError):
        await store.refund_reservation(JobId(1), Money(1), time=T0)
    assert (await store.get_reservation(JobId(1))) == (await store.list_reservations(R.RESERVED))[0]
    await _conserved(store)


async def test_refusals_carry_the_reason(store: Store) -> None:
    await _account(store, "alice", "0.40")
    await _account(store, "bob", "0.40", overdraft="1.00")
    refused = await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    assert refused == Refused("balance 0.40 < cost 1.20")
    assert await store.get_reservation(JobId(1)) is None
    assert isinstance(await store.reserve(JobId(2), "bob", _cents("1.20"), time=T0), Reservation)
    assert (await store.get_balance("bob")).available == _cents("-0.80")
    assert await store.reserve(JobId(3), "bob", _cents("0.21"), time=T0) == Refused(
        "balance -0.80 + overdraft 1.00 < cost 0.21"
    )
    assert await store.reserve(JobId(4), "nobody", Money(1), time=T0) == Refused(
        "no account 'nobody'"
    )
    await _conserved(store)


async def test_unknown_reservations(store: Store) -> None:
    assert await store.commit_reservation(JobId(9), time=T0) is None
    assert await store.release_reservation(JobId(9), time=T0) is None
    assert await store.get_reservation(JobId(9)) is None


async def test_reserve_again_is_a_retry_and_a_different_one_is_refused(store: Store) -> None:
    await _account(store, "alice", "2.00")
    first = await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    assert await store.reserve(JobId(1), "alice", _cents("1.20"), time=T0 + 1) == first
    with pytest.raises(ReservationError):
        await store.reserve(JobId(1), "alice", _cents("0.50"), time=T0 + 1)
    assert len(await store.list_transactions(job_id=JobId(1))) == 1
    await _conserved(store)


async def test_a_restarted_job_is_reserved_anew_after_its_first_charge(store: Store) -> None:
    await _account(store, "alice", "2.00")
    await store.reserve(JobId(1), "alice", _cents("0.50"), time=T0)
    await store.commit_reservation(JobId(1), time=T0 + 1)
    again = await store.reserve(JobId(1), "alice", _cents("0.50"), time=T0 + 2)
    assert isinstance(again, Reservation) and again.state is R.RESERVED
    await store.release_reservation(JobId(1), time=T0 + 3)  # the reprint was canceled
    assert len(await store.list_transactions(job_id=JobId(1))) == 4
    assert (await store.get_balance("alice")).available == _cents("1.50")
    await _conserved(store)


async def test_open_account_credits_the_opening_balance_once(store: Store) -> None:
    account = Account("alice", AccountKind.PERSONAL, "alice", overdraft=_cents("1.00"))
    opening = ledger.credit("alice", _cents("5.00"), time=T0, reason="opening balance")
    results = await asyncio.gather(*(store.open_account(account, opening) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert (await store.get_balance("alice")).available == _cents("5.00")
    assert (await store.get_account("alice")) is not None
    with pytest.raises(ValueError):
        await store.open_account(Account("funding", AccountKind.PERSONAL, "x"), None)
    await _conserved(store)


async def test_allocate_plans_inside_one_write(store: Store) -> None:
    await _account(store, "alice", "0.50")
    seen: list[tuple[Money, int]] = []

    def top_up(available: Money, done: list[Transaction]) -> NewTransaction | None:
        seen.append((available, len(done)))
        if done:
            return None  # this period was applied
        return ledger.credit(
            "alice", _cents("2.00") - available, time=T0, reason="top-up",
            kind=K.ALLOCATION,
        )  # fmt: skip

    results = await asyncio.gather(*(store.allocate("alice", top_up) for _ in range(4)))
    assert sum(r is not None for r in results) == 1
    assert (await store.get_balance("alice")).available == _cents("2.00")
    assert sorted(seen) == [(_cents("0.50"), 0)] + [(_cents("2.00"), 1)] * 3
    with pytest.raises(ValueError):
        await store.allocate("alice", lambda a, d: ledger.credit("alice", a, time=T0, reason="x"))
    await _conserved(store)


@pytest.mark.parametrize("overdraft", ["0", "0.50"])
async def test_concurrent_reservations_never_overdraw(
    open_store: OpenStore, overdraft: str
) -> None:
    """50 jobs at once, from two nodes, against 1.00 (+ overdraft) at 0.30 each."""
    nodes = [await open_store(), await open_store()]
    await _account(nodes[0], "alice", "1.00", overdraft=overdraft)
    outcomes = await asyncio.gather(
        *(nodes[i % 2].reserve(JobId(i + 1), "alice", _cents("0.30"), time=T0) for i in range(50))
    )
    made = [o for o in outcomes if isinstance(o, Reservation)]
    limit = _cents("1.00") + _cents(overdraft)
    assert len(made) == limit.cents // 30
    assert all(isinstance(o, Refused) for o in outcomes if not isinstance(o, Reservation))
    balance = await nodes[1].get_balance("alice")
    assert balance.available >= -_cents(overdraft)
    assert balance.reserved == _cents("0.30") * len(made)
    assert len(await nodes[1].list_reservations(R.RESERVED)) == len(made)
    await _conserved(nodes[1])


async def test_concurrent_commits_and_releases_conserve_money(store: Store) -> None:
    await _account(store, "alice", "100.00")
    await asyncio.gather(
        *(store.reserve(JobId(i), "alice", Money(100 + i), time=T0) for i in range(40))
    )
    await asyncio.gather(
        *(
            store.commit_reservation(JobId(i), time=T0, charged=Money(i))
            if i % 2
            else store.release_reservation(JobId(i), time=T0)
            for i in range(40)
        ),
        *(store.commit_reservation(JobId(i), time=T0) for i in range(40)),  # racing repeats
    )
    assert await store.list_reservations(R.RESERVED) == []
    balance = await store.get_balance("alice")
    revenue = (await store.get_balance(REVENUE)).available
    assert balance.reserved == ZERO
    assert balance.available + revenue == _cents("100.00")
    await _conserved(store)


# --- crashes: resolve after restart, idempotently -----------------------------------------------


async def test_open_reservation_is_resolved_after_restart(open_store: OpenStore) -> None:
    before = await open_store()
    await _account(before, "alice", "2.00")
    await before.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    await before.reserve(JobId(2), "alice", _cents("0.30"), time=T0)
    await before.close()  # the node dies between reserve and commit/release

    after = await open_store()
    open_ = await after.list_reservations(R.RESERVED)
    assert [r.job_id for r in open_] == [1, 2]
    await after.commit_reservation(JobId(1), time=T0 + 60, reason="recovered: printed")
    await after.release_reservation(JobId(2), time=T0 + 60, reason="recovered: aborted")
    assert await after.list_reservations(R.RESERVED) == []
    assert await after.get_balance("alice") == Balance("alice", _cents("0.80"), ZERO)
    await _conserved(after)


@pytest.mark.parametrize("first", ["commit", "release"])
async def test_resolving_again_after_restart_posts_nothing(
    open_store: OpenStore, first: str
) -> None:
    before = await open_store()
    await _account(before, "alice", "2.00")
    await before.reserve(JobId(1), "alice", _cents("1.20"), time=T0)
    resolve = before.commit_reservation if first == "commit" else before.release_reservation
    done = await resolve(JobId(1), time=T0 + 5)
    await before.close()  # the step landed, but the node died before it recorded so

    after = await open_store()
    transactions = await after.list_transactions()
    balance = await after.get_balance("alice")
    assert await after.commit_reservation(JobId(1), time=T0 + 60) == done
    assert await after.release_reservation(JobId(1), time=T0 + 60) == done
    assert await after.list_transactions() == transactions
    assert await after.get_balance("alice") == balance
    await _conserved(after)


# --- the migration ----------------------------------------------------------------------------

LEDGER_TABLES = {
    "accounts",
    "account_members",
    "ledger_transactions",
    "ledger_postings",
    "reservations",
}


def test_ledger_migration_0004_adds_and_removes_only_its_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    before = tables_after(url, "upgrade", "0003")
    assert not before & LEDGER_TABLES
    assert tables_after(url, "upgrade", "0004") == before | LEDGER_TABLES
    assert tables_after(url, "downgrade", "0003") == before
    assert tables_after(url, "upgrade", "head") >= before | LEDGER_TABLES
