"""PCL 5 / PCL 5c (application/vnd.hp-pcl): pages, colour pages, page sizes and embedded
copies, by a hand-written interpreter of the command stream (no rendering).

Theory of operation
-------------------
The file is read in chunks (:class:`ByteReader`) and split into text runs and escape
sequences (PCL 5 Technical Reference Manual, HP 5961-0509, ch. 2 "PCL command syntax":
``ESC X`` two-character commands; ``ESC p [g] value t ... value T`` parameterised
commands, combined while the terminator is lower case; commands ending in ``W``, plus
``ESC*b#V`` and ``ESC&p#X``, are followed by that many data bytes). Only the state
that decides the answer is kept, following GhostPCL (``pcl/pcl/pcpage.c``,
``pcursor.c``), which itself follows HP printers:

- A page is *marked* by printable text (bytes 0x21-0x7e and 0xa1-0xff; spaces and
  control codes move the cursor only), transparent print data, a rule of non-zero
  size (``ESC*c#P``), raster rows with data, and HP-GL/2 drawing. Form feed ejects the
  current page even when blank; ``ESC E`` (reset), page size ``ESC&l#A``, paper source
  ``ESC&l#H``, a change of orientation ``ESC&l#O`` and the end of the job (end of file
  or ``ESC%-12345X``) eject it only when marked. A line feed below the bottom of the
  text area ejects the page (perforation skip, on by default): the vertical cursor is
  tracked with the VMI (``ESC&l#C``, ``ESC&l#D``), top margin ``ESC&l#E``, text length
  ``ESC&l#F``, ``ESC&l#L`` and absolute moves; end-of-line wrap is off by default and
  is not modelled.
- Page size is the ``ESC&l#A`` code in effect when the page is ejected (ISO sizes
  from their millimetres), swapped for orientation 1 and 3. Unknown codes keep the
  previous size, as printers do; the custom size 101 uses ``ESC&f#I``/``ESC&f#J``.
- Copies: ``ESC&l#X`` in effect when a page is ejected (reset by ``ESC E`` to the PJL
  ``COPIES`` default, 1 unless set). When every page asks for the same count that is
  ``embedded_copies``; when pages differ, every page image the printer prints is
  counted as a page (as for PostScript). PJL ``QTY`` repeats the whole job and
  multiplies ``embedded_copies``. Counts above :data:`MAX_COPIES` are clamped to it.
- Colour (PCL 5 Color Technical Reference Manual, ch. 2-4): the palette is modelled
  (default black and white; ``ESC*r#U`` simple colour K / RGB / CMY; Configure Image
  Data ``ESC*v#W`` short and long forms; ``ESC*v#A/B/C/I`` entries; ``ESC*p#P``
  push/pop). Text, rules and transparent data are colour when the foreground colour
  (``ESC*v#S``) is non-neutral; raster rows are decompressed (modes 0, 1, 2, 3; 5 and
  9 only where the palette makes colour possible are refused) and every pixel within
  the raster width is mapped to the palette (indexed by plane or by pixel) or read
  directly (direct by plane or by pixel). A colour is neutral when its 8-bit
  components are within :data:`COLOR_TOLERANCE` of each other, as for the other
  formats; CIE L*a*b* and luminance-chrominance spaces are charged as colour whenever
  they are used to mark. Default palettes beyond the simple ones follow the primaries
  order (bit 0 red/cyan, bit 1 green/magenta, bit 2 blue/yellow); entries past 8 are
  black. User-defined fill patterns are judged by the foreground colour only.
  Three 1-bit planes of the primaries (simple colour ``ESC*r#U`` or direct by plane,
  as Ghostscript's ``cljet5`` writes) are a device halftone: greys are screened at a
  different angle per colorant, so single pixels are not neutral although the page
  looks grey. They are judged on the coverage of each plane in blocks of
  :data:`HALFTONE_BLOCK` pixels square: colour when two planes differ by more than
  :data:`HALFTONE_TOLERANCE` of 255 in a block. Colour lines thinner than about
  0.5 pt at 300 dpi can be missed this way.
- HP-GL/2 (``ESC%#B`` ... ``ESC%#A``) is parsed for drawing: ``PD`` with points, ``PA``
  /``PR``/arcs/Bézier with the pen down, ``CI``, ``EA``/``ER``/``EW``/``EP``/``FP``/
  ``RA``/``RR``/``WG``, ``PE`` and labels with visible text mark the page; the mark is
  colour when the selected pen's palette entry (shared with PCL; ``PC`` and ``NP``
  change it) is non-neutral. Pens index the palette modulo its size.
- PJL (``@PJL ...`` lines after ``ESC%-12345X``) is skipped except ``SET COPIES``,
  ``SET QTY`` and ``SET PAPER``; ``ENTER LANGUAGE`` other than PCL is refused.

Bounds: the interpreter never holds more than one chunk plus one command's data; raster
rows larger than :data:`MAX_ROW_BYTES` decompressed or :data:`MAX_DATA_BYTES`
compressed, raster widths above :data:`MAX_RASTER_WIDTH`, numeric fields longer than
:data:`MAX_VALUE_CHARS` and PJL lines longer than :data:`MAX_PJL_LINE` are refused, as
are more than :data:`MAX_PAGES` page images. Every step consumes input, so a finite
file always ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from PIL import Image, ImageChops

from printhost.analysis.image import is_color_image
from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError
from printhost.analysis.raster import COLOR_TOLERANCE

MIME = "application/vnd.hp-pcl"
CHUNK = 1 << 16
MAX_COPIES = 999  # HP's documented maximum for ESC&l#X
MAX_ROW_BYTES = 1 << 20
MAX_DATA_BYTES = 1 << 24
MAX_RASTER_WIDTH = 1 << 18  # pixels, as for PWG raster
MAX_VALUE_CHARS = 64
MAX_PJL_LINE = 1 << 16
MAX_PALETTE_STACK = 64
#: Halftoned primaries (see the docstring): block side in pixels and coverage tolerance
HALFTONE_BLOCK = 16
HALFTONE_TOLERANCE = 36
UEL = b"\x1b%-12345X"

Rgb = tuple[int, int, int]
WHITE: Rgb = (255, 255, 255)
BLACK: Rgb = (0, 0, 0)

_MM = 72 / 25.4
#: ESC&l#A codes (PCL 5 TRM Table 5-1) -> portrait (width, height) in points
PAGE_SIZES: dict[int, tuple[float, float]] = {
    1: (522.0, 756.0),  # executive
    2: (612.0, 792.0),  # letter
    3: (612.0, 1008.0),  # legal
    6: (792.0, 1224.0),  # ledger
    24: (105 * _MM, 148 * _MM),  # A6
    25: (148 * _MM, 210 * _MM),  # A5
    26: (210 * _MM, 297 * _MM),  # A4
    27: (297 * _MM, 420 * _MM),  # A3
    45: (182 * _MM, 257 * _MM),  # JIS B5
    46: (257 * _MM, 364 * _MM),  # JIS B4
    71: (100 * _MM, 148 * _MM),  # Hagaki
    72: (200 * _MM, 148 * _MM),  # Oufuku-Hagaki
    80: (279.0, 540.0),  # Monarch
    81: (297.0, 684.0),  # COM-10
    90: (110 * _MM, 220 * _MM),  # DL
    91: (162 * _MM, 229 * _MM),  # C5
    100: (176 * _MM, 250 * _MM),  # B5 envelope
}
PJL_PAPER = {
    b"LETTER": 2,
    b"LEGAL": 3,
    b"EXECUTIVE": 1,
    b"LEDGER": 6,
    b"A3": 27,
    b"A4": 26,
    b"A5": 25,
    b"A6": 24,
}
_CP = 7200  # GhostPCL centipoints per inch: vertical positions are kept in these


def is_neutral(rgb: Sequence[int]) -> bool:
    """An 8-bit colour whose components are within :data:`COLOR_TOLERANCE`."""
    return max(rgb) - min(rgb) <= COLOR_TOLERANCE


def rgb_bytes_color(pixels: bytes) -> bool:
    """True when some 8-bit RGB (or CMY) triple in ``pixels`` is not neutral."""
    pixels = pixels[: len(pixels) - len(pixels) % 3]
    red, green, blue = pixels[0::3], pixels[1::3], pixels[2::3]
    if red == green == blue:  # exact greys, the common case, at C speed
        return False
    image = Image.frombytes("RGB", (len(pixels) // 3, 1), pixels)
    return is_color_image(image, COLOR_TOLERANCE)


class ByteReader:
    """Chunked reads of a stream, with the file offset for error messages."""

    def __init__(self, stream: BinaryIO, what: str) -> None:
        self.stream = stream
        self.what = what
        self.buf = b""
        self.pos = 0
        self.base = 0  # file offset of buf[0]

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _fill(self, n: int) -> bool:
        """Makes ``n`` bytes available from pos; False at end of file."""
        if self.pos + n <= len(self.buf):
            return True
        rest = self.buf[self.pos :]
        self.base += self.pos
        self.pos = 0
        parts = [rest]
        have = len(rest)
        while have < n:
            data = self.stream.read(max(CHUNK, n - have))
            if not data:
                break
            parts.append(data)
            have += len(data)
        self.buf = b"".join(parts)
        return have >= n

    def truncated(self) -> AnalysisError:
        return AnalysisError(f"{self.what} is truncated at byte {self.base + len(self.buf)}")

    def peek(self) -> int:
        return self.buf[self.pos] if self._fill(1) else -1

    def byte(self) -> int:
        if not self._fill(1):
            return -1
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def need(self) -> int:
        value = self.byte()
        if value < 0:
            raise self.truncated()
        return value

    def take(self, n: int) -> bytes:
        if not self._fill(n):
            raise self.truncated()
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        while n > 0:
            if self.pos >= len(self.buf) and not self._fill(1):
                raise self.truncated()
            step = min(n, len(self.buf) - self.pos)
            self.pos += step
            n -= step

    def upto(self, stop: int) -> bytes:
        """The bytes before the next ``stop`` byte in the buffered chunk (at least one
        byte unless at ``stop`` or at end of file)."""
        if not self._fill(1):
            return b""
        end = self.buf.find(bytes((stop,)), self.pos)
        end = len(self.buf) if end < 0 else end
        data = self.buf[self.pos : end]
        self.pos = end
        return data

    def startswith(self, prefix: bytes) -> bool:
        self._fill(len(prefix))
        return self.buf.startswith(prefix, self.pos)

    def line(self, limit: int) -> bytes:
        """One line up to and including LF (or to end of file)."""
        parts: list[bytes] = []
        size = 0
        while True:
            if not self._fill(1):
                return b"".join(parts)
            end = self.buf.find(b"\n", self.pos)
            stop = len(self.buf) if end < 0 else end + 1
            parts.append(self.buf[self.pos : stop])
            size += stop - self.pos
            self.pos = stop
            if size > limit:
                raise AnalysisError(f"PJL line longer than {limit} bytes at byte {self.offset}")
            if end >= 0:
                return b"".join(parts)


@dataclass
class PjlState:
    copies: int = 1
    qty: int = 1
    paper: int | None = None
    language: bytes | None = None


def read_pjl(reader: ByteReader, pjl: PjlState) -> None:
    """Skips PJL command lines (after a UEL), noting the settings that matter; stops
    at the first byte that does not start a PJL line (``ENTER LANGUAGE`` ends too)."""
    while True:
        while reader.peek() in (0x0D, 0x0A, 0x20, 0x09, 0x0C):
            reader.byte()
        if not reader.startswith(b"@PJL"):
            return
        line = reader.line(MAX_PJL_LINE).strip().upper()
        words = re.sub(rb"\s*=\s*", b"=", line).split()
        if len(words) >= 2 and words[1] == b"ENTER":
            pjl.language = line.split(b"=", 1)[-1].strip()
            return
        if len(words) >= 3 and words[1] in (b"SET", b"DEFAULT"):
            name, _, value = words[2].partition(b"=")
            if not value and len(words) > 3:
                value = words[3]
            if name in (b"COPIES", b"QTY") and value.isdigit():
                count = max(1, min(int(value), MAX_COPIES))
                if name == b"COPIES":
                    pjl.copies = count
                else:
                    pjl.qty = count
            elif name == b"PAPER" and value in PJL_PAPER:
                pjl.paper = PJL_PAPER[value]


@dataclass(frozen=True, slots=True)
class PageOut:
    size: tuple[float, float]
    color: bool
    copies: int


def assemble(mime: str, pages: list[PageOut], qty: int) -> Analysis:
    """One Analysis from the ejected pages (copies convention as in the docstring)."""
    if not pages:
        raise AnalysisError(f"{'PCL XL' if mime.endswith('pclxl') else 'PCL'} job prints no pages")
    # Copies count as page images (as PostScript's), and are counted before any list is
    # expanded by them: 10,000 pages of 999 copies must not cost memory first.
    if sum(page.copies for page in pages) > MAX_PAGES:
        raise AnalysisError(f"more than {MAX_PAGES} page images")
    copies = {page.copies for page in pages}
    if len(copies) == 1:
        embedded = copies.pop()
        sizes = [page.size for page in pages]
        colors = [page.color for page in pages]
    else:
        embedded = 1
        sizes = [page.size for page in pages for _ in range(page.copies)]
        colors = [page.color for page in pages for _ in range(page.copies)]
    return Analysis(
        format=mime,
        pages=len(sizes),
        color_pages=tuple(n for n, color in enumerate(colors, 1) if color),
        page_sizes=tuple((round(w, 2), round(h, 2)) for w, h in sizes),
        embedded_copies=min(embedded * qty, MAX_COPIES * MAX_COPIES),
    )


# --- decompression shared with PCL XL -----------------------------------------------


def unpack_rle(data: bytes, limit: int) -> bytes:
    """PCL compression mode 1: (count, byte) pairs, count + 1 repeats."""
    out = bytearray()
    for i in range(0, len(data) - 1, 2):
        out += data[i + 1 : i + 2] * (data[i] + 1)
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def unpack_packbits(data: bytes, limit: int, what: str = "raster row") -> tuple[bytes, int]:
    """TIFF PackBits (PCL mode 2, PCL XL eRLECompression): the output (at most
    ``limit`` bytes) and how many input bytes were used."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n and len(out) < limit:
        code = data[i]
        i += 1
        if code < 128:
            out += data[i : i + code + 1]
            i += code + 1
        elif code > 128:
            if i >= n:
                break
            out += data[i : i + 1] * (257 - code)
            i += 1
    if len(out) > limit:
        del out[limit:]
    return bytes(out), min(i, n)


