"""What the IPP decoder and encoder share (RFC 8010 §3): the octet layout of the message
header and of the fixed-size value syntaxes (§3.9), and the tags both treat alike."""

from __future__ import annotations

import struct

from printhost.ipp.constants import Tag

HEADER = struct.Struct(">BBHi")  # version major, minor, operation-id/status-code, request-id
INTEGER = struct.Struct(">i")
RESOLUTION = struct.Struct(">iib")  # cross-feed, feed, units (§3.9)
RANGE = struct.Struct(">ii")
DATE_TIME = struct.Struct(">HBBBBBBcBB")  # RFC 2579 DateAndTime, 11 octets
WIRE_MAX = 0xFFFF
TAGS: dict[int, Tag] = {int(t): t for t in Tag}
#: Records that only ever appear inside a collection (§3.1.6); they carry no value.
STRUCTURAL_TAGS = frozenset((Tag.MEMBER_ATTR_NAME, Tag.END_COLLECTION))
#: Value tags whose values are printable US-ASCII strings (RFC 8011 §5.1).
ASCII_TAGS = (
    Tag.KEYWORD,
    Tag.URI,
    Tag.URI_SCHEME,
    Tag.CHARSET,
    Tag.NATURAL_LANGUAGE,
    Tag.MIME_MEDIA_TYPE,
)


def tag_name(tag: int) -> str:
    known = TAGS.get(tag)
    return known.name.lower().replace("_", "-") if known is not None else f"tag 0x{tag:02x}"
