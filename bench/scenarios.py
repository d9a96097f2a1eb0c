"""One function per kind of run; each starts fresh printers and a fresh server and returns
an :class:`Outcome`: flat raw figures (``{"accepted_per_s": 412.0, ...}``) and the
answers the client got.

Every run is bounded: the load by its job count and ``Sizes.deadline_seconds``, every wait
for deliveries by ``Sizes.drain_seconds`` (or ``recover_seconds``), polling every
``POLL`` seconds, and a drain also ends once the server has nothing left to print
(:class:`IdleWatch`). A run that hits a bound reports what it had (``*_timed_out`` = 1)
instead of hanging. Every process a run starts is stopped by its PID in a ``finally``.

Times: ``first_submit`` is when the load client started (time.monotonic()); a delivery's
time is what the sink logged at EOF (same clock), or, for ippeveprinter, when the bench
saw ippeveprinter's "completed" line (within ``POLL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from peers.dbus import DbusDaemon

from bench.analysis import AnalysisDocument, make_corpus, measure_async
from bench.client import LoadResult, PrintJobLoad, Target
from bench.documents import Document
from bench.printers import CatPrinter, Delivery, SinkPrinter
from bench.procstat import TreeMonitor
from bench.servers import Queue, Server, ServerDied, make_server

POLL = 0.02
#: How often a drain asks the server whether it still has jobs to print.
IDLE_CHECK = 0.5
#: How long a drain goes on once the server has no job left to print.
GRACE = 2.0
MB = 1 << 20
Figures = dict[str, float]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run: its figures, and how many answers of each kind the client got (the text of
    refusals, e.g. CUPS's "Too many active jobs.")."""

    figures: Figures
    answers: dict[str, int]


@dataclass(frozen=True, slots=True)
class Sizes:
    """Job counts and bounds. ``FULL`` is the default run (< 10 min on 2 cores)."""

    intake_jobs: int = 480  # CUPS refuses past 500 active jobs
    intake_clients: tuple[int, ...] = (1, 4, 16)
    large_jobs: int = 240  # row 2, per document kind
    e2e_jobs: int = 300
    e2e_clients: int = 4
    pool_size: int = 4
    ipp_jobs: int = 32
    burst_jobs: int = 10_000
    burst_clients: int = 16
    failover_jobs: int = 120
    failover_down_seconds: tuple[float, ...] = (2.0, 10.0)
    recover_seconds: float = 45.0
    deadline_seconds: float = 120.0
    drain_seconds: float = 180.0
    #: Row 8: the generated PDFs' page counts, the PWG raster's, and timed passes per run.
    analysis_pdf_pages: tuple[int, ...] = (10, 100)
    analysis_raster_pages: int = 10
    analysis_passes: int = 5

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


FULL = Sizes()
QUICK = Sizes(
    intake_jobs=12,
    large_jobs=4,
    e2e_jobs=12,
    pool_size=2,
    ipp_jobs=4,
    burst_jobs=150,
    failover_jobs=9,
    failover_down_seconds=(0.5, 1.5),
    recover_seconds=8.0,
    deadline_seconds=20.0,
    drain_seconds=20.0,
    analysis_passes=1,
)


@dataclass(slots=True)
class Context:
    """What every run needs: a fresh directory per run, the documents, the sizes."""

    work: Path
    documents: dict[str, Document]
    sizes: Sizes
    _runs: int = 0
    _corpus: dict[str, AnalysisDocument] = field(default_factory=dict)

    def run_dir(self, name: str) -> Path:
        self._runs += 1
        path = self.work / f"{self._runs:03d}-{name}"
        path.mkdir(parents=True)
        path.chmod(0o755)
        return path

    def analysis_corpus(self) -> dict[str, AnalysisDocument]:
        """Row 8's documents, made on first use (``bench.analysis``)."""
        if not self._corpus:
            s = self.sizes
            made = make_corpus(
                self.work / "analysis-corpus", s.analysis_pdf_pages, s.analysis_raster_pages
            )
            self._corpus.update(made)
        return self._corpus


# --- shared pieces ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def sinks(root: Path, count: int) -> AsyncIterator[list[SinkPrinter]]:
    started: list[SinkPrinter] = []
    try:
        for n in range(count):
            started.append(SinkPrinter(root / "sinks", f"sink{n}").start())
        yield started
    finally:
        for sink in started:
            sink.stop()


@contextlib.asynccontextmanager
async def server(label: str, root: Path, queues: Sequence[Queue]) -> AsyncIterator[Server]:
    """A fresh server; raises :class:`ServerDied` if it is gone by the end of the run, so
    that the run is not counted."""
    under_test = make_server(label, root / label)
    try:
        under_test.start(queues)
        yield under_test
        if not under_test.alive():
            raise ServerDied(f"{label} exited during the run; see {root / label}")
    finally:
        under_test.stop()


