"""PWG Raster (PWG 5102.4) and Apple URF raster: pages, sizes and colour from the headers
and the pixels.

Theory of operation
-------------------
Both formats hold, per page, a header and then the bitmap in the same run-length code:
for each group of identical lines, one byte says how many times the line repeats
(0-255 means 1-256 lines); the line is a series of runs, each a byte ``n`` followed by
pixels: 0-127 repeats the next pixel ``n + 1`` times, 129-255 copies ``257 - n``
literal pixels, and 128 fills the rest of the line with white. A "pixel" here is
``ceil(bits_per_pixel / 8)`` bytes (for 1-bit data, a byte of eight pixels).

Nothing is allocated per line or page: the decoder walks the runs and looks only at the
pixels it reads, so the work is proportional to the file size whatever the header
claims. Dimensions are still checked against limits before decoding, and a page whose
runs do not add up exactly to its declared width and height is rejected.

Colour: for RGB colour spaces a page is colour when any pixel's channels are more than
:data:`COLOR_TOLERANCE` 8-bit levels apart, as for PDF and PostScript (colour conversion
leaves near-neutral greys such as (109, 110, 113) behind; no one sees them as colour,
and the same mark must count the same in every format); for CMYK when any pixel has
cyan, magenta or yellow ink (a grey made of CMY is colour ink on paper); black, white and
grey spaces are mono.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from printhost.analysis.model import Analysis, AnalysisError

PWG_SYNC = b"RaS2"
URF_SYNC = b"UNIRAST\x00"
PWG_HEADER = 1796
URF_HEADER = 32
MAX_DIMENSION = 1 << 18  # pixels per side: 100 inches at 2400 dpi is 240,000
MAX_PAGE_BYTES = 1 << 32  # uncompressed bytes per page
MAX_PAGES = 100_000
CHUNK = 1 << 20

# cups_cspace_t values (PWG 5102.4 §4.3.1.12)
_PWG_MONO = {0, 3, 18}  # W, K, sGray
_PWG_RGB = {1, 19, 20}  # RGB, sRGB, AdobeRGB
_PWG_CMYK = {6}
# URF colour space byte: 0 sGray, 1 sRGB, 2 CIELab, 3 AdobeRGB, 4 W, 5 RGB, 6 CMYK
_URF_SPACES = {
    0: ("mono", 1),
    1: ("rgb", 3),
    3: ("rgb", 3),
    4: ("mono", 1),
    5: ("rgb", 3),
    6: ("cmyk", 4),
}


@dataclass(frozen=True, slots=True)
class _Page:
    width: int
    height: int
    bits_per_pixel: int
    channels: int
    kind: str  # "mono", "rgb" or "cmyk"
    size: tuple[float, float]
    white: int  # the byte value of white, for the 128 fill code


class _Reader:
    """Buffered reads with an exact end-of-file check."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.offset = 0  # file offset of buf[0]

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            self._fill(n)
            if self.pos + n > len(self.buf):
                raise AnalysisError(f"truncated raster data at byte {self.offset + len(self.buf)}")
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def byte(self) -> int:
        if self.pos >= len(self.buf):
            self._fill(1)
            if self.pos >= len(self.buf):
                raise AnalysisError(f"truncated raster data at byte {self.offset + len(self.buf)}")
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def at_end(self) -> bool:
        if self.pos < len(self.buf):
            return False
        self._fill(1)
        return self.pos >= len(self.buf)

    def _fill(self, n: int) -> None:
        rest = self.buf[self.pos :]
        self.offset += self.pos
        self.buf = rest + self.stream.read(max(n, CHUNK))
        self.pos = 0


def analyze_pwg(stream: BinaryIO) -> Analysis:
    reader = _Reader(stream)
    if reader.take(4) != PWG_SYNC:
        raise AnalysisError("not a PWG raster file (bad sync word)")
    return _analyze_pages(reader, "image/pwg-raster", _read_pwg_header, declared=None)


def analyze_urf(stream: BinaryIO) -> Analysis:
    reader = _Reader(stream)
    if reader.take(8) != URF_SYNC:
        raise AnalysisError("not an Apple URF file (bad magic)")
    (declared,) = struct.unpack(">I", reader.take(4))
    return _analyze_pages(reader, "image/urf", _read_urf_header, declared=declared or None)


def _analyze_pages(
    reader: _Reader, mime: str, read_header: Callable[[_Reader], _Page], declared: int | None
) -> Analysis:
    sizes: list[tuple[float, float]] = []
    colors: list[int] = []
    while not reader.at_end():
        if len(sizes) >= MAX_PAGES:
            raise AnalysisError(f"more than {MAX_PAGES} raster pages")
        page = read_header(reader)
        sizes.append(page.size)
        if _decode_page(reader, page):
            colors.append(len(sizes))
    if not sizes:
        raise AnalysisError("raster file has no pages")
    if declared is not None and declared != len(sizes):
        raise AnalysisError(f"URF header declares {declared} pages but the file has {len(sizes)}")
    return Analysis(
        format=mime, pages=len(sizes), color_pages=tuple(colors), page_sizes=tuple(sizes)
    )


