"""Generators for PCL 5 and PCL XL documents with known truth: Ghostscript's PCL devices
rendering PostScript pages, hand-written PCL 5 jobs, and PCL XL from a tiny encoder."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .corpus import PS_BLANK, PS_GREY, PS_RED, PS_RGB_GREY, ghostscript, postscript_pages

LETTER = (612.0, 792.0)
A4 = (595.28, 841.89)
A4_LANDSCAPE = (841.89, 595.28)
PS_BLUE_SQUARE = "0 0 1 setrgbcolor 300 300 30 30 rectfill"

#: (paint, PostScript page size, is colour)
PAGES: list[tuple[str, tuple[int, int], bool]] = [
    (PS_GREY, (612, 792), False),
    (PS_RED, (595, 842), True),
    (PS_BLANK, (842, 595), False),
    (PS_BLUE_SQUARE, (612, 792), True),
    (PS_RGB_GREY, (595, 842), False),
]
COLOR_DEVICES = {"pxlcolor", "cljet5", "cljet5c"}
#: devices that print landscape pages as such (cljet5/cljet5c rotate the raster)
LANDSCAPE_DEVICES = {"pxlmono", "pxlcolor", "ljet4"}


@dataclass(frozen=True)
class Truth:
    pages: int
    color_pages: tuple[int, ...]
    page_sizes: tuple[tuple[float, float], ...]


def device_truth(device: str) -> Truth:
    sizes = []
    for _, (width, height), _ in PAGES:
        size = {(612, 792): LETTER, (595, 842): A4, (842, 595): A4_LANDSCAPE}[(width, height)]
        if size == A4_LANDSCAPE and device not in LANDSCAPE_DEVICES:
            size = A4
        sizes.append(size)
    colors = tuple(n for n, (_, _, c) in enumerate(PAGES, 1) if c and device in COLOR_DEVICES)
    return Truth(len(PAGES), colors, tuple(sizes))


def render(device: str, out: Path, resolution: int = 75) -> Path:
    postscript = postscript_pages([(paint, size) for paint, size, _ in PAGES])
    ghostscript(device, postscript, out, f"-r{resolution}")
    return out


# --- hand-written PCL 5 ---------------------------------------------------------------

ESC = b"\x1b"
RESET = ESC + b"E"
UEL = ESC + b"%-12345X"


def pjl(body: bytes, *commands: bytes, language: bytes = b"PCL") -> bytes:
    lines = b"".join(b"@PJL " + c + b"\r\n" for c in commands)
    return (
        UEL
        + b"@PJL JOB\r\n"
        + lines
        + b"@PJL ENTER LANGUAGE="
        + language
        + b"\r\n"
        + body
        + UEL
        + b"@PJL EOJ\r\n"
        + UEL
    )


def text_page(text: bytes = b"Hello") -> bytes:
    return text + b"\r\n"


def rgb_palette_text(index: int, rgb: tuple[int, int, int]) -> bytes:
    """A 3-bit RGB CID, palette entry ``index`` set to ``rgb``, and text in it."""
    cid = ESC + b"*v6W" + bytes([0, 0, 3, 8, 8, 8])
    entry = ESC + b"*v%da%db%dc%dI" % (*rgb, index)
    return cid + entry + ESC + b"*v%dS" % index + b"colour text"


def raster_rows(rows: Sequence[bytes], mode: int = 0) -> bytes:
    """Raster rows (already compressed for ``mode``) between start and end raster."""
    out = ESC + b"*r1A" + ESC + b"*b%dM" % mode
    for row in rows:
        out += ESC + b"*b%dW" % len(row) + row
    return out + ESC + b"*rC"


def rgb_direct_cid() -> bytes:
    return ESC + b"*v6W" + bytes([0, 3, 8, 8, 8, 8])


def packbits(data: bytes) -> bytes:
    """Literal-only PackBits with one repeat run for a leading repeated byte."""
    out = bytearray()
    for i in range(0, len(data), 128):
        chunk = data[i : i + 128]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


# --- PCL XL ---------------------------------------------------------------------------


class Xl:
    """A tiny little-endian PCL XL encoder: values, attributes, operators, data."""

    def __init__(self) -> None:
        self.out = bytearray(b") HP-PCL XL;2;0;Comment printhost test\n")

    def ubyte(self, value: int, attr: int) -> Xl:
        self.out += bytes([0xC0, value, 0xF8, attr])
        return self

    def uint16(self, value: int, attr: int) -> Xl:
        self.out += b"\xc1" + struct.pack("<H", value) + bytes([0xF8, attr])
        return self

    def uint32(self, value: int, attr: int) -> Xl:
        self.out += b"\xc2" + struct.pack("<I", value) + bytes([0xF8, attr])
        return self

    def ubytes(self, values: bytes, attr: int) -> Xl:
        self.out += b"\xc8\xc1" + struct.pack("<H", len(values)) + values + bytes([0xF8, attr])
        return self

    def uint16_xy(self, x: int, y: int, attr: int) -> Xl:
        self.out += b"\xd1" + struct.pack("<HH", x, y) + bytes([0xF8, attr])
        return self

    def real32_xy(self, x: float, y: float, attr: int) -> Xl:
        self.out += b"\xd5" + struct.pack("<ff", x, y) + bytes([0xF8, attr])
        return self

    def box(self, box: tuple[int, int, int, int], attr: int) -> Xl:
        self.out += b"\xe1" + struct.pack("<4H", *box) + bytes([0xF8, attr])
        return self

    def op(self, code: int) -> Xl:
        self.out.append(code)
        return self

    def data(self, data: bytes) -> Xl:
        if len(data) < 256:
            self.out += bytes([0xFB, len(data)]) + data
        else:
            self.out += b"\xfa" + struct.pack("<I", len(data)) + data
        return self

    def session(self) -> Xl:
        return self.uint16_xy(600, 600, 137).ubyte(0, 134).op(0x41)

    def page(
        self,
        media: int | bytes | None = 0,
        orientation: int = 0,
        custom: tuple[float, float] | None = None,
        copies: int | None = None,
        paint: Sequence[tuple[str, object]] = (),
    ) -> Xl:
        self.ubyte(orientation, 40)
        if isinstance(media, int):
            self.ubyte(media, 37)
        elif isinstance(media, bytes):
            self.ubytes(media, 37)
        if custom is not None:
            self.real32_xy(*custom, 47).ubyte(0, 48)
        self.op(0x43)
        for kind, arg in paint:
            getattr(self, "_" + kind)(arg)
        if copies is not None:
            self.uint16(copies, 49)
        return self.op(0x44)

    def _gray_rect(self, level: object) -> None:
        assert isinstance(level, int)
        self.ubyte(1, 3).op(0x6A).ubyte(level, 9).op(0x63).box((10, 10, 200, 200), 66).op(0xA0)

    def _rgb_rect(self, rgb: object) -> None:
        assert isinstance(rgb, bytes)
        self.ubyte(2, 3).op(0x6A).ubytes(rgb, 11).op(0x63)
        self.box((10, 10, 200, 200), 66).op(0xA0)

    def _rgb_pen_line(self, rgb: object) -> None:
        assert isinstance(rgb, bytes)
        self.ubyte(2, 3).op(0x6A).ubytes(rgb, 11).op(0x79).ubyte(0, 4).op(0x63)
        self.box((10, 10, 200, 200), 66).op(0xA0)

    def _rgb_image(self, pixels: object) -> None:
        """One row of 8-bit RGB pixels, uncompressed (padded to 4 bytes)."""
        assert isinstance(pixels, bytes)
        width = len(pixels) // 3
        self.ubyte(2, 3).op(0x6A)
        self.ubyte(2, 98).ubyte(0, 100).uint16(width, 108).uint16(1, 107)
        self.uint16_xy(100, 100, 103).op(0xB0)
        self.uint16(0, 109).uint16(1, 99).ubyte(0, 101).op(0xB1)
        self.data(pixels + bytes(-len(pixels) % 4)).op(0xB2)

    def end(self) -> bytes:
        return bytes(self.op(0x42).out)
