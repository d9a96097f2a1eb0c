"""From raw runs to the table: medians per server, the ratio printhost/CUPS, Markdown, JSON.

A :class:`Line` names the scenario and the figure it shows; its value for a server is the
median of that figure over the server's runs. The ratio is always printhost/CUPS, and the
last column says which way is better, so "2.00, higher is better" and "0.50, lower is
better" both mean printhost did twice as well. A figure marked † comes from a run that hit
its time bound (the figure is what was reached by then, or the bound itself).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.scenarios import Outcome

LABELS = ("printhost", "CUPS")
#: scenario id -> server label -> runs
Runs = Mapping[str, Mapping[str, Sequence[Outcome]]]


@dataclass(frozen=True, slots=True)
class Line:
    row: str
    metric: str
    scenario: str
    key: str
    better: str  # "higher" or "lower"
    #: CUPS's figure from another scenario (row 4's ``?waitjob=false`` variant).
    cups_scenario: str = ""
    #: A figure that is non-zero in runs that hit a bound (drain_timed_out, ...).
    bound_key: str = ""
    digits: int = 1
    #: "median" over the runs, or "sum" (lost jobs: one loss in any run matters), or
    #: "min" (a yes/no figure: yes only if yes in every run).
    aggregate: str = "median"
    #: A 1/0 figure shown as yes/no (row 8: exact against the known truth); no ratio.
    yes_no: bool = False


@dataclass(frozen=True, slots=True)
class TextLine:
    """A row with no measurement (a feature not built yet)."""

    row: str
    metric: str
    printhost: str
    cups: str


def aggregate_figure(runs: Sequence[Outcome], key: str, how: str) -> float | None:
    values = [run.figures[key] for run in runs if key in run.figures]
    if not values:
        return None
    if how == "min":
        return min(values)
    return sum(values) if how == "sum" else statistics.median(values)


def hit_bound(runs: Sequence[Outcome], key: str) -> bool:
    if not key:
        return False
    return any(run.figures.get(key, 0.0) != 0.0 for run in runs)


def cell(runs: Runs, scenario: str, label: str, line: Line) -> tuple[float | None, str]:
    outcomes = runs.get(scenario, {}).get(label, [])
    value = aggregate_figure(outcomes, line.key, line.aggregate)
    if value is None:
        return None, "not run"
    mark = "†" if hit_bound(outcomes, line.bound_key) else ""
    if line.yes_no:
        return value, "yes" if value else "no"
    return value, f"{value:,.{line.digits}f}{mark}"


def ratio_text(printhost: float | None, cups: float | None) -> str:
    if printhost is None or cups is None:
        return "—"
    if cups == 0:
        return "=" if printhost == 0 else "—"
    return f"{printhost / cups:.2f}"


def table_rows(lines: Sequence[Line | TextLine], runs: Runs) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for line in lines:
        if isinstance(line, TextLine):
            rows.append(
                {"row": line.row, "metric": line.metric, "printhost": line.printhost,
                 "CUPS": line.cups, "ratio": "—", "better": "", "values": None}
            )  # fmt: skip
            continue
        ph_value, ph_text = cell(runs, line.scenario, "printhost", line)
        cups_value, cups_text = cell(runs, line.cups_scenario or line.scenario, "CUPS", line)
        ratio = "—" if line.yes_no else ratio_text(ph_value, cups_value)
        better = "yes = exact in every run" if line.yes_no else f"{line.better} is better"
        rows.append(
            {"row": line.row, "metric": line.metric, "printhost": ph_text, "CUPS": cups_text,
             "ratio": ratio, "better": better,
             "values": {"printhost": ph_value, "CUPS": cups_value}}
        )  # fmt: skip
    return rows


def markdown(rows: Sequence[Mapping[str, object]], machine: Mapping[str, object]) -> str:
    out = [
        f"Machine: {machine['line']}",
        "",
        "| row | metric | printhost | CUPS | printhost/CUPS | better |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        metric = str(r["metric"]).replace("|", "\\|")
        out.append(
            f"| {r['row']} | {metric} | {r['printhost']} | {r['CUPS']} | {r['ratio']} "
            f"| {r['better']} |"
        )
    return "\n".join(out) + "\n"


def machine_info(load_before: tuple[float, float, float]) -> dict[str, object]:
    cores = os.cpu_count() or 0
    model = _cpu_model()
    cups = _dpkg_version("cups-daemon")
    printhost = metadata.version("printhost")
    one, five, fifteen = load_before
    line = (
        f"{cores} cores ({model}), load average before the run {one:.2f} {five:.2f} "
        f"{fifteen:.2f}; Linux {platform.release()}; Python {platform.python_version()}; "
        f"CUPS {cups}; printhost {printhost}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    return {
        "line": line,
        "cores": cores,
        "cpu_model": model,
        "load_average_before": list(load_before),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "cups_version": cups,
        "printhost_version": printhost,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _cpu_model() -> str:
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _dpkg_version(package: str) -> str:
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def raw_runs(runs: Runs) -> dict[str, dict[str, list[dict[str, object]]]]:
    return {
        scenario: {
            label: [{"figures": o.figures, "answers": o.answers} for o in outcomes]
            for label, outcomes in by_label.items()
        }
        for scenario, by_label in runs.items()
    }


def write_results(directory: Path, document: Mapping[str, object], table: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    (directory / "latest.md").write_text(table)
