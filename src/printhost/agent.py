"""The workstation agent (``printhost agent``): a desktop printer for the central printhost,
and the reporter that tells it who is logged in here.

Theory of operation:
- The desktop printer is an embedded printhost (``app.serve``) with one printer,
  ``local`` (any backend URI: a local CUPS queue over ipp://, socket://, lpd://,
  file:///dir), behind one queue ``local``. It is the same durable, IPP-complete server,
  so the central printhost delivers ``local-<host>`` jobs to it with its ordinary ipp
  backend, and after a crash on either side finds the job again by job-uuid.
- The presence reporter posts ``POST /api/v1/presence`` for each user logged in here
  every ttl/3 seconds, naming this agent's printer URI. Users come from ``--user``, else
  from ``who`` (utmp: one line per login session; the first field is the user name).
  A user who no longer appears is reported logged out at once.
  It reports only once the desktop printer answers /healthz: a report promises that
  jobs can be delivered here.
- Network and HTTP errors are logged and retried next round; they never stop the agent.
- On SIGTERM/SIGINT ``serve`` (which owns the signal handlers) first calls back here:
  reporting stops and every user reported is logged out (bounded in time), so the
  central server holds or re-routes their jobs instead of sending them here; then it
  drains connections and stops its dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from printhost.client_transport import RoundRobinTransport
from printhost.config import Config, parse_config, parse_listen

log = logging.getLogger("printhost.agent")

PRINTER = "local"  # the agent's one printer and queue
#: Longest wait for `who`, and for one request to the central server.
WHO_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0
#: Logging out at shutdown gives up after this long (the reports expire anyway).
LOGOUT_TIMEOUT = 10.0
HEALTH_POLL_SECONDS = 0.2
_WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class AgentOptions:
    api: str  # the central printhost's REST API base, e.g. https://printhost:631/api/v1
    token: str
    host: str  # this workstation's name, as reported
    listen: str  # HOST:PORT of the desktop printer
    printer: str  # the local printer's backend URI
    state_dir: Path
    users: tuple[str, ...] = ()  # empty: whoever `who` lists
    location: str = ""
    ttl: float = 120.0
    advertise: str = ""  # the host name the central server reaches us by
    verify: ssl.SSLContext | bool = True

    @property
    def interval(self) -> float:
        return max(self.ttl / 3, 1.0)


def agent_config(options: AgentOptions) -> Config:
    """The embedded server's configuration, validated like a file's (a bad printer URI
    stops the agent with a ConfigError naming it)."""
    return parse_config(
        {
            "server": {"listen": [options.listen], "tls_listen": []},
            "storage": {"state_dir": str(options.state_dir)},
            "printers": [
                {
                    "name": PRINTER,
                    "uri": options.printer,
                    "info": f"desktop printer of {options.host}",
                    "location": options.location,
                }
            ],
            "queues": [{"name": PRINTER, "destination": PRINTER}],
            "default_queue": PRINTER,
            "routing": {"default_destination": PRINTER},
            "lpd": {"listen": []},
        },
        base=Path.cwd(),
    )


def agent_uri(options: AgentOptions) -> str:
    """The desktop printer's URI as the central server must use it."""
    host, port = parse_listen(options.listen)
    if options.advertise:
        host = options.advertise
    elif host in _WILDCARDS:
        import socket

        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"ipp://{host}:{port}/printers/{PRINTER}"


def _health_url(options: AgentOptions) -> str:
    host, port = parse_listen(options.listen)
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}/healthz" if ":" in host else f"http://{host}:{port}/healthz"


