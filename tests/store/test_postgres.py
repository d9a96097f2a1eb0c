"""PostgreSQL-only behaviour: several nodes (store instances, each with its own connection
pool) on one database, really concurrent; migrations on PostgreSQL.

The whole store contract already runs on PostgreSQL (``conftest.BACKENDS``); these tests
press harder on what only a concurrent database can get wrong: claim exclusivity under
parallel claimers, claimers never waiting behind a locked job, reservations that never
overdraw, a charge posted once when two nodes commit it, event order as seen by a
consumer polling while others append, and several nodes migrating one fresh database.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from support.postgres import PostgresCluster

from printhost.accounting import ledger
from printhost.accounting.ledger import Account, AccountKind, Reservation, ReservationState
from printhost.accounting.money import ZERO, Money
from printhost.jobs.model import JobId
from printhost.store import migrate, open_store
from printhost.store.base import NewEvent, Store
from printhost.store.postgres import PostgresStore, postgres_url
from printhost.store.schema import metadata

from .test_contract import T0, S, create, ev, move


@pytest.fixture
def database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, migrated database's URL."""
    name = postgres_cluster.create_database()
    yield postgres_cluster.url(name)
    postgres_cluster.drop_database(name)


@pytest.fixture
def empty_database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = postgres_cluster.create_database(migrated=False)
    yield postgres_cluster.url(name)
    postgres_cluster.drop_database(name)


async def _nodes(url: str, count: int) -> list[Store]:
    return [await PostgresStore.open(url) for _ in range(count)]


async def _close(nodes: list[Store]) -> None:
    for node in nodes:
        await node.close()


# --- claims ------------------------------------------------------------------------------


async def test_parallel_claimers_take_every_job_exactly_once(database: str) -> None:
    nodes = await _nodes(database, 4)
    try:
        created = [await create(nodes[0]) for _ in range(50)]

        async def claimer(i: int) -> list[int]:
            mine = []
            while (job := await nodes[i].claim_pending(f"node{i}", T0, T0 + 60)) is not None:
                assert job.lease_owner == f"node{i}"
                mine.append(int(job.id))
            return mine

        per_node = await asyncio.gather(*(claimer(i) for i in range(4)))
        claimed = [job_id for mine in per_node for job_id in mine]
        assert sorted(claimed) == sorted(int(j.id) for j in created)  # each once, none lost
        assert sum(1 for mine in per_node if mine) >= 2  # they really ran side by side
    finally:
        await _close(nodes)


async def test_a_claimer_skips_a_locked_job_instead_of_waiting(database: str) -> None:
    """A job row locked by another transaction (another node mid-claim) is skipped."""
    store = await PostgresStore.open(database)
    try:
        first = await create(store, priority=90)
        second = await create(store, priority=10)
        dsn = postgres_url(database).replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as other:  # a transaction that holds the first job's row
            other.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE", (first.id,))
            claimed = await asyncio.wait_for(store.claim_pending("n1", T0, T0 + 60), 5)
            assert claimed is not None and claimed.id == second.id
            assert await asyncio.wait_for(store.claim_job(first.id, "n1", T0, T0 + 60), 5) is None
            other.rollback()
        again = await store.claim_pending("n2", T0, T0 + 60)
        assert again is not None and again.id == first.id
    finally:
        await store.close()


async def test_an_expired_lease_lets_another_node_take_the_orphan(database: str) -> None:
    node_a, node_b = await _nodes(database, 2)
    try:
        await create(node_a)
        claimed = await node_a.claim_pending("a", T0, T0 + 30)
        assert claimed is not None
        running = await move(node_a, claimed, S.PROCESSING)
        assert await node_b.claim_orphaned("b", T0 + 10, T0 + 40) is None  # lease still live
        assert await node_a.renew_lease(running.id, "a", T0 + 45)
        assert await node_b.claim_orphaned("b", T0 + 31, T0 + 61) is None  # renewed
        # node a dies; once its lease has run out, b (and only one of the others) takes it
        takers = await asyncio.gather(
            node_b.claim_orphaned("b", T0 + 46, T0 + 90),
            node_a.claim_orphaned("c", T0 + 46, T0 + 90),
        )
        taken = [t for t in takers if t is not None]
        assert len(taken) == 1 and taken[0].id == running.id
        assert taken[0].state == S.PROCESSING and taken[0].lease_expires == T0 + 90
        assert not await node_a.renew_lease(running.id, "a", T0 + 100)  # a lost it
    finally:
        await _close([node_a, node_b])


async def test_compare_and_set_transitions_race_to_one_winner(database: str) -> None:
    nodes = await _nodes(database, 3)
    try:
        job = await create(nodes[0])
        results = await asyncio.gather(
            *(
                nodes[i % 3].transition_job(
                    job.id, [S.PENDING], S.PROCESSING, reasons=(), message=f"{i}", event=ev()
                )
                for i in range(12)
            )
        )
        assert sum(r is not None for r in results) == 1
        events = await nodes[0].events_after(0, 100)
        assert [e.kind for e in events] == ["job-created", "job-state-changed"]
    finally:
        await _close(nodes)


# --- ledger --------------------------------------------------------------------------------


