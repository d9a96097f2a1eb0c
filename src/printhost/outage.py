"""The store being unreachable (PostgreSQL restarting, the network to it down, a pool
with no free connection in time) is an outage, not a bug: requests meanwhile are answered
"service unavailable" (IPP ``server-error-service-unavailable``, HTTP 503), which clients
retry, and background loops wait and try again instead of stopping the node. The node
reconnects by itself: the connection pool discards dead connections and opens new ones.

This module knows which errors of the database libraries mean "unreachable"; everything
else is still a bug and fails loudly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
import sqlalchemy.exc

log = logging.getLogger(__name__)
#: How long a background loop waits after an outage before it tries again.
RETRY_SECONDS = 1.0

_OUTAGES: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # connection refused or lost; SQLite: database locked
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,  # the pool had no connection to give in time
    psycopg.OperationalError,  # the LISTEN connection (PostgresStore.watch), used directly
    psycopg.InterfaceError,
)


def is_store_outage(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGES):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and bool(exc.connection_invalidated)


async def riding_out_outages(name: str, loop: Callable[[], Awaitable[None]]) -> None:
    """Run ``loop`` (which runs until cancelled); when the store is unreachable, log it,
    wait, and start it again. Any other error propagates (a bug fails loudly)."""
    while True:
        try:
            await loop()
            return
        except Exception as exc:
            if not is_store_outage(exc):
                raise
            log.warning("%s: the store is unreachable (%s); retrying", name, type(exc).__name__)
            await asyncio.sleep(RETRY_SECONDS)


class suppressed_outage:
    """``with suppressed_outage("what"):`` swallows a store outage (logged) and nothing
    else: for the clean-up steps that may run while the store is away."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> bool:
        if exc is not None and is_store_outage(exc):
            log.warning("%s: the store is unreachable (%s)", self._what, type(exc).__name__)
            return True
        return False