def apply_delta(data: bytes, seed: bytes, limit: int) -> bytes:
    """PCL compression mode 3 (delta row) applied to ``seed``; the row is at most
    ``limit`` bytes (replacements beyond are dropped)."""
    row = bytearray(seed)
    i = 0
    n = len(data)
    position = 0
    while i < n:
        command = data[i]
        i += 1
        count = (command >> 5) + 1
        offset = command & 0x1F
        if offset == 31:
            while i < n:
                extra = data[i]
                i += 1
                offset += extra
                if extra != 255:
                    break
        position += offset
        if position >= limit:
            break
        chunk = data[i : i + count]
        i += count
        end = min(position + len(chunk), limit)
        if end > len(row):
            row.extend(bytes(end - len(row)))
        row[position:end] = chunk[: end - position]
        position += len(chunk)
    return bytes(row)


# --- PCL 5 --------------------------------------------------------------------------


def _simple_palette(kind: str, size: int) -> list[Rgb]:
    """Default palettes: index bits are the primaries (bit 0 R or C, 1 G or M, 2 B or Y)."""
    if size <= 2:
        return [BLACK, WHITE] if kind == "rgb" else [WHITE, BLACK]
    entries: list[Rgb] = []
    for index in range(size):
        if index >= 8:
            entries.append(BLACK)
            continue
        bits = [(index >> k) & 1 for k in range(3)]
        if kind == "rgb":
            entries.append((bits[0] * 255, bits[1] * 255, bits[2] * 255))
        else:
            entries.append((255 - bits[0] * 255, 255 - bits[1] * 255, 255 - bits[2] * 255))
    return entries


