"""Sans-I/O decoder for IPP messages (RFC 8010 §3): bytes in, ``Message`` out.

Hand-written because no maintained Python library encodes *and* decodes IPP completely
for a server: every value syntax, collections, 1setOf with mixed syntaxes, out-of-band,
extension and unknown tags kept for the unsupported group, and limits on hostile input.

Theory of operation
-------------------
A message is an 8-octet header (version, operation-id or status-code, request-id), then
a flat run of records closed by the end-of-attributes tag (0x03), then document data:

* a delimiter tag (0x01-0x0F) is one octet and starts an attribute group (§3.5.1);
* an attribute record is value-tag, name-length, name, value-length, value (§3.1.4);
  name-length 0 marks an additional value of the previous attribute (§3.1.5).

Collections (§3.1.6) are flat on the wire too: begCollection opens one, memberAttrName
records name its members, the member values follow, and endCollection closes it. The
decoder keeps a stack of open collections instead of recursing.

Values decode by tag through a table (RFC 8010 §3.9): text and name are strict UTF-8,
keyword, uri, charset and the like printable US-ASCII, dateTime an RFC 2579 DateAndTime
read as an aware datetime; out-of-band tags (0x10-0x1F) give None, and the extension tag
(0x7F) and unknown tags keep their raw octets so a server can echo them back.

``MessageDecoder`` is incremental. Each record is self-delimiting, so ``feed`` decodes
every complete record from its current offset and keeps only the unfinished tail: no
byte is parsed twice, and a feed that cannot complete the pending record is only
buffered (so byte-at-a-time input stays linear). Limits are checked as soon as lengths
are known, so a hostile length is refused before its bytes arrive. Bytes after the end
tag are handed back as ``leftover`` (the start of the document, which the caller
streams to the spool; the decoder never holds the document).
Decoding raises only ``IppDecodeError``; ``status`` is the IPP status to answer with.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from printhost.ipp.constants import Status, Tag
from printhost.ipp.layout import (
    ASCII_TAGS,
    DATE_TIME,
    HEADER,
    INTEGER,
    RANGE,
    RESOLUTION,
    STRUCTURAL_TAGS,
    TAGS,
    WIRE_MAX,
    tag_name,
)
from printhost.ipp.model import (
    Attribute,
    AttributeGroup,
    Collection,
    Message,
    PyValue,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
    Value,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DecodeLimits",
    "IppDecodeError",
    "MessageDecoder",
    "decode_message",
]

_TOO_LARGE = Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """Bounds on what a decoder accepts; each refusal carries the status to answer with.

    max_header_bytes: octets from the version number through the end-of-attributes tag
        (document data is not counted) -> client-error-request-entity-too-large.
    max_attributes: attributes in the message, each collection member counting as one
        -> client-error-request-entity-too-large.
    max_values_per_attribute: values of one attribute or member -> ...-entity-too-large.
    max_name_length: octets of an attribute or member name; keywords have at most 255
        (RFC 8011 §5.1.4) -> client-error-bad-request.
    max_value_length: octets of one value (the wire allows 65535)
        -> client-error-request-value-too-long.
    max_collection_depth: nesting of collection values -> client-error-bad-request.
    """

    max_header_bytes: int = 1 << 20
    max_attributes: int = 2000
    max_values_per_attribute: int = 1000
    max_name_length: int = 255
    max_value_length: int = 32767
    max_collection_depth: int = 8

    def __post_init__(self) -> None:
        if self.max_header_bytes < 9 or min(self.max_attributes, self.max_values_per_attribute) < 1:
            raise ValueError(f"limits too small to decode any message: {self}")
        if not 1 <= self.max_name_length <= WIRE_MAX or not 0 <= self.max_value_length <= WIRE_MAX:
            raise ValueError(f"name and value limits must be within the wire maximum 65535: {self}")
        if self.max_collection_depth < 0:
            raise ValueError(f"max_collection_depth must not be negative: {self}")


DEFAULT_LIMITS = DecodeLimits()


class IppDecodeError(Exception):
    """Bytes that are not a valid IPP message. ``status`` is the IPP status to answer with;
    ``offset`` (from the first byte of the message) and ``attribute`` say where."""

    def __init__(
        self,
        message: str,
        status: Status = Status.CLIENT_ERROR_BAD_REQUEST,
        *,
        offset: int | None = None,
        attribute: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.offset = offset
        self.attribute = attribute


class _BadValue(Exception):
    """Raised by a value decoder; the decoder adds where it happened."""


# --- value decoders: one value's octets -> its Python value (RFC 8010 §3.9) ---


def _decode_integer(raw: bytes) -> int:
    if len(raw) != 4:
        raise _BadValue(f"length {len(raw)}, must be 4")
    return int(INTEGER.unpack(raw)[0])


def _decode_boolean(raw: bytes) -> bool:
    if raw not in (b"\x00", b"\x01"):
        raise _BadValue(f"{raw!r} is not one octet 0x00 or 0x01")
    return raw == b"\x01"


def _decode_octets(raw: bytes) -> bytes:
    return raw


def _decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadValue(f"invalid UTF-8 at value octet {exc.start}") from None


def _decode_ascii(raw: bytes) -> str:
    """keyword, uri, charset, ...: printable US-ASCII (RFC 8011 §5.1)."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise _BadValue(f"non-ASCII octet at value octet {exc.start}") from None
    if not text.isprintable():
        raise _BadValue(f"control character in {text!r}")
    return text