def load_figures(result: LoadResult) -> Figures:
    latencies = sorted(result.latencies)
    return {
        "submitted": result.submitted,
        "accepted": result.accepted,
        "refused": result.refused,
        "errors": result.errors,
        "accepted_per_s": result.accepted_per_second,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "load_wall_s": result.wall_seconds,
        "client_cpu_s": result.client_cpu_seconds,
        "client_cpu_share": result.client_cpu_seconds / max(result.wall_seconds, 1e-9),
        "load_timed_out": float(result.timed_out),
    }


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def monitor_figures(monitor: TreeMonitor, jobs: int) -> Figures:
    return {
        "server_cpu_s": monitor.cpu_seconds,
        "cpu_ms_per_job": monitor.cpu_seconds * 1000 / jobs if jobs else 0.0,
        "peak_tree_rss_mb": monitor.peak_tree_rss / MB,
        "server_hwm_mb": monitor.server_hwm / MB,
    }


def delivery_figures(
    deliveries: Sequence[Delivery], accepted: Sequence[int], first_submit: float
) -> Figures:
    """Jobs at the printers, lost and duplicated, and jobs/s from first submit to the last
    delivery."""
    seen = Counter(d.seq for d in deliveries)
    last = max((d.at for d in deliveries), default=first_submit)
    elapsed = last - first_submit
    return {
        "delivered": len(deliveries),
        "lost": sum(1 for n in accepted if n not in seen),
        "duplicated": sum(count - 1 for count in seen.values() if count > 1),
        "e2e_s": elapsed,
        "e2e_jobs_per_s": len(seen) / elapsed if elapsed > 0 else 0.0,
    }


class IdleWatch:
    """Asks the server, every ``IDLE_CHECK`` s, whether it still has a job to print; once it
    has none, the drain may go on for ``GRACE`` s more (the last job may be between the
    server and the printer's log) and then stops: what has not arrived never will."""

    def __init__(self, srv: Server, enabled: bool = True) -> None:
        self.srv = srv
        self.enabled = enabled
        self._next_ask = time.monotonic() + IDLE_CHECK
        self._stop_at: float | None = None

    async def should_stop(self) -> bool:
        if not self.srv.alive():
            raise ServerDied(f"{self.srv.label} exited during the run")
        now = time.monotonic()
        if self._stop_at is not None:
            return now > self._stop_at
        if self.enabled and now > self._next_ask:
            if not await self.srv.has_active_jobs():
                self._stop_at = now + GRACE
            self._next_ask = now + IDLE_CHECK
        return False


async def collect(
    srv: Server,
    printers: Sequence[SinkPrinter],
    want: int,
    bound: float,
    into: list[Delivery],
    *,
    until_idle: bool = True,
) -> bool:
    """Poll the sinks into ``into`` until ``want`` deliveries, or ``bound`` seconds, or -
    with ``until_idle`` - the server has nothing left to print (:class:`IdleWatch`).
    True when ``want`` was reached."""
    deadline = time.monotonic() + bound
    idle = IdleWatch(srv, until_idle)
    while True:
        for sink in printers:
            into.extend(sink.deliveries())
        if len(into) >= want:
            return True
        if time.monotonic() > deadline or await idle.should_stop():
            return False
        await asyncio.sleep(POLL)


def new_load(
    ctx: Context, port: int, queues: Sequence[str], doc: Document, count: int, clients: int
) -> PrintJobLoad:
    target = Target("127.0.0.1", port, tuple(queues))
    return PrintJobLoad(
        target,
        doc.copy,
        doc.format,
        count=count,
        clients=clients,
        deadline_seconds=ctx.sizes.deadline_seconds,
    )


# --- rows 1 and 2: intake -----------------------------------------------------------------


async def intake(
    ctx: Context, label: str, doc_name: str, count: int, clients: int, *, paused: bool = True
) -> Outcome:
    """Print-Jobs into a *paused* queue, so only intake is measured and nothing is
    delivered; or, with ``paused=False``, into a queue printing to a sink meanwhile."""
    doc = ctx.documents[doc_name]
    root = ctx.run_dir(f"intake-{doc_name}-c{clients}{'' if paused else '-live'}-{label}")
    async with sinks(root, 1) as (sink,), server(label, root, [Queue("q", sink.uri)]) as srv:
        if paused:
            await srv.pause("q")
        load = new_load(ctx, srv.port, ["q"], doc, count, clients)
        async with TreeMonitor(srv.pid) as monitor:
            result = await load.run()
    figures = load_figures(result) | monitor_figures(monitor, result.accepted)
    figures["mb_per_s"] = result.accepted * len(doc.data) / MB / max(result.wall_seconds, 1e-9)
    return Outcome(figures, dict(result.statuses))


