"""Reading what routing depends on from the store, once per dispatch pass: a user's
preferences and presence, and the agents of the workstations they are at."""

from __future__ import annotations

from printhost.config import Config
from printhost.routing import names
from printhost.routing.router import (
    Destination,
    Facts,
    Unroutable,
    find_destination,
    follows_owner,
    queue_user,
)
from printhost.store.base import AgentRecord, PresenceRecord, Store, UserPreferences


class RoutingPass:
    """Destinations looked up during one pass of the dispatcher, each user's facts read
    at most once. A new pass sees changes (presence, preferences) made meanwhile."""

    def __init__(self, config: Config, store: Store, now: float) -> None:
        self._config = config
        self._store = store
        self._now = now
        self._preferences: dict[str, UserPreferences] = {}
        self._presence: dict[str, list[PresenceRecord]] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._loaded_users: set[str] = set()
        self._loaded_hosts: set[str] = set()

    async def destination(self, queue: str, owner: str) -> Destination | Unroutable:
        if follows_owner(self._config, queue):
            await self._load_user(owner)
        elif names.is_user_queue(queue):
            await self._load_user(queue_user(queue, owner))
        elif names.is_local_queue(queue):
            await self._load_host(queue[len(names.LOCAL_PREFIX) :])
        facts = Facts(self._preferences, self._presence, self._agents)
        return find_destination(self._config, queue, owner, facts)

    async def agent(self, host: str) -> AgentRecord | None:
        await self._load_host(host)
        return self._agents.get(host.lower())

    async def _load_user(self, user: str) -> None:
        if user in self._loaded_users:
            return
        self._loaded_users.add(user)
        prefs = await self._store.get_preferences(user)
        if prefs is not None:
            self._preferences[user] = prefs
        presence = await self._store.list_presence(self._now, user)
        self._presence[user] = presence
        for record in presence:
            await self._load_host(record.host)

    async def _load_host(self, host: str) -> None:
        key = host.lower()
        if key in self._loaded_hosts:
            return
        self._loaded_hosts.add(key)
        agent = await self._store.get_agent(key)
        if agent is not None and agent.expires_at > self._now:
            self._agents[key] = agent
