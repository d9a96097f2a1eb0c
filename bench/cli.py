"""``python -m bench [--quick] [--repeat N] [--rows 1,3] [--out DIR]``: run, print, save.

The plan is data: :data:`SCENARIOS` says what runs (and for which servers), :data:`LINES`
which figure of which scenario each table line shows. Runs go scenario by scenario, each
repeated ``--repeat`` times with printhost and CUPS taking turns to go first, so slow drift
of a shared machine does not favour one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import PROJECT_DIR, cluster, scenarios
from bench.documents import make_documents
from bench.report import (
    LABELS,
    Line,
    TextLine,
    machine_info,
    markdown,
    raw_runs,
    table_rows,
    write_results,
)
from bench.scenarios import Context, Outcome
from bench.servers import FACTS

#: Client CPU share (of one core) above which the notes warn it may limit a figure.
BUSY_CLIENT = 0.5
REQUIRED_PROGRAMS = ("cupsd", "lpadmin", "ippeveprinter", "dbus-daemon", "gs")
RunFunction = Callable[[Context, str], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    row: int
    run: RunFunction
    labels: tuple[str, ...] = LABELS
    #: Runs regardless of --repeat (the burst is one long run).
    repeats: int | None = None
    #: At least this many runs in a full run: CUPS's intake runs last a tenth of a second
    #: (it holds at most 500 active jobs), so one run says little; more medians help.
    min_repeats: int = 1

    def count(self, repeat: int, quick: bool) -> int:
        if self.repeats is not None:
            return self.repeats
        return repeat if quick else max(repeat, self.min_repeats)


def _intake(doc: str, clients: int, large: bool, paused: bool = True) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        count = ctx.sizes.large_jobs if large else ctx.sizes.intake_jobs
        return await scenarios.intake(ctx, label, doc, count, clients, paused=paused)

    return run


def _socket(printers: int) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        return await scenarios.end_to_end_socket(ctx, label, printers)

    return run


def _ipp(suffix: str) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        return await scenarios.end_to_end_ipp(ctx, label, suffix)

    return run


INTAKE_REPEATS = 5


def _failover(n: int) -> RunFunction:
    """The ``n``-th outage length of ``Sizes.failover_down_seconds``."""

    async def run(ctx: Context, label: str) -> Outcome:
        return await scenarios.failover(ctx, label, ctx.sizes.failover_down_seconds[n])

    return run


def _analysis(doc: str) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        return await scenarios.analysis(ctx, label, doc)

    return run


def _cluster_throughput(nodes: int) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        return await cluster.throughput(ctx, label, nodes)

    return run


def _cluster_takeover(lease_seconds: float) -> RunFunction:
    async def run(ctx: Context, label: str) -> Outcome:
        return await cluster.takeover(ctx, label, lease_seconds)

    return run


#: Row 9: node counts and lease lengths (the same in FULL_CLUSTER and QUICK_CLUSTER).
CLUSTER_NODES = cluster.FULL_CLUSTER.node_counts
CLUSTER_LEASES = cluster.FULL_CLUSTER.lease_seconds
#: Not a scenario: row 9's 1-node line has no other column (there is no CUPS cluster).
NO_CUPS_CLUSTER = "no-cups-cluster"
#: Not a scenario either: the 1-node runs, shown in the other column of the 2- and 3-node
#: lines (``with_references``; the JSON keeps them once, under their own scenario).
CLUSTER_REFERENCE = f"cluster-{CLUSTER_NODES[0]}-as-reference"

#: Row 8's documents: (scenario suffix = document name, what the table calls it); the
#: names follow ``Sizes.analysis_*`` (the same in FULL and QUICK).
ANALYSIS_PDFS = tuple(f"pdf-{n}" for n in scenarios.FULL.analysis_pdf_pages)
ANALYSIS_RASTER = f"pwg-{scenarios.FULL.analysis_raster_pages}"

SCENARIOS = (
    *(
        Scenario(f"intake-pdf-1-c{c}", 1, _intake("pdf-1", c, False), min_repeats=INTAKE_REPEATS)
        for c in (1, 4, 16)
    ),
    Scenario("intake-live-c4", 1, _intake("pdf-1", 4, False, paused=False)),
    *(
        Scenario(f"intake-{d}", 2, _intake(d, 4, True), min_repeats=INTAKE_REPEATS)
        for d in ("pdf-10", "pdf-100", "ps-10")
    ),
    Scenario("e2e-socket-1", 3, _socket(1)),
    Scenario("e2e-socket-4", 3, _socket(4)),
    Scenario("e2e-ipp", 4, _ipp("")),
    Scenario("e2e-ipp-nowait", 4, _ipp("?waitjob=false"), labels=("CUPS",)),
    Scenario("burst", 5, scenarios.burst, repeats=1),
    *(Scenario(f"failover-{n}", 7, _failover(n)) for n in range(2)),
    Scenario("pool-failover", 7, scenarios.pool_failover, labels=("printhost",)),
    *(Scenario(f"analysis-{d}", 8, _analysis(d)) for d in ANALYSIS_PDFS),
    # Ghostscript cannot read PWG raster: printhost's alone.
    Scenario(f"analysis-{ANALYSIS_RASTER}", 8, _analysis(ANALYSIS_RASTER), labels=("printhost",)),
    # Row 9: printhost alone (no CUPS cluster); not in the default --rows.
    *(
        Scenario(f"cluster-{n}", 9, _cluster_throughput(n), labels=("printhost",))
        for n in CLUSTER_NODES
    ),
    *(
        Scenario(f"cluster-takeover-{lease:g}", 9, _cluster_takeover(lease), labels=("printhost",))
        for lease in CLUSTER_LEASES
    ),
)
#: Row 6 reads the runs of rows 1 and 3.
ROW_NEEDS = {6: {1, 3}}
DEFAULT_ROWS = "1,2,3,4,5,6,7,8"


def lines(sizes: scenarios.Sizes) -> list[Line | TextLine]:
    s = sizes
    out: list[Line | TextLine] = []
    for c in s.intake_clients:
        what = f"Intake, 1-page PDF, {c} keep-alive client{'s' if c > 1 else ''}"
        sc = f"intake-pdf-1-c{c}"
        out += [
            Line("1", f"{what}: accepted jobs/s", sc, "accepted_per_s", "higher", digits=0),
            Line("1", f"{what}: p50 latency ms", sc, "p50_ms", "lower", digits=2),
            Line("1", f"{what}: p99 latency ms", sc, "p99_ms", "lower", digits=2),
        ]
    live = "Intake, 1-page PDF, 4 clients, while the queue prints to a socket printer"
    out += [
        Line("1", f"{live}: accepted jobs/s", "intake-live-c4", "accepted_per_s", "higher",
             digits=0),
        Line("1", f"{live}: p50 latency ms", "intake-live-c4", "p50_ms", "lower", digits=2),
        Line("1", f"{live}: p99 latency ms", "intake-live-c4", "p99_ms", "lower", digits=2),
    ]  # fmt: skip
    for doc, name in (("pdf-10", "10-page PDF"), ("pdf-100", "100-page PDF"), ("ps-10", "PS")):
        what = f"Intake, {name}, 4 clients"
        out += [
            Line("2", f"{what}: accepted jobs/s", f"intake-{doc}", "accepted_per_s", "higher",
                 digits=0),
            Line("2", f"{what}: p50 latency ms", f"intake-{doc}", "p50_ms", "lower", digits=2),
        ]  # fmt: skip
    e2e = f"{s.e2e_jobs} jobs, {s.e2e_clients} clients"
    out += [
        Line("3", f"End to end, 1 queue → 1 socket printer ({e2e}): jobs/s",
             "e2e-socket-1", "e2e_jobs_per_s", "higher", bound_key="drain_timed_out"),
        Line("3", f"End to end, {s.pool_size} queues → {s.pool_size} socket printers, no pool "
             f"on either side ({e2e}): jobs/s",
             "e2e-socket-4", "e2e_jobs_per_s", "higher", bound_key="drain_timed_out"),
        Line("4", f"End to end, {s.pool_size} queues → {s.pool_size} ippeveprinters "
             f"({s.ipp_jobs} jobs), both confirm completion (CUPS default URI): jobs/s",
             "e2e-ipp", "e2e_jobs_per_s", "higher", bound_key="drain_timed_out", digits=2),
        Line("4", "… same, CUPS with ?waitjob=false (CUPS does not confirm; printhost still "
             "does): jobs/s", "e2e-ipp", "e2e_jobs_per_s", "higher",
             cups_scenario="e2e-ipp-nowait", bound_key="drain_timed_out", digits=2),
        Line("5", f"Burst of {s.burst_jobs:,} jobs, {s.burst_clients} clients, {s.pool_size} "
             "queues: accepted", "burst", "accepted", "higher", bound_key="load_timed_out",
             digits=0),
        Line("5", "… refused", "burst", "refused", "lower", digits=0),
        Line("5", "… peak RSS, server + helpers, MB", "burst", "peak_tree_rss_mb", "lower"),
        Line("5", "… time to drain (first submit → last accepted job at a printer), s",
             "burst", "e2e_s", "lower", bound_key="drain_timed_out"),
        Line("5", "… drain rate, accepted jobs/s", "burst", "e2e_jobs_per_s", "higher",
             bound_key="drain_timed_out"),
        Line("6", "CPU ms per job, server + helpers, intake only (row 1, 4 clients)",
             "intake-pdf-1-c4", "cpu_ms_per_job", "lower", digits=2),
        Line("6", "CPU ms per job, server + helpers, end to end (row 3, 1 queue)",
             "e2e-socket-1", "cpu_ms_per_job", "lower", digits=2),
        Line("6", "Peak RSS MB, server + helpers (row 3, 1 queue)",
             "e2e-socket-1", "peak_tree_rss_mb", "lower"),
        Line("6", "Peak RSS MB, server process alone (VmHWM since its start, row 3, 1 queue)",
             "e2e-socket-1", "server_hwm_mb", "lower"),
    ]  # fmt: skip
    for n, down in enumerate(s.failover_down_seconds):
        sc = f"failover-{n}"
        out += [
            Line("7", f"1 queue, its socket printer SIGKILLed mid-run and back after {down:g} s: "
                 "s from its return to the next job delivered", sc, "recovery_s", "lower",
                 bound_key="recovery_timed_out", digits=2),
            Line("7", "… jobs lost (never reached the printer; total over all runs)", sc, "lost",
                 "lower", digits=0, aggregate="sum"),
            Line("7", "… jobs duplicated (total over all runs)", sc, "duplicated", "lower",
                 digits=0, aggregate="sum"),
        ]  # fmt: skip
    out += [
        Line("7", f"Pool of 2 socket printers ({s.failover_jobs} jobs), one SIGKILLed "
             "mid-run: longest wait between deliveries after the kill, s (CUPS: classes not "
             "set up by the bench)", "pool-failover", "longest_gap_s", "lower",
             bound_key="failover_timed_out", digits=2),
        Line("7", "… s from the kill to the next job delivered", "pool-failover",
             "next_delivery_s", "lower", bound_key="failover_timed_out", digits=3),
        Line("7", "… jobs lost (never reached a printer; total over all runs)", "pool-failover",
             "lost", "lower", digits=0, aggregate="sum"),
        Line("7", "… jobs duplicated (total over all runs)", "pool-failover", "duplicated",
             "lower", digits=0, aggregate="sum"),
    ]  # fmt: skip
    return out + analysis_lines(s) + cluster_lines(s)


def table_lines(sizes: scenarios.Sizes, plan: Sequence[Scenario]) -> list[Line | TextLine]:
    """The table's lines: every row's, but row 9's only when it was run (it is not in the
    default --rows: it needs PostgreSQL and HAProxy, and minutes of lease expiry)."""
    cluster_run = any(s.row == 9 for s in plan)
    return [line for line in lines(sizes) if line.row != "9" or cluster_run]


def analysis_lines(s: scenarios.Sizes) -> list[Line | TextLine]:
    """Row 8: the comparison column is Ghostscript 10.0, not CUPS; every metric says so."""
    out: list[Line | TextLine] = []
    printhost = ("printhost: its full analysis, pages + colour pages + sizes, in a "
                 "sandboxed child forked from the pre-started analysis worker")  # fmt: skip
    for pages in s.analysis_pdf_pages:
        sc = f"analysis-pdf-{pages}"
        out += [
            Line("8", f"{pages}-page PDF, mixed colour/mono: s per document to count pages "
                 f"({printhost}; other column: Ghostscript 10.0 pdfpagecount)", sc, "count_s",
                 "lower", digits=3),
            Line("8", "… page count exact (other column: Ghostscript pdfpagecount)", sc,
                 "pages_exact", "higher", aggregate="min", yes_no=True),
            Line("8", "… s per document to find the colour pages (printhost: the same "
                 "analysis; other column: Ghostscript 10.0 inkcov)", sc, "colour_s", "lower",
                 digits=3),
            Line("8", "… colour pages exact (other column: Ghostscript inkcov)", sc,
                 "colour_exact", "higher", aggregate="min", yes_no=True),
        ]  # fmt: skip
    pages = s.analysis_raster_pages
    sc = f"analysis-pwg-{pages}"
    out += [
        Line("8", f"{pages}-page PWG raster (sRGB 8-bit, 300 dpi), mixed colour/mono: s per "
             f"document ({printhost}; Ghostscript cannot read PWG raster: no comparison)", sc,
             "count_s", "lower", digits=3),
        Line("8", "… page count exact (no comparison)", sc, "pages_exact", "higher",
             aggregate="min", yes_no=True),
        Line("8", "… colour pages exact (no comparison)", sc, "colour_exact", "higher",
             aggregate="min", yes_no=True),
    ]  # fmt: skip
    return out


def cluster_lines(s: scenarios.Sizes) -> list[Line | TextLine]:
    """Row 9: printhost alone. There is no CUPS cluster: the other column of the 2- and
    3-node lines is printhost with 1 node (so the ratio is the speed-up), elsewhere empty."""
    c = cluster.sizes_for(s)
    setup = (f"{c.jobs} jobs, {c.clients} clients through HAProxy 2.6, one queue → a pool "
             f"of {c.printers} socket printers, PostgreSQL 15 + shared spool")  # fmt: skip
    out: list[Line | TextLine] = []
    for n in CLUSTER_NODES:
        nodes = f"{n} node{'s' if n > 1 else ''}"
        other = ("other column: printhost with 1 node, not CUPS: ratio = speed-up over 1 node"
                 if n > 1 else "other column: none, there is no CUPS cluster")  # fmt: skip
        out.append(
            Line("9", f"Cluster, {nodes} ({setup}): jobs/s, first submit → last job at a "
                 f"printer ({other})", f"cluster-{n}", "e2e_jobs_per_s", "higher",
                 cups_scenario=NO_CUPS_CLUSTER if n == 1 else CLUSTER_REFERENCE,
                 bound_key="drain_timed_out")
        )  # fmt: skip
    for lease in CLUSTER_LEASES:
        sc = f"cluster-takeover-{lease:g}"
        default = " (printhost's default)" if lease == 30 else ""
        out += [
            Line("9", f"Cluster of 3 nodes, {c.takeover_jobs} jobs queued, the node holding "
                 f"leases SIGKILLed mid-drain, [delivery] lease_seconds = {lease:g}{default}: s "
                 "from the kill until the first job it had claimed reached a printer through "
                 "another node (tracked per job; no CUPS cluster: no other column)", sc,
                 "takeover_s", "lower", cups_scenario=NO_CUPS_CLUSTER,
                 bound_key="takeover_timed_out", digits=2),
            Line("9", "… s from the kill until every job it had claimed reached a printer", sc,
                 "all_orphans_s", "lower", cups_scenario=NO_CUPS_CLUSTER,
                 bound_key="takeover_timed_out", digits=2),
            Line("9", "… jobs lost (never reached a printer; total over all runs)", sc, "lost",
                 "lower", cups_scenario=NO_CUPS_CLUSTER, digits=0, aggregate="sum"),
            Line("9", "… jobs duplicated (total over all runs; AppSocket keeps no job list, so "
                 "a claimed job that had reached its printer before the kill is sent again)",
                 sc, "duplicated", "lower", cups_scenario=NO_CUPS_CLUSTER, digits=0,
                 aggregate="sum"),
        ]  # fmt: skip
    return out


def with_references(
    runs: dict[str, dict[str, list[Outcome]]],
) -> dict[str, dict[str, list[Outcome]]]:
    """``runs`` plus row 9's reference: the 1-node runs in the other column's place."""
    one = runs.get(f"cluster-{CLUSTER_NODES[0]}", {}).get("printhost")
    return runs | ({CLUSTER_REFERENCE: {"CUPS": one}} if one else {})


def cluster_note(sizes: scenarios.Sizes, runs: dict[str, dict[str, list[Outcome]]]) -> str:
    c = cluster.sizes_for(sizes)
    ours = {k: v.get("printhost", []) for k, v in runs.items() if k.startswith("cluster-")}
    volume = [o for k, v in ours.items() if not k.startswith("cluster-takeover") for o in v]
    lost = sum(o.figures.get("lost", 0) for o in volume)
    duplicated = sum(o.figures.get("duplicated", 0) for o in volume)
    held = {
        k: [
            f"{o.figures['orphans']:.0f} ({o.figures['orphans_printed_before_kill']:.0f} "
            "already at the printer)"
            for o in v
        ]
        for k, v in ours.items()
        if k.startswith("cluster-takeover")
    }
    return (
        "Row 9 (printhost alone; there is no CUPS cluster, so the other column holds "
        "printhost with 1 node on the 2- and 3-node lines and is empty elsewhere): every "
        "run starts a private PostgreSQL 15 (Debian, durability settings at their defaults: "
        "fsync and synchronous_commit on), N nodes sharing it and one spool directory, "
        "HAProxy 2.6 with deploy/haproxy/haproxy.cfg, and the sinks; all on this machine's "
        "cores, so more nodes add no CPU: the throughput lines show what spreading one "
        "queue over nodes costs or gains here, not the capacity of N machines. A node takes "
        "one job per printer at a time, but nodes do not share that: with N nodes up to N "
        "jobs go to one socket printer at once (the sink takes them concurrently; a real "
        "AppSocket printer would queue the connections). Takeover: the queue is paused while "
        "the jobs are submitted, then resumed; after a third were delivered the node holding "
        "the most leases is SIGKILLed; the jobs it had claimed are read from the database "
        "(lease_owner) and followed to the sinks by job number. The other nodes take over "
        "a dead node's jobs once its lease runs out or its heartbeat has been silent for "
        "[cluster] dead_after_seconds (10 s by default), whichever comes first, looking for "
        "orphans every half of the shorter; the other nodes deliver the rest of the queue "
        "meanwhile. An orphan that had already reached "
        "its AppSocket printer when the node died is sent again (AppSocket printers keep no "
        "job list to ask): that shows as a duplicate. "
        f"Jobs the killed node had claimed, per run: {held or 'not run'}. Throughput runs: "
        f"{lost:.0f} jobs lost, {duplicated:.0f} duplicated (total). Sizes: {c.as_dict()}."
    )


def notes(sizes: scenarios.Sizes, runs: dict[str, dict[str, list[Outcome]]]) -> str:
    """What a reader must know to read the table right, with the figures it depends on."""
    text = [
        "Ratios are printhost/CUPS; the last column says which direction is better for "
        "printhost. Values are medians over the runs (lost/duplicated jobs: totals); "
        "latest.json has every run. † = a run hit its time bound; the figure is what it "
        "reached by then.",
        f"Durability: printhost acknowledges {FACTS['printhost']['acknowledges']}. "
        f"CUPS acknowledges {FACTS['CUPS']['acknowledges']}.",
        "Rows 1-2: the queue is paused (IPP Pause-Printer) on both servers, so only intake "
        "is measured, except on the line that says the queue prints meanwhile. Latency is "
        "request sent → response read.",
        "Rows 3-5: both servers get one queue per printer (no pool or class, so the two do "
        "the same work) and the client sends jobs round robin over the queues. "
        "Jobs/s is counted from the first submit to the last job taken by a printer.",
        "Row 4: printhost always waits for the printer to report the job completed "
        "(Get-Job-Attributes). CUPS's ipp backend does too with the default URI; with "
        "?waitjob=false it marks the job completed once sent, without confirmation, and "
        "when ippeveprinter (one job at a time) answers server-error-busy, the backend "
        "backs off for seconds (about 10 s seen). The figure is counted "
        "at the printers (ippeveprinter -c /bin/cat) in both cases.",
        f"Row 5: CUPS {FACTS['CUPS']['limits']}. Refusals seen: "
        + ("; ".join(f"{label}: {text}" for label, text in _refusals(runs)) or "none")
        + ".",
        "Row 6: CPU is utime+stime of the server and every process it forked (CUPS forks "
        "a backend per job), from /proc; RSS sums the tree, sampled every 0.1 s.",
        f"Row 7: CUPS {FACTS['CUPS']['queues']}. printhost: {FACTS['printhost']['delivery']}. "
        "The time to recover is mostly each server's retry schedule against the outage "
        "length, hence two outage lengths.",
        "Row 8: the other column is Ghostscript 10.0, not CUPS (CUPS does not analyse "
        "documents). Documents made by the bench with known truth: A4 pages of mono text, "
        "each with one mark in a cycle of five - red patch and blue text (colour), DeviceGray "
        "ramp, neutral RGB grey patch, 70 % CMYK-black patch (all three mono), thin blue line "
        "(colour) - as PDF (Ghostscript pdfwrite) and PWG raster (pwgraster). Seconds are "
        f"wall clock per document, median of {sizes.analysis_passes} pass(es) per run, then "
        "median over the runs. printhost: analyze_bounded, one sandboxed child per "
        "document forked from the pre-started analysis worker (started once, before timing), "
        "reading pages and sizes and deciding colour from page content where that is exact, "
        "rendering otherwise; pages cannot be asked for alone, so both of a document's time "
        "lines show this one analysis. Ghostscript: pages by `gs -q -dNODISPLAY -dSAFER "
        '--permit-file-read=FILE -c "(FILE) (r) file runpdfbegin pdfpagecount = quit"`, '
        "colour by `gs -q -dSAFER -o - -sDEVICE=inkcov FILE` "
        "(a page is colour when C, M or Y coverage is non-zero; inkcov counts neutral RGB "
        "grey as colour). Exact = the tool found exactly the true pages / colour pages in "
        "every pass. The raster's truth is that of the page program it was rendered from: "
        "Ghostscript renders 70 % CMYK black as sRGB (109, 110, 113) and 30 % DeviceGray as "
        "(76, 77, 76), a few levels off neutral.",
        _client_note(runs),
        f"Sizes: {sizes.as_dict()}.",
    ]
    if any(scenario.startswith("cluster-") for scenario in runs):
        text.insert(-2, cluster_note(sizes, runs))
    return "\n".join(f"- {t}" for t in text) + "\n"


def _client_note(runs: dict[str, dict[str, list[Outcome]]]) -> str:
    busy: dict[str, float] = {}
    for scenario, by_label in runs.items():
        for label, outcomes in by_label.items():
            share = max((o.figures.get("client_cpu_share", 0.0) for o in outcomes), default=0)
            if share > BUSY_CLIENT:
                busy[f"{scenario} ({label})"] = share
    note = (
        "Load client: one asyncio process, raw HTTP/1.1 keep-alive, the same for both "
        "servers; CPU share = its CPU s / wall s (including the /proc sampler)."
    )
    if not busy:
        return note + f" It stayed under {BUSY_CLIENT:.0%} of a core: not the bottleneck."
    listed = ", ".join(f"{name} {share:.0%}" for name, share in sorted(busy.items()))
    return (
        note + f" Above {BUSY_CLIENT:.0%} of a core in: {listed}. On 2 cores the client "
        "then competes with the server for CPU, so those figures are lower bounds (the "
        "server may be faster still); ratios against them flatter the other server."
    )


def _all(by_label: dict[str, list[Outcome]]) -> list[Outcome]:
    return [outcome for outcomes in by_label.values() for outcome in outcomes]


def _refusals(runs: dict[str, dict[str, list[Outcome]]]) -> list[tuple[str, str]]:
    found: dict[tuple[str, str], int] = {}
    for by_label in runs.values():
        for label, outcomes in by_label.items():
            for outcome in outcomes:
                for answer, count in outcome.answers.items():
                    if answer != "successful-ok":
                        found[label, answer] = found.get((label, answer), 0) + count
    return [
        (label, f"{answer} ({count} times)") for (label, answer), count in sorted(found.items())
    ]


# --- running ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="printhost vs CUPS 2.4, side by side"
    )
    parser.add_argument("--quick", action="store_true", help="tiny load, one repeat (< 60 s)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per scenario (3)")
    parser.add_argument(
        "--rows", default=DEFAULT_ROWS,
        help=f"rows to run, e.g. 1,3 (default {DEFAULT_ROWS}; row 9, the cluster, on request)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=PROJECT_DIR / "bench" / "results",
        help="where latest.json and latest.md go (default bench/results)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


def selected(rows: str) -> list[Scenario]:
    wanted = {int(r) for r in rows.split(",") if r.strip()}
    for row, needs in ROW_NEEDS.items():
        if row in wanted:
            wanted |= needs
    return [s for s in SCENARIOS if s.row in wanted]


def preflight() -> str | None:
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    if missing:
        return f"missing programs: {', '.join(missing)} (make bench installs them)"
    if os.geteuid() != 0:
        return "run as root: cupsd must start its backends as user lp"
    return None


async def run_all(
    plan: Sequence[Scenario], ctx: Context, repeat: int, quick: bool
) -> dict[str, dict[str, list[Outcome]]]:
    runs: dict[str, dict[str, list[Outcome]]] = {}
    total = sum(s.count(repeat, quick) * len(s.labels) for s in plan)
    done = 0
    for scenario in plan:
        by_label = runs.setdefault(scenario.id, {label: [] for label in scenario.labels})
        for n in range(scenario.count(repeat, quick)):
            order = scenario.labels if n % 2 == 0 else tuple(reversed(scenario.labels))
            for label in order:
                done += 1
                started = time.monotonic()
                outcome = await run_once(scenario, ctx, label)
                by_label[label].append(outcome)
                _progress(done, total, scenario.id, label, n, outcome, started)
    return runs


async def run_once(scenario: Scenario, ctx: Context, label: str) -> Outcome:
    """One run. A server that dies during it (``ServerDied``) ends the bench: a crash is
    a finding to report, never a run to quietly do again."""
    return await scenario.run(ctx, label)


def _progress(
    done: int, total: int, scenario: str, label: str, n: int, outcome: Outcome, started: float
) -> None:
    f = outcome.figures
    main = f.get("e2e_jobs_per_s", f.get("accepted_per_s", 0.0))
    what = f"accepted {f.get('accepted', 0):.0f}, {main:.1f} jobs/s"
    if "takeover_s" in f:  # row 9
        what += (f", lease {f['lease_seconds']:g} s: the killed node held {f['orphans']:.0f}, "
                 f"first taken over after {f['takeover_s']:.2f} s, all after "
                 f"{f['all_orphans_s']:.2f} s; lost {f['lost']:.0f}, duplicated "
                 f"{f['duplicated']:.0f}")  # fmt: skip
    elif "nodes" in f:
        what += f" with {f['nodes']:.0f} node(s); lost {f['lost']:.0f}, dup {f['duplicated']:.0f}"
    if "count_s" in f:  # row 8, whose other column is Ghostscript
        what = f"{f['documents']:.0f} passes, {f['count_s']:.3f} s per document"
        label = "Ghostscript" if label == "CUPS" else label
    print(
        f"[{done}/{total}] {scenario} {label} #{n + 1}: {what} "
        f"({time.monotonic() - started:.1f} s)",
        file=sys.stderr,
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if problem := preflight():
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    plan = selected(args.rows)
    if any(s.row == 9 for s in plan) and (problem := cluster.preflight()):
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    sizes = scenarios.QUICK if args.quick else scenarios.FULL
    repeat = args.repeat or (1 if args.quick else 3)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="printhost-bench-"))
    work.chmod(0o755)  # cupsd's backends run as lp and must reach the spool below
    started = time.monotonic()
    try:
        ctx = Context(work, make_documents(work / "documents"), sizes)
        runs = asyncio.run(run_all(plan, ctx, repeat, args.quick))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    machine = machine_info(load_before)
    rows = table_rows(table_lines(sizes, plan), with_references(runs))
    table = markdown(rows, machine) + "\n" + notes(sizes, runs)
    print(table)
    document = {
        "machine": machine,
        "settings": {"quick": args.quick, "repeat": repeat, "rows": args.rows},
        "sizes": sizes.as_dict(),
        "configuration": FACTS,
        "seconds": time.monotonic() - started,
        "table": rows,
        "runs": raw_runs(runs),
    }
    write_results(args.out, document, table)
    print(f"bench: {time.monotonic() - started:.0f} s; results in {args.out}", file=sys.stderr)
    if args.keep:
        print(f"bench: work directory kept: {work}", file=sys.stderr)
    return 0