async def logged_in_users() -> list[str]:
    """The users ``who`` lists (one line per session, the user name first); [] when
    ``who`` is missing, fails or hangs."""
    try:
        process = await asyncio.create_subprocess_exec(
            "who",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        log.warning("cannot run who: %s", exc)
        return []
    try:
        output, _ = await asyncio.wait_for(process.communicate(), WHO_TIMEOUT)
    except TimeoutError:
        log.warning("who did not answer within %g s", WHO_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return []
    return parse_who(output.decode("utf-8", "replace"))


def parse_who(output: str) -> list[str]:
    return sorted({line.split()[0] for line in output.splitlines() if line.split()})


class PresenceReporter:
    def __init__(
        self,
        client: httpx.AsyncClient,
        options: AgentOptions,
        users: Callable[[], Awaitable[list[str]]] | None = None,
    ) -> None:
        self._client = client
        self._options = options
        self._users = users or self._configured_users
        self._uri = agent_uri(options)
        #: Users whose presence may be on record (reported, not yet logged out).
        self.reported: set[str] = set()

    async def _configured_users(self) -> list[str]:
        return list(self._options.users) if self._options.users else await logged_in_users()

    async def run(self) -> None:
        """Report every ``interval`` seconds until cancelled."""
        await self._wait_until_serving()
        log.info(
            "reporting presence at %s for %s as %s",
            self._options.api,
            self._options.host,
            self._uri,
        )
        while True:
            await self.report_once()
            await asyncio.sleep(self._options.interval)

    async def _wait_until_serving(self) -> None:
        """Until the desktop printer answers (its server runs beside us: when it fails to
        start, the task group cancels this wait)."""
        url = _health_url(self._options)
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as local:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await local.get(url)).status_code == 200:
                        return
                await asyncio.sleep(HEALTH_POLL_SECONDS)

    async def report_once(self) -> None:
        users = set(await self._users())
        for user in sorted(self.reported - users):
            await self._logout(user)
        for user in sorted(users):
            self.reported.add(user)
            await self._send(
                "POST",
                "/presence",
                user,
                json={
                    "user": user,
                    "host": self._options.host,
                    "ttl_seconds": self._options.ttl,
                    "source": "printhost agent",
                    "agent_uri": self._uri,
                    "location": self._options.location,
                },
            )

    async def logout_all(self) -> None:
        """Log out everyone reported; bounded by LOGOUT_TIMEOUT in all."""
        try:
            async with asyncio.timeout(LOGOUT_TIMEOUT):
                for user in sorted(self.reported):
                    await self._logout(user)
        except TimeoutError:
            log.warning("logging out %s timed out", ", ".join(sorted(self.reported)))

    async def _logout(self, user: str) -> None:
        params = {"user": user, "host": self._options.host}
        if await self._send("DELETE", "/presence", user, params=params):
            self.reported.discard(user)

    async def _send(self, method: str, path: str, user: str, **kwargs: Any) -> bool:
        url = self._options.api + path
        headers = {"Authorization": f"Bearer {self._options.token}"}
        try:
            response = await self._client.request(
                method, url, headers=headers, timeout=REQUEST_TIMEOUT, **kwargs
            )
        except httpx.HTTPError as exc:
            log.warning(
                "%s %s for %s failed (retrying next round): %s: %s",
                method,
                url,
                user,
                type(exc).__name__,
                exc,
            )
            return False
        if response.is_error:
            log.error(
                "%s %s for %s: HTTP %d %s",
                method,
                url,
                user,
                response.status_code,
                response.text[:300],
            )
            return False
        return True


async def run(options: AgentOptions) -> None:
    """Serve the desktop printer and report presence until SIGTERM/SIGINT."""
    from printhost.app import serve

    config = agent_config(options)
    # every address the server's name has is tried in turn (client_transport.py)
    transport = RoundRobinTransport(verify=options.verify)
    async with httpx.AsyncClient(transport=transport) as client:
        reporter = PresenceReporter(client, options)
        try:
            async with asyncio.TaskGroup() as group:
                reporting = group.create_task(reporter.run(), name="presence-reporter")

                async def log_out_first() -> None:
                    # On the signal, before the drain: no more jobs are routed here
                    reporting.cancel()
                    await reporter.logout_all()

                await serve(config, on_stop=log_out_first)  # returns drained
                reporting.cancel()
        finally:
            await reporter.logout_all()  # if serve failed; nobody is left after a stop
