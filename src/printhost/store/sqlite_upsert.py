"""Insert-or-update on SQLite (``INSERT ... ON CONFLICT DO UPDATE``), for every table the
SQLite store keeps one row per key of (queues, printers, users, preferences, presence,
agents, accounts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def upsert(table: Any, values: Mapping[str, Any], keys: tuple[str, ...] = ("name",)) -> Any:
    """The row ``values``; on a key clash, its other columns replace the stored ones."""
    stmt = sqlite_insert(table).values(dict(values))
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={k: v for k, v in values.items() if k not in keys},
    )
