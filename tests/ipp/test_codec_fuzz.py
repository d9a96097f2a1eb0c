"""Fuzzing: random bytes and mutated valid messages. Only IppDecodeError may escape the
decoder, every split of the input must give the same outcome, and decoding stays fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.ipp.decoder import DecodeLimits, IppDecodeError, MessageDecoder
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message

from .strategies import messages
from .wire import END, attr, header, i32, more, split_at

FUZZ = settings(max_examples=400, deadline=None)
HEADER = header((2, 0), 0x0002, 1)

Outcome = tuple[Message, bytes] | tuple[str, int]


def outcome(pieces: list[bytes], limits: DecodeLimits | None = None) -> Outcome:
    """What decoding ``pieces`` gives: the message and the rest, or the error and status.
    Any exception other than IppDecodeError propagates and fails the test."""
    decoder = MessageDecoder(limits or DecodeLimits())
    try:
        for index, piece in enumerate(pieces):
            message = decoder.feed(piece)
            if message is not None:
                return message, decoder.leftover + b"".join(pieces[index + 1 :])
        decoder.close()
    except IppDecodeError as exc:
        return str(exc), exc.status
    raise AssertionError("close() returned on an incomplete message")


def whole_outcome(data: bytes, limits: DecodeLimits | None = None) -> Outcome:
    return outcome([data], limits)


def refused_before_the_end(data: bytes, chunk: int = 4096) -> str:
    """Feed ``data`` in chunks; the decoder must refuse it before the last chunk, i.e.
    without reading (let alone keeping) all of it - bounded without timing anything."""
    decoder = MessageDecoder(DecodeLimits())
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for index, piece in enumerate(pieces):
        try:
            decoder.feed(piece)
        except IppDecodeError as exc:
            assert index < len(pieces) - 1, "refused only at the very end"
            return str(exc)
    raise AssertionError("accepted")


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    whole_outcome(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    whole_outcome(HEADER + b"\x01" + data)


@FUZZ
@given(
    st.lists(st.sampled_from([0x01, 0x02, 0x03, 0x21, 0x34, 0x37, 0x41, 0x44, 0x4A]), max_size=40)
)
def test_random_records(tags: list[int]) -> None:
    """Well-formed records in random order exercise the structural checks."""
    records = b"".join(attr(tag, "n" if i % 2 else "", i32(i)) for i, tag in enumerate(tags))
    whole_outcome(HEADER + records + END)


def _mutate(data: bytes, draw: Callable[[st.SearchStrategy[Any]], Any]) -> bytes:
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite"]))
        at = draw(st.integers(0, len(buffer)))
        if kind == "flip" and at < len(buffer):
            buffer[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del buffer[at : at + draw(st.integers(1, 8))]
        elif kind == "overwrite" and at < len(buffer):
            buffer[at] = draw(st.sampled_from([0x00, 0x03, 0x34, 0x37, 0x4A, 0x7F, 0xFF]))
    return bytes(buffer)


@settings(max_examples=250, deadline=None)
@given(st.data(), messages, st.lists(st.integers(min_value=0), max_size=8))
def test_mutated_messages_decode_the_same_in_any_split(
    data: st.DataObject, message: Message, cuts: list[int]
) -> None:
    mutated = _mutate(encode_message(message) + b"%PDF", data.draw)
    whole = whole_outcome(mutated)
    assert outcome(split_at(mutated, cuts)) == whole


@settings(max_examples=30, deadline=None)
@given(st.data(), messages)
def test_mutated_messages_decode_the_same_byte_by_byte(
    data: st.DataObject, message: Message
) -> None:
    mutated = _mutate(encode_message(message), data.draw)
    assert outcome([mutated[i : i + 1] for i in range(len(mutated))]) == whole_outcome(mutated)


def test_a_megabyte_of_additional_values_is_refused_early() -> None:
    data = HEADER + b"\x01" + attr(0x21, "n", i32(0)) + more(0x21, i32(1)) * 120_000 + END
    assert "more than 1000 values" in refused_before_the_end(data)


def test_a_megabyte_of_attributes_is_refused_early() -> None:
    data = HEADER + b"\x01" + attr(0x21, "n", i32(0)) * 100_000 + END
    assert "more than 2000 attributes" in refused_before_the_end(data)


def test_deep_nesting_is_refused_without_recursion() -> None:
    opening = attr(0x34, "", b"") + attr(0x4A, "", b"m")
    data = HEADER + b"\x01" + attr(0x34, "deep", b"") + attr(0x4A, "", b"m") + opening * 50_000
    assert "nested deeper than 8" in str(outcome([data])[0])


def test_byte_at_a_time_stays_linear_for_a_large_value() -> None:
    """A 64 KiB value fed one byte at a time must not be re-parsed on every byte."""
    limits = DecodeLimits(max_value_length=0xFFFF)
    data = HEADER + b"\x01" + attr(0x41, "big", b"x" * 0xFFFF) + END
    decoder = MessageDecoder(limits)
    start = time.perf_counter()
    for i in range(len(data) - 1):
        assert decoder.feed(data[i : i + 1]) is None
    assert decoder.feed(data[-1:]) is not None
    # A hang guard, not a speed target: linear feeding takes ~20 ms; re-parsing from the
    # start on every byte would take minutes.
    assert time.perf_counter() - start < 30.0