def _read_pwg_header(reader: _Reader) -> _Page:
    header = reader.take(PWG_HEADER)

    def u32(offset: int) -> int:
        value: int = struct.unpack_from(">I", header, offset)[0]
        return value

    xres, yres = u32(276), u32(280)
    width, height = u32(372), u32(376)
    bits_per_color, bits_per_pixel = u32(384), u32(388)
    bytes_per_line, color_order, space = u32(392), u32(396), u32(400)
    if color_order != 0:
        raise AnalysisError(f"PWG raster colour order {color_order} (only chunky is valid)")
    if space in _PWG_MONO:
        kind, channels = "mono", 1
    elif space in _PWG_RGB:
        kind, channels = "rgb", 3
    elif space in _PWG_CMYK:
        kind, channels = "cmyk", 4
    else:
        raise AnalysisError(f"PWG raster colour space {space} is not supported")
    if bits_per_color not in (1, 2, 4, 8, 16) or bits_per_pixel != bits_per_color * channels:
        raise AnalysisError(
            f"PWG raster bits per colour {bits_per_color} / per pixel {bits_per_pixel} "
            f"do not fit colour space {space}"
        )
    if bits_per_color < 8 and kind != "mono":
        raise AnalysisError("PWG raster colour data needs 8 or 16 bits per colour")
    _check_dimensions(width, height, bits_per_pixel, xres, yres)
    if bytes_per_line != (width * bits_per_pixel + 7) // 8:
        raise AnalysisError(
            f"PWG raster bytes per line {bytes_per_line} do not match width {width}"
        )
    points = (u32(352), u32(356))
    size = (
        (float(points[0]), float(points[1]))
        if all(points)
        else (width * 72 / xres, height * 72 / yres)
    )
    # white is 0xff for W/sGray/RGB (additive), 0x00 for K and CMYK (subtractive)
    white = 0xFF if space not in (3, 6) else 0x00
    return _Page(width, height, bits_per_pixel, channels, kind, _round(size), white)


def _read_urf_header(reader: _Reader) -> _Page:
    header = reader.take(URF_HEADER)
    bits_per_pixel, space = header[0], header[1]
    width, height, resolution = struct.unpack_from(">III", header, 12)
    if space not in _URF_SPACES:
        raise AnalysisError(f"URF colour space {space} is not supported")
    kind, channels = _URF_SPACES[space]
    allowed = (8 * channels, 16 * channels) + ((1,) if kind == "mono" else ())
    if bits_per_pixel not in allowed:
        raise AnalysisError(f"URF {bits_per_pixel} bits per pixel do not fit colour space {space}")
    _check_dimensions(width, height, bits_per_pixel, resolution, resolution)
    size = (width * 72 / resolution, height * 72 / resolution)
    white = 0x00 if kind == "cmyk" else 0xFF
    return _Page(width, height, bits_per_pixel, channels, kind, _round(size), white)


def _check_dimensions(width: int, height: int, bits_per_pixel: int, xres: int, yres: int) -> None:
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise AnalysisError(
            f"raster page of {width}x{height} pixels is outside 1..{MAX_DIMENSION} per side"
        )
    if width * height * ((bits_per_pixel + 7) // 8) > MAX_PAGE_BYTES:
        raise AnalysisError(f"raster page of {width}x{height}x{bits_per_pixel} bits is too large")
    if not (0 < xres <= 100_000 and 0 < yres <= 100_000):
        raise AnalysisError(f"raster resolution {xres}x{yres} is invalid")


def _decode_page(reader: _Reader, page: _Page) -> bool:
    """Walks one page's compressed bitmap; True when it holds a colour pixel."""
    unit = (page.bits_per_pixel + 7) // 8
    units_per_line = (page.width * page.bits_per_pixel + 7) // 8 // unit
    is_color = _color_test(page)
    color = False
    lines = 0
    while lines < page.height:
        lines += reader.byte() + 1
        done = 0
        while done < units_per_line:
            code = reader.byte()
            if code == 128:
                done = units_per_line
                continue
            count = code + 1 if code < 128 else 257 - code
            if done + count > units_per_line:
                raise AnalysisError(f"raster line overruns its width at page line {lines}")
            pixels = reader.take(unit if code < 128 else unit * count)
            if not color and is_color(pixels):
                color = True
            done += count
    if lines != page.height:
        raise AnalysisError(f"raster page has {lines} lines, header says {page.height}")
    return color


#: 8-bit levels two channels may differ by and the pixel still be a grey (pdf.py's too).
COLOR_TOLERANCE = 8


def _color_test(page: _Page) -> Callable[[bytes], bool]:
    if page.kind == "mono":
        return lambda pixels: False
    if page.bits_per_pixel // page.channels == 16:
        return _color_test_16(page.kind, page.channels)
    channels = page.channels
    if page.kind == "rgb":
        return _rgb_color_8
    return lambda pixels: any(pixels[k::channels].strip(b"\x00") for k in range(3))


def _rgb_color_8(pixels: bytes) -> bool:
    red, green, blue = pixels[0::3], pixels[1::3], pixels[2::3]
    if red == green == blue:  # exact greys, the common case, at C speed
        return False
    return any(
        max(rgb) - min(rgb) > COLOR_TOLERANCE for rgb in zip(red, green, blue, strict=True)
    )


def _color_test_16(kind: str, channels: int) -> Callable[[bytes], bool]:
    """16-bit samples, with the same tolerance in 8-bit levels (one level is 0x101)."""

    def samples(pixels: bytes) -> array[int]:
        values = array("H", pixels)
        if sys.byteorder == "little":
            values.byteswap()  # raster samples are big-endian
        return values

    if kind == "rgb":

        def rgb(pixels: bytes) -> bool:
            values = samples(pixels)
            return any(
                max(rgb) - min(rgb) > COLOR_TOLERANCE * 0x101
                for rgb in zip(values[0::3], values[1::3], values[2::3], strict=True)
            )

        return rgb

    def cmyk(pixels: bytes) -> bool:
        values = samples(pixels)
        return any(value > 0xFF for k in range(3) for value in values[k::channels])

    return cmyk


def _round(size: tuple[float, float]) -> tuple[float, float]:
    return (round(size[0], 2), round(size[1], 2))