async def test_reservations_from_four_nodes_never_overdraw(database: str) -> None:
    nodes = await _nodes(database, 4)
    try:
        account = Account("alice", AccountKind.PERSONAL, "alice", ZERO, T0)
        opening = ledger.credit("alice", Money(1000), time=T0, reason="opening")
        opened = await asyncio.gather(*(n.open_account(account, opening) for n in nodes))
        assert sorted(opened) == [False, False, False, True]  # credited once
        outcomes = await asyncio.gather(
            *(nodes[i % 4].reserve(JobId(i + 1), "alice", Money(70), time=T0) for i in range(80))
        )
        made = [o for o in outcomes if isinstance(o, Reservation)]
        assert len(made) == 1000 // 70
        balance = await nodes[0].get_balance("alice")
        assert balance.available >= ZERO
        assert balance.reserved == Money(70 * len(made))
        # two nodes commit (and one releases) the same charge at once: it is posted once
        job = made[0].job_id
        steps = await asyncio.gather(
            nodes[0].commit_reservation(job, time=T0 + 1),
            nodes[1].commit_reservation(job, time=T0 + 1),
            nodes[2].release_reservation(job, time=T0 + 1),
        )
        assert all(s is not None for s in steps)
        states = {s.state for s in steps if s is not None}
        assert len(states - {ReservationState.RESERVED}) == 1
        assert (
            len(await nodes[3].list_transactions(job_id=job)) == 2
        )  # the reservation and one resolution
        assert await nodes[3].ledger_sum() == ZERO
    finally:
        await _close(nodes)


# --- events --------------------------------------------------------------------------------


async def test_a_polling_consumer_sees_every_event_despite_concurrent_appenders(
    database: str,
) -> None:
    """Events appear in seq order as they commit, so "events after my cursor" never skips
    one that commits late with a smaller seq."""
    nodes = await _nodes(database, 3)
    appended: list[int] = []
    seen: list[int] = []
    done = asyncio.Event()

    async def appender(node: Store, tag: str) -> None:
        for i in range(100):
            appended.append(await node.append_event(NewEvent(f"{tag}-{i}", T0, data={})))

    async def consumer() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            for event in await nodes[2].events_after(cursor, 50):
                seen.append(event.seq)
                cursor = event.seq
            if finished:
                return
            await asyncio.sleep(0)

    try:
        polling = asyncio.create_task(consumer())
        await asyncio.gather(appender(nodes[0], "a"), appender(nodes[1], "b"))
        done.set()
        await polling
        assert seen == sorted(appended)
    finally:
        await _close(nodes)


# --- migrations ----------------------------------------------------------------------------


def _diffs(url: str) -> list[object]:
    engine = create_engine(migrate.sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrated_schema_equals_metadata(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert _diffs(empty_database) == []


def test_simultaneous_upgrades_on_a_fresh_database(empty_database: str) -> None:
    """Six nodes start at once on an empty database: all succeed, one schema results.
    (Processes, not threads: Alembic's ``context`` is process-global.)"""
    code = "import sys; from printhost.store import migrate; migrate.upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_database],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120)[1] for p in procs]
    failures = [out.decode() for p, out in zip(procs, outputs, strict=True) if p.returncode]
    assert failures == []
    assert _diffs(empty_database) == []
    engine = create_engine(migrate.sync_url(empty_database))
    try:
        with engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    assert heads == tuple(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def test_every_migration_downgrades_and_upgrades_again(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    revisions = [
        s.revision for s in ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()
    ]  # newest first
    engine = create_engine(migrate.sync_url(empty_database))
    try:
        with engine.connect() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            for target in [*revisions[1:], "base"]:  # one step down at a time
                command.downgrade(config, target)
                conn.commit()
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
            for target in reversed(revisions):  # and one step up at a time
                command.upgrade(config, target)
                conn.commit()
    finally:
        engine.dispose()
    assert _diffs(empty_database) == []


async def test_open_store_takes_plain_postgresql_urls(database: str) -> None:
    plain = database.replace("postgresql+psycopg://", "postgresql://")
    store = await open_store(plain)
    try:
        assert isinstance(store, PostgresStore)
        job = await create(store)
        assert (await store.get_job(job.id)) == job
    finally:
        await store.close()


# --- wake-ups --------------------------------------------------------------------------------


async def test_a_node_hears_another_nodes_events_without_polling(database: str) -> None:
    writer, listener = await _nodes(database, 2)
    heard = asyncio.Event()
    calls = 0

    def changed() -> None:
        nonlocal calls
        calls += 1
        if calls > 1:  # the first call is the catch-up when listening starts
            heard.set()

    watching = asyncio.create_task(listener.watch(changed))
    try:
        for _ in range(100):  # wait (bounded) until it listens
            if calls:
                break
            await asyncio.sleep(0.02)
        assert calls == 1
        await create(writer)  # a new job appends its event: NOTIFY at commit
        await asyncio.wait_for(heard.wait(), timeout=5)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await _close([writer, listener])


async def test_the_pool_has_the_configured_size(database: str) -> None:
    store = await open_store(database, pool_size=2)
    try:
        assert isinstance(store, PostgresStore)
        assert store._engine.pool.size() == 2  # type: ignore[attr-defined]
        results = await asyncio.gather(*(create(store) for _ in range(6)))  # more than 2
        assert len({job.id for job in results}) == 6
    finally:
        await store.close()
