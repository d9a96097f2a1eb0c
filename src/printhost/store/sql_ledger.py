"""The SQL store's ledger tables: accounts, transactions, postings and reservations.

A mixin of ``SqlStore`` (split out by concern, like ``sql_routing``). It uses the store's
``_read``/``_write``, so every method that writes is one transaction: on SQLite on the
writer thread (``BEGIN IMMEDIATE``, one SAVEPOINT per call), on PostgreSQL one pooled
connection's transaction.

Theory of operation: balances are never stored, only postings; a balance is a SUM over
them. ``reserve`` reads the available balance, decides (``ledger.decide_reservation``)
and writes the reservation and its postings inside one write transaction, and such steps on one
account never interleave (SQLite runs one write at a time; on PostgreSQL they hold the
account's lock, ``sql_dialect.lock_account``), so no two reservations can both spend the
same money: concurrent jobs against one small balance never overdraw beyond the overdraft
limit. A step on an existing reservation reads its row ``FOR UPDATE`` (PostgreSQL waits
for, then sees, a concurrent step's commit), so two nodes committing one job's charge
at once post it once. Each reservation step moves
the reservation row and posts its transaction(s) together, so a crash leaves either both
or neither; after a restart ``list_reservations(RESERVED)`` finds what is still open, and
``commit_reservation`` / ``release_reservation`` are idempotent by job id: a step repeated
after a crash returns the reservation as it is and posts nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from printhost.accounting import ledger
from printhost.accounting.ledger import (
    Account,
    AccountKind,
    Balance,
    NewTransaction,
    Posting,
    Refused,
    Reservation,
    ReservationError,
    ReservationState,
    Transaction,
    TransactionKind,
)
from printhost.accounting.money import Money
from printhost.jobs.model import JobId
from printhost.store.schema import (
    account_members,
    accounts,
    ledger_postings,
    ledger_transactions,
    reservations,
)
from printhost.store.sql_dialect import lock_account, upsert

T = TypeVar("T")


class LedgerTables:
    async def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    # --- accounts ------------------------------------------------------------------------
    async def put_account(self, account: Account) -> None:
        if ledger.is_system_account(account.name):
            raise ValueError(f"{account.name!r} is a system account name")
        values = {
            "name": account.name,
            "kind": str(account.kind),
            "owner": account.owner,
            "overdraft_cents": account.overdraft.cents,
            "created_at": account.created_at,
        }
        members = [{"account": account.name, "user": u} for u in sorted(set(account.members))]

        def work(conn: Connection) -> None:
            conn.execute(upsert(conn, accounts, values))
            conn.execute(delete(account_members).where(account_members.c.account == account.name))
            if members:
                conn.execute(insert(account_members), members)

        await self._write(work)

    async def open_account(self, account: Account, opening: NewTransaction | None) -> bool:
        """Create ``account`` unless it exists, with its opening credit in the same
        transaction: two nodes opening one user's account at once credit it once."""
        if ledger.is_system_account(account.name):
            raise ValueError(f"{account.name!r} is a system account name")
        if opening is not None and opening.kind in ledger.RESERVATION_KINDS:
            raise ValueError("an opening balance is a credit")
        values = {
            "name": account.name,
            "kind": str(account.kind),
            "owner": account.owner,
            "overdraft_cents": account.overdraft.cents,
            "created_at": account.created_at,
        }

        def work(conn: Connection) -> bool:
            lock_account(conn, account.name)
            exists = conn.execute(select(accounts.c.name).where(accounts.c.name == account.name))
            if exists.first() is not None:
                return False
            conn.execute(insert(accounts).values(values))
            if opening is not None:
                _insert_transaction(conn, opening)
            return True

        return await self._write(work)

    async def get_account(self, name: str) -> Account | None:
        found = await self._read(lambda conn: _accounts(conn, accounts.c.name == name))
        return found[0] if found else None

    async def list_accounts(self, user: str | None = None) -> list[Account]:
        if user is None:
            return await self._read(lambda conn: _accounts(conn, None))
        member_of = select(account_members.c.account).where(account_members.c.user == user)
        where = or_(accounts.c.owner == user, accounts.c.name.in_(member_of))
        return await self._read(lambda conn: _accounts(conn, where))

    # --- balances and transactions -------------------------------------------------------
    async def get_balance(self, account: str) -> Balance:
        def work(conn: Connection) -> Balance:
            reserved = _sum(conn, ledger.reserved_account(account))
            return Balance(account, _sum(conn, account), reserved)

        return await self._read(work)

    async def ledger_sum(self) -> Money:
        """The sum over all accounts: zero, always (DESIGN invariant 3)."""
        stmt = select(func.coalesce(func.sum(ledger_postings.c.amount_cents), 0))
        return Money(int(await self._read(lambda conn: conn.execute(stmt).scalar_one())))

    async def post_transaction(self, transaction: NewTransaction) -> Transaction:
        if transaction.kind in ledger.RESERVATION_KINDS:
            raise ValueError(f"{transaction.kind} transactions are posted by reservation steps")
        for posting in transaction.postings:
            if posting.account.startswith(ledger.RESERVED_PREFIX):
                raise ValueError(f"only reservation steps post to {posting.account!r}")
        tx_id = await self._write(lambda conn: _insert_transaction(conn, transaction))
        return _stored(tx_id, transaction)

    async def allocate(
        self,
        account: str,
        plan: Callable[[Money, list[Transaction]], NewTransaction | None],
    ) -> Transaction | None:
        def work(conn: Connection) -> Transaction | None:
            lock_account(conn, account)
            posted = select(ledger_postings.c.transaction_id).where(
                ledger_postings.c.account == account
            )
            rows = conn.execute(
                select(ledger_transactions)
                .where(
                    ledger_transactions.c.id.in_(posted),
                    ledger_transactions.c.kind == str(TransactionKind.ALLOCATION),
                )
                .order_by(ledger_transactions.c.id)
            ).all()
            transaction = plan(_sum(conn, account), _transactions(conn, rows))
            if transaction is None:
                return None
            if transaction.kind is not TransactionKind.ALLOCATION:
                raise ValueError("allocate posts allocations only")
            return _stored(_insert_transaction(conn, transaction), transaction)

        return await self._write(work)

    async def list_transactions(
        self, account: str | None = None, job_id: JobId | None = None, limit: int | None = None
    ) -> list[Transaction]:
        stmt = select(ledger_transactions).order_by(ledger_transactions.c.id)
        if account is not None:
            posted = select(ledger_postings.c.transaction_id).where(
                ledger_postings.c.account == account
            )
            stmt = stmt.where(ledger_transactions.c.id.in_(posted))
        if job_id is not None:
            stmt = stmt.where(ledger_transactions.c.job_id == job_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return await self._read(lambda conn: _transactions(conn, conn.execute(stmt).all()))

    # --- reservations --------------------------------------------------------------------
    async def reserve(
        self, job_id: JobId, account: str, amount: Money, *, time: float, reason: str = ""
    ) -> Reservation | Refused:
        transaction = ledger.reserve(account, amount, time=time, job_id=job_id, reason=reason)

        def work(conn: Connection) -> Reservation | Refused:
            lock_account(conn, account)
            existing = _reservation(conn, job_id, lock=True)
            if existing is not None and existing.state is ReservationState.RESERVED:
                return _repeated_reserve(existing, account, amount)
            row = conn.execute(select(accounts).where(accounts.c.name == account)).first()
            if row is None:
                return Refused(f"no account {account!r}")
            overdraft = Money(row.overdraft_cents)
            refusal = ledger.decide_reservation(_sum(conn, account), overdraft, amount)
            if refusal is not None:
                return refusal
            tx_id = _insert_transaction(conn, transaction)
            made = Reservation(job_id, account, amount, ReservationState.RESERVED, tx_id)
            if existing is not None:
                # A job printed (or ended) before and restarted: a new charge. The old
                # reservation's transactions stay in the ledger; its row is replaced.
                conn.execute(delete(reservations).where(reservations.c.job_id == job_id))
            conn.execute(insert(reservations).values(_reservation_values(made)))
            return made

        return await self._write(work)

    async def commit_reservation(
        self, job_id: JobId, *, time: float, reason: str = "", charged: Money | None = None
    ) -> Reservation | None:
        def work(conn: Connection) -> Reservation | None:
            found = _reservation(conn, job_id, lock=True)
            if found is None or found.state is not ReservationState.RESERVED:
                return found  # absent, or resolved already: a repeat posts nothing
            cost = found.amount if charged is None else charged
            planned = ledger.plan_commit(found, cost, time=time, reason=reason)
            ids = [_insert_transaction(conn, t) for t in planned]
            done = dataclasses.replace(
                found,
                state=ReservationState.COMMITTED,
                resolve_transaction_id=ids[0],
                refunded=found.amount - cost,
            )
            return _update_reservation(conn, done)

        return await self._write(work)

    async def release_reservation(
        self, job_id: JobId, *, time: float, reason: str = ""
    ) -> Reservation | None:
        def work(conn: Connection) -> Reservation | None:
            found = _reservation(conn, job_id, lock=True)
            if found is None or found.state is not ReservationState.RESERVED:
                return found
            tx_id = _insert_transaction(conn, ledger.release(found, time=time, reason=reason))
            done = dataclasses.replace(
                found, state=ReservationState.RELEASED, resolve_transaction_id=tx_id
            )
            return _update_reservation(conn, done)

        return await self._write(work)

    async def refund_reservation(
        self, job_id: JobId, amount: Money, *, time: float, reason: str = ""
    ) -> Reservation | None:
        def work(conn: Connection) -> Reservation | None:
            found = _reservation(conn, job_id, lock=True)
            if found is None:
                return None
            _insert_transaction(conn, ledger.refund(found, amount, time=time, reason=reason))
            done = dataclasses.replace(found, refunded=found.refunded + amount)
            return _update_reservation(conn, done)

        return await self._write(work)

    async def get_reservation(self, job_id: JobId) -> Reservation | None:
        return await self._read(lambda conn: _reservation(conn, job_id))

    async def list_reservations(self, state: ReservationState | None = None) -> list[Reservation]:
        stmt = select(reservations).order_by(reservations.c.job_id)
        if state is not None:
            stmt = stmt.where(reservations.c.state == str(state))
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [_reservation_record(row) for row in rows]


# --- helpers (run inside a transaction) ---------------------------------------------------------


def _sum(conn: Connection, account: str) -> Money:
    stmt = select(func.coalesce(func.sum(ledger_postings.c.amount_cents), 0)).where(
        ledger_postings.c.account == account
    )
    return Money(int(conn.execute(stmt).scalar_one()))


def _insert_transaction(conn: Connection, transaction: NewTransaction) -> int:
    result = conn.execute(
        insert(ledger_transactions).values(
            time=transaction.time,
            kind=str(transaction.kind),
            job_id=transaction.job_id,
            reason=transaction.reason,
            data=json.dumps(dict(transaction.data), separators=(",", ":")),
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT always has one
    tx_id = int(key[0])
    postings = [
        {"transaction_id": tx_id, "account": p.account, "amount_cents": p.amount.cents}
        for p in transaction.postings
    ]
    conn.execute(insert(ledger_postings), postings)
    return tx_id


def _stored(tx_id: int, new: NewTransaction) -> Transaction:
    return Transaction(tx_id, new.time, new.kind, new.job_id, new.reason, new.postings, new.data)


def _transactions(conn: Connection, rows: Sequence[Row[Any]]) -> list[Transaction]:
    ids = [row.id for row in rows]
    postings: dict[int, list[Posting]] = {i: [] for i in ids}
    stmt = (
        select(ledger_postings)
        .where(ledger_postings.c.transaction_id.in_(ids))
        .order_by(ledger_postings.c.transaction_id, ledger_postings.c.amount_cents)
    )
    for p in conn.execute(stmt):
        postings[p.transaction_id].append(Posting(p.account, Money(p.amount_cents)))
    return [
        Transaction(
            row.id,
            row.time,
            TransactionKind(row.kind),
            None if row.job_id is None else JobId(row.job_id),
            row.reason,
            tuple(postings[row.id]),
            json.loads(row.data),
        )
        for row in rows
    ]


def _accounts(conn: Connection, where: Any) -> list[Account]:
    stmt = select(accounts).order_by(accounts.c.name)
    if where is not None:
        stmt = stmt.where(where)
    rows = conn.execute(stmt).all()
    names = [row.name for row in rows]
    members: dict[str, list[str]] = {n: [] for n in names}
    member_rows = conn.execute(
        select(account_members)
        .where(account_members.c.account.in_(names))
        .order_by(account_members.c.user)
    )
    for m in member_rows:
        members[m.account].append(m.user)
    return [
        Account(
            row.name,
            AccountKind(row.kind),
            row.owner,
            Money(row.overdraft_cents),
            row.created_at,
            tuple(members[row.name]),
        )
        for row in rows
    ]


def _reservation(conn: Connection, job_id: JobId, *, lock: bool = False) -> Reservation | None:
    stmt = select(reservations).where(reservations.c.job_id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return None if row is None else _reservation_record(row)


def _reservation_record(row: Row[Any]) -> Reservation:
    return Reservation(
        JobId(row.job_id),
        row.account,
        Money(row.amount_cents),
        ReservationState(row.state),
        row.reserve_transaction_id,
        row.resolve_transaction_id,
        Money(row.refunded_cents),
    )


def _reservation_values(r: Reservation) -> dict[str, Any]:
    return {
        "job_id": r.job_id,
        "account": r.account,
        "amount_cents": r.amount.cents,
        "refunded_cents": r.refunded.cents,
        "state": str(r.state),
        "reserve_transaction_id": r.reserve_transaction_id,
        "resolve_transaction_id": r.resolve_transaction_id,
    }


def _update_reservation(conn: Connection, r: Reservation) -> Reservation:
    values = _reservation_values(r)
    del values["job_id"]
    conn.execute(update(reservations).where(reservations.c.job_id == r.job_id).values(values))
    return r


def _repeated_reserve(existing: Reservation, account: str, amount: Money) -> Reservation:
    """A reserve for a job that has an open reservation: the same one again is a retry."""
    if existing.account == account and existing.amount == amount:
        return existing
    raise ReservationError(
        f"job {existing.job_id} already has a {existing.state} reservation of "
        f"{existing.amount} on {existing.account!r}"
    )
