"""PCL XL / PCL 6 (application/vnd.hp-pclxl): pages, colour pages, page sizes and
embedded copies, by a hand-written parser of the binary protocol (no rendering).

Theory of operation
-------------------
PCL XL Feature Reference Protocol Class 2.0/2.1/3.0 (HP), with the tag, attribute and
enumeration values of Ghostscript's ``base/gdevpxop.h``, ``gdevpxat.h`` and
``gdevpxen.h``. After optional PJL (skipped as for PCL, ``SET COPIES``/``QTY`` kept),
the stream header ``) HP-PCL XL;...`` LF picks the binding: ``)`` is low byte first,
``(`` high byte first (``'``, ASCII binding, is refused). The body is a sequence of
tokens read generically: data values (tags 0xc0-0xe5: ubyte, uint16, uint32, sint16,
sint32, real32 scalars, arrays with a tagged length, xy pairs and boxes), attribute
ids (0xf8 ubyte, 0xf9 uint16) that name the value before them, operators (0x41-0xbf)
that take the attributes collected since the previous operator, embedded data
(0xfa uint32 length, 0xfb ubyte length) after the operators that read data, and
whitespace. A later ``ESC%-12345X`` ends the session (more PJL, maybe another header).

- Pages: one per ``EndPage``; size from ``BeginPage`` ``MediaSize`` (enumerated, or a
  name such as ``LETTER``) or ``CustomMediaSize`` in ``CustomMediaSizeUnits``,
  swapped for landscape ``Orientation`` (1 and 3). ``PageCopies`` on ``EndPage`` (or
  ``BeginPage``) are the page's copies; the copies convention is PCL's (see
  :mod:`.pcl`): one count for all pages is ``embedded_copies``, otherwise every page
  image is counted. Counts above :data:`.pcl.MAX_COPIES` are clamped.
- Colour: ``SetColorSpace`` (eGray, eRGB, eSRGB, with an optional palette) and the
  brush and pen (``SetBrushSource``/``SetPenSource``: ``RGBColor``, ``GrayLevel``, a
  palette index, ``NullBrush``/``NullPen``, a raster pattern). A painting operator
  (``PaintPath``, ``Rectangle``, ``RoundRectangle``, ``Ellipse``, ``Chord``, ``Pie``,
  ``Text``, ``ScanLineRel``) makes the page colour when its brush or (except text
  and scan lines) its pen is a non-neutral colour; images (``BeginImage``/
  ``ReadImage``) and raster patterns are decoded (eNoCompression, eRLECompression,
  eDeltaRowCompression, eJPEGCompression with Pillow) and their pixels, direct or
  through the palette, are judged with the shared tolerance
  (:data:`printhost.analysis.raster.COLOR_TOLERANCE`). Stored streams
  (``BeginStream``/``ExecStream``) are not executed: their marks are not seen.

Bounds: the file is read in chunks; embedded data blocks that must be decoded are
limited to :data:`MAX_BLOCK` bytes (others are skipped unread), arrays to
:data:`MAX_ARRAY` elements, image widths to :data:`MAX_IMAGE_WIDTH` pixels,
decompressed rows to :data:`.pcl.MAX_ROW_BYTES`; pages are capped as for the other
streamed formats. Every token consumes input, so a finite file always ends.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image

from printhost.analysis.image import is_color_image
from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError
from printhost.analysis.pcl import (
    MAX_COPIES,
    MAX_ROW_BYTES,
    PAGE_SIZES,
    UEL,
    ByteReader,
    PageOut,
    PjlState,
    apply_delta,
    assemble,
    is_neutral,
    read_pjl,
    rgb_bytes_color,
    unpack_packbits,
)
from printhost.analysis.raster import COLOR_TOLERANCE

MIME = "application/vnd.hp-pclxl"
MAX_BLOCK = 1 << 26
MAX_ARRAY = 1 << 16
MAX_IMAGE_WIDTH = 1 << 18
HEADER = b"HP-PCL XL"

# operators
BEGIN_PAGE, END_PAGE = 0x43, 0x44
SET_BRUSH, SET_PEN, SET_COLOR_SPACE = 0x63, 0x79, 0x6A
PUSH_GS, POP_GS = 0x61, 0x60
BEGIN_IMAGE, READ_IMAGE, END_IMAGE = 0xB0, 0xB1, 0xB2
BEGIN_PATTERN, READ_PATTERN, END_PATTERN = 0xB3, 0xB4, 0xB5
TEXT = 0xA8
SCAN_LINE_REL = 0xB9
PAINT_OPS = frozenset({0x86, 0x96, 0x98, 0x9E, 0xA0, 0xA2, TEXT, SCAN_LINE_REL})
# attributes
A_PALETTE_DEPTH, A_COLOR_SPACE, A_NULL_BRUSH, A_NULL_PEN, A_PALETTE_DATA = 2, 3, 4, 5, 6
A_PATTERN_SELECT, A_GRAY, A_RGB, A_PRIMARY_ARRAY = 8, 9, 11, 14
A_MEDIA_SIZE, A_ORIENTATION, A_CUSTOM_SIZE, A_CUSTOM_UNITS, A_COPIES = 37, 40, 47, 48, 49
A_COLOR_DEPTH, A_COLOR_MAPPING, A_COMPRESS = 98, 100, 101
A_PATTERN_DEFINE = 105
A_SOURCE_HEIGHT, A_SOURCE_WIDTH, A_START_LINE, A_PAD = 107, 108, 109, 110
A_BLOCK_HEIGHT = 99
A_LINES = 115
# values
_SCALARS = {0: ("B", 1), 1: ("H", 2), 2: ("I", 4), 3: ("h", 2), 4: ("i", 4), 5: ("f", 4)}
_UNITS = {0: 72.0, 1: 72 / 25.4, 2: 72 / 254}
_MM = 72 / 25.4
MEDIA_SIZES: dict[int, tuple[float, float]] = {
    0: PAGE_SIZES[2],
    1: PAGE_SIZES[3],
    2: PAGE_SIZES[26],
    3: PAGE_SIZES[1],
    4: PAGE_SIZES[6],
    5: PAGE_SIZES[27],
    6: PAGE_SIZES[81],
    7: PAGE_SIZES[80],
    8: PAGE_SIZES[91],
    9: PAGE_SIZES[90],
    10: (257 * _MM, 364 * _MM),  # JIS B4
    11: (182 * _MM, 257 * _MM),  # JIS B5
    12: (176 * _MM, 250 * _MM),  # B5 envelope
    13: (176 * _MM, 250 * _MM),  # ISO B5 paper
    14: (100 * _MM, 148 * _MM),  # Japanese postcard
    15: (200 * _MM, 148 * _MM),  # double postcard
    16: PAGE_SIZES[25],
    17: PAGE_SIZES[24],
    18: (128 * _MM, 182 * _MM),  # JIS B6
}
MEDIA_NAMES = {
    b"LETTER": 0,
    b"LEGAL": 1,
    b"A4": 2,
    b"EXEC": 3,
    b"EXECUTIVE": 3,
    b"LEDGER": 4,
    b"A3": 5,
    b"COM10": 6,
    b"MONARCH": 7,
    b"C5": 8,
    b"DL": 9,
    b"JB4": 10,
    b"JB5": 11,
    b"B5": 13,
    b"A5": 16,
    b"A6": 17,
}

Value = int | float | tuple[int | float, ...] | bytes


@dataclass
class _Graphics:
    space: int = 1  # eGray
    palette: list[tuple[int, ...]] = field(default_factory=list)
    brush: bool = False  # colour brush
    pen: bool = False

    def copy(self) -> _Graphics:
        return _Graphics(self.space, list(self.palette), self.brush, self.pen)


@dataclass
class _Image:
    width: int
    height: int
    depth: int  # bits per component (or per index)
    indexed: bool
    components: int
    palette: list[tuple[int, ...]]
    pattern: int | None = None
    color: bool = False
    seed: bytes = b""


class _PclXl:
    def __init__(self, reader: ByteReader) -> None:
        self.reader = reader
        self.pjl = PjlState()
        self.pages: list[PageOut] = []
        self.little = True
        self.gs = _Graphics()
        self.stack: list[_Graphics] = []
        self.patterns: dict[int, bool] = {}
        self.page_color = False
        self.size = PAGE_SIZES[2]
        self.page_copies: int | None = None
        self.image: _Image | None = None
        self.last_op = 0
        self.attributes: dict[int, Value] = {}
        self.read_attrs: dict[int, Value] = {}

    def run(self) -> Analysis:
        reader = self.reader
        sessions = 0
        while True:
            if reader.startswith(UEL):
                reader.skip(len(UEL))
                read_pjl(reader, self.pjl)
                self.pjl.language = None
                continue
            while reader.peek() in (0x0D, 0x0A, 0x20, 0x09, 0x0C, 0x00):
                reader.byte()
            if reader.peek() < 0:
                break
            self.header()
            sessions += 1
            self.body()
        if not sessions:
            raise AnalysisError("PCL XL job has no stream header")
        return assemble(MIME, self.pages, self.pjl.qty)

    def header(self) -> None:
        reader = self.reader
        line = reader.line(256)
        binding = line[:1]
        if HEADER not in line[:16] or not line.endswith(b"\n"):
            raise AnalysisError(f"not a PCL XL stream header at byte {reader.offset}")
        if binding == b"'":
            raise AnalysisError("PCL XL with ASCII binding is not supported")
        if binding not in (b")", b"("):
            raise AnalysisError(f"PCL XL stream binding {binding!r} is invalid")
        self.little = binding == b")"

    def body(self) -> None:
        reader = self.reader
        while True:
            tag = reader.peek()
            if tag < 0 or tag == 0x1B:
                return
            reader.byte()
            if tag in (0x00, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20):
                continue
            if 0xC0 <= tag <= 0xE5:
                value = self.value(tag)
                attr = reader.need()
                if attr == 0xF8:
                    self.attributes[reader.need()] = value
                elif attr == 0xF9:
                    self.attributes[self.unpack("H", reader.take(2))] = value
                else:
                    raise self.garbage(attr, "an attribute id after a value")
            elif 0x41 <= tag <= 0xBF:
                self.operator(tag)
                self.attributes = {}
            elif tag in (0xFA, 0xFB):
                size = reader.need() if tag == 0xFB else self.unpack("I", reader.take(4))
                self.data(size)
            else:
                raise self.garbage(tag, "a PCL XL tag")

    def garbage(self, tag: int, what: str) -> AnalysisError:
        return AnalysisError(f"PCL XL byte 0x{tag:02x} at {self.reader.offset - 1} is not {what}")

    def unpack(self, code: str, data: bytes) -> int:
        value: int = struct.unpack(("<" if self.little else ">") + code, data)[0]
        return value

    def value(self, tag: int) -> Value:
        reader = self.reader
        kind, shape = tag & 0x07, tag & 0xF8
        if kind not in _SCALARS:
            raise self.garbage(tag, "a data type")
        code, size = _SCALARS[kind]
        prefix = "<" if self.little else ">"
        if shape == 0xC0:
            (scalar,) = struct.unpack(prefix + code, reader.take(size))
            return scalar  # type: ignore[no-any-return]
        if shape in (0xD0, 0xE0):
            count = 2 if shape == 0xD0 else 4
            return tuple(struct.unpack(prefix + code * count, reader.take(size * count)))
        if shape == 0xC8:
            length_tag = reader.need()
            if length_tag == 0xC0:
                count = reader.need()
            elif length_tag == 0xC1:
                count = self.unpack("H", reader.take(2))
            else:
                raise self.garbage(length_tag, "an array length")
            if count > MAX_ARRAY:
                raise AnalysisError(f"PCL XL array of {count} elements")
            raw = reader.take(size * count)
            if kind == 0:
                return raw
            return tuple(struct.unpack(prefix + code * count, raw))
        raise self.garbage(tag, "a data type")

    # operators

    def operator(self, op: int) -> None:
        self.last_op = op
        attrs = self.attributes
        self.read_attrs = attrs
        if op == BEGIN_PAGE:
            self.begin_page(attrs)
        elif op == END_PAGE:
            copies = attrs.get(A_COPIES, self.page_copies)
            if len(self.pages) >= MAX_PAGES:
                raise AnalysisError(f"PCL XL job has more than {MAX_PAGES} pages")
            count = copies if isinstance(copies, int) else self.pjl.copies
            count = max(1, min(count, MAX_COPIES))
            self.pages.append(PageOut(self.size, self.page_color, count))
            self.page_color = False
            self.page_copies = None
        elif op == SET_COLOR_SPACE:
            space = attrs.get(A_COLOR_SPACE, 1)
            self.gs.space = space if isinstance(space, int) else 1
            palette = attrs.get(A_PALETTE_DATA)
            components = 3 if self.gs.space in (2, 6) else 1
            if isinstance(palette, bytes):
                self.gs.palette = [
                    tuple(palette[i : i + components])
                    for i in range(0, len(palette) - components + 1, components)
                ]
            else:
                self.gs.palette = []
        elif op in (SET_BRUSH, SET_PEN):
            color = self.source_color(attrs)
            if op == SET_BRUSH:
                self.gs.brush = color
            else:
                self.gs.pen = color
        elif op == PUSH_GS:
            if len(self.stack) < 1024:
                self.stack.append(self.gs.copy())
        elif op == POP_GS:
            if self.stack:
                self.gs = self.stack.pop()
        elif op in PAINT_OPS:
            if self.gs.brush or (self.gs.pen and op not in (TEXT, SCAN_LINE_REL)):
                self.page_color = True
        elif op in (BEGIN_IMAGE, BEGIN_PATTERN):
            self.begin_image(attrs, op == BEGIN_PATTERN)
        elif op in (END_IMAGE, END_PATTERN):
            image = self.image
            if image is not None and image.pattern is not None:
                self.patterns[image.pattern] = image.color
                if len(self.patterns) > MAX_ARRAY:
                    raise AnalysisError("PCL XL job defines too many raster patterns")
            elif image is not None and image.color:
                self.page_color = True
            self.image = None

    def begin_page(self, attrs: dict[int, Value]) -> None:
        size: tuple[float, float] = PAGE_SIZES[2]
        media = attrs.get(A_MEDIA_SIZE)
        custom = attrs.get(A_CUSTOM_SIZE)
        if isinstance(media, int):
            size = MEDIA_SIZES.get(media, size)
        elif isinstance(media, bytes):
            name = media.rstrip(b"\0").upper().replace(b"PAPER", b"").replace(b" ", b"")
            size = MEDIA_SIZES.get(MEDIA_NAMES.get(name, 0), size)
        elif isinstance(custom, tuple) and len(custom) == 2:
            units = attrs.get(A_CUSTOM_UNITS, 0)
            scale = _UNITS.get(units if isinstance(units, int) else 0, 72.0)
            width, height = (float(v) * scale for v in custom)
            if not (0 < width < 1e5 and 0 < height < 1e5):
                raise AnalysisError(f"PCL XL custom media size {custom} is invalid")
            size = (width, height)
        orientation = attrs.get(A_ORIENTATION, 0)
        if isinstance(orientation, int) and orientation in (1, 3):
            size = (size[1], size[0])
        self.size = size
        copies = attrs.get(A_COPIES)
        self.page_copies = copies if isinstance(copies, int) else None
        self.page_color = False

    def source_color(self, attrs: dict[int, Value]) -> bool:
        if A_NULL_BRUSH in attrs or A_NULL_PEN in attrs:
            return False
        pattern = attrs.get(A_PATTERN_SELECT)
        if isinstance(pattern, int):
            return self.patterns.get(pattern, False)
        rgb = attrs.get(A_RGB, attrs.get(A_PRIMARY_ARRAY))
        gray = attrs.get(A_GRAY)
        palette = self.gs.palette
        if palette and isinstance(gray, int):  # an index into the palette
            return not is_neutral(palette[gray % len(palette)])
        if self.gs.space not in (2, 6) or rgb is None:
            return False
        if isinstance(rgb, bytes) and len(rgb) >= 3:
            if palette:
                return not is_neutral(palette[rgb[0] % len(palette)])
            return not is_neutral(rgb[:3])
        if isinstance(rgb, tuple) and len(rgb) >= 3:
            scale = 255.0 if all(isinstance(v, float) for v in rgb) else 1.0
            return not is_neutral([int(float(v) * scale + 0.5) for v in rgb[:3]])
        return False

    def begin_image(self, attrs: dict[int, Value], pattern: bool) -> None:
        width, height = attrs.get(A_SOURCE_WIDTH, 0), attrs.get(A_SOURCE_HEIGHT, 0)
        if not isinstance(width, int) or not isinstance(height, int):
            raise AnalysisError("PCL XL image without a source width and height")
        if not (0 < width <= MAX_IMAGE_WIDTH and 0 < height <= MAX_IMAGE_WIDTH):
            raise AnalysisError(
                f"PCL XL image of {width}x{height} pixels is outside 1..{MAX_IMAGE_WIDTH}"
            )
        depth_code = attrs.get(A_COLOR_DEPTH, 2)
        depth = {0: 1, 1: 4, 2: 8}.get(depth_code if isinstance(depth_code, int) else 2, 8)
        indexed = attrs.get(A_COLOR_MAPPING, 0) == 1
        components = 1 if indexed or self.gs.space not in (2, 6) else 3
        pattern_id = attrs.get(A_PATTERN_DEFINE)
        self.image = _Image(
            width,
            height,
            depth,
            indexed,
            components,
            list(self.gs.palette),
            pattern=(pattern_id if isinstance(pattern_id, int) else 0) if pattern else None,
        )

    def data(self, size: int) -> None:
        image = self.image
        relevant = (
            self.last_op in (READ_IMAGE, READ_PATTERN)
            and image is not None
            and not image.color
            and not (image.pattern is None and self.page_color)
            and (
                (image.indexed and any(not is_neutral(c) for c in image.palette))
                or (not image.indexed and image.components == 3)
            )
        )
        if not relevant or image is None:
            self.reader.skip(size)
            return
        if size > MAX_BLOCK:
            raise AnalysisError(f"PCL XL image block of {size} bytes is over {MAX_BLOCK}")
        block = self.reader.take(size)
        attrs = self.read_attrs
        mode = attrs.get(A_COMPRESS, 0)
        lines = attrs.get(A_BLOCK_HEIGHT, 1)
        pad = attrs.get(A_PAD, 4)
        rows = max(1, lines if isinstance(lines, int) else 1)
        pad_to = pad if isinstance(pad, int) and pad > 0 else 4
        if image.color:
            return
        image.color = self.block_color(image, block, mode, rows, pad_to)

    def block_color(self, image: _Image, block: bytes, mode: Value, rows: int, pad: int) -> bool:
        row_bytes = (image.width * image.depth * image.components + 7) // 8
        if row_bytes > MAX_ROW_BYTES:
            raise AnalysisError(f"PCL XL image row of {row_bytes} bytes is over {MAX_ROW_BYTES}")
        if mode == 2:  # JPEG
            try:
                with Image.open(io.BytesIO(block), formats=["JPEG"]) as jpeg:
                    if jpeg.size[0] * jpeg.size[1] > MAX_IMAGE_WIDTH * 64:
                        raise AnalysisError("PCL XL JPEG block is too large")
                    jpeg.load()
                    return image.components == 3 and is_color_image(jpeg, COLOR_TOLERANCE)
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise AnalysisError(f"unreadable PCL XL JPEG image block: {exc}") from None
        stride = row_bytes + -row_bytes % pad
        if mode == 0:
            data = block
            found = [data[i : i + row_bytes] for i in range(0, len(data), stride)][:rows]
        elif mode == 1:
            data, _ = unpack_packbits(block, stride * rows)
            found = [data[i : i + row_bytes] for i in range(0, len(data), stride)]
        elif mode == 3:
            found = []
            position = 0
            for _ in range(rows):
                if position + 2 > len(block):
                    break
                length = block[position] | block[position + 1] << 8
                chunk = block[position + 2 : position + 2 + length]
                position += 2 + length
                image.seed = apply_delta(chunk, image.seed, row_bytes)
                found.append(image.seed)
        else:
            raise AnalysisError(f"PCL XL image compression {mode!r} is not supported")
        return any(self.row_color(image, row) for row in found)

    def row_color(self, image: _Image, row: bytes) -> bool:
        if not image.indexed:
            if image.depth == 8:
                return rgb_bytes_color(row)
            return False  # 1- and 4-bit RGB: not written by drivers; judged mono
        bad = {i for i, c in enumerate(image.palette) if not is_neutral(c)}
        if image.depth == 8:
            indices = set(row[: image.width])
        else:
            per = 8 // image.depth
            mask = (1 << image.depth) - 1
            indices = set()
            for k in range(per):
                shift = 8 - image.depth * (k + 1)
                indices.update(row.translate(bytes((b >> shift) & mask for b in range(256))))
        return bool(indices & bad)


def analyze_pclxl(stream: BinaryIO) -> Analysis:
    return _PclXl(ByteReader(stream, "PCL XL job")).run()
