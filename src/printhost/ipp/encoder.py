"""Sans-I/O encoder for IPP messages (RFC 8010 §3): ``Message`` in, bytes out.

Python values are encoded by tag as documented in ``printhost.ipp.model``, through a table
indexed by value tag; the decoder (``printhost.ipp.decoder``) reads back what this writes.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Callable

from printhost.ipp.constants import Tag
from printhost.ipp.layout import (
    ASCII_TAGS,
    DATE_TIME,
    HEADER,
    INTEGER,
    RANGE,
    RESOLUTION,
    STRUCTURAL_TAGS,
    WIRE_MAX,
    tag_name,
)
from printhost.ipp.model import (
    Attribute,
    Collection,
    Message,
    PyValue,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
    Value,
)

__all__ = ["encode_message"]

_U16 = struct.Struct(">H")
_RECORD_HEAD = struct.Struct(">BH")  # value-tag, name-length
_END_COLLECTION_RECORD = b"\x37\x00\x00\x00\x00"
_MEMBER_HEAD = b"\x4a\x00\x00"  # memberAttrName, name-length 0; the value is the name
_BEGIN_COLLECTION = int(Tag.BEGIN_COLLECTION)


def encode_message(message: Message) -> bytes:
    """Encode ``message`` (RFC 8010 §3.1); raise TypeError/ValueError for values that the
    wire cannot carry or that do not match their tag."""
    major, minor = message.version
    try:
        parts = [HEADER.pack(major, minor, message.code, message.request_id)]
    except struct.error as exc:
        raise ValueError(f"message header out of range: {exc}") from None
    for group in message.groups:
        if not 0x01 <= group.tag <= 0x0F or group.tag == Tag.END:
            raise ValueError(f"{group.tag!r} is not a group tag (RFC 8010 §3.5.1)")
        parts.append(bytes((group.tag,)))
        for attr in group.attributes:
            _encode_attribute(parts, attr, member=False)
    parts.append(bytes((Tag.END,)))
    return b"".join(parts)


def _encode_attribute(parts: list[bytes], attr: Attribute, *, member: bool) -> None:
    """A top-level attribute (§3.1.4-5), or a collection member (§3.1.6) when ``member``."""
    try:
        name = _encode_ascii(attr.name)
        if not name or len(name) > WIRE_MAX or not attr.items:
            raise ValueError("an attribute needs a name of 1-65535 octets and a value")
        if member:
            parts += (_MEMBER_HEAD, _U16.pack(len(name)), name)
            name = b""
        for item in attr.items:
            _encode_value(parts, name, item)
            name = b""  # additional values have name-length 0 (RFC 8010 §3.1.5)
    except TypeError as exc:
        raise TypeError(f"attribute {attr.name!r}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"attribute {attr.name!r}: {exc}") from None


def _encode_value(parts: list[bytes], name: bytes, item: Value) -> None:
    tag, value = item
    if tag == _BEGIN_COLLECTION:
        _encode_collection(parts, name, value)
        return
    encode = _ENCODING[tag] if 0 <= tag <= 0xFF else None
    if encode is None:
        raise ValueError(f"{tag!r} is not a value tag")
    try:
        octets = encode(value)
    except struct.error as exc:
        raise ValueError(f"{tag_name(tag)} value {value!r} out of range: {exc}") from None
    if len(octets) > WIRE_MAX:
        raise ValueError(f"value of {len(octets)} octets; the wire allows 65535 (RFC 8010 §3.8)")
    parts += (_RECORD_HEAD.pack(tag, len(name)), name, _U16.pack(len(octets)), octets)


def _encode_collection(parts: list[bytes], name: bytes, value: PyValue) -> None:
    if not isinstance(value, Collection):
        raise _type_error("Collection", value)
    parts += (_RECORD_HEAD.pack(_BEGIN_COLLECTION, len(name)), name, b"\x00\x00")
    for member in value.members:
        _encode_attribute(parts, member, member=True)
    parts.append(_END_COLLECTION_RECORD)


def _type_error(expected: str, value: PyValue) -> TypeError:
    return TypeError(f"expected {expected}, got {type(value).__name__} {value!r}")


def _encode_integer(value: PyValue) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _type_error("int", value)
    return INTEGER.pack(value)


def _encode_boolean(value: PyValue) -> bytes:
    if not isinstance(value, bool):
        raise _type_error("bool", value)
    return b"\x01" if value else b"\x00"


def _encode_out_of_band(value: PyValue) -> bytes:
    if value is not None:
        raise TypeError(f"an out-of-band value is None, not {value!r}")
    return b""


def _encode_octets(value: PyValue) -> bytes:
    if not isinstance(value, bytes):
        raise _type_error("bytes", value)
    return value


def _encode_extension(value: PyValue) -> bytes:
    if len(_encode_octets(value)) < 4:
        raise ValueError("an extension (0x7F) value starts with a 4-octet type (RFC 8010 §3.5.2)")
    return _encode_octets(value)


def _encode_utf8(value: PyValue) -> bytes:
    if not isinstance(value, str):
        raise _type_error("str", value)
    return value.encode("utf-8")


def _encode_ascii(value: PyValue) -> bytes:
    if not isinstance(value, str):
        raise _type_error("str", value)
    if not (value.isascii() and value.isprintable()):
        raise ValueError(f"{value!r} is not printable US-ASCII")
    return value.encode("ascii")


def _encode_date_time(value: PyValue) -> bytes:
    if not isinstance(value, datetime.datetime):
        raise _type_error("datetime", value)
    offset = value.utcoffset()
    if offset is None or offset % datetime.timedelta(minutes=1):
        raise ValueError(f"{value!r} needs a UTC offset in whole minutes (RFC 2579)")
    minutes = abs(offset) // datetime.timedelta(minutes=1)
    sign = b"-" if offset < datetime.timedelta(0) else b"+"
    v = value
    fields = (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond // 100_000)
    return DATE_TIME.pack(*fields, sign, *divmod(minutes, 60))


def _encode_resolution(value: PyValue) -> bytes:
    if not isinstance(value, Resolution):
        raise _type_error("Resolution", value)
    return RESOLUTION.pack(value.cross_feed, value.feed, value.units)


def _encode_range(value: PyValue) -> bytes:
    if not isinstance(value, RangeOfInteger):
        raise _type_error("RangeOfInteger", value)
    return RANGE.pack(value.lower, value.upper)


def _encode_with_language(value: PyValue) -> bytes:
    if not isinstance(value, StringWithLanguage):
        raise _type_error("StringWithLanguage", value)
    language, text = _encode_ascii(value.language), _encode_utf8(value.text)
    return _U16.pack(len(language)) + language + _U16.pack(len(text)) + text


_ENCODERS: dict[int, Callable[[PyValue], bytes]] = {
    Tag.INTEGER: _encode_integer,
    Tag.ENUM: _encode_integer,
    Tag.BOOLEAN: _encode_boolean,
    Tag.OCTET_STRING: _encode_octets,
    Tag.DATE_TIME: _encode_date_time,
    Tag.RESOLUTION: _encode_resolution,
    Tag.RANGE_OF_INTEGER: _encode_range,
    Tag.TEXT_WITH_LANGUAGE: _encode_with_language,
    Tag.NAME_WITH_LANGUAGE: _encode_with_language,
    Tag.TEXT: _encode_utf8,
    Tag.NAME: _encode_utf8,
    Tag.EXTENSION: _encode_extension,
    **dict.fromkeys(ASCII_TAGS, _encode_ascii),
}


def _encoding(tag: int) -> Callable[[PyValue], bytes] | None:
    """The value encoder for ``tag``; None where no value may carry it."""
    if tag < 0x10 or tag in STRUCTURAL_TAGS:
        return None  # delimiters; memberAttrName and endCollection are written by collections
    if tag < 0x20:
        return _encode_out_of_band
    return _ENCODERS.get(tag, _encode_octets)  # unknown tags carry their raw octets


_ENCODING = [_encoding(tag) for tag in range(0x100)]  # indexed by value tag
