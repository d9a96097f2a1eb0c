"""The LPD connection state machine (printhost.lpd.connection): conversations fed whole,
one byte at a time and in odd pieces, with trailing data; every refusal; every state
with every kind of input."""

from __future__ import annotations

import pytest

from printhost.lpd import (
    NEED_DATA,
    PAUSED,
    Ack,
    ConnectionClosed,
    ControlFileReceived,
    ControlFileStarted,
    DataChunk,
    DataFileEnded,
    DataFileStarted,
    JobAborted,
    Limits,
    LpdConnection,
    LpdError,
    PrintWaitingJobs,
    QueueStateRequested,
    ReceivedJob,
    ReceiveJob,
    RemoveJobsRequested,
    State,
)

from .wire import (
    CHUNKINGS,
    control,
    control_file,
    data_file,
    drive,
    job,
    receive_job,
    stream_file,
)

OK = b"\x00"


# -- receive job ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_control_file_first(chunk: int | None) -> None:
    run = drive(job(b"%PDF-1.4 data\n"), chunk=chunk)

    assert run.kinds() == [
        "ReceiveJob",
        "ControlFileStarted",
        "ControlFileReceived",
        "DataFileStarted",
        "DataFileEnded",
        "ConnectionClosed",
    ]
    assert run.replies == OK * 5  # §5.2, §6.2 line and file, §6.3 line and file
    received, ended = run.of(ControlFileReceived)[0], run.of(DataFileEnded)[0]
    assert isinstance(received, ControlFileReceived) and received.job is None
    assert isinstance(ended, DataFileEnded) and ended.job is not None  # completes the job
    assert ended.job.control.user == "alice" and ended.job.size == 14
    assert run.data == {"dfA001client": b"%PDF-1.4 data\n"}


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_data_file_first(chunk: int | None) -> None:
    run = drive(job(b"text\n", data_first=True), chunk=chunk)

    assert run.kinds() == [
        "ReceiveJob",
        "DataFileStarted",
        "DataFileEnded",
        "ControlFileStarted",
        "ControlFileReceived",
        "ConnectionClosed",
    ]
    ended, received = run.of(DataFileEnded)[0], run.of(ControlFileReceived)[0]
    assert isinstance(ended, DataFileEnded) and ended.job is None
    assert isinstance(received, ControlFileReceived) and received.job is not None
    assert received.job.control_file_name == "cfA001client"


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_several_data_files_and_jobs_on_one_connection(chunk: int | None) -> None:
    first = control("Palice", "Na.txt", prints=("fdfA001client", "fdfA001client", "ldfB001client"))
    second = control("Pbob", prints=("odfA002client",))
    conversation = (
        receive_job()
        + control_file(first)
        + data_file(b"one", "dfA001client")
        + data_file(b"two", "dfB001client")
        + data_file(b"three", "dfA002client")
        + control_file(second, "cfA002client")
    )

    run = drive(conversation, chunk=chunk)

    jobs = [e.job for e in run.events if isinstance(e, DataFileEnded | ControlFileReceived)]
    complete = [j for j in jobs if j is not None]
    assert [(j.control_file_name, j.size) for j in complete] == [
        ("cfA001client", 6),
        ("cfA002client", 5),
    ]
    documents = complete[0].control.documents
    assert [(d.name, d.letter, d.copies) for d in documents] == [
        ("dfA001client", "f", 2),  # two print lines: two copies
        ("dfB001client", "l", 1),
    ]
    assert run.data["dfB001client"] == b"two"


@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_data_file_with_count_zero_runs_to_end_of_file(chunk: int | None) -> None:
    conversation = receive_job() + control_file(control("Palice")) + stream_file(b"x" * 100)

    run = drive(conversation, chunk=chunk)

    started = run.of(DataFileStarted)[0]
    assert isinstance(started, DataFileStarted) and started.size is None
    ended = run.of(DataFileEnded)[-1]
    assert isinstance(ended, DataFileEnded) and ended.size == 100 and ended.job is not None
    assert run.data["dfA001client"] == b"x" * 100
    assert run.kinds()[-1] == "ConnectionClosed"


def test_file_ended_by_close_instead_of_zero_octet() -> None:
    """CUPS's lpd backend with mode=stream sends the count, the data, then closes."""
    conversation = receive_job() + control_file(control("Palice"))
    conversation += data_file(b"abc", trailer=False)

    run = drive(conversation)

    ended = run.of(DataFileEnded)[0]
    assert isinstance(ended, DataFileEnded) and ended.job is not None and ended.size == 3