# --- rows 3 and 6: end to end to socket printers -------------------------------------------


async def end_to_end_socket(ctx: Context, label: str, printers: int) -> Outcome:
    """``e2e_jobs`` 1-page PDFs, ``e2e_clients`` clients, round robin over ``printers``
    queues each with its own sink; until every accepted job reached a sink."""
    sizes = ctx.sizes
    doc = ctx.documents["pdf-1"]
    root = ctx.run_dir(f"e2e-socket-{printers}-{label}")
    async with sinks(root, printers) as printer_list:
        queues = [Queue(f"q{n}", sink.uri) for n, sink in enumerate(printer_list)]
        async with server(label, root, queues) as srv:
            names = [q.name for q in queues]
            load = new_load(ctx, srv.port, names, doc, sizes.e2e_jobs, sizes.e2e_clients)
            deliveries: list[Delivery] = []
            async with TreeMonitor(srv.pid) as monitor:
                result = await load.run()
                done = await collect(
                    srv, printer_list, result.accepted, sizes.drain_seconds, deliveries
                )
    figures = load_figures(result) | monitor_figures(monitor, result.accepted)
    figures |= delivery_figures(deliveries, result.accepted_numbers, result.first_submit)
    figures["drain_timed_out"] = float(not done)
    return Outcome(figures, dict(result.statuses))


# --- row 4: end to end to IPP printers ----------------------------------------------------


async def end_to_end_ipp(ctx: Context, label: str, uri_suffix: str = "") -> Outcome:
    """``ipp_jobs`` 1-page PDFs over ``pool_size`` queues, each to its own ippeveprinter,
    until every printer logged every job completed."""
    sizes = ctx.sizes
    doc = ctx.documents["pdf-1"]
    root = ctx.run_dir(f"e2e-ipp-{label}{'-nowait' if uri_suffix else ''}")
    bus = DbusDaemon(root / "dbus").start()
    printers: list[CatPrinter] = []
    try:
        for n in range(sizes.pool_size):
            printers.append(CatPrinter(root / f"eve{n}", f"bench-eve{n}", bus))
            printers[-1].start()
        queues = [Queue(f"q{n}", p.uri + uri_suffix) for n, p in enumerate(printers)]
        async with server(label, root, queues) as srv:
            names = [q.name for q in queues]
            load = new_load(ctx, srv.port, names, doc, sizes.ipp_jobs, sizes.e2e_clients)
            async with TreeMonitor(srv.pid) as monitor:
                result = await load.run()
                completed, last = await count_completed(srv, printers, result.accepted, sizes)
    finally:
        for printer in printers:
            printer.stop()
        bus.stop()
    elapsed = last - result.first_submit
    figures = load_figures(result) | monitor_figures(monitor, result.accepted)
    figures |= {
        "delivered": completed,
        "lost": result.accepted - completed,
        "e2e_s": elapsed,
        "e2e_jobs_per_s": completed / elapsed if elapsed > 0 else 0.0,
        "drain_timed_out": float(completed < result.accepted),
    }
    return Outcome(figures, dict(result.statuses))


async def count_completed(
    srv: Server, printers: Sequence[CatPrinter], want: int, sizes: Sizes
) -> tuple[int, float]:
    """Completed jobs over all printers, and when the last one was seen."""
    deadline = time.monotonic() + sizes.drain_seconds
    idle = IdleWatch(srv)
    completed, last = 0, time.monotonic()
    while completed < want and time.monotonic() < deadline:
        if await idle.should_stop():
            break
        await asyncio.sleep(POLL)
        if new := sum(printer.completed() for printer in printers):
            completed, last = completed + new, time.monotonic()
    return completed, last


# --- row 5: burst -------------------------------------------------------------------------


async def burst(ctx: Context, label: str) -> Outcome:
    """``burst_jobs`` 1-page PDFs from ``burst_clients`` clients as fast as the server
    answers, over ``pool_size`` queues/sinks; then until every accepted job was delivered."""
    sizes = ctx.sizes
    doc = ctx.documents["pdf-1"]
    root = ctx.run_dir(f"burst-{label}")
    async with sinks(root, sizes.pool_size) as printer_list:
        queues = [Queue(f"q{n}", sink.uri) for n, sink in enumerate(printer_list)]
        async with server(label, root, queues) as srv:
            names = [q.name for q in queues]
            load = new_load(ctx, srv.port, names, doc, sizes.burst_jobs, sizes.burst_clients)
            deliveries: list[Delivery] = []
            async with TreeMonitor(srv.pid) as monitor:
                result = await load.run()
                done = await collect(
                    srv, printer_list, result.accepted, sizes.drain_seconds, deliveries
                )
    figures = load_figures(result) | monitor_figures(monitor, result.accepted)
    figures |= delivery_figures(deliveries, result.accepted_numbers, result.first_submit)
    figures["drain_timed_out"] = float(not done)
    return Outcome(figures, dict(result.statuses))


