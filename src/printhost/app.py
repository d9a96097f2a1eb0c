"""The composition root: configuration in, a running server out. The only place that
knows every concrete class; everything below it receives what it needs.

Shutdown (SIGTERM/SIGINT) is orderly: readiness turns 503 at once (and, behind a load
balancer, ``[server] drain_grace_seconds`` pass so it stops sending requests here), then
stop accepting connections and let requests in flight finish (HTTP, then LPD), then
stop the dispatcher (in-flight deliveries are cancelled and their leases released, so the
next start resumes them), then close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import uvicorn

from printhost import __version__, housekeeping
from printhost.accounting.charges import Charges
from printhost.auth import hash_password, verify_password
from printhost.clock import Clock, SystemClock
from printhost.cluster.nodes import Heartbeat
from printhost.cluster.settings import advertised_url
from printhost.config import Config, parse_listen
from printhost.dispatch.dispatcher import Dispatcher
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.service import JobService
from printhost.judge.analyser import Analyser
from printhost.judge.judge import Judge
from printhost.judge.stage import JudgeStage
from printhost.routing.first_use import FirstUse
from printhost.routing.intake import IntakeRules
from printhost.server import ipp_service
from printhost.server.http import create_app
from printhost.server.http_protocol import bounded_head_protocol
from printhost.server.lpd_server import LpdServer, start_lpd_server
from printhost.server.queues import QueueRegistry
from printhost.server.services import EventBell, Services
from printhost.store import open_store
from printhost.store.base import Store, UserRecord
from printhost.store.spool import Spool
from printhost.tls import ensure_self_signed, server_context

log = logging.getLogger("printhost")


@dataclass(frozen=True, slots=True)
class Listener:
    sock: socket.socket
    tls: bool

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


async def serve(
    config: Config,
    clock: Clock | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT. ``on_stop`` runs first thing on the signal, before the
    drain (the desktop agent logs its users out there, so no job is routed to it while it
    stops)."""
    clock = clock or SystemClock()
    config.storage.state_dir.mkdir(parents=True, exist_ok=True)
    _make_output_dirs(config)
    listeners = list(_bind(config))
    async with _services(config, clock) as (services, dispatcher):
        servers = _http_servers(config, services, listeners)
        for listener in listeners:
            scheme = "ipps" if listener.tls else "ipp"
            log.info(
                "listening on %s://%s:%d/printers/%s",
                scheme,
                listener.sock.getsockname()[0],
                listener.port,
                services.queues.resolve(None),
            )
        # config.lpd.listen (empty: none); LPD is intake, like IPP
        lpd = await start_lpd_server(services, enabled="intake" in config.server.roles)
        heartbeat = _heartbeat(config, services, dispatcher, listeners)
        try:
            await _run_until_signal(servers, dispatcher, services, lpd, heartbeat, on_stop)
        finally:
            await lpd.aclose()  # already closed on an orderly shutdown
            await heartbeat.stop()  # "stopped" in the nodes table, before the store closes


def _heartbeat(
    config: Config, services: Services, dispatcher: Dispatcher, listeners: list[Listener]
) -> Heartbeat:
    """This node's record in the nodes table (printhost nodes, /api/v1/nodes)."""
    first = listeners[0] if listeners else None
    host = str(first.sock.getsockname()[0]) if first else "localhost"
    address = advertised_url(
        config.cluster, host, first.port if first else 0, tls=bool(first and first.tls)
    )
    return Heartbeat(
        services.store,
        services.clock,
        name=dispatcher.node,
        address=address,
        roles=config.server.roles,
        version=__version__,
        interval=config.cluster.heartbeat_seconds,
        load=lambda: {"deliveries": dispatcher.in_flight, "workers": config.delivery.workers},
        started_at=services.started_at,
    )


def _make_output_dirs(config: Config) -> None:
    """file: printers write into a directory; make it so the demo works on first start."""
    for printer in config.printers:
        parts = urlsplit(printer.uri)
        if parts.scheme == "file":
            Path(unquote(parts.path)).mkdir(parents=True, exist_ok=True)


@contextlib.asynccontextmanager
async def _services(config: Config, clock: Clock) -> AsyncIterator[tuple[Services, Dispatcher]]:
    store = await open_store(
        config.storage.effective_database_url, pool_size=config.storage.pool_size
    )
    try:
        await _sync_users(store, config)
        spool = Spool(config.storage.spool_dir, max_bytes=config.jobs.max_document_bytes)
        services, dispatcher = wire(config, store, spool, clock)
        # The configuration may have changed since jobs were held for want of a route.
        await services.jobs.release_route_holds()
        if services.charges is not None:
            await services.charges.sync_shared_accounts(config.members_by_group())
        yield services, dispatcher
    finally:
        await store.close()


