"""Property tests of the LPD core: generated conversations come out as the jobs that went
in, however the bytes are split; arbitrary and mutated input raises only ``LpdError``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.lpd import (
    ControlFileReceived,
    DataFileEnded,
    Limits,
    LpdError,
    ReceivedJob,
)

from .wire import control, control_file, data_file, drive, receive_job, stream_file

FUZZ = settings(max_examples=300, deadline=None)


@dataclass(frozen=True)
class GeneratedJob:
    user: str
    documents: tuple[bytes, ...]
    data_first: bool


_jobs = st.builds(
    GeneratedJob,
    user=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=31),
    # not empty: count 0 means "until the connection closes" (LPRng), not an empty file
    documents=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4).map(tuple),
    data_first=st.booleans(),
)


def _conversation(jobs: list[GeneratedJob], stream_last: bool) -> bytes:
    out = receive_job("lp")
    for number, job in enumerate(jobs):
        names = [f"df{chr(65 + i)}{number:03d}client" for i in range(len(job.documents))]
        cf = control_file(
            control(f"P{job.user}", prints=[f"l{n}" for n in names]), f"cfA{number:03d}client"
        )
        files = b"".join(
            data_file(doc, name) for doc, name in zip(job.documents, names, strict=True)
        )
        out += files + cf if job.data_first else cf + files
    if stream_last:  # one more job whose only data file runs to the end of the connection
        out += control_file(control("Pstream", prints=["ldfA999client"]), "cfA999client")
        out += stream_file(b"streamed to the end", "dfA999client")
    return out


@settings(max_examples=150, deadline=None)
@given(
    jobs=st.lists(_jobs, min_size=1, max_size=4),
    chunk=st.one_of(st.none(), st.integers(1, 64)),
    stream_last=st.booleans(),
)
def test_jobs_come_out_as_they_went_in(
    jobs: list[GeneratedJob], chunk: int | None, stream_last: bool
) -> None:
    run = drive(_conversation(jobs, stream_last), chunk=chunk)

    received = [
        e.job
        for e in run.events
        if isinstance(e, DataFileEnded | ControlFileReceived) and e.job is not None
    ]
    assert all(isinstance(j, ReceivedJob) for j in received)
    got = [(j.control.user, tuple(run.data[d.name] for d in j.control.documents)) for j in received]
    expected = [(j.user, j.documents) for j in jobs]
    if stream_last:
        expected.append(("stream", (b"streamed to the end",)))
    assert got == expected
    assert run.kinds()[-1] == "ConnectionClosed"


@FUZZ
@given(st.binary(max_size=600), st.one_of(st.none(), st.integers(1, 50)))
def test_arbitrary_bytes_raise_only_lpd_error(data: bytes, chunk: int | None) -> None:
    try:
        drive(data, chunk=chunk, limits=Limits(max_job_bytes=4096))
    except LpdError as exc:
        assert exc.reply in (b"", b"\x01", b"\x02", b"\x03")


@FUZZ
@given(
    st.lists(_jobs, min_size=1, max_size=2),
    st.data(),
    st.one_of(st.none(), st.integers(1, 50)),
)
def test_mutated_conversations_raise_only_lpd_error(
    jobs: list[GeneratedJob], data: st.DataObject, chunk: int | None
) -> None:
    """Valid conversations with bytes flipped, cut out or inserted: the parts a fuzzer
    starting from nothing rarely reaches (counts, names, control lines)."""
    conversation = bytearray(_conversation(jobs, stream_last=False))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(conversation) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            conversation[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del conversation[at : at + data.draw(st.integers(1, 8))]
        else:
            conversation[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        if not conversation:
            break
    with contextlib.suppress(LpdError):  # anything else escaping is a bug
        drive(bytes(conversation), chunk=chunk, limits=Limits(max_job_bytes=4096))