# --- row 7: a printer killed and restarted ------------------------------------------------


async def failover(ctx: Context, label: str, down_seconds: float) -> Outcome:
    """One queue, one sink. All jobs are submitted at once; after a third of them reached
    the sink it is SIGKILLed, kept down ``down_seconds``, and started again on the same
    port. Measured: time from its return to the next job it takes; jobs lost
    and duplicated once the queue has drained (bounded)."""
    sizes = ctx.sizes
    doc = ctx.documents["pdf-1"]
    root = ctx.run_dir(f"failover-{down_seconds:g}s-{label}")
    deliveries: list[Delivery] = []
    async with sinks(root, 1) as (sink,), server(label, root, [Queue("q", sink.uri)]) as srv:
        load = new_load(ctx, srv.port, ["q"], doc, sizes.failover_jobs, sizes.e2e_clients)
        submitting = asyncio.create_task(load.run())
        try:
            third = sizes.failover_jobs // 3
            await collect(srv, [sink], third, sizes.drain_seconds, deliveries, until_idle=False)
            sink.kill()
            deliveries.extend(sink.deliveries())
            killed_at = time.monotonic()
            await asyncio.sleep(down_seconds)
            sink.restart()
            back_at = time.monotonic()
            before = len(deliveries)
            recovered = await collect(
                srv, [sink], before + 1, sizes.recover_seconds, deliveries, until_idle=False
            )
            result = await submitting
        finally:
            submitting.cancel()
        await collect(srv, [sink], result.accepted, sizes.drain_seconds, deliveries)
    after = [d.at for d in deliveries[before:]]
    figures = load_figures(result) | delivery_figures(
        deliveries, result.accepted_numbers, result.first_submit
    )
    figures |= {
        "killed_after": before,
        "down_s": back_at - killed_at,
        "recovery_timed_out": float(not recovered),
        "recovery_s": (min(after) - back_at) if recovered else sizes.recover_seconds,
    }
    return Outcome(figures, dict(result.statuses))


async def pool_failover(ctx: Context, label: str) -> Outcome:
    """One queue, a pool of two sinks (printhost: first-available). All jobs are submitted
    at once; after a third of them were delivered one member is SIGKILLed and stays down.
    Measured: the longest wait between two deliveries after the kill (how long users wait
    while the job cut off at the dead printer is re-routed), the time from the kill to the
    next delivery, and jobs lost or duplicated once the queue has drained."""
    sizes = ctx.sizes
    doc = ctx.documents["pdf-1"]
    root = ctx.run_dir(f"pool-failover-{label}")
    deliveries: list[Delivery] = []
    async with sinks(root, 2) as (victim, survivor):
        pool = Queue("q", "", members=(victim.uri, survivor.uri))
        async with server(label, root, [pool]) as srv:
            load = new_load(ctx, srv.port, ["q"], doc, sizes.failover_jobs, sizes.e2e_clients)
            submitting = asyncio.create_task(load.run())
            try:
                third = sizes.failover_jobs // 3
                printers = [victim, survivor]
                await collect(
                    srv, printers, third, sizes.drain_seconds, deliveries, until_idle=False
                )
                victim.kill()
                deliveries.extend(victim.deliveries())
                killed_at = time.monotonic()
                result = await submitting
            finally:
                submitting.cancel()
            drained = await collect(
                srv, [survivor], result.accepted, sizes.drain_seconds, deliveries
            )
    after = sorted([killed_at] + [d.at for d in deliveries if d.at > killed_at])
    gaps = [b - a for a, b in itertools.pairwise(after)]
    figures = load_figures(result) | delivery_figures(
        deliveries, result.accepted_numbers, result.first_submit
    )
    figures |= {
        "failover_timed_out": float(not drained or len(after) < 2),
        "next_delivery_s": gaps[0] if gaps else sizes.drain_seconds,
        "longest_gap_s": max(gaps) if gaps else sizes.drain_seconds,
    }
    return Outcome(figures, dict(result.statuses))


# --- row 8: document analysis -------------------------------------------------------------


async def analysis(ctx: Context, label: str, doc_name: str) -> Outcome:
    """``analysis_passes`` analyses of one generated document by printhost, or (label
    "CUPS", the comparison column) by Ghostscript; see ``bench.analysis``."""
    doc = ctx.analysis_corpus()[doc_name]
    return Outcome(await measure_async(doc, label, ctx.sizes.analysis_passes), {})
