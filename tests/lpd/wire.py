"""Hand-built RFC 1179 conversations, and a driver that feeds them to the core.

The builders follow the RFC's framing directly (RFC 1179 §5, §6, §7) and share no code
with ``printhost.lpd``, so tests built with them check the core rather than echo it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from printhost.lpd import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    ControlFileReceived,
    ControlFileStarted,
    DataChunk,
    DataFileEnded,
    DataFileStarted,
    Event,
    Limits,
    LpdConnection,
    ReceiveJob,
    State,
)

#: Feed whole, one byte at a time, and in odd pieces that split every boundary somewhere.
CHUNKINGS = [None, 1, 7]
ANSWERED = (ReceiveJob, ControlFileStarted, ControlFileReceived, DataFileStarted, DataFileEnded)


def receive_job(queue: str = "myprinter") -> bytes:
    return b"\x02" + queue.encode() + b"\n"  # §5.2


def control_file(content: bytes, name: str = "cfA001client") -> bytes:
    """§6.2: subcommand, the file, the zero octet."""
    return b"\x02%d %s\n" % (len(content), name.encode()) + content + b"\x00"


def data_file(content: bytes, name: str = "dfA001client", *, trailer: bool = True) -> bytes:
    """§6.3; ``trailer=False`` leaves out the zero octet (a client that closes instead)."""
    return b"\x03%d %s\n" % (len(content), name.encode()) + content + (b"\x00" if trailer else b"")


def stream_file(content: bytes, name: str = "dfA001client") -> bytes:
    """A data file with count 0: runs to end of file (LPRng ``lpr -k``)."""
    return b"\x030 %s\n" % name.encode() + content


def control(*lines: str | bytes, prints: Sequence[str] = ("ldfA001client",)) -> bytes:
    """A control file (§7): the given lines, then print lines, each ending in LF."""
    raw = [line.encode() if isinstance(line, str) else line for line in lines]
    raw += [p.encode() for p in prints]
    return b"".join(line + b"\n" for line in raw)


def job(
    document: bytes = b"hello\n",
    *,
    queue: str = "myprinter",
    lines: Sequence[str] = ("Hclient", "Palice", "Jreport"),
    data_first: bool = False,
) -> bytes:
    """A whole one-document job conversation."""
    cf = control_file(control(*lines, "Nreport.txt", prints=("ldfA001client",)))
    df = data_file(document)
    return receive_job(queue) + (df + cf if data_first else cf + df)


@dataclass
class Run:
    """What a conversation produced: events (DataChunks merged), replies sent, error."""

    events: list[Event] = field(default_factory=list)
    replies: bytes = b""
    data: dict[str, bytes] = field(default_factory=dict)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]

    def of(self, kind: type) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def pieces(data: bytes, size: int | None) -> Iterable[bytes]:
    if size is None:
        yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def drive(
    data: bytes,
    *,
    chunk: int | None = None,
    limits: Limits | None = None,
    eof: bool = True,
    answer: Callable[[LpdConnection, Event], bytes] | None = None,
) -> Run:
    """Feed ``data`` (whole, or ``chunk`` bytes at a time), then EOF; accept every event
    that waits for an answer unless ``answer`` says otherwise. An ``LpdError`` escapes."""
    conn = LpdConnection(limits)
    run = Run()
    current = ""
    feed = itertools.chain(pieces(data, chunk), [b""] if eof else [])
    for piece in feed:
        conn.receive_data(piece)
        while (event := conn.next_event()) is not NEED_DATA:
            assert event is not PAUSED, "drive answers every event"
            assert not isinstance(event, type(NEED_DATA))
            if isinstance(event, DataChunk):
                run.data[current] = run.data.get(current, b"") + event.data
                continue
            if isinstance(event, DataFileStarted):
                current = event.name
                run.data[current] = b""
            run.events.append(event)
            if isinstance(event, ANSWERED):
                run.replies += answer(conn, event) if answer else conn.accept()
            if isinstance(event, ConnectionClosed) or conn.state is State.FAILED:
                return run
    return run
