"""Analysis of untrusted documents, bounded in memory, CPU and wall-clock time.

Each document is analysed in a fresh process in its own session and an empty temporary
working directory; the process sets its own rlimits (address space, CPU time, no files
written, no core dumps) before touching the document (see :mod:`.worker`). This process
only waits, with a timeout, and turns every way the worker can end into an
:class:`Analysis` or an :class:`AnalysisError` with the reason: a bomb, a loop or a lying
header can cost at most the limits, never the server.

The fresh process is a child forked from a pre-started worker that has already imported
the analysers (:class:`.forkserver.ForkServer`), which saves the ~0.1 s of interpreter
start and imports per document. :func:`analyze_bounded` uses one shared pre-started
worker, started on first use and stopped at interpreter exit (or by
:func:`stop_shared_server`); :func:`analyze_with` takes one you own.
:func:`analyze_in_fresh_process` is the same analysis in a fresh
``python -m printhost.analysis.worker`` process, with no server at all.
"""

from __future__ import annotations

import atexit
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from printhost.analysis.forkserver import ForkServer, ServerGone
from printhost.analysis.model import Analysis, AnalysisError


@dataclass(frozen=True, slots=True)
class Limits:
    memory_bytes: int = 1 << 30
    cpu_seconds: int = 30
    wall_seconds: float = 60.0


_shared: ForkServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> ForkServer:
    """The pre-started worker :func:`analyze_bounded` uses (started on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ForkServer()
            atexit.register(stop_shared_server)
        return _shared


def stop_shared_server() -> None:
    """Stop the shared pre-started worker; the next analysis starts a new one."""
    global _shared
    with _shared_lock:
        server, _shared = _shared, None
    if server is not None:
        server.close()


def analyze_bounded(path: Path, limits: Limits = Limits()) -> Analysis:
    """Analyse ``path`` in a bounded child of the shared pre-started worker; raises
    :class:`AnalysisError`. Thread-safe: documents are analysed concurrently."""
    return analyze_with(shared_server(), path, limits)


def analyze_with(server: ForkServer, path: Path, limits: Limits = Limits()) -> Analysis:
    """Analyse ``path`` in a bounded child of ``server``; raises :class:`AnalysisError`.
    The wall-clock limit covers the whole call."""
    started = time.monotonic()
    target = Path(path).absolute()
    with tempfile.TemporaryDirectory(prefix="printhost-analysis-") as workdir:
        for attempt in (1, 2):
            try:
                result = server.run(
                    target,
                    Path(workdir),
                    limits.memory_bytes,
                    limits.cpu_seconds,
                    max(0.0, limits.wall_seconds - (time.monotonic() - started)),
                )
                break
            except TimeoutError:
                raise AnalysisError(_too_long(limits)) from None
            except OSError as exc:  # the server cannot be started
                raise AnalysisError(f"analysis worker failed ({exc})") from None
            except ServerGone as exc:
                # Not yet sent: the server had died meanwhile; a new one is started.
                if exc.sent or attempt == 2:
                    raise AnalysisError(f"analysis worker failed ({exc})") from None
    if result.timed_out or time.monotonic() - started > limits.wall_seconds:
        raise AnalysisError(_too_long(limits))
    done = subprocess.CompletedProcess(
        args=[], returncode=result.returncode, stdout=result.stdout, stderr=result.stderr
    )
    return _outcome(done, limits)


def analyze_in_fresh_process(path: Path, limits: Limits = Limits()) -> Analysis:
    """Analyse ``path`` in a fresh ``python -m printhost.analysis.worker`` process (no
    pre-started worker); raises :class:`AnalysisError`."""
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
            raise AnalysisError(_too_long(limits)) from None
    return _outcome(done, limits)


def _too_long(limits: Limits) -> str:
    return f"analysis took longer than {limits.wall_seconds:g} s"


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


__all__ = [
    "Limits",
    "analyze_bounded",
    "analyze_in_fresh_process",
    "analyze_with",
    "shared_server",
    "stop_shared_server",
]
