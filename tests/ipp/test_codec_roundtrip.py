"""Round trips: random messages of every value syntax encode and decode back to themselves,
in one piece or split anywhere; and encoding refuses values the wire cannot carry."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.ipp.constants import Tag
from printhost.ipp.decoder import MessageDecoder, decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import (
    Attribute,
    Collection,
    Message,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
    Value,
)

from .strategies import messages
from .wire import decode_pieces, split_at

SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(messages)
def test_encode_then_decode_gives_the_message(message: Message) -> None:
    data = encode_message(message)
    decoded, leftover = decode_message(data)
    assert decoded == message
    assert leftover == b""
    assert encode_message(decoded) == data


@SETTINGS
@given(messages, st.binary(max_size=64), st.lists(st.integers(min_value=0), max_size=12))
def test_any_split_decodes_identically(message: Message, document: bytes, cuts: list[int]) -> None:
    data = encode_message(message) + document
    assert decode_pieces(split_at(data, cuts)) == (message, document)


@settings(max_examples=50, deadline=None)
@given(messages)
def test_one_byte_at_a_time_decodes_identically(message: Message) -> None:
    data = encode_message(message)
    assert decode_pieces(data[i : i + 1] for i in range(len(data))) == (message, b"")


def test_empty_feeds_change_nothing() -> None:
    data = encode_message(Message((2, 0), 2, 1, []))
    decoder = MessageDecoder()
    assert decoder.feed(b"") is None
    assert decoder.feed(data[:3]) is None
    assert decoder.feed(b"") is None
    assert decoder.feed(data[3:] + b"doc") == Message((2, 0), 2, 1, [])
    assert decoder.leftover == b"doc"


def test_feed_accepts_bytearray_and_memoryview() -> None:
    data = encode_message(Message((2, 0), 2, 1, [])) + b"doc"
    decoder = MessageDecoder()
    assert decoder.feed(bytearray(data[:4])) is None  # type: ignore[arg-type]
    assert decoder.feed(memoryview(data)[4:]) is not None  # type: ignore[arg-type]
    assert decoder.leftover == b"doc"
    assert type(decoder.leftover) is bytes


def test_feed_after_the_message_is_a_programming_error() -> None:
    decoder = MessageDecoder()
    decoder.feed(encode_message(Message((2, 0), 2, 1, [])))
    decoder.close()  # complete: nothing to complain about
    with pytest.raises(ValueError, match="leftover"):
        decoder.feed(b"more")


def test_date_time_keeps_its_utc_offset() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=45))
    when = datetime.datetime(2030, 12, 31, 23, 59, 59, 900_000, tz)
    message = Message((2, 0), 2, 1, [])
    message.add_group(Tag.JOB).add("when", Tag.DATE_TIME, when)
    decoded, _ = decode_message(encode_message(message))
    value = decoded.groups[0].attributes[0].value
    assert isinstance(value, datetime.datetime)
    assert value.utcoffset() == datetime.timedelta(hours=5, minutes=45)
    assert value == when


_HALF_MINUTE_AHEAD = datetime.timezone(datetime.timedelta(seconds=30))
BAD_VALUES: list[tuple[int, object, type[Exception]]] = [
    (Tag.INTEGER, "5", TypeError),
    (Tag.INTEGER, True, TypeError),
    (Tag.INTEGER, 2**31, ValueError),
    (Tag.ENUM, -(2**31) - 1, ValueError),
    (Tag.BOOLEAN, 1, TypeError),
    (Tag.OCTET_STRING, "text", TypeError),
    (Tag.OCTET_STRING, b"x" * 65536, ValueError),
    (Tag.DATE_TIME, datetime.datetime(2024, 1, 1), ValueError),  # naive
    (Tag.DATE_TIME, datetime.date(2024, 1, 1), TypeError),
    (Tag.DATE_TIME, datetime.datetime(2024, 1, 1, tzinfo=_HALF_MINUTE_AHEAD), ValueError),
    (Tag.RESOLUTION, (600, 600), TypeError),
    (Tag.RESOLUTION, Resolution(600, 600, 300), ValueError),
    (Tag.RANGE_OF_INTEGER, RangeOfInteger(0, 2**32), ValueError),
    (Tag.TEXT_WITH_LANGUAGE, "no language", TypeError),
    (Tag.NAME_WITH_LANGUAGE, StringWithLanguage("x", "é"), ValueError),
    (Tag.TEXT, b"bytes", TypeError),
    (Tag.TEXT, "\ud800", ValueError),  # a lone surrogate is not UTF-8
    (Tag.KEYWORD, "naïve", ValueError),
    (Tag.URI, "ipp://host/\n", ValueError),
    (Tag.BEGIN_COLLECTION, {"a": 1}, TypeError),
    (Tag.NO_VALUE, "", TypeError),
    (Tag.EXTENSION, b"abc", ValueError),
    (Tag.MEMBER_ATTR_NAME, "x", ValueError),
    (Tag.END_COLLECTION, None, ValueError),
    (Tag.END, None, ValueError),
    (0x100, b"", ValueError),
]


@pytest.mark.parametrize(("tag", "value", "error"), BAD_VALUES)
def test_encoding_refuses_a_value_its_tag_cannot_carry(
    tag: int, value: object, error: type[Exception]
) -> None:
    message = Message((2, 0), 2, 1, [])
    bad = Value(tag, value)  # type: ignore[arg-type]  # deliberately not a PyValue
    message.add_group(Tag.JOB).append(Attribute("bad", [bad]))
    with pytest.raises(error, match="attribute 'bad'"):
        encode_message(message)


def test_encoding_names_the_path_into_a_collection() -> None:
    inner = Collection().add("x-dimension", Tag.INTEGER, "wide")
    outer = Collection().add("media-size", Tag.BEGIN_COLLECTION, inner)
    message = Message((2, 0), 2, 1, [])
    message.add_group(Tag.JOB).add("media-col", Tag.BEGIN_COLLECTION, outer)
    with pytest.raises(TypeError, match=r"'media-col'.*'media-size'.*'x-dimension'"):
        encode_message(message)


@pytest.mark.parametrize(
    "attribute",
    [Attribute("", [Value(Tag.INTEGER, 1)]), Attribute("empty", []), Attribute("bad\x00", [])],
)
def test_encoding_refuses_unnamed_or_empty_attributes(attribute: Attribute) -> None:
    message = Message((2, 0), 2, 1, [])
    message.add_group(Tag.JOB).append(attribute)
    with pytest.raises(ValueError):
        encode_message(message)


@pytest.mark.parametrize(
    "message",
    [
        Message((256, 0), 2, 1, []),
        Message((2, 0), 0x10000, 1, []),
        Message((2, 0), 2, 2**31, []),
    ],
    ids=["version", "code", "request-id"],
)
def test_encoding_refuses_a_header_out_of_range(message: Message) -> None:
    with pytest.raises(ValueError, match="header"):
        encode_message(message)


@pytest.mark.parametrize("group_tag", [0x00, 0x03, 0x10])
def test_encoding_refuses_a_non_group_delimiter(group_tag: int) -> None:
    message = Message((2, 0), 2, 1, [])
    message.add_group(group_tag)
    with pytest.raises(ValueError, match="group tag"):
        encode_message(message)
