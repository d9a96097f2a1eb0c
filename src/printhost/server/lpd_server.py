"""The LPD server (RFC 1179): a thin asyncio transport around the sans-I/O core in
``printhost.lpd``, calling the same services as IPP (``JobService.submit``, ``cancel``,
the store's job listing).

Theory of operation
-------------------
Each connection gets an ``LpdConnection``; bytes read go in, events come out and become
service calls, answers go back. Refusals (a core ``LpdError`` or ours) are logged with
the client's address and the reason, answered with the refusal octet, and the
connection is closed; the server goes on serving.

- **Who may connect**: clients in ``lpd.allow`` (CIDR), at most ``max_connections`` at
  once and ``max_connections_per_host`` from one address; others are closed at once.
- **Time**: a command line, subcommand line or control file must arrive within
  ``idle_timeout_seconds`` of its first byte, and a data file may not stall that long
  (slowloris). Answers that the client does not read are bounded alike.
- **Documents** stream into the spool as they arrive (``spool_document``) and are
  fsync'd; the job is submitted when its control file and all its data files are in, and
  only then is the last octet of the job acknowledged (DESIGN invariant 1). Anything not
  submitted when the connection ends is deleted from the spool.
- **Identity is a claim.** The ``P`` user owns the job unauthenticated; the job's
  originating host is the client's address (the ``H`` line is a claim too), which is what
  lets remove-jobs check "same user, same host" without trusting either line, as BSD
  lpd did with its ``H`` line and a reverse lookup of the peer.
- **Remove jobs** (lprm): the agent may remove only unauthenticated jobs it owns that
  came from the address it connects from. ``root`` gets no special power and ``-all``
  (BSD ``lprm -``) is refused: with no privileged ports to prove anything (IPP-CLIENTS.md
  §6.2) any local user can claim to be root.
- **Queue state** (lpq): every active job is listed with its rank, id and size; its owner
  and names only for jobs that came from the asking host, as IPP shows them only to
  their owner (server/job_attributes.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import ipaddress
import logging
from collections.abc import AsyncGenerator, Sequence

from printhost.config import LpdConfig, parse_listen
from printhost.formats import OCTET_STREAM
from printhost.ipp.constants import JobState, Tag
from printhost.ipp.model import Attribute
from printhost.jobs.model import JobRecord
from printhost.jobs.service import ACTIVE_STATES, JobNotPossible, JobRefused, JobSpec
from printhost.lpd import (
    NEED_DATA,
    PRINT_FORMATS,
    Ack,
    ConnectionClosed,
    ControlFile,
    ControlFileReceived,
    ControlFileStarted,
    DataChunk,
    DataFileEnded,
    DataFileStarted,
    DataFileUse,
    Event,
    JobAborted,
    Limits,
    ListingEntry,
    LpdConnection,
    LpdError,
    PrintWaitingJobs,
    QueueStateRequested,
    QueueSummary,
    ReceivedJob,
    ReceiveJob,
    RemoveJobsRequested,
    Sentinel,
    State,
    format_queue_state,
    job_numbers,
    select_for_removal,
)
from printhost.server.intake import DocumentMeta, spool_document
from printhost.server.job_attributes import encode_template
from printhost.server.reply import IppError
from printhost.server.services import Services
from printhost.server.template import check_template
from printhost.store.base import NewDocument
from printhost.store.spool import SpoolError

log = logging.getLogger("printhost.lpd")

READ_BYTES = 65536
#: How long shutdown lets connections finish before cancelling them.
SHUTDOWN_GRACE_SECONDS = 5.0
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _ConnectionLost(Exception):
    """Reading from the client failed (reset, broken pipe): nothing to answer."""


class LpdServer:
    """The listeners for ``config.lpd.listen`` and the connections they accepted."""

    def __init__(self, services: Services, config: LpdConfig | None = None) -> None:
        self.services = services
        self.config = config or services.config.lpd
        self.allow: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in self.config.allow
        )
        self.limits = Limits(
            max_control_file_bytes=self.config.max_control_file_bytes,
            max_data_files=self.config.max_data_files,
            max_job_bytes=services.config.jobs.max_document_bytes,
        )
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[None]] = set()
        self._per_host: collections.Counter[str] = collections.Counter()

    async def start(self) -> None:
        try:
            for address in self.config.listen:
                host, port = parse_listen(address)
                server = await asyncio.start_server(self._accept, host, port)
                self._servers.append(server)
        except OSError:
            await self.aclose()  # the addresses bound before this one
            raise
        for server in self._servers:
            for sock in server.sockets:
                name = sock.getsockname()
                log.info("listening on lpd://%s:%d/ (RFC 1179)", name[0], name[1])

    @property
    def ports(self) -> list[int]:
        return [int(s.getsockname()[1]) for server in self._servers for s in server.sockets]

    async def aclose(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop listening, give connections ``grace`` seconds, then cancel them."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=grace)
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        for server in servers:
            await server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("", 0)
        host = _plain_address(str(peer[0]))
        where = f"{host}:{peer[1]}"
        refusal = self._refusal(host)
        if refusal:
            log.warning("LPD %s: connection refused: %s", where, refusal)
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self._per_host[host] += 1
        try:
            await _Session(self, reader, writer, host, where).run()
        except asyncio.CancelledError:
            # aclose() ran out of patience. This task is asyncio's own connection task,
            # which nothing awaits: re-raising would only log an error.
            log.info("LPD %s: connection closed at shutdown", where)
        finally:
            self._connections.discard(task)
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]
            writer.close()

    def _refusal(self, host: str) -> str:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return f"unparsable peer address {host!r}"
        if not any(address in network for network in self.allow):
            return "address not in lpd.allow"
        if len(self._connections) >= self.config.max_connections:
            return f"{self.config.max_connections} connections already (lpd.max_connections)"
        if self._per_host[host] >= self.config.max_connections_per_host:
            return (
                f"{self.config.max_connections_per_host} connections from this address "
                "already (lpd.max_connections_per_host)"
            )
        return ""


class _Session:
    """One connection: drives the core and turns its events into service calls."""

    def __init__(
        self,
        server: LpdServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        where: str,
    ) -> None:
        self.services = server.services
        self.reader = reader
        self.writer = writer
        self.host = host
        self.where = where
        self.timeout = server.config.idle_timeout_seconds
        self.conn = LpdConnection(server.limits)
        self.queue = ""
        self.hold_new_jobs = False
        #: Spooled data files not yet part of a submitted job (None: it was empty).
        self.documents: dict[str, NewDocument | None] = {}
        self._ended: DataFileEnded | None = None

    async def run(self) -> None:
        try:
            await self._converse()
        except LpdError as exc:
            log.warning("LPD %s: refused: %s", self.where, exc.message)
            with contextlib.suppress(OSError, TimeoutError):
                await self._send(exc.reply)
        except TimeoutError:
            log.warning("LPD %s: closed: stalled for %g s (lpd.idle_timeout_seconds)",
                        self.where, self.timeout)  # fmt: skip
        except (_ConnectionLost, OSError) as exc:
            log.info("LPD %s: connection lost: %s", self.where, exc.__cause__ or exc)
        except Exception:
            # a bug or a failing store: loud in the log, "try again later" to the client,
            # and only this connection ends
            log.exception("LPD %s: failed", self.where)
            with contextlib.suppress(OSError, TimeoutError):
                await self._send(self.conn.refuse(Ack.RETRY))
        finally:
            await self._discard(list(self.documents))

    async def _converse(self) -> None:
        while not isinstance(event := await self._next_event(), ConnectionClosed):
            await self._handle(event)
            if self.conn.state is State.FAILED:
                return  # we refused: the answer is sent, the connection closes
        if event.unused:
            log.warning("LPD %s: data files %s printed by no job, discarded",
                        self.where, ", ".join(event.unused))  # fmt: skip

    async def _handle(self, event: Event) -> None:
        if isinstance(event, ReceiveJob):
            await self._send(await self._receive_job(event.queue))
        elif isinstance(event, ControlFileStarted):
            await self._send(self.conn.accept())
        elif isinstance(event, DataFileStarted):
            await self._send(self.conn.accept())
            await self._data_file(event)
        elif isinstance(event, ControlFileReceived):
            if event.job is not None:
                await self._submit(event.job)
            await self._send(self.conn.accept())
        elif isinstance(event, JobAborted):
            log.info("LPD %s: client aborted the job (RFC 1179 §6.1)", self.where)
            await self._discard(event.discarded)
        elif isinstance(event, QueueStateRequested):
            await self._send(await self._queue_state(event))
        elif isinstance(event, RemoveJobsRequested):
            await self._send(await self._remove_jobs(event))
        elif isinstance(event, PrintWaitingJobs):
            log.info("LPD %s: print waiting jobs on %r", self.where, event.queue)
            self.services.wake_dispatcher()

    # -- I/O ------------------------------------------------------------------------------

    async def _next_event(self) -> Event:
        """The next event; one line, control file or chunk of data must arrive within the
        idle timeout."""
        async with asyncio.timeout(self.timeout):
            while (event := self.conn.next_event()) is NEED_DATA:
                self.conn.receive_data(await self._read())
        if isinstance(event, Sentinel):  # PAUSED: an event was left unanswered
            raise RuntimeError(f"LPD session read on while {event!r}")
        return event

    async def _read(self) -> bytes:
        try:
            return await self.reader.read(READ_BYTES)
        except OSError as exc:
            raise _ConnectionLost("connection lost") from exc

    async def _send(self, data: bytes) -> None:
        if data:
            self.writer.write(data)
            async with asyncio.timeout(self.timeout):
                await self.writer.drain()

    # -- receive job ----------------------------------------------------------------------

    async def _receive_job(self, requested: str) -> bytes:
        try:
            queue = self.services.queues.resolve(requested)
        except IppError as exc:
            log.warning("LPD %s: job for queue %r refused: %s", self.where, requested, exc)
            return self.conn.refuse(Ack.REFUSED)
        state = await self.services.store.get_queue_state(queue)
        if not state.is_accepting_jobs:
            log.warning("LPD %s: job for %r refused: not accepting jobs", self.where, queue)
            return self.conn.refuse(Ack.REFUSED)
        self.queue, self.hold_new_jobs = queue, state.hold_new_jobs
        return self.conn.accept()

    async def _data_file(self, started: DataFileStarted) -> None:
        meta = DocumentMeta(name="", declared_format=OCTET_STREAM)
        chunks = self._chunks()
        try:
            document = await spool_document(self.services.spool, chunks, meta)
        except IppError as exc:  # larger than jobs.max_document_bytes
            raise LpdError(f"data file {started.name!r}: {exc.message}") from None
        except TimeoutError:
            raise  # the client stalled (TimeoutError is an OSError)
        except (SpoolError, OSError) as exc:  # the disk; the socket's are _ConnectionLost
            raise LpdError(f"cannot spool {started.name!r}: {exc}", Ack.RETRY) from None
        finally:
            await chunks.aclose()
        ended, self._ended = self._ended, None
        assert ended is not None
        self.documents[ended.name] = document
        if ended.job is not None:
            await self._submit(ended.job)
        await self._send(self.conn.accept())

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        """The data file's bytes as they arrive; its DataFileEnded is kept for later."""
        while True:
            event = await self._next_event()
            if isinstance(event, DataChunk):
                yield event.data
            elif isinstance(event, DataFileEnded):
                self._ended = event
                return

    async def _submit(self, job: ReceivedJob) -> None:
        """Store the job (invariant 1: before the octet that acknowledges it is sent)."""
        control = job.control
        documents = [
            _described(doc, use)
            for use in control.documents
            if (doc := self.documents.get(use.name)) is not None
        ]
        if not documents:
            raise LpdError(f"job {job.control_file_name!r} has no data to print")
        spec = JobSpec(
            queue=self.queue,
            owner=control.user or "anonymous",
            owner_authenticated=False,
            originating_host=self.host,
            name=_job_name(control),
            template=encode_template(self._template(control)),
        )
        try:
            record = await self.services.jobs.submit(
                spec, documents, hold_new_jobs=self.hold_new_jobs
            )
        except JobRefused as exc:
            raise LpdError(f"job refused: {exc}", Ack.REFUSED) from None
        for use in control.documents:
            self.documents.pop(use.name, None)
        log.info(
            "LPD %s: job %d on %s for %r (claimed host %r): %d documents, %d bytes",
            self.where, record.id, record.queue, record.owner, control.host,
            len(documents), job.size,
        )  # fmt: skip

    def _template(self, control: ControlFile) -> list[Attribute]:
        """Job template attributes for what the control file asks that IPP can say.
        (``L`` banners are left to the queue's and user's banner settings; ``M`` mail is
        never sent; ``I``, ``W``, ``T`` and fonts only mattered to text filters.)"""
        wanted = []
        copies = control.documents[0].copies
        if copies > 1:
            wanted.append(Attribute.of("copies", Tag.INTEGER, copies))
        account = control.extension("R")  # LPRng -R: accounting information
        if account:
            wanted.append(Attribute.of("job-account-id", Tag.NAME, account))
        check = check_template(wanted, self.services.queues.supported(self.queue))
        for attr in check.unsupported:
            log.info("LPD %s: ignored unsupported %s=%r", self.where, attr.name, attr.value)
        return check.accepted

    async def _discard(self, names: Sequence[str]) -> None:
        for name in names:
            document = self.documents.pop(name, None)
            if document is not None:
                with contextlib.suppress(OSError, SpoolError):
                    await self.services.spool.delete(document.path)

    # -- queue state and remove jobs --------------------------------------------------------

    async def _queue_state(self, request: QueueStateRequested) -> bytes:
        try:
            queue = self.services.queues.resolve(request.queue)
        except IppError:
            log.warning("LPD %s: queue state of unknown queue %r", self.where, request.queue)
            return f"printhost: no queue named {request.queue}\n".encode()
        most = self.services.config.jobs.max_jobs_per_listing
        jobs = await self._active_jobs(queue, request.items, most + 1)
        state = await self.services.store.get_queue_state(queue)
        summary = QueueSummary(queue, state.is_accepting_jobs, state.paused)
        entries = [self._entry(job) for job in jobs[:most]]
        return format_queue_state(
            summary, entries, long=request.long, more=max(0, len(jobs) - most)
        )

    def _entry(self, job: JobRecord) -> ListingEntry:
        mine = job.originating_host == self.host and not job.owner_authenticated
        files = tuple(
            ((doc.name or job.name) if mine else "(private)", doc.size) for doc in job.documents
        ) or ((job.name if mine else "(private)", job.size),)
        return ListingEntry(
            job_id=job.id,
            owner=job.owner if mine else "-",
            host=job.originating_host if mine else "-",
            files=files,
            active=job.state is JobState.PROCESSING,
            held=job.state is JobState.PENDING_HELD,
        )

    async def _remove_jobs(self, request: RemoveJobsRequested) -> bytes:
        agent = request.agent
        try:
            queue = self.services.queues.resolve(request.queue)
        except IppError:
            log.warning("LPD %s: remove on unknown queue %r", self.where, request.queue)
            return f"printhost: no queue named {request.queue}\n".encode()
        if agent == "-all":
            log.warning("LPD %s: refused lprm -all (no user named)", self.where)
            return f"{queue}: removing every job is not possible over LPD\n".encode()
        limit = self.services.config.jobs.max_jobs_per_listing
        only_ids = len(job_numbers(request.items)) == len(request.items)
        jobs = await self._active_jobs(queue, request.items if only_ids else (), limit)
        chosen = select_for_removal(jobs, agent, request.items)
        lines = [f"{queue}: no active job {n}" for n in chosen.missing]
        lines += [await self._remove(job, agent, queue) for job in chosen.jobs]
        return "".join(f"{line}\n" for line in lines or [f"{queue}: no jobs of {agent}"]).encode()

    async def _remove(self, job: JobRecord, agent: str, queue: str) -> str:
        if not (job.owner == agent and job.originating_host == self.host) or (
            job.owner_authenticated
        ):
            log.warning(
                "LPD %s: %r may not remove job %d (owner %r from %s%s)", self.where, agent,
                job.id, job.owner, job.originating_host,
                ", authenticated" if job.owner_authenticated else "",
            )  # fmt: skip
            return f"{queue}: job {job.id}: permission denied (not your job from this host)"
        try:
            await self.services.jobs.cancel(job, message=f"removed over LPD by {agent}")
        except JobNotPossible as exc:
            return f"{queue}: job {job.id} not removed: {exc}"
        log.info("LPD %s: %r removed job %d", self.where, agent, job.id)
        return f"{queue}: job {job.id} removed"

    async def _active_jobs(self, queue: str, items: Sequence[str], limit: int) -> list[JobRecord]:
        """Active jobs of ``queue`` in queue order, at most ``limit``; with ``items``, only
        those whose id or owner is listed (§5.3)."""
        where = self.services.queues.jobs_filter(queue, states=ACTIVE_STATES)
        ids = job_numbers(items)
        if items and len(ids) == len(items):
            where = dataclasses.replace(where, job_ids=ids)
        elif items:  # user names: filter here, so that the limit applies after
            jobs = await self.services.store.list_jobs(where)
            return [j for j in jobs if str(j.id) in items or j.owner in items][:limit]
        return await self.services.store.list_jobs(dataclasses.replace(where, limit=limit))


def _described(document: NewDocument, use: DataFileUse) -> NewDocument:
    """The spooled document named and typed by its control file (which may have come
    after it): a format detected from the data wins over the print letter's."""
    declared = PRINT_FORMATS[use.letter]
    detected = document.format if document.format != OCTET_STREAM else declared
    return dataclasses.replace(
        document, name=use.source_name[:255], declared_format=declared, format=detected
    )


def _job_name(control: ControlFile) -> str:
    sources = [d.source_name for d in control.documents if d.source_name]
    return (control.job_name or (sources[0] if sources else "") or "untitled")[:255]


def _plain_address(host: str) -> str:
    """IPv4 clients of a dual-stack listener show as ::ffff:a.b.c.d: the IPv4 address."""
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return host


async def start_lpd_server(services: Services, *, enabled: bool = True) -> LpdServer:
    """The LPD server for ``services.config.lpd``, listening (no-op when ``listen`` is
    empty, or not ``enabled``: a node without the intake role)."""
    server = LpdServer(services)
    if enabled:
        await server.start()
    return server