@dataclass
class _Colour:
    """The PCL 5c colour state that ``ESC*p#P`` pushes and pops."""

    space: int = 0  # CID colour space: 0 RGB, 1 CMY, 2 colorimetric RGB, 3 Lab, 4 YUV
    encoding: int = 0  # 0 indexed by plane, 1 by pixel, 2 direct by plane, 3 by pixel
    bits: int = 1  # bits per index (indexed) or per primary (direct)
    palette: list[Rgb] = field(default_factory=lambda: [WHITE, BLACK])
    black_ref: tuple[float, float, float] = (0.0, 0.0, 0.0)
    white_ref: tuple[float, float, float] = (255.0, 255.0, 255.0)
    foreground: Rgb = BLACK
    device_independent: bool = False

    def copy(self) -> _Colour:
        return _Colour(
            self.space,
            self.encoding,
            self.bits,
            list(self.palette),
            self.black_ref,
            self.white_ref,
            self.foreground,
            self.device_independent,
        )

    def normalise(self, components: Sequence[float]) -> Rgb:
        values = []
        for value, black, white in zip(components, self.black_ref, self.white_ref, strict=True):
            span = white - black
            level = (value - black) / span * 255 if span else 0.0
            values.append(int(max(0.0, min(255.0, level)) + 0.5))
        return (values[0], values[1], values[2])

    def bad_indices(self) -> list[int]:
        return [i for i, rgb in enumerate(self.palette) if not is_neutral(rgb)]


