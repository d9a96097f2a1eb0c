"""The fast paths of analysis give the answers of the slow ones: thin strokes proved colour
from the content equal pdfium's rendering, and the raster decoder that takes stretches of
repeat runs at once equals a run-by-run walk, answers and refusals alike."""

from __future__ import annotations

import io
import math
import random
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import pypdfium2  # type: ignore[import-untyped]
import pytest
from PIL import ImageChops

from printhost.analysis import pdf, raster
from printhost.analysis.model import Analysis, AnalysisError
from printhost.analysis.pdf_content import COLOR, LINE_COVER, Region

from .corpus import PdfPage, RawPdf, make_pdf, stream

# --- thin strokes ------------------------------------------------------------------------

WIDTHS = (0, 0.1, 0.25, 0.5, 1, 2)
CLEAR_COLOURS = ("0 0 1", "1 0 0", "0.2 0.6 0.2", "0.5 0.5 0.7")
NEAR_GREYS = ("0.5 0.5 0.52", "0.3 0.31 0.3", "0.5 0.5 0.55")  # spreads of 5, 3 and 13 levels


def _write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _verdicts(path: Path) -> list[object]:
    return [page.verdict for page in pdf._read_pages(path, classify=True)]


def _same_as_rendering(path: Path) -> tuple[int, ...]:
    fast = pdf.analyze_pdf(path)
    assert fast == pdf.analyze_pdf_by_rendering(path)
    return fast.color_pages


def _line(colour: str, width: float, angle: float = 0.0, length: float = 200.0) -> bytes:
    x0, y0 = 100.3, 100.7
    x1 = x0 + length * math.cos(math.radians(angle))
    y1 = y0 + length * math.sin(math.radians(angle))
    return f"{colour} RG {width} w {x0} {y0} m {x1:.4f} {y1:.4f} l S".encode()


@pytest.mark.parametrize("width", WIDTHS)
def test_thin_colour_strokes_are_colour_without_rendering(tmp_path: Path, width: float) -> None:
    pages = [PdfPage(_line(c, width, angle)) for c in CLEAR_COLOURS for angle in (0, 33, 90)]
    path = _write(tmp_path, make_pdf(pages))
    assert _verdicts(path) == [COLOR] * len(pages)
    assert _same_as_rendering(path) == tuple(range(1, len(pages) + 1))


@pytest.mark.parametrize("width", WIDTHS)
def test_near_grey_strokes_are_rendered(tmp_path: Path, width: float) -> None:
    pages = [PdfPage(_line(c, width)) for c in NEAR_GREYS]
    path = _write(tmp_path, make_pdf(pages))
    assert all(isinstance(v, Region) for v in _verdicts(path))
    _same_as_rendering(path)


def test_bench_like_page_with_text_before_the_line(tmp_path: Path) -> None:
    # the bench's page: black text, then a 0.5 pt blue line drawn in a scaled space
    text = b"BT /F1 10 Tf 72 700 Td (The quick brown fox) Tj ET "
    content = text + b"q 0.1 0 0 0.1 0 0 cm 5 w 0 0 1 RG 720 3000 m 4000 3000 l S Q"
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert _verdicts(path) == [COLOR]
    assert _same_as_rendering(path) == (1,)


