"""One LPD connection, server side: bytes in, events out (RFC 1179).

Theory of operation
-------------------
Written by hand: no maintained Python LPD library exists (IPP-CLIENTS.md §6.1). Like h11,
the core does no I/O. The transport feeds what it reads to ``receive_data`` (``b""`` at
end of file) and calls ``next_event`` until it returns ``NEED_DATA``. Some events wait
for the application's answer (``PAUSED`` until then): ``accept()`` returns the octet to
send and lets the conversation go on, ``refuse()`` the refusal, after which the
connection is finished. Anything the core refuses itself raises ``LpdError`` carrying the
reply to send.

A connection carries one daemon command (§5). Queue state, remove jobs and print waiting
jobs are one line, answered by the application (text, or nothing) before it closes.
Receive job (§5.2) is a conversation of subcommands (§6):

    02 queue LF                 -> ReceiveJob            answer: accept / refuse
    02 count SP cfA.. LF        -> ControlFileStarted    answer
    <count octets> 00           -> ControlFileReceived   answer (read whole, bounded)
    03 count SP dfA.. LF        -> DataFileStarted       answer
    <count octets>              -> DataChunk...          (passed through, never kept)
    00                          -> DataFileEnded         answer
    01 LF                       -> JobAborted            (§6.1: no answer)
    end of file                 -> ConnectionClosed

Files come in either order, and one connection may carry several jobs. A job is complete
when its control file and every data file it prints have arrived; the event that
completes it (the control file's or the last data file's) carries a ``ReceivedJob``, and
the application answers it only once the job is stored (DESIGN invariant 1). A data file
with count 0 runs to the end of the connection (LPRng ``lpr -k``); a file whose zero octet
never comes because the client closed instead (CUPS ``mode=stream``) is complete too.

Names are only keys: the core matches a control file's print lines with data file names
and hands the application names, never paths. ``State`` lists the states and
``LpdConnection._readers`` what each one reads; the tests go through every state with
each kind of input (bytes, end of file, accept, refuse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from printhost.lpd.commands import (
    Command,
    CommandLine,
    FileLine,
    Subcommand,
    parse_command,
    parse_subcommand,
)
from printhost.lpd.control import ControlFile, parse_control_file
from printhost.lpd.errors import Ack, LpdError
from printhost.lpd.limits import Limits


class Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: ``next_event`` needs more bytes (or the end of file) first.
NEED_DATA = Sentinel("NEED_DATA")
#: ``next_event`` waits for the application to ``accept()`` or ``refuse()``.
PAUSED = Sentinel("PAUSED")


# -- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedJob:
    """A complete job: its control file and the data files it prints, all received."""

    control_file_name: str
    control: ControlFile
    #: Octets of data over the job's data files.
    size: int


@dataclass(frozen=True, slots=True)
class PrintWaitingJobs:
    """§5.1: start printing. Nothing is answered; the connection closes."""

    queue: str


@dataclass(frozen=True, slots=True)
class ReceiveJob:
    """§5.2: a job for ``queue`` follows. Answer: accept or refuse."""

    queue: str


@dataclass(frozen=True, slots=True)
class QueueStateRequested:
    """§5.3/§5.4: answer with the listing as text, then close."""

    queue: str
    long: bool
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveJobsRequested:
    """§5.5: ``agent`` (a claim, not a proof) asks to remove jobs; close after."""

    queue: str
    agent: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ControlFileStarted:
    """A control file of ``size`` octets is announced (§6.2). Answer."""

    name: str
    size: int


@dataclass(frozen=True, slots=True)
class ControlFileReceived:
    """A control file arrived (§6.2). ``job`` is set when it completes a job. Answer."""

    name: str
    control: ControlFile
    job: ReceivedJob | None


@dataclass(frozen=True, slots=True)
class DataFileStarted:
    """A data file is announced (§6.3); ``size`` None: it runs to end of file. Answer."""

    name: str
    size: int | None


@dataclass(frozen=True, slots=True)
class DataChunk:
    data: bytes


@dataclass(frozen=True, slots=True)
class DataFileEnded:
    """The data file is complete. ``job`` is set when it completes a job. Answer."""

    name: str
    size: int
    job: ReceivedJob | None


@dataclass(frozen=True, slots=True)
class JobAborted:
    """§6.1: forget the data files received so far (and any control file)."""

    discarded: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The conversation is over. ``unused`` names data files no complete job printed."""

    unused: tuple[str, ...] = ()


Event = (
    PrintWaitingJobs
    | ReceiveJob
    | QueueStateRequested
    | RemoveJobsRequested
    | ControlFileStarted
    | ControlFileReceived
    | DataFileStarted
    | DataChunk
    | DataFileEnded
    | JobAborted
    | ConnectionClosed
)