def _decode_date_time(raw: bytes) -> datetime.datetime:
    if len(raw) != 11:
        raise _BadValue(f"length {len(raw)}, an RFC 2579 DateAndTime has 11")
    year, month, day, hour, minute, second, deci, sign, off_h, off_m = DATE_TIME.unpack(raw)
    if sign not in (b"+", b"-") or deci > 9 or off_h > 23 or off_m > 59:
        raise _BadValue(f"invalid DateAndTime {raw.hex()}")
    offset = datetime.timedelta(hours=off_h, minutes=off_m)
    tz = datetime.timezone(-offset if sign == b"-" else offset)
    try:  # RFC 2579 allows second 60 (leap second); datetime does not, so it reads as 59
        return datetime.datetime(
            year, month, day, hour, minute, min(second, 59), deci * 100_000, tz
        )
    except ValueError as exc:
        raise _BadValue(f"invalid DateAndTime {raw.hex()}: {exc}") from None


def _decode_resolution(raw: bytes) -> Resolution:
    if len(raw) != 9:
        raise _BadValue(f"length {len(raw)}, must be 9")
    return Resolution(*RESOLUTION.unpack(raw))


def _decode_range(raw: bytes) -> RangeOfInteger:
    if len(raw) != 8:
        raise _BadValue(f"length {len(raw)}, must be 8")
    return RangeOfInteger(*RANGE.unpack(raw))


def _decode_with_language(raw: bytes) -> StringWithLanguage:
    """Two length-prefixed parts, language then text, filling the value exactly (§3.9)."""
    if len(raw) < 4:
        raise _BadValue(f"length {len(raw)}, must be at least 4")
    lang_end = 2 + (raw[0] << 8 | raw[1])
    if lang_end + 2 > len(raw):
        raise _BadValue("natural-language length runs past the value")
    text_length = raw[lang_end] << 8 | raw[lang_end + 1]
    if lang_end + 2 + text_length != len(raw):
        raise _BadValue(f"parts total {lang_end + 2 + text_length} octets, value has {len(raw)}")
    return StringWithLanguage(_decode_utf8(raw[lang_end + 2 :]), _decode_ascii(raw[2:lang_end]))


def _decode_extension(raw: bytes) -> bytes:
    # RFC 8010 §3.5.2: the first four octets of an 0x7F value are the extended type code.
    if len(raw) < 4:
        raise _BadValue(f"length {len(raw)}, must hold the 4-octet extended type")
    return raw


_DECODERS: dict[int, Callable[[bytes], PyValue]] = {
    Tag.INTEGER: _decode_integer,
    Tag.ENUM: _decode_integer,
    Tag.BOOLEAN: _decode_boolean,
    Tag.OCTET_STRING: _decode_octets,
    Tag.DATE_TIME: _decode_date_time,
    Tag.RESOLUTION: _decode_resolution,
    Tag.RANGE_OF_INTEGER: _decode_range,
    Tag.TEXT_WITH_LANGUAGE: _decode_with_language,
    Tag.NAME_WITH_LANGUAGE: _decode_with_language,
    Tag.TEXT: _decode_utf8,
    Tag.NAME: _decode_utf8,
    Tag.EXTENSION: _decode_extension,
    **dict.fromkeys(ASCII_TAGS, _decode_ascii),
}