@pytest.mark.parametrize(
    "content",
    [
        b"q 0.866025 0.5 -0.5 0.866025 100 100 cm 0 0 1 RG 0.3 w 0 0 m 200 0 l S Q",
        b"q -2 0 0 2 500 0 cm 0 0.5 0 RG 0.1 w 10 50 m 100 50 l 100 200 l S Q",
        b"0 g 72 72 200 200 re f 0.5 G 1 w 300 300 m 400 400 l S 1 0 0 RG 0 w 80 80 m 200 80 l S",
    ],
)
def test_strokes_in_turned_or_mirrored_space_and_over_grey(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert _verdicts(path) == [COLOR]
    assert _same_as_rendering(path) == (1,)


@pytest.mark.parametrize(
    "content",
    [
        # painted over by a white rectangle
        b"0 0 1 RG 0.5 w 100 100 m 300 100 l S 1 g 50 50 300 100 re f",
        # painted over by a white stroke along the same path
        b"0 0 1 RG 0.5 w 100 100 m 300 100 l S 1 G 4 w 100 100 m 300 100 l S",
        # clipped away
        b"0 0 10 10 re W n 0 0 1 RG 0.5 w 100 100 m 300 100 l S",
        # dashed with gaps only
        b"[0.01 1000] 0 d 0 0 1 RG 0.5 w 100 100 m 300 100 l S",
        # off the page, and along its very edge
        b"0 0 1 RG 0.5 w -300 -100 m -100 -100 l S",
        b"0 0 1 RG 0.5 w 0 -0.2 m 300 -0.2 l S",
        # too short to count
        b"0 0 1 RG 0.5 w 100 100 m 102 100 l S",
        # squeezed flat by the matrix
        b"q 1 0 0 0.001 0 0 cm 0 0 1 RG 0.5 w 100 100000 m 300 100000 l S Q",
        # over a yellow background (a blend with it may be grey)
        b"1 1 0 rg 50 50 300 100 re f 0 0 1 RG 0.5 w 100 100 m 300 100 l S",
    ],
)
def test_strokes_that_cannot_be_proved_are_rendered(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert _verdicts(path)[0] is not COLOR
    _same_as_rendering(path)


def test_line_width_from_an_extgstate_grows_the_rendered_region(tmp_path: Path) -> None:
    # /LW 60 from an ExtGState: the stroke reaches 30 pt off its path; its colour there
    # must lie inside the region that is rendered
    pdf_file = RawPdf()
    catalog, tree = pdf_file.add(), pdf_file.add()
    content = pdf_file.add(
        stream(b"/G1 gs 1 g 0 0 612 792 re f 0 0 1 RG 0 0 0 0 re f 100 100 m 300 100 l S")
    )
    page = pdf_file.add(
        b"<< /Type /Page /Parent %d 0 R /Contents %d 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /ExtGState << /G1 << /LW 60 /CA 1 >> >> >> >>" % (tree, content)
    )
    pdf_file.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    pdf_file.set(tree, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % page)
    path = _write(tmp_path, pdf_file.tobytes(catalog))
    (verdict,) = _verdicts(path)
    if isinstance(verdict, Region):
        assert verdict.y0 <= 100 - 30 and verdict.y1 >= 100 + 30
    assert _same_as_rendering(path) == (1,)


def test_pdfium_covers_a_pixel_of_any_thin_line_by_half(tmp_path: Path) -> None:
    """The measurement behind LINE_COVER: a blue line on white, 0 to 2 pt wide, at any
    angle and sub-pixel position, leaves a pixel whose spread is at least half the blue's."""
    rng = random.Random(5)
    contents = []
    for width in (0, 0.01, 0.1, 0.25, 0.5, 0.75, 1, 1.44, 2):
        for angle in (0, 90, 1, 3, 10, 30, 45, 60, 89, 135, 200):
            length = rng.choice((6, 8, 20, 100))
            x0, y0 = 100 + rng.random() * 3, 100 + rng.random() * 3
            x1 = x0 + length * math.cos(math.radians(angle))
            y1 = y0 + length * math.sin(math.radians(angle))
            contents.append(f"0 0 1 RG {width} w {x0} {y0} m {x1} {y1} l S".encode())
    path = _write(tmp_path, make_pdf([PdfPage(c) for c in contents]))
    document = pypdfium2.PdfDocument(str(path))
    try:
        for index in range(len(contents)):
            page = document[index]
            width, height = page.get_size()
            bitmap = page.render(
                scale=pdf._scale(width, height), fill_color=(255, 255, 255, 255),
                rev_byteorder=True,
            )  # fmt: skip
            red, green, blue = bitmap.to_pil().convert("RGB").split()
            high = ImageChops.lighter(ImageChops.lighter(red, green), blue)
            low = ImageChops.darker(ImageChops.darker(red, green), blue)
            spread = int(ImageChops.subtract(high, low).getextrema()[1])  # type: ignore[arg-type]
            assert spread >= 2 * LINE_COVER * 255, contents[index]
    finally:
        document.close()


# --- rasters: a run-by-run reference walk ---------------------------------------------------


def _reference(data: bytes, mime: str) -> Analysis | str:
    """The analysis by the run-by-run walk (the decoder before the fast one), or the
    refusal's reason."""
    reader = raster._Reader(io.BytesIO(data))
    try:
        if mime == "image/pwg-raster":
            if reader.take(4) != raster.PWG_SYNC:
                raise AnalysisError("not a PWG raster file (bad sync word)")
            read_header, declared = raster._read_pwg_header, None
        else:
            if reader.take(8) != raster.URF_SYNC:
                raise AnalysisError("not an Apple URF file (bad magic)")
            read_header = raster._read_urf_header
            declared = struct.unpack(">I", reader.take(4))[0] or None
        sizes: list[tuple[float, float]] = []
        colors: list[int] = []
        while not reader.at_end():
            page = read_header(reader)
            sizes.append(page.size)
            if _reference_page(reader, page):
                colors.append(len(sizes))
        if not sizes:
            raise AnalysisError("raster file has no pages")
        if declared is not None and declared != len(sizes):
            raise AnalysisError(
                f"URF header declares {declared} pages but the file has {len(sizes)}"
            )
    except AnalysisError as exc:
        return exc.reason
    return Analysis(mime, len(sizes), tuple(colors), tuple(sizes))


def _reference_page(reader: raster._Reader, page: raster._Page) -> bool:
    unit = (page.bits_per_pixel + 7) // 8
    units_per_line = (page.width * page.bits_per_pixel + 7) // 8 // unit
    is_color = _reference_test(page)
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


def _reference_test(page: raster._Page) -> Callable[[bytes], bool]:
    if page.kind == "mono":
        return lambda pixels: False
    deep = page.bits_per_pixel // page.channels == 16
    channels = page.channels
    tolerance = raster.COLOR_TOLERANCE * (0x101 if deep else 1)

    def samples(pixels: bytes) -> Sequence[int]:
        if not deep:
            return pixels
        values = array("H", pixels)
        if sys.byteorder == "little":
            values.byteswap()
        return values

    if page.kind == "rgb":

        def rgb(pixels: bytes) -> bool:
            v = samples(pixels)
            return any(
                max(v[i : i + 3]) - min(v[i : i + 3]) > tolerance for i in range(0, len(v), 3)
            )

        return rgb

    limit = 0xFF if deep else 0

    def cmyk(pixels: bytes) -> bool:
        v = samples(pixels)
        return any(v[i + k] > limit for i in range(0, len(v), channels) for k in range(3))

    return cmyk


def _fast(data: bytes, mime: str) -> Analysis | str:
    try:
        if mime == "image/pwg-raster":
            return raster.analyze_pwg(io.BytesIO(data))
        return raster.analyze_urf(io.BytesIO(data))
    except AnalysisError as exc:
        return exc.reason


# --- rasters: writing them ------------------------------------------------------------------

# (PWG colour space, URF colour space, channels, bits per colour)
FORMATS = {
    "srgb8": (19, 1, 3, 8),
    "rgb16": (1, 5, 3, 16),
    "cmyk8": (6, 6, 4, 8),
    "cmyk16": (6, 6, 4, 16),
    "gray8": (18, 0, 1, 8),
    "black1": (3, None, 1, 1),
}
Run = tuple[str, object]  # ("rep", (count, pixel)) / ("lit", [pixels]) / ("fill", None)


def _pixel_bytes(fmt: str, value: Sequence[int]) -> bytes:
    bits = FORMATS[fmt][3]
    if bits == 16:
        return struct.pack(f">{len(value)}H", *value)
    return bytes(value)


def _encode_line(fmt: str, runs: Sequence[Run]) -> bytes:
    out = bytearray()
    for kind, arg in runs:
        if kind == "rep":
            count, pixel = cast(tuple[int, tuple[int, ...]], arg)
            out += bytes([count - 1]) + _pixel_bytes(fmt, pixel)
        elif kind == "lit":
            pixels = cast(list[tuple[int, ...]], arg)
            out += bytes([257 - len(pixels)]) + b"".join(_pixel_bytes(fmt, p) for p in pixels)
        else:
            out += b"\x80"
    return bytes(out)


def _page_bytes(
    fmt: str, width: int, groups: Sequence[tuple[int, Sequence[Run]]], urf: bool
) -> bytes:
    pwg_space, urf_space, channels, bits = FORMATS[fmt]
    height = sum(repeat for repeat, _ in groups)
    body = b"".join(bytes([repeat - 1]) + _encode_line(fmt, runs) for repeat, runs in groups)
    bpp = bits * channels
    if urf:
        assert urf_space is not None
        urf_header = bytes([bpp if bits != 1 else 1, urf_space, 0, 0]) + bytes(8)
        return urf_header + struct.pack(">III", width, height, 300) + bytes(8) + body
    header = bytearray(raster.PWG_HEADER)
    struct.pack_into(">II", header, 276, 300, 300)
    per_line = (width * bpp + 7) // 8
    struct.pack_into(">IIIIIIII", header, 372, width, height, 0, bits, bpp, per_line, 0,
                     pwg_space)  # fmt: skip
    return bytes(header) + body


def _file(fmt: str, width: int, pages: Sequence[Sequence[tuple[int, Sequence[Run]]]],
          urf: bool) -> bytes:  # fmt: skip
    body = b"".join(_page_bytes(fmt, width, groups, urf) for groups in pages)
    if urf:
        return raster.URF_SYNC + struct.pack(">I", len(pages)) + body
    return raster.PWG_SYNC + body


def _grey(fmt: str, level: int) -> tuple[int, ...]:
    channels, bits = FORMATS[fmt][2], FORMATS[fmt][3]
    if bits == 1:
        return (level & 0xFF,)
    scale = 0x101 if bits == 16 else 1
    if FORMATS[fmt][0] == 6:  # CMYK: black ink only
        return (0, 0, 0, (255 - level) * scale)
    return (level * scale,) * channels


def _colour(fmt: str) -> tuple[int, ...]:
    scale = 0x101 if FORMATS[fmt][3] == 16 else 1
    if FORMATS[fmt][0] == 6:
        return (0, 40 * scale, 0, 0)
    return (200 * scale, 30 * scale, 30 * scale)


def _near_grey(fmt: str) -> tuple[int, ...]:
    scale = 0x101 if FORMATS[fmt][3] == 16 else 1
    if FORMATS[fmt][0] == 6:
        return (0, 0, 0, 100 * scale)
    return (109 * scale, 110 * scale, 117 * scale)  # 8 levels apart: still grey


COLOUR_FORMATS = ("srgb8", "rgb16", "cmyk8", "cmyk16")
WIDTH = 300


def _mono_line(fmt: str) -> list[Run]:
    return [("rep", (128, _grey(fmt, 255))), ("lit", [_grey(fmt, v) for v in (0, 90, 255)]),
            ("rep", (100, _grey(fmt, 0))), ("rep", (69, _grey(fmt, 128)))]  # fmt: skip


PLACES: dict[str, Callable[[str], list[Run]]] = {
    "repeat": lambda f: [("rep", (128, _grey(f, 255))), ("rep", (22, _grey(f, 0))),
                         ("rep", (3, _colour(f))), ("rep", (128, _grey(f, 255))),
                         ("rep", (19, _grey(f, 255)))],
    "literal": lambda f: [("rep", (100, _grey(f, 255))),
                          ("lit", [_grey(f, 5), _colour(f), _grey(f, 5)]), ("fill", None)],
    "last-pixel": lambda f: [("rep", (128, _grey(f, 255))), ("rep", (128, _grey(f, 0))),
                             ("rep", (42, _grey(f, 255))), ("lit", [_grey(f, 7), _colour(f)])],
    "last-pixel-repeat": lambda f: [("rep", (128, _grey(f, 255))), ("rep", (128, _grey(f, 0))),
                                    ("rep", (43, _grey(f, 9))), ("rep", (1, _colour(f)))],
    "near-grey": lambda f: [("rep", (120, _near_grey(f))), ("lit", [_near_grey(f)] * 5),
                            ("fill", None)],
}  # fmt: skip


def _pages(fmt: str, place: str, colour_page: int, pages: int) -> list[list[tuple[int, list[Run]]]]:
    out = []
    for n in range(1, pages + 1):
        groups: list[tuple[int, list[Run]]] = [
            (7, _mono_line(fmt)),
            (1, [("fill", None)]),
            (256, _mono_line(fmt)),
        ]
        if n == colour_page:
            groups.insert(2, (40, PLACES[place](fmt)))
        out.append(groups)
    return out


@pytest.mark.parametrize("urf", [False, True], ids=["pwg", "urf"])
@pytest.mark.parametrize("fmt", COLOUR_FORMATS)
@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("colour_page", [1, 3])  # 3: the last page
def test_raster_colour_wherever_it_is(urf: bool, fmt: str, place: str, colour_page: int) -> None:
    data = _file(fmt, WIDTH, _pages(fmt, place, colour_page, 3), urf)
    mime = "image/urf" if urf else "image/pwg-raster"
    fast = _fast(data, mime)
    assert fast == _reference(data, mime)
    assert isinstance(fast, Analysis)
    assert fast.color_pages == (() if place == "near-grey" else (colour_page,))


@pytest.mark.parametrize(
    ("urf", "fmt"),
    [(False, fmt) for fmt in sorted(FORMATS)]
    + [(True, fmt) for fmt in sorted(FORMATS) if FORMATS[fmt][1] is not None],  # URF: no 1-bit
)
def test_truncated_rasters_are_refused_for_the_same_reasons(urf: bool, fmt: str) -> None:
    width = 300 if FORMATS[fmt][3] != 1 else 8 * 38
    groups = [(2, _mono_line(fmt) if FORMATS[fmt][3] != 1 else [("rep", (38, (0xF0,)))])] * 2
    data = _file(fmt, width, [groups, groups], urf)
    mime = "image/urf" if urf else "image/pwg-raster"
    assert isinstance(_fast(data, mime), Analysis)
    for cut in range(len(data) - 1, 0, -1):
        expected = _reference(data[:cut], mime)
        assert _fast(data[:cut], mime) == expected, cut
        # only a PWG file cut exactly between its pages is whole
        assert isinstance(expected, str) or (not urf and cut == (len(data) + 4) // 2), cut


@pytest.mark.parametrize("urf", [False, True], ids=["pwg", "urf"])
@pytest.mark.parametrize("fmt", ["srgb8", "rgb16", "cmyk8", "gray8"])
def test_damaged_rasters_get_the_reference_answer(urf: bool, fmt: str) -> None:
    """Random bytes changed in the bitmaps: overruns, short and long pages, stray colour:
    the same answer or the same refusal as the run-by-run walk."""
    rng = random.Random(f"{fmt}{urf}")
    data = _file(fmt, WIDTH, _pages(fmt, "literal", 2, 3), urf)
    start = len(raster.URF_SYNC) + 4 + 32 if urf else 4 + raster.PWG_HEADER
    mime = "image/urf" if urf else "image/pwg-raster"
    for _ in range(150):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(start, len(data))] = rng.randrange(256)
        assert _fast(bytes(damaged), mime) == _reference(bytes(damaged), mime)


def test_long_lines_of_repeat_runs_and_many_windows() -> None:
    # 5000-pixel lines of 1-pixel repeat runs: many decoder windows per line
    rng = random.Random(7)
    width = 5000
    line: list[Run] = [("rep", (1, _grey("srgb8", rng.randrange(256)))) for _ in range(width)]
    coloured = list(line)
    coloured[4321] = ("rep", (1, (10, 200, 10)))
    pages = [[(3, line)], [(2, line), (1, coloured), (4, line)]]
    for urf in (False, True):
        data = _file("srgb8", width, pages, urf)
        mime = "image/urf" if urf else "image/pwg-raster"
        fast = _fast(data, mime)
        assert fast == _reference(data, mime)
        assert isinstance(fast, Analysis) and fast.color_pages == (2,)
        assert _fast(data[:-5000], mime) == _reference(data[:-5000], mime)


def test_known_lines_are_forgotten_when_the_geometry_changes() -> None:
    # the same 40 bytes are a whole line 300 pixels wide, and the start of a line 310 wide
    line: list[Run] = [("rep", (30, _grey("srgb8", 200 - k))) for k in range(10)]
    longer = [*line, ("rep", (10, _colour("srgb8")))]
    first = _file("srgb8", 300, [[(5, line)], [(1, line), (1, line)]], urf=False)
    second = _file("srgb8", 310, [[(1, longer), (1, longer)]], urf=False)
    data = first + second[len(raster.PWG_SYNC) :]
    fast = _fast(data, "image/pwg-raster")
    assert fast == _reference(data, "image/pwg-raster")
    assert isinstance(fast, Analysis) and fast.color_pages == (3,)


def test_a_known_line_followed_by_a_colour_line_with_the_same_start() -> None:
    line: list[Run] = [("rep", (30, _grey("srgb8", 200 - k))) for k in range(10)]
    coloured: list[Run] = [*line[:9], ("rep", (29, _grey("srgb8", 0))), ("rep", (1, (0, 0, 255)))]
    near: list[Run] = [*line[:9], ("rep", (29, _grey("srgb8", 0))), ("rep", (1, (100, 100, 108)))]
    pages = [[(3, line), (1, near), (2, line)], [(1, near), (1, line), (1, coloured)]]
    for urf in (False, True):
        data = _file("srgb8", 300, pages, urf)
        mime = "image/urf" if urf else "image/pwg-raster"
        fast = _fast(data, mime)
        assert fast == _reference(data, mime)
        assert isinstance(fast, Analysis) and fast.color_pages == (2,)


def test_lines_after_a_page_is_found_colour_are_not_taken_as_known_grey() -> None:
    # page 1 is colour from its first line, so its later lines go untested: the colour
    # line it holds further down must still make page 2 (holding only it) colour
    line: list[Run] = [("rep", (30, _grey("srgb8", 200 - k))) for k in range(10)]
    coloured: list[Run] = [*line[:9], ("rep", (29, _grey("srgb8", 0))), ("rep", (1, (0, 0, 255)))]
    red: list[Run] = [("rep", (128, (255, 0, 0))), ("rep", (128, (255, 0, 0))),
                      ("rep", (44, (255, 0, 0)))]  # fmt: skip
    pages = [[(1, red), (2, line), (1, coloured)], [(1, line), (1, coloured)], [(2, line)]]
    for fmt_urf in (False, True):
        data = _file("srgb8", 300, pages, fmt_urf)
        mime = "image/urf" if fmt_urf else "image/pwg-raster"
        fast = _fast(data, mime)
        assert fast == _reference(data, mime)
        assert isinstance(fast, Analysis) and fast.color_pages == (1, 2)


def test_a_long_tail_of_tiny_lines_after_a_wide_page_header() -> None:
    # 14,000 two-byte lines in the last bytes of the file, each shorter than the longest
    # a line may be: the end of the file is read once, not once per line
    width = 100_000
    header = bytearray(raster.PWG_HEADER)
    struct.pack_into(">II", header, 276, 300, 300)
    struct.pack_into(">IIIIIIII", header, 372, width, 14_000, 0, 8, 24, width * 3, 0, 19)
    data = raster.PWG_SYNC + bytes(header) + b"\x00\x80" * 14_000
    fast = _fast(data, "image/pwg-raster")
    assert isinstance(fast, Analysis) and fast.pages == 1 and fast.color_pages == ()