def test_abort_forgets_what_was_received() -> None:
    conversation = (
        receive_job()
        + data_file(b"junk", "dfA001client")
        + b"\x01\n"  # §6.1 abort job
        + data_file(b"good", "dfA001client")  # the same name again is a new file
        + control_file(control("Palice"))
    )

    run = drive(conversation)

    aborted = run.of(JobAborted)[0]
    assert isinstance(aborted, JobAborted) and aborted.discarded == ("dfA001client",)
    received = run.of(ControlFileReceived)[0]
    assert isinstance(received, ControlFileReceived) and received.job is not None
    assert run.data["dfA001client"] == b"good"


def test_data_files_no_job_printed_are_reported_at_close() -> None:
    conversation = (
        receive_job()
        + data_file(b"a", "dfA001client")
        + data_file(b"b", "dfZ001client")
        + control_file(control("Palice"))
    )

    closed = drive(conversation).events[-1]

    assert closed == ConnectionClosed(unused=("dfZ001client",))


def test_a_connection_that_says_nothing() -> None:
    assert drive(b"").kinds() == ["ConnectionClosed"]
    assert drive(receive_job()).kinds() == ["ReceiveJob", "ConnectionClosed"]


def test_crlf_command_lines() -> None:
    run = drive(b"\x02myprinter\r\n")
    assert run.events[0] == ReceiveJob("myprinter")


# -- one-line commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "event"),
    [
        (b"\x01lp\n", PrintWaitingJobs("lp")),
        (b"\x03lp\n", QueueStateRequested("lp", False, ())),
        (b"\x04lp alice 12\n", QueueStateRequested("lp", True, ("alice", "12"))),
        (b"\x05lp root 12 13\n", RemoveJobsRequested("lp", "root", ("12", "13"))),
        (b"\x05lp bob\n", RemoveJobsRequested("lp", "bob", ())),
        (b"\x04lp  \t alice\n", QueueStateRequested("lp", True, ("alice",))),
    ],
)
@pytest.mark.parametrize("chunk", CHUNKINGS)
def test_one_line_commands(line: bytes, event: object, chunk: int | None) -> None:
    # whatever follows the line is not read: §5 says the connection closes after it
    run = drive(line + b"trailing \x02junk\n", chunk=chunk)
    assert run.events == [event, ConnectionClosed()]
    assert run.replies == b""


# -- refusals ----------------------------------------------------------------------------

