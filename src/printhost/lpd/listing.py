"""The text answer to "send queue state" (RFC 1179 §5.3 short, §5.4 long).

The RFC leaves the format open; clients print it as it comes. We write what BSD lpd and
cups-lpd write, which is what people and scripts that read ``lpq`` expect:

    myprinter is ready and printing
    Rank   Owner      Job  Files                                 Total Size
    active alice      12   report.pdf                            1234 bytes
    1st    bob        13   notes.txt                             120 bytes

and in the long form one block per job:

    alice: active                             [job 12 10.0.0.7]
            report.pdf                        1234 bytes

Values come from job records that any client may have named: they are shown without
control characters and cut to their columns, so a job name cannot forge listing lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")
HEADER = "Rank   Owner      Job  Files                                 Total Size"


@dataclass(frozen=True, slots=True)
class QueueSummary:
    name: str
    accepting: bool = True
    paused: bool = False


@dataclass(frozen=True, slots=True)
class ListingEntry:
    job_id: int
    owner: str
    host: str
    #: (document name, octets) per document; the job name stands in when none is named.
    #: Only the last part of a path is shown.
    files: tuple[tuple[str, int], ...]
    active: bool = False  # being printed now
    held: bool = False


def format_queue_state(
    queue: QueueSummary, entries: Sequence[ListingEntry], *, long: bool, more: int = 0
) -> bytes:
    """The whole answer; ``more`` jobs were left out (the listing is capped)."""
    lines = [_status(queue)]
    if not entries:
        lines.append("no entries")
    elif long:
        for rank, entry in _ranked(entries):
            lines += ["", *_long_entry(rank, entry)]
    else:
        lines.append(HEADER)
        lines += [_short_entry(rank, entry) for rank, entry in _ranked(entries)]
    if more:
        lines.append(f"... and {more} more jobs")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _status(queue: QueueSummary) -> str:
    name = printable(queue.name, 127)
    if not queue.accepting:
        return f"{name} is not accepting jobs"
    return f"{name} is paused" if queue.paused else f"{name} is ready"


def _ranked(entries: Sequence[ListingEntry]) -> list[tuple[str, ListingEntry]]:
    ranked = []
    waiting = 0
    for entry in entries:
        if entry.active:
            rank = "active"
        elif entry.held:
            rank = "held"
        else:
            waiting += 1
            rank = ordinal(waiting)
        ranked.append((rank, entry))
    return ranked


def _short_entry(rank: str, entry: ListingEntry) -> str:
    names = ", ".join(printable(base_name(name), 255) for name, _ in entry.files)
    total = sum(size for _, size in entry.files)
    owner = printable(entry.owner, 10)
    return f"{rank:<7}{owner:<11}{entry.job_id:<5}{names[:37]:<38}{total} bytes"


def _long_entry(rank: str, entry: ListingEntry) -> list[str]:
    head = f"{printable(entry.owner, 31)}: {rank}"
    lines = [f"{head:<42}[job {entry.job_id} {printable(entry.host, 63)}]"]
    lines += [
        f"        {printable(base_name(name), 80):<33} {size} bytes" for name, size in entry.files
    ]
    return lines


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def base_name(name: str) -> str:
    """A file name without the client's directories: LPRng's N line carries the path it
    was given (``/home/alice/report.pdf``), Windows clients ``C:\\dir\\report.doc``."""
    return re.split(r"[/\\]", name)[-1] or name


def printable(value: str, width: int) -> str:
    return _UNPRINTABLE.sub("", value)[:width]