class _Pcl:
    def __init__(self, reader: ByteReader) -> None:
        self.reader = reader
        self.pjl = PjlState()
        self.pages: list[PageOut] = []
        self.marked = False
        self.page_color = False
        self.hpgl = False
        self.hpgl_buf = b""
        self.band: list[list[bytes]] = []
        self.reset()

    # -- state ----------------------------------------------------------------------

    def reset(self) -> None:
        self.page_code = self.pjl.paper or 2
        self.custom = (612.0, 792.0)
        self.orientation = 0
        self.copies = self.pjl.copies
        self.colour = _Colour()
        self.palette_stack: list[_Colour] = []
        self.cid_locked = False
        self.compression = 0
        self.raster_width: int | None = None
        self.seeds: list[bytes] = []
        self.planes: list[bytes] = []
        self.rule = (0.0, 0.0)
        self.components = [0.0, 0.0, 0.0]
        self.uom = _CP / 300
        self.vmi = _CP // 6
        self.perforation_skip = True
        self.line_termination = 0
        self.pen = 1
        self.pen_down = False
        self.label_terminator = 0x03
        self.margins()

    def portrait(self) -> tuple[float, float]:
        if self.page_code == 101:
            return self.custom
        return PAGE_SIZES.get(self.page_code, (612.0, 792.0))

    def displayed(self) -> tuple[float, float]:
        width, height = self.portrait()
        return (height, width) if self.orientation % 2 else (width, height)

    def margins(self) -> None:
        self.page_height = int(self.displayed()[1] * 100)
        self.top = _CP // 2
        self.length = max(0, self.page_height - self.top - _CP // 2)
        self.home()

    def home(self) -> None:
        self.cap_y = self.top + 3 * self.vmi // 4
        self.cursor_moved = False

    def mark(self, color: bool) -> None:
        self.marked = True
        if color:
            self.page_color = True

    def eject(self, always: bool) -> None:
        if not (always or self.marked):
            return
        if len(self.pages) >= MAX_PAGES:
            raise AnalysisError(f"PCL job has more than {MAX_PAGES} pages")
        self.flush_band()
        self.pages.append(PageOut(self.displayed(), self.page_color, self.copies))
        self.marked = self.page_color = False
        self.seeds = []
        self.planes = []
        self.home()

    # -- the stream -----------------------------------------------------------------

    def run(self) -> Analysis:
        reader = self.reader
        if reader.startswith(UEL):
            reader.skip(len(UEL))
            self.uel()
        while True:
            run = reader.upto(0x1B)
            if run:
                if self.hpgl:
                    self.hpgl_feed(run, final=False)
                else:
                    self.text(run)
                continue
            if reader.byte() < 0:
                break
            self.escape()
        self.end_job()
        return assemble(MIME, self.pages, self.pjl.qty)

    def end_job(self) -> None:
        if self.hpgl:
            self.hpgl_feed(b"", final=True)
            self.hpgl = False
        self.eject(always=False)

    def uel(self) -> None:
        self.end_job()
        read_pjl(self.reader, self.pjl)
        language = self.pjl.language
        if (language is not None and not language.startswith(b"PCL")) or language == b"PCLXL":
            name = language.decode("ascii", "replace")[:40] if language else ""
            raise AnalysisError(f"PCL job switches to another language ({name})")
        self.pjl.language = None
        self.reset()

    _TEXT_CONTROL = re.compile(rb"[\n\f\r]")
    _PRINTABLE = bytes(range(0x21, 0x7F)) + bytes(range(0xA1, 0x100))
    _NOT_PRINTABLE = bytes(set(range(256)) - set(_PRINTABLE))

    def text(self, run: bytes) -> None:
        position = 0
        for match in self._TEXT_CONTROL.finditer(run):
            self.chars(run[position : match.start()])
            position = match.end()
            code = run[match.start()]
            if code == 0x0C:
                self.eject(always=True)
            elif code == 0x0A or self.line_termination in (1, 3):  # CR may be CR LF
                self.line_feed()
        self.chars(run[position:])

    def chars(self, run: bytes) -> None:
        if run and run.translate(None, self._NOT_PRINTABLE):
            self.mark(not is_neutral(self.colour.foreground))

    def line_feed(self) -> None:
        self.cursor_moved = True
        y = self.cap_y + self.vmi
        bottom = self.top + self.length if self.perforation_skip else self.page_height
        if y <= bottom:
            self.cap_y = y
            return
        self.eject(always=True)  # GhostPCL pcl_set_cap_y: implicit page eject
        self.home()
        self.cursor_moved = True

    # -- escape sequences -----------------------------------------------------------

    def escape(self) -> None:
        reader = self.reader
        code = reader.byte()
        if code < 0:
            return
        if 48 <= code <= 126:
            if code == ord("E"):
                if self.hpgl:
                    self.hpgl_feed(b"", final=True)
                    self.hpgl = False
                self.eject(always=False)
                self.reset()
            elif code == ord("=") and not self.hpgl:  # half line feed
                self.cap_y += self.vmi // 2
            return
        if not 33 <= code <= 47:
            reader.pos -= 1  # a stray ESC: the byte is data again
            return
        group = reader.peek()
        if 96 <= group <= 126:
            reader.byte()
        else:
            group = 0
        while True:
            value = self.value()
            terminator = reader.need()
            if 96 <= terminator <= 126:
                final = False
                terminator -= 32
            elif 64 <= terminator <= 94:
                final = True
            else:
                reader.pos -= 1  # not a command: GhostPCL drops the sequence
                return
            self.command(chr(code), chr(group) if group else "", chr(terminator), value)
            if final or (self.hpgl and code == ord("%")):
                return

    def value(self) -> str:
        reader = self.reader
        chars = bytearray()
        while True:
            byte = reader.peek()
            if byte < 0:
                raise reader.truncated()
            if not (48 <= byte <= 57 or byte in (0x2B, 0x2D, 0x2E)):
                return chars.decode()
            chars.append(byte)
            reader.pos += 1
            if len(chars) > MAX_VALUE_CHARS:
                raise AnalysisError(
                    f"PCL command value longer than {MAX_VALUE_CHARS} characters "
                    f"at byte {reader.offset}"
                )

    def command(self, param: str, group: str, term: str, raw: str) -> None:
        value = _number(raw)
        number = int(value)
        key = param + group + term
        if self.hpgl and key not in ("%A", "%X", "%B"):
            self.data_skip(term, key, number)
            return
        handler = self._HANDLERS.get(key)
        if handler is not None:
            handler(self, value, number, raw)
        elif term == "W" or key == "&pX":
            self.data_skip(term, key, number)

    def data_skip(self, term: str, key: str, number: int) -> None:
        if term == "W" or key in ("&pX", "*bV"):
            if number < 0:
                raise AnalysisError(f"PCL command with negative data length {number}")
            if key == "&pX":
                data = self.reader.take(min(number, MAX_DATA_BYTES))
                self.reader.skip(number - len(data))
                if data.strip(b" \0"):
                    self.mark(not is_neutral(self.colour.foreground))
            else:
                self.reader.skip(number)

    # page control

    def page_size(self, value: float, number: int, raw: str) -> None:
        self.eject(always=False)
        if number in PAGE_SIZES or number == 101:
            self.page_code = number
            self.margins()
        self.home()

    def orientation_cmd(self, value: float, number: int, raw: str) -> None:
        if 0 <= number <= 3 and number != self.orientation:
            self.eject(always=False)
            self.orientation = number
            self.margins()

    def paper_source(self, value: float, number: int, raw: str) -> None:
        self.eject(always=False)
        self.home()

    def copies_cmd(self, value: float, number: int, raw: str) -> None:
        if number >= 1:
            self.copies = min(number, MAX_COPIES)

    def custom_width(self, value: float, number: int, raw: str) -> None:
        if value > 0:
            self.custom = (min(value, 1e6) / 10, self.custom[1])

    def custom_length(self, value: float, number: int, raw: str) -> None:
        if value > 0:
            self.custom = (self.custom[0], min(value, 1e6) / 10)

    # vertical cursor

    def vmi_cmd(self, value: float, number: int, raw: str) -> None:
        vmi = int(abs(value) * _CP / 48 + 0.5)
        at_home = not self.cursor_moved
        if vmi <= self.page_height:
            self.vmi = vmi
        if at_home:
            self.home()

    def lpi_cmd(self, value: float, number: int, raw: str) -> None:
        lpi = 12 if number == 0 else abs(number)
        at_home = not self.cursor_moved
        if 48 % lpi == 0:
            self.vmi = _CP // lpi
        if at_home:
            self.home()

    def top_margin(self, value: float, number: int, raw: str) -> None:
        margin = abs(number) * self.vmi
        if self.vmi and margin <= self.page_height:
            self.top = margin
            self.length = max(0, self.page_height - margin - _CP // 2)
            if not self.marked and not self.cursor_moved:
                self.home()

    def text_length(self, value: float, number: int, raw: str) -> None:
        length = abs(number) * self.vmi
        if length == 0:
            length = self.page_height - self.top - _CP // 2
            if length < 0:
                length += _CP // 2
        if length >= 0 and self.top + length <= self.page_height:
            self.length = length

    def perforation(self, value: float, number: int, raw: str) -> None:
        if number in (0, 1):
            self.perforation_skip = number == 1

    def termination(self, value: float, number: int, raw: str) -> None:
        if 0 <= number <= 3:
            self.line_termination = number

    def units(self, value: float, number: int, raw: str) -> None:
        if value > 0:
            self.uom = _CP / min(value, 7200)

    def move_y(self, distance: float, raw: str, by_row: bool) -> None:
        self.cursor_moved = True
        relative = raw[:1] in ("+", "-")
        if relative:
            y = self.cap_y + distance
        else:
            y = distance + (self.top + 3 * self.vmi // 4 if by_row else self.top)
        self.cap_y = int(max(0.0, min(float(self.page_height), y)))

    def rows_y(self, value: float, number: int, raw: str) -> None:
        self.move_y(value * self.vmi, raw, by_row=True)

    def decipoints_y(self, value: float, number: int, raw: str) -> None:
        self.move_y(value * 10, raw, by_row=False)

    def units_y(self, value: float, number: int, raw: str) -> None:
        self.move_y(int(value) * self.uom, raw, by_row=False)

    # rules

    def rule_width(self, value: float, number: int, raw: str, scale: float = 0) -> None:
        self.rule = (abs(value) * (scale or self.uom), self.rule[1])

    def rule_height(self, value: float, number: int, raw: str, scale: float = 0) -> None:
        self.rule = (self.rule[0], abs(value) * (scale or self.uom))

    def rule_width_dp(self, value: float, number: int, raw: str) -> None:
        self.rule_width(value, number, raw, scale=10)

    def rule_height_dp(self, value: float, number: int, raw: str) -> None:
        self.rule_height(value, number, raw, scale=10)

    def fill_rule(self, value: float, number: int, raw: str) -> None:
        if self.rule[0] >= 1 and self.rule[1] >= 1:
            self.mark(number != 1 and not is_neutral(self.colour.foreground))

    # colour

    def simple_colour(self, value: float, number: int, raw: str) -> None:
        if self.cid_locked:
            return
        if number == 1:
            self.colour = _Colour(foreground=BLACK)
        elif number in (3, -3):
            kind = "rgb" if number == 3 else "cmy"
            self.colour = _Colour(
                space=0 if number == 3 else 1,
                encoding=0,
                bits=3,
                palette=_simple_palette(kind, 8),
            )

    def configure_image_data(self, value: float, number: int, raw: str) -> None:
        if number < 0 or number > MAX_DATA_BYTES:
            raise AnalysisError(f"PCL configure image data of {number} bytes")
        data = self.reader.take(number)
        if self.cid_locked or len(data) < 6:
            return
        space, encoding, bits, *primaries = data[:6]
        if space > 4 or encoding > 3:
            return
        colour = _Colour(space=space, encoding=encoding, device_independent=space >= 3)
        if encoding in (0, 1):
            if bits not in (1, 2, 3, 4, 5, 6, 7, 8) or (encoding == 1 and bits not in (1, 2, 4, 8)):
                return
            colour.bits = bits
            size = 1 << bits
        else:
            colour.bits = primaries[0] if encoding == 3 else 1
            if encoding == 3 and primaries != [8, 8, 8]:
                return
            size = 8
        top = float((1 << max(1, primaries[0] or 1)) - 1)
        if len(data) >= 18:
            refs = [
                int.from_bytes(data[6 + 2 * k : 8 + 2 * k], "big", signed=True) for k in range(6)
            ]
            colour.white_ref = (float(refs[0]), float(refs[2]), float(refs[4]))
            colour.black_ref = (float(refs[1]), float(refs[3]), float(refs[5]))
        elif space == 1:
            colour.white_ref, colour.black_ref = (0.0, 0.0, 0.0), (top, top, top)
        else:
            colour.white_ref, colour.black_ref = (top, top, top), (0.0, 0.0, 0.0)
        colour.palette = _simple_palette("cmy" if space == 1 else "rgb", size)
        if colour.device_independent:
            colour.palette = [BLACK] * size
        self.colour = colour

    def component_a(self, value: float, number: int, raw: str) -> None:
        self.components[0] = value

    def component_b(self, value: float, number: int, raw: str) -> None:
        self.components[1] = value

    def component_c(self, value: float, number: int, raw: str) -> None:
        self.components[2] = value

    def assign(self, value: float, number: int, raw: str) -> None:
        colour = self.colour
        if 0 <= number < len(colour.palette):
            if colour.device_independent:
                colour.palette[number] = (255, 0, 0)  # charged as colour (see docstring)
            else:
                colour.palette[number] = colour.normalise(self.components)
        self.components = [0.0, 0.0, 0.0]

    def foreground(self, value: float, number: int, raw: str) -> None:
        palette = self.colour.palette
        if 0 <= number < len(palette):
            self.colour.foreground = palette[number]

    def push_palette(self, value: float, number: int, raw: str) -> None:
        if number == 0 and len(self.palette_stack) < MAX_PALETTE_STACK:
            self.palette_stack.append(self.colour.copy())
        elif number == 1 and self.palette_stack:
            self.colour = self.palette_stack.pop()

    # raster

    def start_raster(self, value: float, number: int, raw: str) -> None:
        self.flush_band()
        self.seeds = []
        self.planes = []
        self.cid_locked = True

    def end_raster(self, value: float, number: int, raw: str) -> None:
        self.flush_band()
        self.seeds = []
        self.planes = []
        self.cid_locked = False

    def raster_width_cmd(self, value: float, number: int, raw: str) -> None:
        if not 0 <= number <= MAX_RASTER_WIDTH:
            raise AnalysisError(
                f"PCL raster width {number} is outside 0..{MAX_RASTER_WIDTH} pixels"
            )
        self.raster_width = number or None

    def compression_cmd(self, value: float, number: int, raw: str) -> None:
        if number in (0, 1, 2, 3, 4, 5, 9):
            self.compression = number

    def y_offset(self, value: float, number: int, raw: str) -> None:
        self.flush_band()
        self.seeds = []
        self.planes = []

    def plane_data(self, value: float, number: int, raw: str) -> None:
        self.raster_data(number, last=False)

    def row_data(self, value: float, number: int, raw: str) -> None:
        self.raster_data(number, last=True)

    def planes_per_row(self) -> int:
        colour = self.colour
        if colour.encoding == 0:
            return colour.bits
        return 3 if colour.encoding == 2 else 1

    def row_bytes(self) -> int:
        width = self.raster_width
        if width is None:
            return MAX_ROW_BYTES
        colour = self.colour
        if colour.encoding in (0, 2):
            bits = width
        elif colour.encoding == 1:
            bits = width * colour.bits
        else:
            bits = width * 24
        size = (bits + 7) // 8
        if size > MAX_ROW_BYTES:
            raise AnalysisError(f"PCL raster row of {size} bytes is over {MAX_ROW_BYTES}")
        return size

    def color_possible(self) -> bool:
        colour = self.colour
        if colour.device_independent:
            return True
        if colour.encoding in (2, 3):
            return True
        return bool(colour.bad_indices())

    def raster_data(self, count: int, last: bool) -> None:
        reader = self.reader
        if count < 0:
            raise AnalysisError(f"PCL raster row with negative length {count}")
        self.cid_locked = True
        if count:
            self.marked = True
        if not self.color_possible():
            reader.skip(count)
            return
        if count > MAX_DATA_BYTES:
            raise AnalysisError(f"PCL raster row of {count} bytes is over {MAX_DATA_BYTES}")
        data = reader.take(count)
        plane = len(self.planes)
        limit = self.row_bytes()
        seed = self.seeds[plane] if plane < len(self.seeds) else b""
        mode = self.compression
        if mode == 0:
            row = data[:limit]
        elif mode == 1:
            row = unpack_rle(data, limit)
        elif mode == 2:
            row = unpack_packbits(data, limit)[0]
        elif mode == 3:
            row = apply_delta(data, seed, limit)
        else:
            raise AnalysisError(
                f"PCL raster compression mode {mode} is not supported for colour data"
            )
        while len(self.seeds) <= plane:
            self.seeds.append(b"")
        self.seeds[plane] = row
        self.planes.append(row)
        if last or len(self.planes) >= self.planes_per_row():
            if self.page_color:
                pass
            elif self.halftoned():
                self.band.append(self.planes)
                if len(self.band) >= HALFTONE_BLOCK:
                    self.flush_band()
            elif self.row_color(self.planes):
                self.mark(True)
            self.planes = []

    def halftoned(self) -> bool:
        """Three 1-bit planes of the primaries: a device's halftone, judged by block."""
        colour = self.colour
        if colour.encoding == 2 and colour.bits == 1:
            return True
        return (
            colour.encoding == 0
            and colour.bits == 3
            and colour.palette == _simple_palette("cmy" if colour.space == 1 else "rgb", 8)
        )

    def flush_band(self) -> None:
        band, self.band = self.band, []
        if not band or self.page_color:
            return
        size = max(len(row) for planes in band for row in planes)
        if size == 0:
            return
        # whole blocks: blank rows and columns (all planes zero) are neutral padding
        size += -size % (HALFTONE_BLOCK // 8)
        if self.raster_width is not None:
            size = min(size, (self.raster_width + HALFTONE_BLOCK - 1) // HALFTONE_BLOCK * 2)
        rows = len(band) + -len(band) % HALFTONE_BLOCK
        images = []
        for k in range(3):
            data = b"".join(
                (planes[k] if k < len(planes) else b"").ljust(size, b"\0")[:size] for planes in band
            ).ljust(size * rows, b"\0")
            image = Image.frombytes("1", (size * 8, rows), data)
            images.append(image.convert("L").reduce(HALFTONE_BLOCK))
        for one, other in ((0, 1), (1, 2), (0, 2)):
            spread = ImageChops.difference(images[one], images[other]).getextrema()
            if isinstance(spread[1], int) and spread[1] > HALFTONE_TOLERANCE:
                self.mark(True)
                return

    def row_color(self, planes: list[bytes]) -> bool:
        colour = self.colour
        if colour.device_independent:
            return any(any(row) for row in planes)
        if colour.encoding == 3:
            return rgb_bytes_color(planes[0])
        width = self.raster_width
        if colour.encoding == 2:
            values = _plane_ints(planes, 3, width)
            return bool((values[0] ^ values[1]) | (values[1] ^ values[2]))
        bad = colour.bad_indices()
        if colour.encoding == 1:
            return bool(_pixel_indices(planes[0], colour.bits, width) & set(bad))
        values = _plane_ints(planes, colour.bits, width)
        full = (1 << max(len(row) for row in planes) * 8) - 1 if planes else 0
        if width is not None:
            full &= ~((1 << max(0, max(len(row) for row in planes) * 8 - width)) - 1)
        for index in bad:
            mask = full
            for k, plane in enumerate(values):
                mask &= plane if (index >> k) & 1 else ~plane
                if not mask:
                    break
            if mask:
                return True
        return False

    # HP-GL/2

    def enter_hpgl(self, value: float, number: int, raw: str) -> None:
        self.hpgl = True
        self.hpgl_buf = b""

    def leave_hpgl(self, value: float, number: int, raw: str) -> None:
        if self.hpgl:
            self.hpgl_feed(b"", final=True)
        self.hpgl = False

    def uel_cmd(self, value: float, number: int, raw: str) -> None:
        if raw == "-12345":
            self.hpgl = False
            self.uel()

    def hpgl_feed(self, run: bytes, final: bool) -> None:
        buf = self.hpgl_buf + run
        position = 0
        while True:
            parsed = self.hpgl_command(buf, position, final)
            if parsed is None:
                break
            position = parsed
        buf = buf[position:]
        if len(buf) > MAX_PJL_LINE and not final:
            raise AnalysisError(f"HP-GL/2 command longer than {MAX_PJL_LINE} bytes")
        self.hpgl_buf = b"" if final else buf

    _HPGL_PARAMS = re.compile(rb"[^A-Za-z;\x1b]*")
    _HPGL_NUMBER = re.compile(rb"[-+]?(?:\d+\.?\d*|\.\d+)")
    _DRAW_ALWAYS = frozenset({b"CI", b"EA", b"ER", b"EW", b"EP", b"FP", b"RA", b"RR", b"WG", b"PE"})
    _DRAW_PEN_DOWN = frozenset({b"PA", b"PR", b"AA", b"AR", b"AT", b"RT", b"BZ", b"BR", b"PD"})

    def hpgl_command(self, buf: bytes, position: int, final: bool) -> int | None:
        """Parses one HP-GL/2 command from ``buf[position:]``; the new position, or
        None when the rest is incomplete (kept for the next run unless ``final``)."""
        n = len(buf)
        while position < n and not 97 <= (buf[position] | 0x20) <= 122:
            position += 1  # separators, whitespace and stray bytes
        if position >= n:
            return None
        if position + 2 > n:
            return n if final else None
        name = buf[position : position + 2].upper()
        if not name.isalpha():
            return position + 1
        start = position + 2
        if name == b"LB":
            end = buf.find(bytes((self.label_terminator,)), start)
            if end < 0:
                if not final:
                    return None
                end = n
            if buf[start:end].strip():
                self.hpgl_draw()
            return min(end + 1, n)
        if name in (b"PE", b"CO", b"DL", b"BP", b"SM", b"DT"):
            if name == b"SM":
                return min(start + 1, n)
            end = buf.find(b";", start)
            if end < 0:
                if not final:
                    return None
                end = n
            if name == b"PE" and buf[start:end]:
                self.hpgl_draw()
            if name == b"DT" and end > start:
                self.label_terminator = buf[start]
            return min(end + 1, n)
        match = self._HPGL_PARAMS.match(buf, start)
        end = match.end() if match else start
        if end >= n and not final:
            return None
        numbers = [float(m) for m in self._HPGL_NUMBER.findall(buf[start:end])]
        self.hpgl_apply(name, numbers)
        return end + 1 if end < n and buf[end] == 0x3B else end

    def hpgl_apply(self, name: bytes, numbers: list[float]) -> None:
        palette = self.colour.palette
        if name == b"IN":
            self.pen, self.pen_down, self.label_terminator = 1, False, 0x03
        elif name == b"SP":
            self.pen = int(numbers[0]) if numbers else 0
        elif name == b"PU":
            self.pen_down = False
        elif name == b"PC" and numbers:
            pen = int(numbers[0]) % len(palette)
            if len(numbers) >= 4:
                palette[pen] = self.colour.normalise(numbers[1:4])
            else:
                palette[pen] = _hpgl_default(pen)
        elif name == b"NP" and numbers:
            size = max(2, min(256, int(numbers[0])))
            size = 1 << (size - 1).bit_length()
            self.colour.palette = [_hpgl_default(i) for i in range(size)]
        if name == b"PD":
            self.pen_down = True
        if name in self._DRAW_ALWAYS or (name in self._DRAW_PEN_DOWN and self.pen_down and numbers):
            self.hpgl_draw()

    def hpgl_draw(self) -> None:
        palette = self.colour.palette
        self.mark(not is_neutral(palette[self.pen % len(palette)]))

    _HANDLERS: dict[str, Callable[[_Pcl, float, int, str], None]] = {}


def _hpgl_default(pen: int) -> Rgb:
    table = [WHITE, BLACK, (255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 0, 255), (255, 0, 255)]
    table.append((0, 255, 255))
    return table[pen] if pen < 8 else BLACK


_Pcl._HANDLERS.update(
    {
        "&lA": _Pcl.page_size,
        "&lO": _Pcl.orientation_cmd,
        "&lH": _Pcl.paper_source,
        "&lX": _Pcl.copies_cmd,
        "&fI": _Pcl.custom_width,
        "&fJ": _Pcl.custom_length,
        "&lC": _Pcl.vmi_cmd,
        "&lD": _Pcl.lpi_cmd,
        "&lE": _Pcl.top_margin,
        "&lF": _Pcl.text_length,
        "&lL": _Pcl.perforation,
        "&kG": _Pcl.termination,
        "&uD": _Pcl.units,
        "&aR": _Pcl.rows_y,
        "&aV": _Pcl.decipoints_y,
        "*pY": _Pcl.units_y,
        "*cA": _Pcl.rule_width,
        "*cB": _Pcl.rule_height,
        "*cH": _Pcl.rule_width_dp,
        "*cV": _Pcl.rule_height_dp,
        "*cP": _Pcl.fill_rule,
        "*rU": _Pcl.simple_colour,
        "*vW": _Pcl.configure_image_data,
        "*vA": _Pcl.component_a,
        "*vB": _Pcl.component_b,
        "*vC": _Pcl.component_c,
        "*vI": _Pcl.assign,
        "*vS": _Pcl.foreground,
        "*pP": _Pcl.push_palette,
        "*rA": _Pcl.start_raster,
        "*rB": _Pcl.end_raster,
        "*rC": _Pcl.end_raster,
        "*rS": _Pcl.raster_width_cmd,
        "*bM": _Pcl.compression_cmd,
        "*bY": _Pcl.y_offset,
        "*bV": _Pcl.plane_data,
        "*bW": _Pcl.row_data,
        "%B": _Pcl.enter_hpgl,
        "%A": _Pcl.leave_hpgl,
        "%X": _Pcl.uel_cmd,
    }
)


def _number(raw: str) -> float:
    try:
        value = float(raw) if raw not in ("", "+", "-", ".") else 0.0
    except ValueError:
        return 0.0
    return max(-1e9, min(1e9, value))


def _plane_ints(planes: list[bytes], count: int, width: int | None) -> list[int]:
    """Each plane as one big integer, all aligned to the longest (missing planes and
    bytes are zero); bits past ``width`` pixels are cleared."""
    size = max((len(row) for row in planes), default=0)
    values = []
    for k in range(count):
        row = planes[k] if k < len(planes) else b""
        value = int.from_bytes(row.ljust(size, b"\0"), "big")
        if width is not None and width < size * 8:
            value &= ~((1 << (size * 8 - width)) - 1)
        values.append(value)
    return values


_NIBBLES = (
    bytes(b >> 4 for b in range(256)),
    bytes(b & 15 for b in range(256)),
)


def _pixel_indices(row: bytes, bits: int, width: int | None) -> set[int]:
    if width is not None:
        row = row[: (width * bits + 7) // 8]
    if bits == 8:
        return set(row)
    used: set[int] = set()
    if bits == 4:
        for table in _NIBBLES:
            used.update(row.translate(table))
        return used
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    for k in range(per_byte):
        shift = 8 - bits * (k + 1)
        used.update(row.translate(bytes((b >> shift) & mask for b in range(256))))
    return used


def analyze_pcl(stream: BinaryIO) -> Analysis:
    return _Pcl(ByteReader(stream, "PCL job")).run()
