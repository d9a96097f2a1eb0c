"""The SQL store's routing tables: user preferences, presence and desktop agents.

A mixin of ``SqlStore`` (split out by concern: sql.py holds jobs, queues and events).
It uses the store's ``_read``/``_write``, so each write is one transaction of the store's
(on SQLite: on its writer thread, with group commit).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, delete, select

from printhost.store.base import (
    AgentRecord,
    JobDefaults,
    NewEvent,
    PresenceRecord,
    UserPreferences,
)
from printhost.store.schema import agents, presence, user_preferences
from printhost.store.sql_dialect import upsert

T = TypeVar("T")
InsertEvent = Callable[[Connection, NewEvent], Any]


class RoutingTables:
    async def _read(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    async def _write(self, work: Callable[[Connection], T]) -> T:
        raise NotImplementedError

    def _insert_plain_event(self, conn: Connection, event: NewEvent) -> None:
        raise NotImplementedError

    # --- preferences ---------------------------------------------------------------------
    async def get_preferences(self, user: str) -> UserPreferences | None:
        stmt = select(user_preferences).where(user_preferences.c.user == user)
        row = await self._read(lambda conn: conn.execute(stmt).first())
        return None if row is None else _preferences(row)

    async def put_preferences(self, prefs: UserPreferences, event: NewEvent) -> None:
        values = {
            "user": prefs.user,
            "destination": prefs.destination,
            "defaults": json.dumps(dataclasses.asdict(prefs.defaults), sort_keys=True),
            "banner": prefs.banner,
            "location": prefs.location,
            "updated_at": prefs.updated_at,
        }

        def work(conn: Connection) -> None:
            conn.execute(upsert(conn, user_preferences, values, ("user",)))
            self._insert_plain_event(conn, event)

        await self._write(work)

    # --- presence ------------------------------------------------------------------------
    async def put_presence(self, record: PresenceRecord) -> None:
        values = dataclasses.asdict(record)
        await self._write(
            lambda conn: conn.execute(upsert(conn, presence, values, ("user", "host")))
        )

    async def delete_presence(self, user: str, host: str) -> None:
        stmt = delete(presence).where(presence.c.user == user, presence.c.host == host)
        await self._write(lambda conn: conn.execute(stmt))

    async def list_presence(self, now: float, user: str | None = None) -> list[PresenceRecord]:
        stmt = select(presence).where(presence.c.expires_at > now)
        if user is not None:
            stmt = stmt.where(presence.c.user == user)
        stmt = stmt.order_by(presence.c.updated_at.desc(), presence.c.host)
        rows = await self._read(lambda conn: conn.execute(stmt).all())
        return [PresenceRecord(r.user, r.host, r.expires_at, r.updated_at, r.source) for r in rows]

    # --- agents --------------------------------------------------------------------------
    async def put_agent(self, agent: AgentRecord) -> None:
        # Host names are case-insensitive (RFC 4343): one agent per host however spelt.
        values = {**dataclasses.asdict(agent), "host": agent.host.lower()}
        await self._write(lambda conn: conn.execute(upsert(conn, agents, values, ("host",))))

    async def get_agent(self, host: str) -> AgentRecord | None:
        stmt = select(agents).where(agents.c.host == host.lower())
        row = await self._read(lambda conn: conn.execute(stmt).first())
        if row is None:
            return None
        return AgentRecord(row.host, row.uri, row.expires_at, row.updated_at, row.location)


def _preferences(row: Row[Any]) -> UserPreferences:
    known = {f.name for f in dataclasses.fields(JobDefaults)}
    raw = json.loads(row.defaults)
    defaults = JobDefaults(**{k: v for k, v in raw.items() if k in known})
    return UserPreferences(
        user=row.user,
        destination=row.destination,
        defaults=defaults,
        banner=row.banner,
        location=row.location,
        updated_at=row.updated_at,
    )
