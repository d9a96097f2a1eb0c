"""Queue icons (printer-icons, PWG 5100.13 §6.5.3: PNG at 48, 128 and 512 pixels), drawn in
code so no binary file has to ship: a grey printer body with a white sheet on top."""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

SIZES = (48, 128, 512)


@lru_cache(maxsize=len(SIZES))
def icon_png(size: int) -> bytes:
    if size not in SIZES:
        raise ValueError(f"no {size}px icon")
    rows = b"".join(b"\x00" + bytes(_row(y, size)) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # RGBA, 8 bit
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + \
        _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")


def _row(y: int, size: int) -> list[int]:
    pixels: list[int] = []
    for x in range(size):
        pixels.extend(_pixel(x / size, y / size))
    return pixels


def _pixel(x: float, y: float) -> tuple[int, int, int, int]:
    if 0.28 <= x <= 0.72 and 0.08 <= y <= 0.45:
        return (255, 255, 255, 255)  # the sheet
    if 0.1 <= x <= 0.9 and 0.35 <= y <= 0.8:
        return (90, 96, 110, 255)  # the body
    return (0, 0, 0, 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
