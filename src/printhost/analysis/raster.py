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

No page is ever decoded into a bitmap: the decoder walks the runs and looks only at
the pixels it reads (a stretch of repeat runs at a time, as strided slices of the
compressed bytes; see :func:`_decode_page`), so the work is proportional to the file
size whatever the header claims. Dimensions are still checked against limits before
decoding, and a page whose runs do not add up exactly to its declared width and height
is rejected. A line whose compressed bytes equal those of a line already decoded without
colour (text repeats its rows of glyphs, line after line and page after page) is passed
over by comparing bytes (:class:`_KnownLines`).

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
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import BinaryIO

from PIL import Image, ImageChops

from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError

PWG_SYNC = b"RaS2"
URF_SYNC = b"UNIRAST\x00"
PWG_HEADER = 1796
URF_HEADER = 32
MAX_DIMENSION = 1 << 18  # pixels per side: 100 inches at 2400 dpi is 240,000
MAX_PAGE_BYTES = 1 << 32  # uncompressed bytes per page
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
        self.eof = False  # a read has come back empty

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

    def ensure(self, n: int) -> None:
        """Makes ``n`` bytes from ``pos`` available, or all that the file has left."""
        if self.pos + n <= len(self.buf) or self.eof:
            return  # (at the end of the file, asking again must not copy the rest again)
        self._fill(n)
        while self.pos + n > len(self.buf) and not self.eof:
            more = self.stream.read(max(n, CHUNK))
            if more:
                self.buf += more
            else:
                self.eof = True

    def at_end(self) -> bool:
        if self.pos < len(self.buf):
            return False
        self._fill(1)
        return self.pos >= len(self.buf)

    def _fill(self, n: int) -> None:
        rest = self.buf[self.pos :]
        self.offset += self.pos
        more = self.stream.read(max(n, CHUNK))
        if not more:
            self.eof = True
        self.buf = rest + more
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
    lines = _KnownLines()
    while not reader.at_end():
        if len(sizes) >= MAX_PAGES:
            raise AnalysisError(f"more than {MAX_PAGES} raster pages")
        page = read_header(reader)
        sizes.append(page.size)
        if _decode_page(reader, page, lines.of(page)):
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


class _KnownLines:
    """Lines already decoded, without a colour pixel, by their first bytes: a document
    repeats its lines (every line of text, and every page, has the same rows of glyphs),
    and the same bytes from the start of a line decode the same way, to the same end.
    Kept while pages have the same geometry (which is what the bytes mean), and bounded."""

    KEY = 24  # bytes: lines shorter than this are decoded each time
    MAX_BYTES = 1 << 24
    MAX_SAME_KEY = 16

    def __init__(self) -> None:
        self.geometry: tuple[int, int, str] | None = None
        self.lines: dict[bytes, list[bytes]] = {}
        self.size = 0

    def of(self, page: _Page) -> _KnownLines:
        geometry = (page.width, page.bits_per_pixel, page.kind)
        if geometry != self.geometry:
            self.geometry = geometry
            self.lines = {}
            self.size = 0
        return self

    def add(self, line: bytes) -> None:
        if self.size + len(line) > self.MAX_BYTES:
            return
        same = self.lines.setdefault(line[: self.KEY], [])
        if len(same) < self.MAX_SAME_KEY:
            same.append(line)
            self.size += len(line)


