"""The migration history and ``schema.metadata`` agree (the CI check STYLE asks for)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect

from printhost.store import migrate
from printhost.store.schema import metadata

from .migration_steps import tables_after


def _diffs(url: str, target: MetaData) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, target))
    finally:
        engine.dispose()


def test_migrated_schema_equals_metadata(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate.upgrade(url)
    assert _diffs(url, metadata) == []


def test_the_comparison_is_not_vacuous(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate.upgrade(url)
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["jobs"].append_column(Column("extra", Integer))
    assert [d[0] for d in _diffs(url, changed)] == ["add_column"]  # type: ignore[index]


def test_upgrade_is_idempotent_and_reaches_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"  # the store's URL form works too
    migrate.upgrade(url)
    migrate.upgrade(url)
    engine = create_engine(migrate.sync_url(url))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert current == tuple(head)
    assert set(metadata.tables) <= tables


def test_simultaneous_upgrades_are_safe(tmp_path: Path) -> None:
    """Several nodes starting at once on a fresh database: one migrates, the rest wait.
    (Processes, not threads: Alembic's ``context`` is process-global.)"""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    code = "import sys; from printhost.store import migrate; migrate.upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    failures = [p.stderr.read() for p in procs if p.wait(60) != 0 and p.stderr]
    for p in procs:
        if p.stderr:
            p.stderr.close()
    assert failures == []
    assert _diffs(url, metadata) == []


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
            conn.commit()
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    migrate.upgrade(url)
    assert _diffs(url, metadata) == []


ROUTING_TABLES = {"user_preferences", "presence", "agents"}


def test_routing_migration_0003_adds_and_removes_only_its_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    before = tables_after(url, "upgrade", "0002")
    assert not before & ROUTING_TABLES
    missing = _routing_diffs(url)  # the comparison sees the routing tables, and only them
    assert sorted(d[1].name for d in missing) == sorted(ROUTING_TABLES)
    assert {d[0] for d in missing} == {"add_table"}
    after = tables_after(url, "upgrade", "0003")
    assert after == before | ROUTING_TABLES
    # the tables 0003 made are exactly the models' (columns, types, keys, indexes)
    assert _routing_diffs(url) == []
    assert tables_after(url, "downgrade", "0002") == before
    assert tables_after(url, "upgrade", "head") >= set(metadata.tables)
    assert _diffs(url, metadata) == []


def _routing_diffs(url: str) -> list[Any]:
    """Differences between the database and the models, in the routing tables only."""

    def only_routing(obj: object, name: str | None, kind: str, *_: object) -> bool:
        table = obj if kind == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) in ROUTING_TABLES

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": only_routing}
            context = MigrationContext.configure(conn, opts=opts)
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()
