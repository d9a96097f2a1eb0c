"""PDF: pages and sizes from the page tree (pikepdf), colour by rendering (pypdfium2).

Theory of operation
-------------------
qpdf (under pikepdf) reads the file: cross-reference tables and streams, object
streams, incremental updates, linearized files and files encrypted with an empty user
password. We walk the page tree ourselves rather than ask qpdf for its page list, so
that a hostile tree is refused before anything large is built: a node seen twice (a
loop or a shared subtree), more than :data:`MAX_PAGES` leaves, nesting deeper than
:data:`MAX_DEPTH`, or a root /Count that differs from the leaves found is rejected with
the reason. The walk carries the inheritable /MediaBox, /CropBox and /Rotate down to
each page (ISO 32000-1 §7.7.3.4); the displayed size is the crop box clipped to the
media box, times /UserUnit, with width and height swapped for /Rotate 90 or 270.

Colour: the truth is pdfium's rendering of the page at :data:`RENDER_DPI`: a page is
colour when some pixel's channels are more than :data:`COLOR_TOLERANCE` apart
(anti-aliasing of coloured edges stays well above it; pdfium renders DeviceGray,
equal-channel RGB and black-only CMYK as exact greys). Rendering is the slow part, so
the content of each page is read first (:mod:`.pdf_content`, with the same pikepdf
document as the walk): a page that only ever paints neutral colours is mono, a page with
a provably visible colour rectangle or stroke is colour, a page whose colours all fall in known
boxes has only that crop rendered (same pixel grid, so the same pixels), and any other
page is rendered whole. :func:`analyze_pdf_by_rendering` renders every page, as before.
pdfium must find the same number of pages as the walk.

A file that does not end with ``%%EOF`` within its last 1024 bytes (ISO 32000-1
§7.5.5) is refused as truncated, because qpdf's recovery would otherwise quietly count
only the pages that survived.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pikepdf
import pypdfium2  # type: ignore[import-untyped]
from PIL import Image, ImageChops

from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError
from printhost.analysis.pdf_content import COLOR, FULL, MONO, Region, Verdict, classify_page

MAX_DEPTH = 64
RENDER_DPI = 50
MAX_RENDER_SIDE = 3000  # pixels; huge pages render at a lower resolution
COLOR_TOLERANCE = 8
TAIL = 1024


@dataclass(frozen=True, slots=True)
class _Inherited:
    mediabox: tuple[float, float, float, float] | None = None
    cropbox: tuple[float, float, float, float] | None = None
    rotate: int = 0
    resources: object = None


@dataclass(frozen=True, slots=True)
class _Page:
    size: tuple[float, float]
    verdict: Verdict
    rotate: int


def analyze_pdf(path: Path) -> Analysis:
    _check_tail(path)
    pages = _read_pages(path, classify=True)
    colors = tuple(_color_pages(path, pages))
    sizes = tuple(page.size for page in pages)
    return Analysis(
        format="application/pdf", pages=len(sizes), color_pages=colors, page_sizes=sizes
    )


def analyze_pdf_by_rendering(path: Path) -> Analysis:
    """:func:`analyze_pdf` rendering every page whole (no content analysis)."""
    _check_tail(path)
    sizes = read_page_sizes(path)
    colors = tuple(find_color_pages(path, len(sizes)))
    return Analysis(
        format="application/pdf", pages=len(sizes), color_pages=colors, page_sizes=sizes
    )


def _check_tail(path: Path) -> None:
    with path.open("rb") as stream:
        stream.seek(0, os.SEEK_END)
        stream.seek(max(0, stream.tell() - TAIL))
        if b"%%EOF" not in stream.read():
            raise AnalysisError("truncated PDF: no %%EOF at the end of the file")


def read_page_sizes(path: Path) -> tuple[tuple[float, float], ...]:
    return tuple(page.size for page in _read_pages(path, classify=False))


def _read_pages(path: Path, classify: bool) -> tuple[_Page, ...]:
    try:
        with pikepdf.open(path, password="") as pdf:
            root = pdf.Root.get("/Pages")
            if not isinstance(root, pikepdf.Dictionary):
                raise AnalysisError("PDF has no page tree")
            declared = _count(root)
            if declared > MAX_PAGES:
                raise AnalysisError(f"PDF declares {declared} pages, over the limit {MAX_PAGES}")
            leaves = tuple(_walk(root, _Inherited(), set(), 0))
            if declared == len(leaves) and leaves:
                sizes = tuple(_describe(node, inherited, classify) for node, inherited in leaves)
            else:
                sizes = ()
    except pikepdf.PasswordError:
        raise AnalysisError("PDF is encrypted with a password") from None
    except (pikepdf.PdfError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise AnalysisError(f"damaged PDF: {exc}") from None
    if declared != len(leaves):
        raise AnalysisError(f"PDF page tree declares {declared} pages but holds {len(leaves)}")
    if not sizes:
        raise AnalysisError("PDF has no pages")
    return sizes


def _count(node: pikepdf.Dictionary) -> int:
    count = node.get("/Count")
    if not isinstance(count, int) or count < 0:
        raise AnalysisError("PDF page tree has no valid /Count")
    return count


def _walk(
    node: pikepdf.Dictionary, inherited: _Inherited, seen: set[tuple[int, int]], depth: int
) -> Iterator[tuple[pikepdf.Dictionary, _Inherited]]:
    if depth > MAX_DEPTH:
        raise AnalysisError(f"PDF page tree is nested deeper than {MAX_DEPTH}")
    if node.objgen != (0, 0):
        if node.objgen in seen:
            raise AnalysisError("PDF page tree contains a loop or a shared node")
        seen.add(node.objgen)
    if len(seen) > 2 * MAX_PAGES + MAX_DEPTH:
        raise AnalysisError(f"PDF page tree has more than {MAX_PAGES} pages")
    inherited = _inherit(node, inherited)
    kids = node.get("/Kids")
    if kids is None:
        yield node, inherited
        return
    if not isinstance(kids, pikepdf.Array):
        raise AnalysisError("PDF page tree node has invalid /Kids")
    for kid in kids:
        if not isinstance(kid, pikepdf.Dictionary):
            raise AnalysisError("PDF page tree holds a non-dictionary kid")
        yield from _walk(kid, inherited, seen, depth + 1)


def _inherit(node: pikepdf.Dictionary, inherited: _Inherited) -> _Inherited:
    mediabox = _box(node.get("/MediaBox")) or inherited.mediabox
    cropbox = _box(node.get("/CropBox")) or inherited.cropbox
    rotate = node.get("/Rotate")
    resources = node.get("/Resources")
    return _Inherited(
        mediabox=mediabox,
        cropbox=cropbox,
        rotate=int(rotate) if isinstance(rotate, int) else inherited.rotate,
        resources=resources if resources is not None else inherited.resources,
    )


def _box(value: object) -> tuple[float, float, float, float] | None:
    if not isinstance(value, pikepdf.Array) or len(value) != 4:
        return None
    x0, y0, x1, y1 = (float(v) for v in value)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _describe(page: pikepdf.Dictionary, inherited: _Inherited, classify: bool) -> _Page:
    size = _displayed_size(page, inherited)
    verdict: Verdict = FULL
    box = _rendered_box(inherited)
    width, height = box[2] - box[0], box[3] - box[1]
    if classify and width > 0 and height > 0:
        verdict = classify_page(page, inherited.resources, box, _scale(width, height),
                                COLOR_TOLERANCE)  # fmt: skip
    return _Page(size, verdict, inherited.rotate % 360)


def _rendered_box(inherited: _Inherited) -> tuple[float, float, float, float]:
    """The crop box within the media box: the area pdfium renders, in default user space."""
    media = inherited.mediabox or (0.0, 0.0, 612.0, 792.0)  # §7.7.3.3: required; letter
    crop = inherited.cropbox or media
    left, bottom = max(media[0], crop[0]), max(media[1], crop[1])
    right, top = min(media[2], crop[2]), min(media[3], crop[3])
    return (left, bottom, right, top)


def _scale(width: float, height: float) -> float:
    """Pixels per point of the rendering of a page of this size."""
    return min(RENDER_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1.0))


def _displayed_size(page: pikepdf.Dictionary, inherited: _Inherited) -> tuple[float, float]:
    left, bottom, right, top = _rendered_box(inherited)
    unit = page.get("/UserUnit")
    scale = float(unit) if isinstance(unit, (int, Decimal)) and unit > 0 else 1.0
    width, height = max(0.0, right - left) * scale, max(0.0, top - bottom) * scale
    if inherited.rotate % 180 == 90:
        width, height = height, width
    return (round(width, 2), round(height, 2))


def _open_rendering(path: Path, pages: int) -> pypdfium2.PdfDocument:
    try:
        document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as exc:
        raise AnalysisError(f"PDF cannot be rendered: {exc}") from None
    if len(document) != pages:
        count = len(document)
        document.close()
        raise AnalysisError(f"PDF readers disagree on the page count ({pages} vs {count})")
    return document


def _color_pages(path: Path, pages: tuple[_Page, ...]) -> Iterator[int]:
    """Colour pages from the verdicts, rendering only what they leave open."""
    document = _open_rendering(path, len(pages))
    try:
        for index, page in enumerate(pages):
            verdict = page.verdict
            if verdict is MONO:
                continue
            if verdict is COLOR:
                yield index + 1
            elif isinstance(verdict, Region) and page.rotate == 0:
                if _is_color_region(document[index], verdict):
                    yield index + 1
            elif _is_color_page(document[index]):
                yield index + 1
    finally:
        document.close()


def find_color_pages(path: Path, pages: int) -> Iterator[int]:
    """Colour pages by rendering every page whole."""
    document = _open_rendering(path, pages)
    try:
        for index in range(pages):
            if _is_color_page(document[index]):
                yield index + 1
    finally:
        document.close()


def _is_color_page(page: pypdfium2.PdfPage) -> bool:
    width, height = page.get_size()
    return _render_is_color(page, _scale(width, height), (0.0, 0.0, 0.0, 0.0))


def _is_color_region(page: pypdfium2.PdfPage, region: Region) -> bool:
    """Render only ``region`` (default user space) of an unrotated page: the crop is cut
    in whole pixels from the page's own pixel grid, so its pixels are the full
    rendering's."""
    width, height = page.get_size()
    scale = _scale(width, height)
    left, bottom, right, top = page.get_bbox()
    # pypdfium2 rounds each crop up to whole pixels: cut a pixel less to keep the region
    crop = (
        max(0.0, region.x0 - left - 1 / scale),
        max(0.0, region.y0 - bottom - 1 / scale),
        max(0.0, right - region.x1 - 1 / scale),
        max(0.0, top - region.y1 - 1 / scale),
    )
    return _render_is_color(page, scale, crop)