HOSTILE = {
    "unknown command": b"\x09lp\n",
    "empty command": b"\n",
    "command line too long": b"\x02" + b"q" * 2000 + b"\n",
    "command without end": b"\x02" + b"q" * 2000,
    "queue with control characters": b"\x02lp\x1b[2J\n",
    "two queue names": b"\x02lp other\n",
    "unknown subcommand": receive_job() + b"\x07\n",
    "count not a number": receive_job() + b"\x03abc dfA001h\n",
    "negative count": receive_job() + b"\x03-5 dfA001h\n",
    "count with a sign": receive_job() + b"\x03+5 dfA001h\n",
    "hexadecimal count": receive_job() + b"\x030x10 dfA001h\n",
    "enormous count": receive_job() + b"\x03" + b"9" * 30 + b" dfA001h\n",
    "count over the job limit": receive_job() + b"\x0399999999999 dfA001h\n",
    "control file without count": receive_job() + b"\x020 cfA001h\n",
    "control file too large": receive_job() + b"\x02999999 cfA001h\n",
    "missing name": receive_job() + b"\x035\n",
    "extra operand": receive_job() + b"\x035 dfA001h extra\n",
    "path traversal data name": receive_job() + b"\x035 ../../etc/passwd\n",
    "absolute data name": receive_job() + b"\x035 /etc/passwd\n",
    "dots in data name": receive_job() + b"\x035 dfA..x\n",
    "backslash in name": receive_job() + b"\x035 df\\..\\x\n",
    "NUL in name": receive_job() + b"\x035 dfA\x00001h\n",
    "name without df": receive_job() + b"\x035 passwd\n",
    "control name without cf": receive_job() + b"\x025 dfA001h\n",
    "very long name": receive_job() + b"\x035 df" + b"A" * 300 + b"\n",
    "U names a system file": receive_job() + control_file(control("Palice", "U/etc/passwd")),
    "U names another file": receive_job() + control_file(control("Palice", "UdfB001client")),
    "print line names a path": receive_job()
    + control_file(control("Palice", prints=("l/etc/shadow",))),
    "no print line": receive_job() + control_file(b"Palice\nJjob\n"),
    "NUL in control file": receive_job() + control_file(b"Palice\x00\nldfA001client\n"),
    "control line too long": receive_job() + control_file(control("J" + "x" * 2000)),
    "too many data files": receive_job()
    + control_file(control("Palice", prints=[f"ldfA{i:03d}h" for i in range(101)])),
    "file not followed by zero": receive_job() + b"\x033 dfA001h\nabcX",
    "data file sent twice": receive_job() + data_file(b"a") + data_file(b"a"),
    "second control file first": receive_job()
    + control_file(control("Palice"))
    + control_file(control("Pbob"), "cfA002client"),
    "closed in the middle of a file": receive_job() + b"\x0310 dfA001h\nabc",
    "closed in the middle of a control file": receive_job() + b"\x0250 cfA001h\nPalice\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("chunk", [None, 1])
def test_hostile_input_is_refused_with_a_negative_acknowledgement(
    name: str, chunk: int | None
) -> None:
    with pytest.raises(LpdError) as refused:
        drive(HOSTILE[name], chunk=chunk)

    assert refused.value.reply in (bytes([Ack.REFUSED]), bytes([Ack.BAD_JOB]))
    assert refused.value.message


def test_more_data_files_than_the_limit() -> None:
    limits = Limits(max_data_files=2)
    conversation = receive_job() + b"".join(data_file(b"x", f"dfA00{i}client") for i in range(3))
    with pytest.raises(LpdError, match="more than 2 data files"):
        drive(conversation, limits=limits)


@pytest.mark.parametrize("stream", [False, True])
def test_job_bytes_are_bounded_over_all_files(stream: bool) -> None:
    limits = Limits(max_job_bytes=10)
    second = stream_file(b"y" * 6, "dfB001client") if stream else data_file(b"y" * 6, "dfB001h")
    conversation = receive_job() + data_file(b"x" * 6) + second

    with pytest.raises(LpdError, match="exceeds the limit of 10"):
        drive(conversation, limits=limits)


def test_listing_commands_are_refused_without_an_octet() -> None:
    """§5.3-5.5 clients read text, not an acknowledgement."""
    for line in (b"\x04\n", b"\x05lp\n", b"\x03lp " + b"x " * 200 + b"\n", b"\x04lp a\x1b\n"):
        with pytest.raises(LpdError) as refused:
            drive(line)
        assert refused.value.reply == b""


def test_the_application_may_refuse() -> None:
    run = drive(job(), answer=lambda conn, event: conn.refuse(Ack.REFUSED))

    assert run.kinds() == ["ReceiveJob"]
    assert run.replies == b"\x01"


# -- every state with every kind of input ----------------------------------------------------


def _at(state: State) -> LpdConnection:
    """A connection brought to ``state`` the way a client would bring it there."""
    conn = LpdConnection()
    script = {
        State.COMMAND: b"",
        State.PAUSED: receive_job(),
        State.SUBCOMMAND: receive_job(),
        State.CONTROL_FILE: receive_job() + b"\x0220 cfA001h\n",
        State.DATA_FILE: receive_job() + b"\x0320 dfA001h\n",
        State.DATA_TO_EOF: receive_job() + b"\x030 dfA001h\n",
        State.TRAILER: receive_job() + b"\x033 dfA001h\nabc",
        State.DONE: b"\x04lp\n",
        State.CLOSED: b"\x04lp\n",
        State.FAILED: b"\x09\n",
    }[state]
    if script:  # b"" would be end of file
        conn.receive_data(script)
    while conn.state is not state:
        try:
            event = conn.next_event()
        except LpdError:
            break
        if event is PAUSED:
            conn.accept()
        elif event is NEED_DATA:
            break
    assert conn.state is state, f"the script did not reach {state}"
    return conn


def _eof_outcome(conn: LpdConnection) -> str:
    conn.receive_data(b"")
    try:
        event = conn.next_event()
    except LpdError:
        return "refused"
    except RuntimeError:
        return "misuse"
    return type(event).__name__ if not isinstance(event, type(PAUSED)) else repr(event)


#: What end of file means in each state.
AT_EOF = {
    State.COMMAND: "ConnectionClosed",
    State.PAUSED: "PAUSED",
    State.SUBCOMMAND: "ConnectionClosed",
    State.CONTROL_FILE: "refused",
    State.DATA_FILE: "refused",
    State.DATA_TO_EOF: "DataFileEnded",
    State.TRAILER: "DataFileEnded",
    State.DONE: "ConnectionClosed",
    State.CLOSED: "misuse",
    State.FAILED: "refused",
}


@pytest.mark.parametrize("state", list(State))
def test_end_of_file_in_every_state(state: State) -> None:
    assert _eof_outcome(_at(state)) == AT_EOF[state]


@pytest.mark.parametrize("state", list(State))
def test_accept_only_when_paused(state: State) -> None:
    conn = _at(state)
    if state is State.PAUSED:
        assert conn.accept() == b"\x00"
        assert conn.state is State.SUBCOMMAND
    else:
        with pytest.raises(RuntimeError):
            conn.accept()


@pytest.mark.parametrize("state", list(State))
def test_refuse_in_every_state_finishes_the_connection(state: State) -> None:
    conn = _at(state)
    reply = conn.refuse(Ack.RETRY)
    assert conn.state is State.FAILED
    # one-line commands (§5.3-5.5) are answered with text, never an octet
    assert reply == (b"" if state in (State.DONE, State.CLOSED) else b"\x02")


@pytest.mark.parametrize("state", list(State))
def test_bytes_in_every_state(state: State) -> None:
    """One more byte of ordinary input: what each state does with it."""
    conn = _at(state)
    conn.receive_data(b"\x00")
    expected = {
        State.COMMAND: "NEED_DATA",  # a line has begun
        State.PAUSED: "PAUSED",
        State.SUBCOMMAND: "NEED_DATA",
        State.CONTROL_FILE: "NEED_DATA",
        State.DATA_FILE: "DataChunk",
        State.DATA_TO_EOF: "DataChunk",
        State.TRAILER: "DataFileEnded",
        State.DONE: "ConnectionClosed",
        State.CLOSED: "misuse",
        State.FAILED: "refused",
    }[state]
    try:
        event = conn.next_event()
        outcome = repr(event) if event in (NEED_DATA, PAUSED) else type(event).__name__
    except LpdError:
        outcome = "refused"
    except RuntimeError:
        outcome = "misuse"
    assert outcome == expected


def test_receive_data_after_end_of_file_is_misuse() -> None:
    conn = LpdConnection()
    conn.receive_data(b"")
    conn.receive_data(b"")  # repeating EOF is harmless
    with pytest.raises(RuntimeError):
        conn.receive_data(b"x")


def test_a_paused_connection_reads_nothing_until_answered() -> None:
    conn = LpdConnection()
    conn.receive_data(job())
    assert conn.next_event() == ReceiveJob("myprinter")
    assert conn.next_event() is PAUSED
    assert conn.next_event() is PAUSED
    conn.accept()
    assert isinstance(conn.next_event(), ControlFileStarted)


def test_data_chunks_never_run_past_the_count() -> None:
    conn = LpdConnection()
    conn.receive_data(receive_job() + b"\x033 dfA001h\nabc\x00\x02")
    events = []
    while (event := conn.next_event()) is not NEED_DATA:
        if event is PAUSED:
            conn.accept()
            continue
        events.append(event)
    chunks = [e for e in events if isinstance(e, DataChunk)]
    assert b"".join(c.data for c in chunks) == b"abc"
    assert isinstance(events[-1], DataFileEnded)


def test_received_job_lists_documents_in_print_order() -> None:
    conversation = (
        receive_job()
        + data_file(b"2", "dfB001client")
        + data_file(b"1", "dfA001client")
        + control_file(control("Palice", prints=("fdfA001client", "fdfB001client")))
    )

    received = drive(conversation).of(ControlFileReceived)[0]

    assert isinstance(received, ControlFileReceived)
    assert isinstance(received.job, ReceivedJob)
    assert [d.name for d in received.job.control.documents] == ["dfA001client", "dfB001client"]
    assert received.job.size == 2


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_data_files"):
        Limits(max_data_files=0)
