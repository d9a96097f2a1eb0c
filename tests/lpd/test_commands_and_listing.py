"""Command lines (RFC 1179 §5, §6) parsed alone, and the queue-state text (§5.3, §5.4)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from printhost.lpd import (
    Ack,
    Command,
    Limits,
    ListingEntry,
    LpdError,
    QueueSummary,
    job_numbers,
    select_for_removal,
)
from printhost.lpd import format_queue_state as fmt
from printhost.lpd.commands import (
    CommandLine,
    FileLine,
    Subcommand,
    check_file_name,
    parse_command,
    parse_subcommand,
)
from printhost.lpd.listing import HEADER, ordinal

LIMITS = Limits()


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"\x02lp", CommandLine(Command.RECEIVE_JOB, "lp")),
        (b"\x01lp", CommandLine(Command.PRINT_WAITING_JOBS, "lp")),
        (b"\x03lp", CommandLine(Command.SEND_QUEUE_STATE_SHORT, "lp")),
        (b"\x04lp 12 bob", CommandLine(Command.SEND_QUEUE_STATE_LONG, "lp", items=("12", "bob"))),
        (b"\x05lp root", CommandLine(Command.REMOVE_JOBS, "lp", agent="root")),
        (b"\x05lp bob 7 -", CommandLine(Command.REMOVE_JOBS, "lp", "bob", ("7", "-"))),
        (b"\x02caf\xc3\xa9", CommandLine(Command.RECEIVE_JOB, "caf\u00e9")),  # UTF-8
        (b"\x02caf\xe9", CommandLine(Command.RECEIVE_JOB, "caf\u00e9")),  # Latin-1
    ],
)
def test_daemon_commands(line: bytes, parsed: CommandLine) -> None:
    assert parse_command(line, LIMITS) == parsed


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"", b"\x03"),
        (b"\x00lp", b"\x03"),
        (b"\x06lp", b"\x03"),  # LPRng's lpc extension: not served
        (b"\x02", b"\x01"),
        (b"\x02a b", b"\x01"),
        (b"\x02" + b"q" * 128, b"\x01"),
        (b"\x03", b""),
        (b"\x05lp", b""),
        (b"\x05lp " + b"u" * 32, b""),
    ],
)
def test_bad_daemon_commands(line: bytes, reply: bytes) -> None:
    with pytest.raises(LpdError) as refused:
        parse_command(line, LIMITS)
    assert refused.value.reply == reply


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        (b"\x01", None),
        (b"\x02123 cfA001host", FileLine(Subcommand.RECEIVE_CONTROL_FILE, 123, "cfA001host")),
        (b"\x03 5   dfA001host", FileLine(Subcommand.RECEIVE_DATA_FILE, 5, "dfA001host")),
        (b"\x030 dfA001host", FileLine(Subcommand.RECEIVE_DATA_FILE, None, "dfA001host")),
        (b"\x03007 dfA001h.x-y", FileLine(Subcommand.RECEIVE_DATA_FILE, 7, "dfA001h.x-y")),
    ],
)
def test_subcommands(line: bytes, parsed: FileLine | None) -> None:
    assert parse_subcommand(line, LIMITS) == parsed


@pytest.mark.parametrize(
    "raw",
    [b"", b"df", b"dfA/b", b"dfA\\b", b"dfA..", b"dfA b", b"dfA\x00", b"dfA\xff", b"cfA1"],
)
def test_file_names_refused(raw: bytes) -> None:
    with pytest.raises(LpdError) as refused:
        check_file_name(raw, b"df", LIMITS)
    assert refused.value.ack is Ack.BAD_JOB


# -- queue state text ---------------------------------------------------------------------

QUEUE = QueueSummary("myprinter")


def _entry(
    job_id: int,
    owner: str = "alice",
    *,
    files: tuple[tuple[str, int], ...] = (("report.pdf", 1234),),
    active: bool = False,
    held: bool = False,
) -> ListingEntry:
    return ListingEntry(job_id, owner, "10.0.0.7", files, active=active, held=held)


def test_short_listing() -> None:
    text = fmt(
        QUEUE, [_entry(12, active=True), _entry(13, "bob"), _entry(14, held=True)], long=False
    )

    assert text.decode().splitlines() == [
        "myprinter is ready",
        HEADER,
        "active alice      12   report.pdf                            1234 bytes",
        "1st    bob        13   report.pdf                            1234 bytes",
        "held   alice      14   report.pdf                            1234 bytes",
    ]


def test_long_listing() -> None:
    entry = _entry(12, files=(("a.txt", 10), ("b.pdf", 20)))

    lines = fmt(QUEUE, [entry], long=True).decode().splitlines()

    assert lines == [
        "myprinter is ready",
        "",
        "alice: 1st                                [job 12 10.0.0.7]",
        "        a.txt                             10 bytes",
        "        b.pdf                             20 bytes",
    ]


def test_empty_paused_and_closed_queues() -> None:
    assert fmt(QUEUE, [], long=False) == b"myprinter is ready\nno entries\n"
    paused = QueueSummary("q", paused=True)
    assert fmt(paused, [], long=True).startswith(b"q is paused\n")
    closed = QueueSummary("q", accepting=False)
    assert fmt(closed, [], long=True).startswith(b"q is not accepting jobs\n")


def test_capped_listing_says_so() -> None:
    text = fmt(QUEUE, [_entry(1)], long=False, more=41).decode()
    assert text.endswith("... and 41 more jobs\n")


def test_names_cannot_forge_lines() -> None:
    entry = _entry(3, "mal\nlory", files=(("x\nactive root 1 fake", 1),))
    lines = fmt(QUEUE, [entry], long=False).decode().splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("1st    mallory    3    xactive root 1 fake")


def test_ordinals() -> None:
    got = [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112)]
    assert got == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th",
        "21st", "22nd", "23rd", "101st", "111th", "112th",
    ]  # fmt: skip


def test_listing_shows_file_names_without_directories() -> None:
    entry = _entry(5, files=(("/home/alice/report.pdf", 1), ("C:\\docs\\memo.doc", 2)))
    short = fmt(QUEUE, [entry], long=False).decode()
    long = fmt(QUEUE, [entry], long=True).decode()
    assert "report.pdf, memo.doc" in short
    assert "/home" not in short + long and "docs" not in short + long


# -- remove-jobs lists (§5.5) -------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    id: int
    owner: str


QUEUED = [Queued(1, "alice"), Queued(2, "bob"), Queued(3, "alice"), Queued(4, "carol")]


@pytest.mark.parametrize(
    ("agent", "items", "ids", "missing"),
    [
        ("alice", (), [1], []),  # no list: the agent's first job
        ("dave", (), [], []),
        ("alice", ("3",), [3], []),
        ("alice", ("2", "9"), [2], [9]),  # selected; whether alice may is not decided here
        ("alice", ("-",), [1, 3], []),
        ("alice", ("all",), [1, 3], []),
        ("alice", ("alice",), [1, 3], []),
        ("alice", ("carol", "1"), [1, 4], []),
        ("alice", ("1", "1", "alice"), [1, 3], []),  # each job once, in queue order
        ("alice", ("99999999999",), [], []),  # not a job number
    ],
)
def test_select_for_removal(
    agent: str, items: tuple[str, ...], ids: list[int], missing: list[int]
) -> None:
    selection = select_for_removal(QUEUED, agent, items)
    assert [j.id for j in selection.jobs] == ids
    assert selection.missing == missing


def test_job_numbers() -> None:
    assert job_numbers(["12", "bob", "-", "007", "1" * 12]) == [12, 7]
