"""CPU time and memory of a server *and every process it forked*, read from /proc.

CUPS forks a backend (and, for filtered queues, filters) per job; printhost runs in one
process. To compare like with like, a server's cost is its whole process tree:

* CPU: ``utime + stime`` of the server, plus ``cutime + cstime`` (the CPU of children it
  has already reaped, as the kernel accounts it in ``/proc/PID/stat``), plus the same four
  fields of every descendant still alive. The difference of two such snapshots is the CPU
  spent by the tree in between, whether a helper lived through the interval or not.
* Memory: ``VmHWM`` of the server (its own peak resident set since start; servers are
  fresh for every run) and, sampled every ``interval`` seconds, the largest sum of
  ``VmRSS`` over the tree (the server with its helpers at that moment).

The bench runs as root, so every /proc entry (cupsd runs backends as ``lp``) is readable.
A process that disappears between listing and reading is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class Stat:
    pid: int
    ppid: int
    cpu_ticks: int  # utime + stime + cutime + cstime


def read_stat(pid: int) -> Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return Stat(pid, ppid, utime + stime + cutime + cstime)


def all_stats() -> list[Stat]:
    stats = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            stats.append(stat)
    return stats


def tree(root: int) -> list[Stat]:
    """``root`` and its descendants still alive (empty when ``root`` is gone)."""
    stats = all_stats()
    children: dict[int, list[Stat]] = {}
    by_pid: dict[int, Stat] = {}
    for stat in stats:
        children.setdefault(stat.ppid, []).append(stat)
        by_pid[stat.pid] = stat
    if root not in by_pid:
        return []
    found, todo = [by_pid[root]], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def tree_cpu_seconds(root: int) -> float:
    return sum(stat.cpu_ticks for stat in tree(root)) / TICKS


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def hwm_bytes(pid: int) -> int:
    """``VmHWM``: the peak resident set of ``pid`` since it started."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", "rb") as handle:
        for line in handle:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


class TreeMonitor:
    """Samples one server's tree while a run lasts: ``async with TreeMonitor(pid) as m``.

    ``cpu_seconds``, ``peak_tree_rss`` and ``server_hwm`` are set on exit.
    """

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self.cpu_seconds = 0.0
        self.peak_tree_rss = 0
        self.server_hwm = 0
        self._cpu_start = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TreeMonitor:
        self._cpu_start = tree_cpu_seconds(self.root)
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample_once()
        self.cpu_seconds = tree_cpu_seconds(self.root) - self._cpu_start
        self.server_hwm = hwm_bytes(self.root)

    async def _sample(self) -> None:
        while True:
            self._sample_once()
            await asyncio.sleep(self.interval)

    def _sample_once(self) -> None:
        total = sum(rss_bytes(stat.pid) for stat in tree(self.root))
        self.peak_tree_rss = max(self.peak_tree_rss, total)
