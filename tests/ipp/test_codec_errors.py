"""Refusals: every limit, truncation and malformed structure or value gives an
IppDecodeError with the right status and says where; lenient cases decode."""

from __future__ import annotations

import datetime

import pytest

from printhost.ipp.constants import Status, Tag
from printhost.ipp.decoder import (
    DEFAULT_LIMITS,
    DecodeLimits,
    IppDecodeError,
    MessageDecoder,
    decode_message,
)
from printhost.ipp.model import Collection, Message

from .test_codec_golden import VECTORS
from .wire import END, END_COLLECTION, attr, begin_collection, header, i32, member, more

BAD_REQUEST = Status.CLIENT_ERROR_BAD_REQUEST
TOO_LARGE = Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE
TOO_LONG = Status.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG
HEADER = header((2, 0), 0x0002, 1)


def message(*records: bytes) -> bytes:
    """A Print-Job request: the records in a job group, then the end tag."""
    return HEADER + b"\x02" + b"".join(records) + END


def refused(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> IppDecodeError:
    """Decode ``data`` whole and one byte at a time; both must refuse it the same way."""
    errors = []
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        decoder = MessageDecoder(limits)
        with pytest.raises(IppDecodeError) as info:
            for piece in pieces:
                if decoder.feed(piece) is not None:
                    break
            decoder.close()
        errors.append(info.value)
    whole, bytewise = errors
    assert (str(whole), whole.status) == (str(bytewise), bytewise.status)
    return whole


# --- limits ---


def test_header_larger_than_max_header_bytes() -> None:
    data = message(attr(0x41, "job-name", b"x" * 100))
    assert decode_message(data, DecodeLimits(max_header_bytes=len(data)))[0]
    error = refused(data, DecodeLimits(max_header_bytes=len(data) - 1))
    assert error.status == TOO_LARGE
    assert "max_header_bytes" in str(error)


def test_oversized_record_is_refused_before_its_value_arrives() -> None:
    data = message(attr(0x41, "job-name", b"x" * 1000))
    decoder = MessageDecoder(DecodeLimits(max_header_bytes=500))
    value_length_end = len(HEADER) + 1 + 3 + len("job-name") + 2
    with pytest.raises(IppDecodeError) as info:
        decoder.feed(data[:value_length_end])
    assert info.value.status == TOO_LARGE


def test_document_bytes_do_not_count_toward_max_header_bytes() -> None:
    data = message(attr(0x21, "copies", i32(1)))
    limits = DecodeLimits(max_header_bytes=len(data))
    decoded, leftover = decode_message(data + b"%PDF" * 100_000, limits)
    assert decoded.groups[0].get("copies") is not None
    assert len(leftover) == 400_000


def test_too_many_attributes() -> None:
    records = [attr(0x21, f"a{i}", i32(i)) for i in range(4)]
    assert decode_message(message(*records[:3]), DecodeLimits(max_attributes=3))
    error = refused(message(*records), DecodeLimits(max_attributes=3))
    assert (error.status, error.attribute) == (TOO_LARGE, "a3")


def test_collection_members_count_as_attributes() -> None:
    members = b"".join(member(name) + attr(0x21, "", i32(1)) for name in "abc")
    data = message(begin_collection("media-col") + members + END_COLLECTION)
    error = refused(data, DecodeLimits(max_attributes=3))
    assert (error.status, error.attribute) == (TOO_LARGE, "media-col.c")


def test_too_many_values() -> None:
    data = message(attr(0x44, "sides", b"a") + more(0x44, b"b") + more(0x44, b"c"))
    error = refused(data, DecodeLimits(max_values_per_attribute=2))
    assert (error.status, error.attribute) == (TOO_LARGE, "sides")


def test_too_many_values_of_a_member() -> None:
    values = attr(0x44, "", b"a") + more(0x44, b"b") + more(0x44, b"c")
    data = message(begin_collection("media-col") + member("source") + values + END_COLLECTION)
    error = refused(data, DecodeLimits(max_values_per_attribute=2))
    assert (error.status, error.attribute) == (TOO_LARGE, "media-col.source")


def test_name_longer_than_max_name_length() -> None:
    limits = DecodeLimits(max_name_length=10)
    assert decode_message(message(attr(0x21, "n" * 10, i32(1))), limits)
    error = refused(message(attr(0x21, "n" * 11, i32(1))), limits)
    assert error.status == BAD_REQUEST
    assert "name-length 11" in str(error)


def test_member_name_longer_than_max_name_length() -> None:
    data = message(begin_collection("c") + member("m" * 11) + attr(0x21, "", i32(1)))
    error = refused(data + END_COLLECTION, DecodeLimits(max_name_length=10))
    assert (error.status, error.attribute) == (BAD_REQUEST, "c")


@pytest.mark.parametrize(
    ("records", "attribute"),
    [
        (attr(0x41, "job-name", b"x" * 11), "job-name"),
        (attr(0x41, "job-name", b"ok") + more(0x41, b"x" * 11), "job-name"),
        (begin_collection("c") + member("m") + attr(0x41, "", b"x" * 11) + END_COLLECTION, "c.m"),
    ],
    ids=["value", "additional-value", "member-value"],
)
def test_value_longer_than_max_value_length(records: bytes, attribute: str) -> None:
    error = refused(message(records), DecodeLimits(max_value_length=10))
    assert (error.status, error.attribute) == (TOO_LONG, attribute)


def _nested(depth: int) -> bytes:
    inner = attr(0x21, "", i32(1))
    for _ in range(depth - 1):
        inner = begin_collection() + member("m") + inner + END_COLLECTION
    return begin_collection("deep") + member("m") + inner + END_COLLECTION


def test_collections_nested_deeper_than_max_collection_depth() -> None:
    limits = DecodeLimits(max_collection_depth=3)
    decoded, _ = decode_message(message(_nested(3)), limits)
    value = decoded.groups[0].attributes[0].value
    assert isinstance(value, Collection)
    error = refused(message(_nested(4)), limits)
    assert (error.status, error.attribute) == (BAD_REQUEST, "deep.m.m.m")


@pytest.mark.parametrize(
    "limits",
    [
        {"max_header_bytes": 8},
        {"max_attributes": 0},
        {"max_values_per_attribute": 0},
        {"max_name_length": 0},
        {"max_name_length": 65536},
        {"max_value_length": 65536},
        {"max_collection_depth": -1},
    ],
)
def test_limits_that_cannot_work_are_refused(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DecodeLimits(**limits)


# --- truncation ---


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_truncation_is_refused_on_close(name: str) -> None:
    data = VECTORS[name][0]
    for size in range(len(data)):
        decoder = MessageDecoder()
        assert decoder.feed(data[:size]) is None
        with pytest.raises(IppDecodeError, match=f"truncated after {size} octets") as info:
            decoder.close()
        assert info.value.status == BAD_REQUEST


def test_decode_message_refuses_a_truncated_message() -> None:
    with pytest.raises(IppDecodeError, match="inside collection 'media-col'"):
        decode_message(message(begin_collection("media-col"))[:-1])


# --- malformed structure and values ---

MALFORMED: dict[str, tuple[bytes, str, str | None]] = {
    "integer-length": (message(attr(0x21, "copies", b"\x00\x01")), "must be 4", "copies"),
    "enum-length": (message(attr(0x23, "job-state", b"\x00" * 5)), "must be 4", "job-state"),
    "boolean-value": (message(attr(0x22, "b", b"\x02")), "0x00 or 0x01", "b"),
    "boolean-length": (message(attr(0x22, "b", b"\x00\x01")), "0x00 or 0x01", "b"),
    "date-time-length": (message(attr(0x31, "t", b"\x07\xe8" + b"\x01" * 8)), "has 11", "t"),
    "date-time-month": (
        message(attr(0x31, "t", b"\x07\xe8\x0d\x01\x00\x00\x00\x00+\x00\x00")),
        "invalid DateAndTime",
        "t",
    ),
    "date-time-direction": (
        message(attr(0x31, "t", b"\x07\xe8\x01\x01\x00\x00\x00\x00*\x00\x00")),
        "invalid DateAndTime",
        "t",
    ),
    "resolution-length": (message(attr(0x32, "r", b"\x00" * 8)), "must be 9", "r"),
    "range-length": (message(attr(0x33, "r", b"\x00" * 9)), "must be 8", "r"),
    "text-utf8": (message(attr(0x41, "job-name", b"ok\xff")), "invalid UTF-8", "job-name"),
    "name-overlong-utf8": (message(attr(0x42, "n", b"\xc0\xaf")), "invalid UTF-8", "n"),
    "name-surrogate": (message(attr(0x42, "n", b"\xed\xa0\x80")), "invalid UTF-8", "n"),
    "keyword-non-ascii": (message(attr(0x44, "sides", b"caf\xc3\xa9")), "non-ASCII", "sides"),
    "keyword-control": (message(attr(0x44, "sides", b"a\x01")), "control character", "sides"),
    "uri-newline": (message(attr(0x45, "u", b"ipp://h/\n")), "control character", "u"),
    "with-language-short": (message(attr(0x35, "t", b"\x00\x02")), "at least 4", "t"),
    "with-language-lengths": (
        message(attr(0x36, "n", b"\x00\x02en\x00\x05abc")),
        "parts total",
        "n",
    ),
    "with-language-overrun": (
        message(attr(0x35, "t", b"\x00\x09en\x00\x00")),
        "runs past",
        "t",
    ),
    "extension-short": (message(attr(0x7F, "x", b"\x00\x00\x01")), "4-octet", "x"),
    "name-not-ascii": (message(attr(0x21, "c\xf6pies", i32(1))), "not printable ASCII", None),
    "name-control": (message(attr(0x21, "co\tpies", i32(1))), "not printable ASCII", None),
    "before-first-group": (
        HEADER + attr(0x21, "copies", i32(1)) + END,
        "before the first group tag",
        "copies",
    ),
    "additional-value-first": (message(more(0x21, i32(1))), "first in its group", None),
    "additional-value-after-group": (
        message(attr(0x21, "a", i32(1)) + b"\x04" + more(0x21, i32(2))),
        "first in its group",
        None,
    ),
    "member-outside-collection": (message(member("m")), "outside a collection", None),
    "end-collection-outside": (message(END_COLLECTION), "outside a collection", None),
    "group-inside-collection": (
        message(begin_collection("c") + member("m") + attr(0x21, "", i32(1)) + b"\x04"),
        "inside a collection",
        "c",
    ),
    "end-inside-collection": (
        message(begin_collection("c") + member("m") + attr(0x21, "", i32(1))),
        "inside a collection",
        "c",
    ),
    "named-record-in-collection": (
        message(begin_collection("c") + attr(0x21, "x", i32(1)) + END_COLLECTION),
        "record named 'x' inside a collection",
        "c",
    ),
    "value-before-member-name": (
        message(begin_collection("c") + attr(0x21, "", i32(1)) + END_COLLECTION),
        "before any memberAttrName",
        "c",
    ),
    "member-without-value": (
        message(begin_collection("c") + member("m") + member("n") + END_COLLECTION),
        "member without a value",
        "c.m",
    ),
    "member-without-value-at-end": (
        message(begin_collection("c") + member("m") + END_COLLECTION),
        "member without a value",
        "c.m",
    ),
    "empty-member-name": (
        message(begin_collection("c") + member("") + END_COLLECTION),
        "memberAttrName b'' is not printable ASCII",
        "c",
    ),
    "bad-value-in-member": (
        message(begin_collection("c") + member("m") + attr(0x21, "", b"\x01") + END_COLLECTION),
        "must be 4",
        "c.m",
    ),
    "delimiter-zero": (HEADER + b"\x00" + END, "reserved delimiter tag 0x00", None),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_is_refused_precisely(name: str) -> None:
    data, fragment, attribute = MALFORMED[name]
    error = refused(data)
    assert error.status == BAD_REQUEST
    assert fragment in str(error)
    assert error.attribute == attribute
    assert error.offset is not None
    assert f"at byte {error.offset}" in str(error)


def test_error_offset_is_where_the_record_starts() -> None:
    bad = attr(0x21, "copies", b"\x00\x01")
    data = message(attr(0x44, "sides", b"one-sided") + bad)
    error = refused(data)
    assert error.offset == data.index(bad)
    assert str(error) == (
        f"attribute 'copies' at byte {error.offset}: bad integer value (length 2, must be 4)"
    )


def test_a_failed_decoder_refuses_more_input() -> None:
    decoder = MessageDecoder()
    with pytest.raises(IppDecodeError):
        decoder.feed(HEADER + b"\x00")
    with pytest.raises(ValueError, match="failed"):
        decoder.feed(END)


# --- lenient where the RFC allows it or peers need it ---


def test_out_of_band_value_octets_are_ignored() -> None:
    decoded, _ = decode_message(message(attr(0x10, "media", b"junk")))
    assert decoded.groups[0].attributes[0].items[0] == (Tag.UNSUPPORTED, None)


def test_begin_and_end_collection_value_octets_are_ignored() -> None:
    record = attr(0x34, "c", b"junk") + member("m") + attr(0x21, "", i32(1)) + attr(0x37, "", b"x")
    decoded, _ = decode_message(message(record))
    assert decoded.groups[0].attributes[0].value == Collection().add("m", Tag.INTEGER, 1)


def test_empty_collection() -> None:
    decoded, _ = decode_message(message(begin_collection("c") + END_COLLECTION))
    assert decoded.groups[0].attributes[0].value == Collection()


def test_leap_second_reads_as_second_59() -> None:
    data = message(attr(0x31, "t", b"\x07\xe8\x06\x1e\x17\x3b\x3c\x00+\x00\x00"))
    value = decode_message(data)[0].groups[0].attributes[0].value
    assert value == datetime.datetime(2024, 6, 30, 23, 59, 59, tzinfo=datetime.UTC)


def test_header_fields_are_returned_as_sent() -> None:
    data = header((9, 7), 0xBEEF, -1) + b"\x0b" + attr(0xFF, "future", b"\x01") + END
    decoded, _ = decode_message(data)
    assert (decoded.version, decoded.code, decoded.request_id) == ((9, 7), 0xBEEF, -1)
    assert decoded.groups[0].tag == 0x0B  # reserved group tag: kept for the server to judge
    assert decoded.groups[0].attributes[0].items[0] == (0xFF, b"\x01")


def test_message_without_groups() -> None:
    assert decode_message(HEADER + END) == (Message((2, 0), 2, 1, []), b"")