def _decode_page(reader: _Reader, page: _Page, known: _KnownLines | None = None) -> bool:
    """Walks one page's compressed bitmap; True when it holds a colour pixel.

    The walk reads the runs as the format defines them, one after the other, but a
    stretch of repeat runs (the usual case: a repeat run is a code byte and one pixel,
    so such a stretch is a fixed stride apart) is taken at C speed: its code bytes are
    one strided slice, their pixel counts add up with ``sum`` and
    :func:`itertools.accumulate`, and each channel of its pixels is another strided
    slice for the colour test. Literal and fill runs are read one at a time. The checks
    and the reasons for refusal are those of a run-by-run walk, in the same order.
    A line whose bytes are those of a line in ``known`` is passed over whole."""
    unit = (page.bits_per_pixel + 7) // 8
    per_line = (page.width * page.bits_per_pixel + 7) // 8 // unit
    stride = unit + 1
    group_max = 1 + per_line * stride  # the longest a line group can be
    test = _ColourTest(page)
    height = page.height
    window = 256  # repeat runs looked at in one go; grows while whole windows are taken
    lines = 0
    seen = known.lines if known is not None else {}
    key_size = _KnownLines.KEY
    while lines < height:
        if len(reader.buf) - reader.pos < group_max:
            reader.ensure(group_max)  # all of the group, or all the file has left
        buf, pos = reader.buf, reader.pos
        size = len(buf)
        if pos >= size:
            raise _truncated(reader)
        lines += buf[pos] + 1
        pos += 1
        same = seen.get(buf[pos : pos + key_size])
        if same is not None:
            line = next((line for line in same if buf.startswith(line, pos)), None)
            if line is not None:
                reader.pos = pos + len(line)
                continue
        start, doubts = pos, test.doubts
        done = 0
        while done < per_line:
            if pos >= size:
                raise _truncated(reader)
            code = buf[pos]
            if code < 128:
                left = per_line - done
                looked = min(left, (size - pos) // stride, window)
                if looked == 0:  # a repeat run whose pixel is cut off
                    if code + 1 > left:
                        raise _overrun(lines)
                    raise _truncated(reader)
                codes = buf[pos : pos + looked * stride : stride]
                repeats = codes.translate(_LITERAL_OR_FILL).find(1)
                if repeats < 0:
                    repeats = looked
                runs, pixels = _take_repeats(codes, repeats, left)
                if pixels > left:
                    raise _overrun(lines)
                end = pos + runs * stride
                if not test.color:
                    test.repeats(buf, pos, end)
                if runs == window:
                    window *= 2
                pos = end
                done += pixels
            elif code == 128:
                pos += 1
                done = per_line
            else:
                count = 257 - code
                if done + count > per_line:
                    raise _overrun(lines)
                end = pos + 1 + count * unit
                if end > size:
                    raise _truncated(reader)
                if not test.color:
                    test.literal(buf[pos + 1 : end])
                pos = end
                done += count
        reader.pos = pos
        # kept when every pixel of it was tested an exact grey (once the page is found
        # colour, its pixels go untested: then not)
        clean = test.doubts == doubts and not test.color
        if known is not None and pos - start >= key_size and clean:
            known.add(buf[start:pos])
    if lines != height:
        raise AnalysisError(f"raster page has {lines} lines, header says {height}")
    return test.finish()


#: translate table: 0 for a repeat-run code (0-127), 1 for a literal or fill code
_LITERAL_OR_FILL = bytes(0 if code < 128 else 1 for code in range(256))
#: translate table: the pixel count of a repeat-run code
_REPEAT_PIXELS = bytes(min(code + 1, 255) for code in range(256))


def _take_repeats(codes: bytes, repeats: int, left: int) -> tuple[int, int]:
    """Of the first ``repeats`` runs (all repeat runs, with these ``codes``), how many
    the line takes with ``left`` pixels to go, and their pixels: all of them, or up to
    and including the first run that reaches ``left`` (more than ``left``: an overrun)."""
    start, total, step = 0, 0, 64
    while start < repeats:
        stop = min(repeats, start + step)
        chunk = codes[start:stop]
        pixels = sum(chunk) + (stop - start)
        if total + pixels >= left:
            running = list(accumulate(chunk.translate(_REPEAT_PIXELS), initial=total))
            taken = bisect_left(running, left)
            return start + taken, running[taken]
        total += pixels
        start = stop
        step *= 2
    return repeats, total


def _truncated(reader: _Reader) -> AnalysisError:
    return AnalysisError(f"truncated raster data at byte {reader.offset + len(reader.buf)}")


def _overrun(lines: int) -> AnalysisError:
    return AnalysisError(f"raster line overruns its width at page line {lines}")


#: 8-bit levels two channels may differ by and the pixel still be a grey (pdf.py's too).
COLOR_TOLERANCE = 8
#: channel bytes of 8-bit RGB pixels held back for one Pillow test
_PENDING_LIMIT = 1 << 18


class _ColourTest:
    """The colour test of one page, fed the pixels the walk reads: a run of repeat runs
    (each channel a strided slice of the compressed data) or a literal run's pixels."""

    def __init__(self, page: _Page) -> None:
        self.unit = (page.bits_per_pixel + 7) // 8
        self.stride = self.unit + 1
        self.deep = page.bits_per_pixel // page.channels == 16
        self.kind = page.kind
        self.color = False
        self.doubts = 0  # how many times pixels were not all exactly grey (or inkless)
        self._pending: list[tuple[bytes, bytes, bytes]] = []
        self._pending_size = 0

    def repeats(self, buf: bytes, start: int, end: int) -> None:
        """The pixels of the repeat runs from ``start`` to ``end`` (``buf`` offsets)."""
        if self.kind == "mono":
            return
        stride = self.stride
        planes = [buf[start + 1 + k : end : stride] for k in range(self.unit)]
        self._planes(planes, lambda: _interleave(planes, self.unit))

    def literal(self, pixels: bytes) -> None:
        if self.kind == "mono":
            return
        unit = self.unit
        self._planes([pixels[k::unit] for k in range(unit)], lambda: pixels)

    def _planes(self, planes: list[bytes], pixels: Callable[[], bytes]) -> None:
        """``planes[k]`` is byte ``k`` of every pixel; ``pixels()`` the pixels whole."""
        if self.kind == "cmyk":
            # C, M or Y ink: a non-zero sample (16 bits: above 0xff, a non-zero high byte)
            step = 2 if self.deep else 1
            if any(plane.count(0) != len(plane) for plane in planes[0 : 3 * step : step]):
                self.color = True
                self.doubts += 1
            return
        if not self.deep:
            red, green, blue = planes
            if red == green == blue:
                return
            self.doubts += 1
            self._pending.append((red, green, blue))
            self._pending_size += len(red)
            if self._pending_size >= _PENDING_LIMIT:
                self._flush()
            return
        if planes[0] == planes[2] == planes[4] and planes[1] == planes[3] == planes[5]:
            return
        self.doubts += 1
        if _rgb_color_16(pixels()):
            self.color = True

    def _flush(self) -> None:
        if self._pending and not self.color:
            red, green, blue = (b"".join(plane) for plane in zip(*self._pending, strict=True))
            self.color = _rgb_spread_over(red, green, blue, COLOR_TOLERANCE)
        self._pending = []
        self._pending_size = 0

    def finish(self) -> bool:
        self._flush()
        return self.color


def _interleave(planes: list[bytes], unit: int) -> bytes:
    pixels = bytearray(len(planes[0]) * unit)
    for k, plane in enumerate(planes):
        pixels[k::unit] = plane
    return bytes(pixels)


def _rgb_spread_over(red: bytes, green: bytes, blue: bytes, tolerance: int) -> bool:
    """True when some pixel's largest channel exceeds its smallest by over ``tolerance``
    (whole-image operations: lighter, darker, subtract, extrema)."""
    size = (len(red), 1)
    r, g, b = (Image.frombytes("L", size, plane) for plane in (red, green, blue))
    high = ImageChops.lighter(ImageChops.lighter(r, g), b)
    low = ImageChops.darker(ImageChops.darker(r, g), b)
    extrema = ImageChops.subtract(high, low).getextrema()
    return int(extrema[1]) > tolerance  # type: ignore[arg-type]


def _rgb_color_16(pixels: bytes) -> bool:
    """16-bit RGB samples, with the same tolerance in 8-bit levels (one level is 0x101)."""
    values = array("H", pixels)
    if sys.byteorder == "little":
        values.byteswap()  # raster samples are big-endian
    return any(
        max(rgb) - min(rgb) > COLOR_TOLERANCE * 0x101
        for rgb in zip(values[0::3], values[1::3], values[2::3], strict=True)
    )


def _round(size: tuple[float, float]) -> tuple[float, float]:
    return (round(size[0], 2), round(size[1], 2))
