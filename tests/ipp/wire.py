"""Hand-built IPP wire bytes (RFC 8010 §3.1) and ways to feed them to a decoder.

The builders here follow the RFC's layout directly and share no code with the codec,
so golden vectors made with them check the codec rather than echo it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from printhost.ipp.decoder import MessageDecoder
from printhost.ipp.model import Message

END = b"\x03"


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def i32(n: int) -> bytes:
    return n.to_bytes(4, "big", signed=True)


def header(version: tuple[int, int], code: int, request_id: int) -> bytes:
    """version-number, operation-id or status-code, request-id (RFC 8010 §3.4)."""
    return bytes(version) + u16(code) + i32(request_id)


def attr(tag: int, name: str, value: bytes) -> bytes:
    """value-tag, name-length, name, value-length, value (RFC 8010 §3.1.4). Names are
    encoded as Latin-1, one octet per character, so tests can build bad names too."""
    encoded = name.encode("latin-1")
    return bytes([tag]) + u16(len(encoded)) + encoded + u16(len(value)) + value


def more(tag: int, value: bytes) -> bytes:
    """An additional value: name-length 0 (RFC 8010 §3.1.5)."""
    return attr(tag, "", value)


def begin_collection(name: str = "") -> bytes:
    return attr(0x34, name, b"")


def member(name: str) -> bytes:
    """memberAttrName (RFC 8010 §3.1.6)."""
    return attr(0x4A, "", name.encode("latin-1"))


END_COLLECTION = attr(0x37, "", b"")


def decode_whole(data: bytes) -> tuple[Message, bytes]:
    decoder = MessageDecoder()
    message = decoder.feed(data)
    assert message is not None
    return message, decoder.leftover


def decode_pieces(pieces: Iterable[bytes]) -> tuple[Message, bytes]:
    """Feed ``pieces`` until the message completes; return it and every byte after it
    (``leftover`` plus the pieces never fed)."""
    decoder = MessageDecoder()
    iterator = iter(pieces)
    for piece in iterator:
        message = decoder.feed(piece)
        if message is not None:
            return message, decoder.leftover + b"".join(iterator)
    decoder.close()
    raise AssertionError("close() should have raised")


def decode_bytewise(data: bytes) -> tuple[Message, bytes]:
    return decode_pieces(data[i : i + 1] for i in range(len(data)))


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cut % (len(data) + 1) for cut in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]