def _render_is_color(
    page: pypdfium2.PdfPage, scale: float, crop: tuple[float, float, float, float]
) -> bool:
    try:
        bitmap = page.render(
            scale=scale,
            crop=crop,
            fill_color=(255, 255, 255, 255),
            draw_annots=True,
            rev_byteorder=True,
        )
        image = bitmap.to_pil()
    except pypdfium2.PdfiumError as exc:
        raise AnalysisError(f"PDF page cannot be rendered: {exc}") from None
    except ValueError:  # the crop rounds to nothing: no pixel there
        return False
    finally:
        page.close()
    return has_color_pixel(image, COLOR_TOLERANCE)


def has_color_pixel(image: Image.Image, tolerance: int) -> bool:
    """True when some pixel's channels are more than ``tolerance`` apart: the test of
    :func:`printhost.analysis.image.is_color_image` for an opaque image, in five
    whole-image operations (the largest minus the smallest channel, everywhere)."""
    if image.mode != "RGB":
        image = image.convert("RGBA")
        flat = Image.new("RGBA", image.size, (255, 255, 255, 255))
        flat.alpha_composite(image)
        image = flat.convert("RGB")
    red, green, blue = image.split()
    high = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    low = ImageChops.darker(ImageChops.darker(red, green), blue)
    spread = ImageChops.subtract(high, low)
    extrema = spread.getextrema()
    return int(extrema[1]) > tolerance  # type: ignore[arg-type]