class State(Enum):
    COMMAND = "command"  # the daemon command line (§5)
    PAUSED = "paused"  # an event waits for accept() or refuse()
    SUBCOMMAND = "subcommand"  # a receive-job subcommand line (§6), or end of file
    CONTROL_FILE = "control-file"  # the octets of a control file
    DATA_FILE = "data-file"  # the octets of a data file of known size
    DATA_TO_EOF = "data-to-eof"  # a data file sent with count 0
    TRAILER = "trailer"  # the zero octet after a file (§6.2, §6.3)
    DONE = "done"  # a one-line command was read; nothing more is (§5: it closes)
    CLOSED = "closed"  # ConnectionClosed was returned
    FAILED = "failed"  # refused: the connection must close


_QUERY_EVENTS: dict[Command, Callable[[CommandLine], Event]] = {
    Command.PRINT_WAITING_JOBS: lambda c: PrintWaitingJobs(c.queue),
    Command.SEND_QUEUE_STATE_SHORT: lambda c: QueueStateRequested(c.queue, False, c.items),
    Command.SEND_QUEUE_STATE_LONG: lambda c: QueueStateRequested(c.queue, True, c.items),
    Command.REMOVE_JOBS: lambda c: RemoveJobsRequested(c.queue, c.agent, c.items),
}


