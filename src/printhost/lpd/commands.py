"""Parsing the lines that frame an LPD conversation: daemon commands (RFC 1179 §5) and the
subcommands of "receive job" (§6). Pure functions from one line (without its LF) to a
value, raising ``LpdError``.

Names are matching keys only. A control or data file name is compared with the names a
control file mentions and never becomes part of a path, but a name that could be read as
a path (``/``, ``\\``, ``..``) or that carries control characters is refused all the
same: no honest client sends one (IPP-CLIENTS.md §6.2), and refusing keeps such names out
of logs and listings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from printhost.lpd.errors import Ack, LpdError
from printhost.lpd.limits import Limits


class Command(IntEnum):
    """Daemon commands, the first octet of a connection (RFC 1179 §5)."""

    PRINT_WAITING_JOBS = 1  # §5.1
    RECEIVE_JOB = 2  # §5.2
    SEND_QUEUE_STATE_SHORT = 3  # §5.3
    SEND_QUEUE_STATE_LONG = 4  # §5.4
    REMOVE_JOBS = 5  # §5.5


class Subcommand(IntEnum):
    """Subcommands of receive-job (RFC 1179 §6)."""

    ABORT_JOB = 1  # §6.1
    RECEIVE_CONTROL_FILE = 2  # §6.2
    RECEIVE_DATA_FILE = 3  # §6.3


@dataclass(frozen=True, slots=True)
class CommandLine:
    command: Command
    queue: str
    #: §5.5 remove-jobs: the user (or "root") asking. Empty for the other commands.
    agent: str = ""
    #: §5.3-5.5: user names and job numbers the request is limited to.
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileLine:
    """A receive-control-file or receive-data-file subcommand."""

    subcommand: Subcommand
    #: Octets that follow; None for a data file sent with count 0 ("until the connection
    #: closes", LPRng's and CUPS's streaming mode).
    size: int | None
    name: str


#: A count is decimal digits only: no sign, no spaces, no exponent (strtoll would take
#: " -1" and "0x10"). Twenty digits are more than any real size.
_COUNT = re.compile(rb"^[0-9]{1,20}$")
#: Visible ASCII except the path separators.
_FILE_NAME = re.compile(rb"^[!-.0-\[\]-~]+$")
_TOKEN_UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def parse_command(line: bytes, limits: Limits) -> CommandLine:
    """The daemon command line (without its LF) that opens a connection."""
    if not line:
        raise LpdError("empty command line")
    try:
        command = Command(line[0])
    except ValueError:
        raise LpdError(f"unknown daemon command {line[0]:#04x}") from None
    fields = _text(line[1:]).split()
    if command in (Command.PRINT_WAITING_JOBS, Command.RECEIVE_JOB):
        if len(fields) != 1:
            raise LpdError(f"command {command:#04x} takes one queue name", Ack.REFUSED)
        return CommandLine(command, _queue(fields[0], limits))
    try:
        return _listing_command(command, fields, limits)
    except LpdError as exc:
        raise exc.without_reply() from None  # §5.3-5.5 clients wait for text, not an octet


def _listing_command(command: Command, fields: list[str], limits: Limits) -> CommandLine:
    """§5.3 and §5.4 ``queue SP list``; §5.5 ``queue SP agent SP list``."""
    least = 2 if command is Command.REMOVE_JOBS else 1
    if len(fields) < least:
        needs = "a queue name and an agent" if least == 2 else "a queue name"
        raise LpdError(f"command {command:#04x} needs {needs}")
    items = tuple(fields[least:])
    if len(items) > limits.max_list_items:
        raise LpdError(f"more than {limits.max_list_items} list items")
    for item in items:
        _token(item, limits.max_text_field_bytes, "list item")
    agent = _token(fields[1], limits.max_short_field_bytes, "agent") if least == 2 else ""
    return CommandLine(command, _queue(fields[0], limits), agent=agent, items=items)


def parse_subcommand(line: bytes, limits: Limits) -> FileLine | None:
    """A receive-job subcommand line; None for abort-job (§6.1)."""
    if not line:
        raise LpdError("empty subcommand line")
    code = line[0]
    if code == Subcommand.ABORT_JOB:
        if line[1:].strip():
            raise LpdError("abort-job takes no operands")
        return None
    if code not in (Subcommand.RECEIVE_CONTROL_FILE, Subcommand.RECEIVE_DATA_FILE):
        raise LpdError(f"unknown receive-job subcommand {code:#04x}")
    subcommand = Subcommand(code)
    fields = line[1:].split()
    if len(fields) != 2:
        raise LpdError(f"subcommand {code:#04x} takes a count and a file name")
    size = _count(fields[0], subcommand, limits)
    prefix = b"cf" if subcommand is Subcommand.RECEIVE_CONTROL_FILE else b"df"
    return FileLine(subcommand, size, check_file_name(fields[1], prefix, limits))


def _count(raw: bytes, subcommand: Subcommand, limits: Limits) -> int | None:
    if not _COUNT.match(raw):
        raise LpdError(f"count {_shown(raw)} is not a decimal number of octets")
    size = int(raw)
    if subcommand is Subcommand.RECEIVE_CONTROL_FILE:
        if size == 0:
            raise LpdError("a control file cannot be sent without a count")
        if size > limits.max_control_file_bytes:
            raise LpdError(
                f"control file of {size} octets exceeds the limit of "
                f"{limits.max_control_file_bytes}"
            )
        return size
    if size > limits.max_job_bytes:
        raise LpdError(f"data file of {size} octets exceeds the limit of {limits.max_job_bytes}")
    return size or None  # §6.3 gives no meaning to 0; LPRng and CUPS mean "until EOF"


def check_file_name(raw: bytes, prefix: bytes, limits: Limits) -> str:
    """A control (``cf...``) or data (``df...``) file name, checked: see the module doc."""
    if len(raw) > limits.max_file_name_bytes:
        raise LpdError(f"file name longer than {limits.max_file_name_bytes} octets")
    if not _FILE_NAME.match(raw) or b".." in raw:
        raise LpdError(f"file name {_shown(raw)} contains characters names may not have")
    if not raw.startswith(prefix) or len(raw) == len(prefix):
        raise LpdError(f"file name {_shown(raw)} does not start with {prefix.decode()}")
    return raw.decode("ascii")


def _queue(name: str, limits: Limits) -> str:
    return _token(name, limits.max_queue_name_bytes, "queue name")


def _token(value: str, max_bytes: int, what: str) -> str:
    if len(value.encode("utf-8", "surrogateescape")) > max_bytes:
        raise LpdError(f"{what} longer than {max_bytes} octets", Ack.REFUSED)
    if _TOKEN_UNSAFE.search(value):
        raise LpdError(f"{what} {value!r} contains control characters", Ack.REFUSED)
    return value


def _text(raw: bytes) -> str:
    """Command operands: UTF-8, or Latin-1 from older systems (every octet decodes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _shown(raw: bytes) -> str:
    """A refused value, short and printable, for error messages and logs."""
    return repr(raw[:40])[1:] + ("..." if len(raw) > 40 else "")
