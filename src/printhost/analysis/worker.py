"""The analysis worker: ``python -m printhost.analysis.worker [--max-memory BYTES]
[--max-cpu SECONDS] FILE``.

It limits itself first (address space, CPU time, no files written, no core dumps), then
analyses FILE and writes one JSON object to standard output: ``{"analysis": {...}}``
with exit status 0, or ``{"error": "reason"}`` with exit status 3. Being killed (CPU
limit, a crash in a parser library) is reported by the parent, :mod:`.sandbox`.

:mod:`.sandbox` normally runs the same code in a child forked from a pre-started worker
(:mod:`.forkserver`), which limits itself with :func:`limit_self` and answers with
:func:`analyze_and_reply` just as this entry point does.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from printhost.analysis.model import AnalysisError

REJECTED = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="printhost.analysis.worker")
    parser.add_argument("--max-memory", type=int, default=1 << 30)
    parser.add_argument("--max-cpu", type=int, default=30)
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    limit_self(args.max_memory, args.max_cpu)
    return analyze_and_reply(args.file)


def analyze_and_reply(path: Path) -> int:
    """Analyse ``path`` and write the one JSON reply; returns the exit status. The caller
    has limited this process already (here: :func:`main`; or a child of the pre-started
    worker, :mod:`.forkserver`)."""
    try:
        from printhost.analysis.sniff import analyze_file

        analysis = analyze_file(path)
    except AnalysisError as exc:
        return _reply({"error": exc.reason}, REJECTED)
    except MemoryError:
        return _reply({"error": "document needs more memory than analysis allows"}, REJECTED)
    except RecursionError:
        return _reply({"error": "document is nested too deeply"}, REJECTED)
    except OSError as exc:
        return _reply({"error": f"cannot read document: {exc.strerror or exc}"}, REJECTED)
    except Exception as exc:  # a parser library's own error on a malformed document
        return _reply({"error": f"malformed document ({type(exc).__name__}: {exc})"}, REJECTED)
    return _reply({"analysis": analysis.to_json()}, 0)


def limit_self(max_memory: int, max_cpu: int) -> None:
    """Lower this process's limits (never raise them: under a smaller hard limit, e.g. a
    service's ``ulimit -v``, asking for more fails, and that limit already bounds us)."""
    _lower(resource.RLIMIT_AS, max_memory, max_memory)
    _lower(resource.RLIMIT_CPU, max_cpu, max_cpu + 1)
    _lower(resource.RLIMIT_FSIZE, 0, 0)
    _lower(resource.RLIMIT_CORE, 0, 0)


def _lower(which: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _reply(message: dict[str, object], status: int) -> int:
    sys.stdout.write(json.dumps(message))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
