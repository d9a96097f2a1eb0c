"""The bench runs end to end on a tiny load (``python -m bench --quick``).

Benchmarks are not tests: nothing here looks at a timing. This only checks that the bench
starts both servers and every peer, drives every row, prints the table with a figure for
both servers on every measured line, writes its JSON, and leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.peers  # cupsd, ippeveprinter, dbus-daemon, Ghostscript

PROJECT_DIR = Path(__file__).resolve().parents[2]
#: --quick finishes in well under a minute on two idle cores; a loaded machine gets slack.
TIMEOUT = 240


def bench_processes() -> set[int]:
    """PIDs whose command line mentions a bench work directory (``printhost-bench-*``)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if b"printhost-bench-" in handle.read():
                    found.add(int(entry))
        except OSError:
            continue
    return found


def test_quick_bench_prints_both_figures_and_writes_json(tmp_path: Path) -> None:
    before = bench_processes()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert "| row | metric | printhost | CUPS | printhost/CUPS | better |" in done.stdout
    assert done.stdout.startswith("Machine: ")

    result = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.md").read_text() in done.stdout
    rows = result["table"]
    measured = [r for r in rows if r["values"] is not None]
    assert {r["row"] for r in measured} == {"1", "2", "3", "4", "5", "6", "7", "8"}
    # printhost's alone: the pool failover lines (the last four of row 7; the bench sets
    # up no CUPS class) and row 8's PWG raster lines (Ghostscript cannot read it).
    pool_lines = [r for r in measured if r["row"] == "7"][-4:]
    assert "CUPS: classes not set up" in pool_lines[0]["metric"]
    raster_lines = [r for r in measured if r["row"] == "8" and "no comparison" in r["metric"]]
    assert len(raster_lines) == 3
    for row in measured:
        assert row["values"]["printhost"] is not None, row
        if row not in pool_lines and row not in raster_lines:
            assert row["values"]["CUPS"] is not None, row
        assert row["ratio"], row
    # Row 8's comparison column is Ghostscript, and every one of its lines says which.
    for row in measured:
        if row["row"] == "8" and row not in raster_lines:
            assert "other column: Ghostscript" in row["metric"], row
    not_built = {r["row"]: r["printhost"] for r in rows if r["values"] is None}
    assert not_built == {}
    for scenario, by_server in result["runs"].items():
        for server, runs in by_server.items():
            assert len(runs) == 1, (scenario, server)
            if scenario.startswith("analysis-"):
                assert runs[0]["figures"]["documents"] > 0, (scenario, server)
            else:
                assert runs[0]["figures"]["accepted"] > 0, (scenario, server)
    assert bench_processes() - before == set()
