"""The printer-controller capture extractor: whole streams, one byte at a time, arbitrary
splits (hypothesis), limits, end of stream, and no escape sequence leaking either way."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printhost.capture import Capture, CaptureExtractor

START, STOP = b"\x1b[5i", b"\x1b[4i"
START_8, STOP_8 = b"\x9b5i", b"\x9b4i"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(
    stream: bytes, splits: Sequence[int] = (), **options: int | bool
) -> tuple[bytes, list[Capture]]:
    """Feed ``stream`` cut at ``splits``; return all passthrough and all captures."""
    extractor = CaptureExtractor(**options)  # type: ignore[arg-type]
    cuts = [0, *sorted(set(splits)), len(stream)]
    passthrough = bytearray()
    captures: list[Capture] = []
    for start, end in itertools.pairwise(cuts):
        result = extractor.feed(stream[start:end])
        passthrough += result.passthrough
        captures += result.captures
    result = extractor.close()
    return bytes(passthrough + result.passthrough), captures + result.captures


def one_byte_at_a_time(stream: bytes, **options: int | bool) -> tuple[bytes, list[Capture]]:
    return run(stream, range(1, len(stream)), **options)


SESSION = (
    b"login: alice\r\n\x1b[1;1H\x1b[2JMenu\r\n"
    + START
    + b"INVOICE 42\r\n\x0c\xc3\xa9t\xc3\xa9\r\n"
    + STOP
    + b"\x1b[7mdone\x1b[0m\r\n"
    + START
    + b"second"
    + STOP
    + b"$ "
)
SESSION_TEXT = b"login: alice\r\n\x1b[1;1H\x1b[2JMenu\r\n\x1b[7mdone\x1b[0m\r\n$ "
SESSION_CAPTURES = [Capture(b"INVOICE 42\r\n\x0c\xc3\xa9t\xc3\xa9\r\n"), Capture(b"second")]


def test_whole_stream() -> None:
    assert run(SESSION) == (SESSION_TEXT, SESSION_CAPTURES)


def test_one_byte_at_a_time() -> None:
    assert one_byte_at_a_time(SESSION) == (SESSION_TEXT, SESSION_CAPTURES)


def test_sequence_split_at_every_position() -> None:
    for cut in range(1, len(SESSION)):
        assert run(SESSION, [cut]) == (SESSION_TEXT, SESSION_CAPTURES), cut


def test_passthrough_is_returned_as_soon_as_it_cannot_start_a_sequence() -> None:
    extractor = CaptureExtractor()
    assert extractor.feed(b"abc\x1b[").passthrough == b"abc"  # "\x1b[" may be "\x1b[5i"
    assert extractor.feed(b"1m").passthrough == b"\x1b[1m"
    assert extractor.feed(b"\x1b").passthrough == b""
    assert extractor.feed(b"\x1b[5").passthrough == b"\x1b"
    result = extractor.feed(b"ixyz")
    assert (result.passthrough, result.captures, extractor.capturing) == (b"", [], True)


def test_back_to_back_and_empty_captures() -> None:
    stream = START + STOP + START + b"a" + STOP + START + b"b" + STOP
    assert run(stream) == (b"", [Capture(b""), Capture(b"a"), Capture(b"b")])


def test_stray_stop_and_other_media_copy_sequences_pass_through() -> None:
    # Auto print (CSI ? 5 i / CSI ? 4 i), print screen (CSI i, CSI 0 i), print line
    # (CSI ? 1 i) and a stop without a start are the downstream terminal's business.
    stream = b"\x1b[?5iline\r\n\x1b[?4i\x1b[i\x1b[0i\x1b[?1i" + STOP + b"\x1b[05i"
    assert run(stream) == (stream, [])
    assert one_byte_at_a_time(stream) == (stream, [])


def test_start_inside_a_capture_is_data() -> None:
    assert run(START + b"a" + START + b"b" + STOP) == (b"", [Capture(b"a" + START + b"b")])


def test_eight_bit_csi_is_data_by_default() -> None:
    # "Û5i" in UTF-8 is C3 9B 35 69: with 8-bit CSI on, it would start a capture.
    stream = "Û5i and Û4i".encode() + START_8 + b"x" + STOP_8
    assert run(stream) == (stream, [])


def test_eight_bit_csi_when_enabled() -> None:
    stream = b"a" + START_8 + b"one" + STOP + b"b" + START + b"two" + STOP_8 + b"c"
    expected = (b"abc", [Capture(b"one"), Capture(b"two")])
    assert run(stream, c1_controls=True) == expected
    assert one_byte_at_a_time(stream, c1_controls=True) == expected


def test_over_long_capture_is_cut_and_counted() -> None:
    stream = b"a" + START + bytes(range(25)) + STOP + b"b" + START + b"short" + STOP + b"c"
    expected = (b"abc", [Capture(bytes(range(10)), dropped_bytes=15), Capture(b"short")])
    assert run(stream, max_capture_bytes=10) == expected
    assert one_byte_at_a_time(stream, max_capture_bytes=10) == expected
    assert expected[1][0].truncated and not expected[1][1].truncated


def test_memory_stays_bounded_for_an_endless_capture() -> None:
    extractor = CaptureExtractor(max_capture_bytes=1024)
    extractor.feed(b"text" + START)
    chunk = b"\x1b[4" + b"x" * 65533  # ends in a held prefix of the stop sequence
    for _ in range(64):
        assert extractor.feed(chunk).captures == []
    result = extractor.close()
    [capture] = result.captures
    assert len(capture.data) == 1024
    assert capture.dropped_bytes == 64 * len(chunk) - 1024
    assert not capture.terminated


def test_unterminated_capture_is_returned_at_close_with_held_bytes() -> None:
    extractor = CaptureExtractor()
    assert extractor.feed(b"x" + START + b"tail\x1b[4").passthrough == b"x"
    result = extractor.close()
    assert result == type(result)(b"", [Capture(b"tail\x1b[4", terminated=False)])


def test_held_prefix_is_released_at_close() -> None:
    extractor = CaptureExtractor()
    assert extractor.feed(b"prompt\x1b[").passthrough == b"prompt"
    assert extractor.close().passthrough == b"\x1b["


def test_close_is_final() -> None:
    extractor = CaptureExtractor()
    extractor.close()
    assert extractor.close().passthrough == b""
    with pytest.raises(RuntimeError):
        extractor.feed(b"x")


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        CaptureExtractor(max_capture_bytes=0)


# --- properties ---------------------------------------------------------------------------

#: Fragments that make near-miss sequences likely; plus arbitrary bytes.
_FRAGMENTS = st.lists(
    st.sampled_from([b"\x1b", b"[", b"5", b"4", b"i", b"?", b"\x9b", b"\xc3", b"a", b"\r\n"])
    | st.binary(max_size=8),
    max_size=20,
).map(b"".join)


def _without(*patterns: bytes) -> st.SearchStrategy[bytes]:
    return _FRAGMENTS.filter(lambda data: not any(p in data for p in patterns))


@st.composite
def sessions(
    draw: st.DrawFn, c1: bool = False, plain_text: bool = False
) -> tuple[bytes, bytes, list[bytes], list[int]]:
    """(stream, expected passthrough, expected captures, split points): text segments
    alternate with captures, each free of the sequence that would end it; with
    ``plain_text`` the text has no ESC at all."""
    starts = (START, START_8) if c1 else (START,)
    stops = (STOP, STOP_8) if c1 else (STOP,)
    text_strategy = (
        st.binary(max_size=30).map(lambda b: b.replace(b"\x1b", b""))
        if plain_text
        else _without(*starts)
    )
    count = draw(st.integers(0, 4))
    texts = [draw(text_strategy) for _ in range(count + 1)]
    captures = [draw(_without(*stops)) for _ in range(count)]
    stream = bytearray(texts[0])
    for text, capture in zip(texts[1:], captures, strict=True):
        stream += draw(st.sampled_from(starts)) + capture + draw(st.sampled_from(stops)) + text
    splits = draw(st.lists(st.integers(0, len(stream)), max_size=12))
    return bytes(stream), b"".join(texts), captures, splits


Case = tuple[bytes, bytes, list[bytes], list[int]]


@SETTINGS
@given(sessions())
def test_arbitrary_splits(case: Case) -> None:
    stream, text, captures, splits = case
    passthrough, found = run(stream, splits)
    assert passthrough == text
    assert [capture.data for capture in found] == captures
    assert all(capture.terminated and not capture.truncated for capture in found)


@SETTINGS
@given(sessions(c1=True))
def test_arbitrary_splits_with_eight_bit_csi(case: Case) -> None:
    stream, text, captures, splits = case
    passthrough, found = run(stream, splits, c1_controls=True)
    assert (passthrough, [capture.data for capture in found]) == (text, captures)


@SETTINGS
@given(sessions(plain_text=True))
def test_no_sequence_leaks_into_the_terminal(case: Case) -> None:
    # Text without ESC around captures: the terminal sees the text and not one ESC.
    stream, text, captures, splits = case
    passthrough, found = run(stream, splits)
    assert b"\x1b" not in passthrough
    assert (passthrough, [capture.data for capture in found]) == (text, captures)


@SETTINGS
@given(_FRAGMENTS, st.lists(st.integers(0, 200), max_size=10), st.integers(1, 16))
def test_any_stream_is_split_the_same_way_whatever_the_chunks(
    stream: bytes, splits: list[int], limit: int
) -> None:
    # Chunking never changes the result, and every input byte is accounted for.
    whole = run(stream, max_capture_bytes=limit)
    assert run(stream, [s for s in splits if s <= len(stream)], max_capture_bytes=limit) == whole
    assert one_byte_at_a_time(stream, max_capture_bytes=limit) == whole
    passthrough, captures = whole
    assert all(len(c.data) <= limit for c in captures)
    sequences = sum(len(START) + (len(STOP) if c.terminated else 0) for c in captures)
    counted = sum(len(c.data) + c.dropped_bytes for c in captures)
    assert len(passthrough) + counted + sequences == len(stream)