def wire(
    config: Config, store: Store, spool: Spool, clock: Clock, node: str | None = None
) -> tuple[Services, Dispatcher]:
    """Build the services and the dispatcher around a store and a spool. The job service
    and the dispatcher call each other (wake on new work, stop on cancel), so the
    dispatcher is reached through late-bound callbacks."""
    bell = EventBell()
    holder: list[Dispatcher] = []

    def wake() -> None:
        for dispatcher in holder:
            dispatcher.wake()

    def stop_delivery(job_id: JobId) -> None:
        for dispatcher in holder:
            dispatcher.stop_delivery(job_id)

    first_use = FirstUse(store, clock)
    charges = Charges(config.accounting, store, clock) if config.accounting.enabled else None
    jobs = JobService(
        store,
        clock,
        wake_dispatcher=wake,
        stop_delivery=stop_delivery,
        events_appended=bell.ring,
        place=IntakeRules(config, store, first_use).place,
        job_ended=charges.settle if charges is not None else _nothing,
        job_changed=charges.repriced if charges is not None else _nothing,
    )
    holder.append(Dispatcher(config, store, jobs, spool, clock, node=node))
    if charges is not None:
        _judge_jobs(config, store, spool, jobs, charges, holder[0])
    started = clock.now()
    queues = QueueRegistry(config, store, clock, started, ipp_service.OPERATIONS_SUPPORTED)
    services = Services(
        config=config,
        store=store,
        spool=spool,
        jobs=jobs,
        queues=queues,
        clock=clock,
        started_at=started,
        event_bell=bell,
        wake_dispatcher=wake,
        first_use=first_use,
        charges=charges,
    )
    return services, holder[0]


def _judge_jobs(
    config: Config,
    store: Store,
    spool: Spool,
    jobs: JobService,
    charges: Charges,
    dispatcher: Dispatcher,
) -> None:
    """Accounting on: every job is analysed and judged before it is routed."""
    analyser = Analyser(store, spool, analysed=dispatcher.wake)
    judge = Judge(config.accounting, config.rules, config.groups_by_user(), store, charges)
    stage = JudgeStage(
        judge,
        charges,
        jobs,
        store,
        deny_unpaid=config.accounting.insufficient == "deny",
        wake_analyser=analyser.wake,
    )
    dispatcher.set_judging(stage, analyser)


async def _nothing(job: JobRecord) -> None:
    return None


async def _sync_users(store: Store, config: Config) -> None:
    """Users from the configuration file win over earlier copies in the store."""
    for user in config.users:
        existing = await store.get_user(user.name)
        password_hash = user.password_hash or hash_password(user.password)
        if (
            existing is not None
            and user.password
            and not user.password_hash
            and existing.role == user.role
            and verify_password(user.password, existing.password_hash)
        ):
            continue  # unchanged: keep the stored hash (hashing again costs ~50 ms)
        await store.put_user(UserRecord(user.name, password_hash, user.role))


def _bind(config: Config) -> Iterator[Listener]:
    for addresses, tls in ((config.server.listen, False), (config.server.tls_listen, True)):
        for address in addresses:
            host, port = parse_listen(address)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets
            # whose proto says TCP; without it every response (headers and body written
            # apart) waits ~40 ms for the client's delayed ACK (Nagle)
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(1024)
            sock.setblocking(False)
            yield Listener(sock, tls)


class _Server(uvicorn.Server):
    """uvicorn server whose signals are ours: several servers share one process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _http_servers(
    config: Config, services: Services, listeners: list[Listener]
) -> list[tuple[_Server, Listener]]:
    plain = next((lst.port for lst in listeners if not lst.tls), None)
    tls = next((lst.port for lst in listeners if lst.tls), None)
    app = create_app(services, plain, tls)
    tls_context = _tls_context(config) if tls else None
    servers = []
    for listener in listeners:
        uv_config = uvicorn.Config(
            app,
            # httptools, plus a bound on the wait for a request's head (slowloris)
            http=bounded_head_protocol(config.server.request_timeout_seconds),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=int(config.server.request_timeout_seconds),
            # uvicorn would believe X-Forwarded-* from every loopback client; printhost
            # believes them from [server] trusted_proxies only (server/forwarded.py)
            proxy_headers=False,
            limit_concurrency=1000,
        )
        uv_config.load()
        if listener.tls:
            uv_config.ssl = tls_context  # ours: see tls.server_context
        servers.append((_Server(uv_config), listener))
    return servers


def _tls_context(config: Config) -> ssl.SSLContext:
    if config.server.tls_cert and config.server.tls_key:
        return server_context(config.server.tls_cert, config.server.tls_key)
    return server_context(*ensure_self_signed(config.storage.state_dir / "tls"))


async def _run_until_signal(
    servers: list[tuple[_Server, Listener]],
    dispatcher: Dispatcher,
    services: Services,
    lpd: LpdServer,
    heartbeat: Heartbeat,
    on_stop: Callable[[], Awaitable[None]] | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as group:
        http = [group.create_task(server.serve(sockets=[lst.sock])) for server, lst in servers]
        background = [group.create_task(heartbeat.run())]
        if "dispatch" in services.config.server.roles:  # delivery and the chores behind it
            background += [
                group.create_task(dispatcher.run()),
                group.create_task(housekeeping.run(services)),
            ]
        await stop.wait()  # a failing server task cancels this wait (TaskGroup semantics)
        services.draining = True  # readiness 503: load balancers take this node out
        heartbeat.drain()  # and the nodes table says so
        if on_stop is not None:
            await on_stop()
        grace = services.config.server.drain_grace_seconds
        if grace > 0:
            log.info("draining: %g s for load balancers to notice before closing", grace)
            await asyncio.sleep(grace)
        log.info("shutting down: draining connections")
        for server, _ in servers:
            server.should_exit = True
        await asyncio.gather(*http, return_exceptions=True)
        await lpd.aclose()
        for task in background:
            task.cancel()
    await dispatcher.aclose()
