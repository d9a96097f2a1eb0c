"""Migrate a test database one Alembic step and look at what it has then (shared by the
migration tests of each slice: routing, ledger, judging, nodes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from alembic import command
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Inspector

from printhost.store import migrate

T = TypeVar("T")


def after_step(url: str, step: str, revision: str, look: Callable[[Inspector], T]) -> T:
    """Run ``alembic <step> <revision>`` on ``url``, then ``look`` at the schema."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            config = migrate.alembic_config()
            config.attributes["connection"] = conn
            getattr(command, step)(config, revision)
            conn.commit()
            return look(inspect(conn))
    finally:
        engine.dispose()


def tables_after(url: str, step: str, revision: str) -> set[str]:
    return after_step(url, step, revision, lambda schema: set(schema.get_table_names()))


def columns_after(url: str, step: str, revision: str, table: str) -> set[str]:
    return after_step(
        url, step, revision, lambda schema: {c["name"] for c in schema.get_columns(table)}
    )
