"""Analysis of untrusted documents, bounded in memory, CPU and wall-clock time.

Each document is analysed by a fresh ``python -m printhost.analysis.worker`` process in
its own session and an empty temporary working directory; the worker sets its own
rlimits before touching the document (see :mod:`.worker`). This process only waits,
with a timeout, and turns every way the worker can end into an :class:`Analysis` or an
:class:`AnalysisError` with the reason: a bomb, a loop or a lying header can cost at
most the limits, never the server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from printhost.analysis.model import Analysis, AnalysisError


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int = 1 << 30
    cpu_seconds: int = 30
    wall_seconds: float = 60.0


def analyze_bounded(path: Path, limits: Limits = Limits()) -> Analysis:
    """Analyse ``path`` in a worker subprocess; raises :class:`AnalysisError`."""
    command = [
        sys.executable,
        "-m",
        "printhost.analysis.worker",
        "--max-memory",
        str(limits.memory_bytes),
        "--max-cpu",
        str(limits.cpu_seconds),
        str(Path(path).absolute()),
    ]
    with tempfile.TemporaryDirectory(prefix="printhost-analysis-") as workdir:
        try:
            done = subprocess.run(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=limits.wall_seconds,
                start_new_session=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AnalysisError(f"analysis took longer than {limits.wall_seconds:g} s") from None
    return _outcome(done, limits)


def _outcome(done: subprocess.CompletedProcess[bytes], limits: Limits) -> Analysis:
    if done.returncode < 0:
        raise AnalysisError(_death(-done.returncode, limits))
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        raise AnalysisError(
            f"analysis worker failed (exit status {done.returncode}"
            + (f": {detail[0]}" if detail else "")
            + ")"
        ) from None
    if "error" in reply:
        raise AnalysisError(str(reply["error"]))
    try:
        return Analysis.from_json(reply["analysis"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnalysisError(f"analysis worker gave an invalid answer: {exc}") from None


def _death(signum: int, limits: Limits) -> str:
    if signum in (signal.SIGXCPU, signal.SIGKILL):
        return f"analysis exceeded its CPU time limit ({limits.cpu_seconds} s)"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return (
        f"analysis worker was killed by {name}: the document is malformed or needs more "
        f"than {limits.memory_bytes >> 20} MiB"
    )


__all__ = ["Limits", "analyze_bounded"]