class LpdConnection:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.state = State.COMMAND
        self._buffer = bytearray()
        self._eof = False
        self._acknowledged = True  # False for §5.3-5.5, whose clients expect no octet
        self._after_accept = State.SUBCOMMAND
        # the file being read
        self._file = FileLine(Subcommand.RECEIVE_DATA_FILE, None, "")
        self._remaining = 0
        self._received = 0
        self._control = bytearray()
        # data files received whole, not yet printed by a complete job: name -> size
        self._unclaimed: dict[str, int] = {}
        self._waiting: tuple[str, ControlFile] | None = None  # control file missing data
        self._readers: dict[State, Callable[[], Event | Sentinel]] = {
            State.COMMAND: self._read_command,
            State.PAUSED: lambda: PAUSED,
            State.SUBCOMMAND: self._read_subcommand,
            State.CONTROL_FILE: self._read_control_file,
            State.DATA_FILE: self._read_data_file,
            State.DATA_TO_EOF: self._read_data_to_eof,
            State.TRAILER: self._read_trailer,
            State.DONE: self._close,
            State.CLOSED: self._already_closed,
            State.FAILED: self._already_failed,
        }

    # -- input and output -----------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the client; ``b""`` when it closed its side."""
        if self._eof:
            if data:
                raise RuntimeError("receive_data after end of file")
            return
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | Sentinel:
        """The next event, ``NEED_DATA`` or ``PAUSED``. Raises ``LpdError`` on input the
        core refuses; the connection is then finished."""
        try:
            return self._readers[self.state]()
        except LpdError as exc:
            self.state = State.FAILED
            if not self._acknowledged:
                exc.without_reply()
            raise

    def accept(self) -> bytes:
        """Answer the paused event with yes: the octet to send."""
        if self.state is not State.PAUSED:
            raise RuntimeError(f"nothing to accept in state {self.state.value}")
        self.state = self._after_accept
        return bytes([Ack.OK])

    def refuse(self, ack: Ack = Ack.REFUSED) -> bytes:
        """Say no (to a paused event, or in the middle of a file): what to send before
        closing. Nothing for the commands that expect no acknowledgement."""
        self.state = State.FAILED
        return bytes([ack]) if self._acknowledged else b""

    # -- readers, one per state -------------------------------------------------------------

    def _read_command(self) -> Event | Sentinel:
        line = self._line()
        if line is None:
            return NEED_DATA if not self._eof or self._buffer else self._close()
        command: CommandLine = parse_command(line, self.limits)
        if command.command is Command.RECEIVE_JOB:
            return self._pause(ReceiveJob(command.queue), State.SUBCOMMAND)
        self._acknowledged = False
        self.state = State.DONE
        return _QUERY_EVENTS[command.command](command)

    def _read_subcommand(self) -> Event | Sentinel:
        line = self._line()
        if line is None:
            return NEED_DATA if not self._eof or self._buffer else self._close()
        file = parse_subcommand(line, self.limits)
        if file is None:
            return self._abort()
        self._file, self._received = file, 0
        if file.subcommand is Subcommand.RECEIVE_CONTROL_FILE:
            assert file.size is not None  # parse_subcommand refuses count 0 here
            self._remaining = file.size
            self._control.clear()
            return self._pause(ControlFileStarted(file.name, file.size), State.CONTROL_FILE)
        self._check_new_data_file(file)
        after = State.DATA_FILE if file.size is not None else State.DATA_TO_EOF
        self._remaining = file.size or 0
        return self._pause(DataFileStarted(file.name, file.size), after)

    def _read_control_file(self) -> Event | Sentinel:
        if self._remaining:
            taken = self._take(self._remaining)
            if not taken:
                return self._early_eof()
            self._control += taken
            self._remaining -= len(taken)
            if self._remaining:
                return NEED_DATA
        self.state = State.TRAILER
        return self._read_trailer()

    def _read_data_file(self) -> Event | Sentinel:
        if not self._remaining:
            self.state = State.TRAILER
            return self._read_trailer()
        taken = self._take(self._remaining)
        if not taken:
            return self._early_eof()
        self._remaining -= len(taken)
        self._received += len(taken)
        return DataChunk(taken)

    def _read_data_to_eof(self) -> Event | Sentinel:
        taken = self._take(len(self._buffer))
        if taken:
            self._received += len(taken)
            if self._job_bytes() + self._received > self.limits.max_job_bytes:
                raise LpdError(f"job data exceeds the limit of {self.limits.max_job_bytes} octets")
            return DataChunk(taken)
        if not self._eof:
            return NEED_DATA
        return self._file_done()

    def _read_trailer(self) -> Event | Sentinel:
        if not self._buffer:
            if not self._eof:
                return NEED_DATA
            # the client closed instead of sending the zero octet (CUPS mode=stream)
        elif self._buffer[0] != 0:
            raise LpdError(f"file {self._file.name!r} is not followed by a zero octet")
        else:
            del self._buffer[:1]
        return self._file_done()

    def _close(self) -> ConnectionClosed:
        self.state = State.CLOSED
        return ConnectionClosed(tuple(self._unclaimed))

    def _already_closed(self) -> Event | Sentinel:
        raise RuntimeError("next_event after ConnectionClosed")

    def _already_failed(self) -> Event | Sentinel:
        raise LpdError("the connection has already been refused")

    # -- files and jobs -------------------------------------------------------------------

    def _file_done(self) -> Event:
        after = State.SUBCOMMAND  # which closes the conversation at end of file
        name = self._file.name
        if self._file.subcommand is Subcommand.RECEIVE_CONTROL_FILE:
            control = parse_control_file(bytes(self._control), self.limits)
            self._control.clear()
            if self._waiting is not None:
                raise LpdError(
                    f"control file {name!r} arrived before the data files of {self._waiting[0]!r}"
                )
            self._waiting = (name, control)
            return self._pause(ControlFileReceived(name, control, self._complete_job()), after)
        self._unclaimed[name] = self._received
        return self._pause(DataFileEnded(name, self._received, self._complete_job()), after)

    def _complete_job(self) -> ReceivedJob | None:
        """The waiting control file's job, if all its data files are here (taken out)."""
        if self._waiting is None:
            return None
        name, control = self._waiting
        needed = control.data_file_names
        if not needed <= self._unclaimed.keys():
            return None
        size = sum(self._unclaimed.pop(data_file) for data_file in needed)
        self._waiting = None
        return ReceivedJob(name, control, size)

    def _check_new_data_file(self, file: FileLine) -> None:
        if file.name in self._unclaimed:
            raise LpdError(f"data file {file.name!r} sent twice")
        if len(self._unclaimed) >= self.limits.max_data_files:
            raise LpdError(f"more than {self.limits.max_data_files} data files in one job")
        if self._job_bytes() + (file.size or 0) > self.limits.max_job_bytes:
            raise LpdError(f"job data exceeds the limit of {self.limits.max_job_bytes} octets")

    def _job_bytes(self) -> int:
        return sum(self._unclaimed.values())

    def _abort(self) -> JobAborted:
        discarded = tuple(self._unclaimed)
        self._unclaimed.clear()
        self._waiting = None
        return JobAborted(discarded)

    # -- buffer helpers -------------------------------------------------------------------

    def _pause(self, event: Event, after: State) -> Event:
        self.state = State.PAUSED
        self._after_accept = after
        return event

    def _line(self) -> bytes | None:
        """A whole line without its LF, or None when it has not all arrived."""
        end = self._buffer.find(b"\n", 0, self.limits.max_command_bytes)
        if end < 0:
            if len(self._buffer) >= self.limits.max_command_bytes:
                raise LpdError(f"command line longer than {self.limits.max_command_bytes} octets")
            if self._eof and self._buffer:
                raise LpdError("connection closed in the middle of a command line")
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _take(self, most: int) -> bytes:
        taken = bytes(self._buffer[:most])
        del self._buffer[: len(taken)]
        return taken

    def _early_eof(self) -> Sentinel:
        if not self._eof:
            return NEED_DATA
        raise LpdError(
            f"connection closed {self._remaining} octets before the end of {self._file.name!r}"
        )