def _decode_out_of_band(raw: bytes) -> None:
    return None  # RFC 8010 §3.5.2: out-of-band values have length 0; any octets are ignored


def _decoding(tag: int) -> tuple[int, Callable[[bytes], PyValue] | None]:
    """(the tag to store, its value decoder); None for begCollection, which opens a frame."""
    if tag == Tag.BEGIN_COLLECTION:
        return TAGS[tag], None
    if 0x10 <= tag < 0x20:
        return TAGS.get(tag, tag), _decode_out_of_band
    return TAGS.get(tag, tag), _DECODERS.get(tag, _decode_octets)  # unknown tags: kept raw


_VALUE_TAGS = [_decoding(tag) for tag in range(0x100)]  # indexed by value tag


@dataclass(slots=True)
class _Frame:
    """An open collection: where its values go, and its dotted name for error messages."""

    collection: Collection
    path: str
    member: Attribute | None = None


class MessageDecoder:
    """Incremental decoder: ``feed`` bytes in any split until it returns the ``Message``.

    After that, ``leftover`` holds the bytes fed past the end-of-attributes tag. Between
    calls the decoder holds at most one unfinished record.
    """

    __slots__ = (
        "_attributes",
        "_base",
        "_buf",
        "_done",
        "_failed",
        "_frames",
        "_group",
        "_header_done",
        "_last",
        "_message",
        "_need",
        "leftover",
        "limits",
    )

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.leftover = b""
        self._message = Message((0, 0), 0, 0)
        self._group: AttributeGroup | None = None
        self._last: Attribute | None = None  # receives additional values (RFC 8010 §3.1.5)
        self._frames: list[_Frame] = []  # open collections, innermost last
        self._attributes = 0
        self._header_done = self._done = self._failed = False
        self._buf = bytearray()  # the unfinished record
        self._base = 0  # offset of _buf[0] from the first byte of the message
        self._need = HEADER.size  # octets _buf needs before parsing can progress

    def feed(self, data: bytes) -> Message | None:
        """Decode what ``data`` completes; return the message once its end tag is read."""
        if self._done or self._failed:
            done = "was complete (the document starts with .leftover)"
            raise ValueError(f"feed() after the message {done if self._done else 'failed'}")
        if self._buf or len(data) < self._need:
            self._buf += data
            if len(self._buf) < self._need:
                return None  # the pending record cannot be complete yet: nothing to parse
            data = bytes(self._buf)
        data = bytes(data)  # no copy when data is bytes already
        try:
            consumed = self._parse(data)
        except IppDecodeError:
            self._failed = True
            raise
        return self._keep(data, consumed)

    def close(self) -> None:
        """Declare the input finished; raise ``IppDecodeError`` if the message is truncated."""
        if self._done:
            return
        where = "in the 8-octet header" if not self._header_done else "before end-of-attributes"
        if self._frames:
            where = f"inside collection {self._frames[-1].path!r}"
        size = self._base + len(self._buf)
        raise self._error(f"message truncated after {size} octets, {where}", len(self._buf))

    def _keep(self, data: bytes, consumed: int) -> Message | None:
        if self._done:
            self.leftover, self._buf = data[consumed:], bytearray()
            return self._message
        self._buf = bytearray(data[consumed:])  # at most one unfinished record
        self._base += consumed
        return None

    def _parse(self, data: bytes) -> int:
        """Decode every complete record in ``data``; return how many octets were consumed.

        The hot loop: lengths are read by indexing and checked against every limit in one
        test; ``_octets_needed`` then works out which limit failed, or how much is missing.
        """
        pos, end, self._need = 0, len(data), 1
        if not self._header_done:
            if end < HEADER.size:
                self._need = HEADER.size
                return 0
            pos = self._read_header(data)
        limits = self.limits
        max_stop = limits.max_header_bytes - self._base
        while pos < end and not self._done:
            tag = data[pos]
            if tag < 0x10:
                self._delimiter(tag, pos)
                pos += 1
                continue
            value_at = pos + 5 + (data[pos + 1] << 8 | data[pos + 2]) if pos + 3 <= end else end + 1
            stop = (
                value_at + (data[value_at - 2] << 8 | data[value_at - 1]) if value_at <= end else -1
            )
            if not (
                value_at <= stop <= end
                and stop <= max_stop
                and value_at - pos - 5 <= limits.max_name_length
                and stop - value_at <= limits.max_value_length
            ):
                self._need = self._octets_needed(data, pos)  # raises if a limit is exceeded
                break
            self._record(data, tag, pos, value_at, stop)
            pos = stop
        return pos

    def _read_header(self, data: bytes) -> int:
        major, minor, code, request_id = HEADER.unpack_from(data)
        self._message = Message((major, minor), code, request_id)  # the server judges version
        self._header_done = True
        return HEADER.size

    def _octets_needed(self, data: bytes, pos: int) -> int:
        """Octets from ``pos`` the record there needs before it may be complete. Raise as
        soon as its known lengths break a limit, before the rest of it arrives."""
        if pos + 3 > len(data):
            return 3
        name_length = data[pos + 1] << 8 | data[pos + 2]
        if name_length > self.limits.max_name_length:
            limit = self.limits.max_name_length
            raise self._error(f"name-length {name_length} exceeds the limit {limit}", pos + 1)
        value_at = pos + 5 + name_length
        self._check_size(value_at, pos)
        if value_at > len(data):
            return value_at - pos
        value_length = data[value_at - 2] << 8 | data[value_at - 1]
        if value_length > self.limits.max_value_length:
            name = str(data[pos + 3 : value_at - 2], "latin-1")
            self._value_too_long(value_length, value_at - 2, name)
        self._check_size(value_at + value_length, pos)
        return value_at + value_length - pos

    def _value_too_long(self, length: int, pos: int, name: str) -> NoReturn:
        what = f"value-length {length} exceeds the limit {self.limits.max_value_length}"
        status = Status.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG
        raise self._error(what, pos, name or self._unnamed_path(), status)

    def _unnamed_path(self) -> str | None:
        """The attribute that a record with name-length 0 belongs to, for error messages."""
        if self._frames:
            frame = self._frames[-1]
            return f"{frame.path}.{frame.member.name}" if frame.member else frame.path
        return self._last.name if self._last else None

    def _check_size(self, end: int, pos: int) -> None:
        if self._base + end > self.limits.max_header_bytes:
            what = f"attribute section exceeds max_header_bytes {self.limits.max_header_bytes}"
            raise self._error(what, pos, status=_TOO_LARGE)

    def _record(self, data: bytes, tag: int, pos: int, value_at: int, stop: int) -> None:
        raw = data[value_at:stop]
        if value_at - pos == 5:  # name-length 0
            if self._frames:
                self._member_record(tag, raw, pos)
            else:
                self._additional_value(tag, raw, pos)
            return
        # A new attribute in the current group (RFC 8010 §3.1.4): the common case, inline.
        name = self._name(data[pos + 3 : value_at - 2], pos + 3)
        group = self._group
        if group is None or self._frames or tag in STRUCTURAL_TAGS:
            self._misplaced(tag, name, pos)
        self._count_attribute(pos, name)
        self._last = last = Attribute(name, [])
        group.attributes.append(last)
        self._add_value(last, tag, raw, pos, name)

    def _name(self, raw: bytes, pos: int, owner: str | None = None) -> str:
        """An attribute name, or a member name in collection ``owner`` (RFC 8011 §5.1.4)."""
        try:
            name = str(raw, "ascii")
        except UnicodeDecodeError:
            name = ""
        if not name.isprintable() or not name:
            kind = "memberAttrName" if owner else "attribute name"
            raise self._error(f"{kind} {raw!r} is not printable ASCII", pos, owner)
        return name

    def _delimiter(self, tag: int, pos: int) -> None:
        self._check_size(pos + 1, pos)
        if self._frames:
            path = self._frames[0].path
            what = f"delimiter tag 0x{tag:02x} inside a collection (no endCollection, §3.1.6)"
            raise self._error(what, pos, path)
        if tag == Tag.END:
            self._done = True
        elif tag == 0x00:
            raise self._error("reserved delimiter tag 0x00 (RFC 8010 §3.5.1)", pos)
        else:  # 0x0B-0x0F are reserved for future groups (§3.5.1); the server may refuse them
            self._group = self._message.add_group(TAGS.get(tag, tag))
            self._last = None

    def _additional_value(self, tag: int, raw: bytes, pos: int) -> None:
        """A record without a name outside collections: one more value (RFC 8010 §3.1.5)."""
        if self._last is None or tag in STRUCTURAL_TAGS:
            self._misplaced(tag, "", pos)
        self._add_value(self._last, tag, raw, pos, self._last.name)

    def _misplaced(self, tag: int, name: str, pos: int) -> NoReturn:
        if self._frames:
            what = f"record named {name!r} inside a collection (RFC 8010 §3.1.6: name-length 0)"
            raise self._error(what, pos, self._frames[-1].path)
        if tag in STRUCTURAL_TAGS:
            what = f"{tag_name(tag)} outside a collection (RFC 8010 §3.1.6)"
            raise self._error(what, pos, name or None)
        if self._group is None:
            raise self._error("attribute before the first group tag (RFC 8010 §3.1.2)", pos, name)
        what = "additional value (name-length 0) first in its group (RFC 8010 §3.1.5)"
        raise self._error(what, pos)

    def _member_record(self, tag: int, raw: bytes, pos: int) -> None:
        """A record inside a collection (RFC 8010 §3.1.6)."""
        frame = self._frames[-1]
        if tag == Tag.MEMBER_ATTR_NAME:
            self._start_member(frame, raw, pos)
        elif tag == Tag.END_COLLECTION:
            self._check_member_has_value(frame, pos)
            self._frames.pop()
        elif frame.member is None:
            raise self._error("collection value before any memberAttrName", pos, frame.path)
        else:
            self._add_value(frame.member, tag, raw, pos, f"{frame.path}.{frame.member.name}")

    def _start_member(self, frame: _Frame, raw: bytes, pos: int) -> None:
        self._check_member_has_value(frame, pos)
        if len(raw) > self.limits.max_name_length:
            what = f"memberAttrName of {len(raw)} octets exceeds {self.limits.max_name_length}"
            raise self._error(what, pos, frame.path)
        name = self._name(raw, pos + 5, frame.path)
        self._count_attribute(pos, f"{frame.path}.{name}")
        frame.member = Attribute(name, [])
        frame.collection.members.append(frame.member)

    def _check_member_has_value(self, frame: _Frame, pos: int) -> None:
        if frame.member is not None and not frame.member.items:
            path = f"{frame.path}.{frame.member.name}"
            raise self._error("collection member without a value (RFC 8010 §3.1.6)", pos, path)

    def _add_value(self, attr: Attribute, tag: int, raw: bytes, pos: int, path: str) -> None:
        if len(attr.items) >= self.limits.max_values_per_attribute:
            what = f"more than {self.limits.max_values_per_attribute} values"
            raise self._error(what, pos, path, _TOO_LARGE)
        tag_object, decode = _VALUE_TAGS[tag]
        value: PyValue
        if decode is None:
            value = self._open_collection(pos, path)
        else:
            try:
                value = decode(raw)
            except _BadValue as exc:
                raise self._error(f"bad {tag_name(tag)} value ({exc})", pos, path) from None
        attr.items.append(Value(tag_object, value))

    def _open_collection(self, pos: int, path: str) -> Collection:
        if len(self._frames) >= self.limits.max_collection_depth:
            what = f"collections nested deeper than {self.limits.max_collection_depth}"
            raise self._error(what, pos, path)
        collection = Collection()  # a begCollection value is empty (§3.1.6); octets ignored
        self._frames.append(_Frame(collection, path))
        return collection

    def _count_attribute(self, pos: int, path: str) -> None:
        self._attributes += 1
        if self._attributes > self.limits.max_attributes:
            what = f"more than {self.limits.max_attributes} attributes"
            raise self._error(what, pos, path, _TOO_LARGE)

    def _error(
        self,
        what: str,
        pos: int,
        attribute: str | None = None,
        status: Status = Status.CLIENT_ERROR_BAD_REQUEST,
    ) -> IppDecodeError:
        offset = self._base + pos
        where = f"attribute {attribute!r} at byte {offset}" if attribute else f"at byte {offset}"
        return IppDecodeError(f"{where}: {what}", status, offset=offset, attribute=attribute)


def decode_message(data: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> tuple[Message, bytes]:
    """Decode a whole message; return it and the bytes after its end-of-attributes tag."""
    decoder = MessageDecoder(limits)
    message = decoder.feed(data)
    decoder.close()  # raises when the end-of-attributes tag was not reached
    assert message is not None
    return message, decoder.leftover
