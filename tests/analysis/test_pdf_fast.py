"""The PDF fast path (content analysis, pdf_content.py): what it decides without
rendering, and that its answers are those of rendering every page."""

from __future__ import annotations

from pathlib import Path

import pytest

from printhost.analysis import pdf
from printhost.analysis.pdf_content import COLOR, FULL, MONO, Region

from .corpus import (
    BLANK,
    CMYK_BLACK,
    CMYK_CYAN,
    COLOR_TEXT,
    GRAY_FILL,
    GREY_TEXT,
    PS_BLUE_DOT,
    PS_GREY,
    PS_RED,
    PS_RGB_GREY,
    RED,
    RED_OFF_PAGE,
    RED_UNDER_WHITE,
    RGB_GREY,
    THIN_BLUE_LINE,
    PdfPage,
    RawPdf,
    ghostscript,
    make_nested_pdf,
    make_pdf,
    postscript_pages,
    stream,
)

ALL_CONTENTS = [
    GRAY_FILL, RGB_GREY, CMYK_BLACK, RED, THIN_BLUE_LINE, CMYK_CYAN, RED_UNDER_WHITE,
    RED_OFF_PAGE, GREY_TEXT, COLOR_TEXT, BLANK,
]  # fmt: skip


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


def _one_page(
    content: bytes, resources: bytes = b"", extra_objects: list[bytes] | None = None
) -> bytes:
    """One letter page; ``extra_objects`` become objects 4, 5, ... (resources name them)."""
    pdf_ = RawPdf()
    catalog = pdf_.add()
    root = pdf_.add()
    leaf = pdf_.add()
    for body in extra_objects or []:
        pdf_.add(body)
    contents = pdf_.add(stream(content))
    pdf_.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    pdf_.set(root, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % leaf)
    pdf_.set(
        leaf,
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
        b"/Resources << %s >> %s>>"
        % (root, contents, resources, b"/Annots [4 0 R] " if b"/Annot" in resources else b""),
    )
    return pdf_.tobytes(catalog)


# --- decided without rendering -----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [GRAY_FILL, RGB_GREY, CMYK_BLACK, GREY_TEXT, BLANK, RED_OFF_PAGE,
     b"0.2 0.2 0.2 RG 3 w 10 10 m 500 500 l S", b"0 0 0 1 K 0 0 0 0.3 k 72 72 9 9 re B"],
)  # fmt: skip
def test_neutral_pages_are_mono_without_rendering(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert _verdicts(path) == [MONO]
    assert _same_as_rendering(path) == ()


def test_a_visible_colour_rectangle_is_colour_without_rendering(tmp_path: Path) -> None:
    red_then_blue_text = RED + b" BT /F1 10 Tf 0 0 1 rg 72 400 Td (blue) Tj ET"
    path = _write(tmp_path, make_pdf([PdfPage(RED), PdfPage(red_then_blue_text)]))
    assert _verdicts(path) == [COLOR, COLOR]
    assert _same_as_rendering(path) == (1, 2)


def test_colour_under_white_is_rendered_and_mono(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(RED_UNDER_WHITE)]))
    assert isinstance(_verdicts(path)[0], Region)  # grey on top: cannot be proved colour
    assert _same_as_rendering(path) == ()


def test_colour_under_a_grey_text_is_not_proved(tmp_path: Path) -> None:
    """A colour rectangle followed by a neutral paint might be covered: rendered."""
    content = RED + b" BT /F1 10 Tf 0 g 72 400 Td (black) Tj ET"
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert isinstance(_verdicts(path)[0], Region)  # only the rectangle's crop is rendered
    assert _same_as_rendering(path) == (1,)


def test_near_grey_rgb_is_rendered_and_mono(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(b"0.5 0.5 0.51 rg 72 72 200 200 re f")]))
    assert _verdicts(path) != [MONO]
    assert _same_as_rendering(path) == ()


def test_clipped_away_colour_is_rendered_and_mono(tmp_path: Path) -> None:
    content = b"q 0 0 10 10 re W n 1 0 0 rg 300 300 100 100 re f Q"
    path = _write(tmp_path, make_pdf([PdfPage(content)]))
    assert _verdicts(path) != [COLOR]
    assert _same_as_rendering(path) == ()


def test_thin_line_is_proved_colour_and_text_colour_is_rendered(tmp_path: Path) -> None:
    path = _write(tmp_path, make_pdf([PdfPage(THIN_BLUE_LINE), PdfPage(COLOR_TEXT)]))
    first, second = _verdicts(path)
    assert first is COLOR  # a straight, visible, unclipped stroke (test_speedups.py)
    assert second is FULL
    assert _same_as_rendering(path) == (1, 2)


# --- colour in forms, images, shadings, annotations ----------------------------------------


def test_colour_in_a_form_xobject(tmp_path: Path) -> None:
    form = stream(b"0 1 0 rg 0 0 50 50 re f", b"/Type /XObject /Subtype /Form /BBox [0 0 50 50] ")
    grey = stream(b"0.5 g 0 0 50 50 re f", b"/Type /XObject /Subtype /Form /BBox [0 0 50 50] ")
    data = _one_page(b"q 1 0 0 1 100 100 cm /X Do Q", b"/XObject << /X 4 0 R >>", [form])
    path = _write(tmp_path, data)
    assert _verdicts(path) != [MONO]
    assert _same_as_rendering(path) == (1,)
    path = _write(tmp_path, _one_page(b"/X Do", b"/XObject << /X 4 0 R >>", [grey]), "g.pdf")
    assert _verdicts(path) == [MONO]
    assert _same_as_rendering(path) == ()


def _image(space: bytes, pixel: bytes) -> bytes:
    return stream(
        pixel * 4,
        b"/Type /XObject /Subtype /Image /Width 2 /Height 2 /BitsPerComponent 8 "
        b"/ColorSpace %s " % space,
    )


def test_colour_in_an_image(tmp_path: Path) -> None:
    content = b"q 200 0 0 200 100 100 cm /I Do Q"
    colour = _one_page(
        content, b"/XObject << /I 4 0 R >>", [_image(b"/DeviceRGB", b"\xff\x00\x00")]
    )
    path = _write(tmp_path, colour)
    assert isinstance(_verdicts(path)[0], Region)
    assert _same_as_rendering(path) == (1,)
    grey = _one_page(content, b"/XObject << /I 4 0 R >>", [_image(b"/DeviceGray", b"\x80")])
    path = _write(tmp_path, grey, "grey.pdf")
    assert _verdicts(path) == [MONO]
    assert _same_as_rendering(path) == ()
    neutral_rgb = _one_page(
        content, b"/XObject << /I 4 0 R >>", [_image(b"/DeviceRGB", b"\x80" * 3)]
    )
    path = _write(tmp_path, neutral_rgb, "neutral.pdf")
    assert _same_as_rendering(path) == ()


def test_colour_in_a_shading(tmp_path: Path) -> None:
    shading = (
        b"<< /ShadingType 2 /ColorSpace /DeviceRGB /Coords [0 0 612 0] "
        b"/Function << /FunctionType 2 /Domain [0 1] /C0 [1 0 0] /C1 [0 0 1] /N 1 >> >>"
    )
    path = _write(tmp_path, _one_page(b"/S sh", b"/Shading << /S 4 0 R >>", [shading]))
    assert _verdicts(path) == [FULL]
    assert _same_as_rendering(path) == (1,)
    grey = shading.replace(b"/DeviceRGB", b"/DeviceGray").replace(b"[1 0 0]", b"[0]")
    grey = grey.replace(b"[0 0 1]", b"[1]")
    path = _write(tmp_path, _one_page(b"/S sh", b"/Shading << /S 4 0 R >>", [grey]), "g.pdf")
    assert _verdicts(path) == [MONO]
    assert _same_as_rendering(path) == ()


def _annotation(appearance: bytes) -> list[bytes]:
    annot = b"<< /Type /Annot /Subtype /Square /Rect [100 100 200 200] /AP << /N 5 0 R >> >>"
    return [annot, stream(appearance, b"/Type /XObject /Subtype /Form /BBox [0 0 100 100] ")]


def test_colour_in_an_annotation_appearance(tmp_path: Path) -> None:
    data = _one_page(GRAY_FILL, b"/Annot 1", _annotation(b"0 0 1 rg 0 0 100 100 re f"))
    path = _write(tmp_path, data)
    assert _verdicts(path) == [FULL]
    assert _same_as_rendering(path) == (1,)
    data = _one_page(GRAY_FILL, b"/Annot 1", _annotation(b"0.3 g 0 0 100 100 re f"))
    path = _write(tmp_path, data, "grey.pdf")
    assert _verdicts(path) == [MONO]
    assert _same_as_rendering(path) == ()


def test_transfer_function_is_never_decided_from_content(tmp_path: Path) -> None:
    gstate = b"<< /Type /ExtGState /TR /Identity >>"
    data = _one_page(b"/G gs " + GRAY_FILL, b"/ExtGState << /G 4 0 R >>", [gstate])
    path = _write(tmp_path, data)
    assert _verdicts(path) == [FULL]
    assert _same_as_rendering(path) == ()


def test_form_that_draws_itself_is_rendered(tmp_path: Path) -> None:
    form = stream(
        b"0.5 g 0 0 10 10 re f /X Do",
        b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
        b"/Resources << /XObject << /X 4 0 R >> >> ",
    )
    path = _write(tmp_path, _one_page(b"/X Do", b"/XObject << /X 4 0 R >>", [form]))
    assert _verdicts(path) == [FULL]


# --- the whole corpus: identical to rendering every page ------------------------------------


@pytest.mark.parametrize("rotate", [None, 90, 180])
def test_corpus_pages_match_rendering(tmp_path: Path, rotate: int | None) -> None:
    pages = [PdfPage(content, rotate=rotate) for content in ALL_CONTENTS]
    pages += [PdfPage(content, mediabox=(50, 100, 470, 695)) for content in ALL_CONTENTS]
    pages += [PdfPage(content, cropbox=(60, 60, 180, 180)) for content in ALL_CONTENTS]
    path = _write(tmp_path, make_pdf(pages))
    _same_as_rendering(path)


def test_nested_and_ghostscript_pdfs_match_rendering(tmp_path: Path) -> None:
    data, _, colours = make_nested_pdf()
    assert _same_as_rendering(_write(tmp_path, data)) == tuple(colours)
    marks = [PS_GREY, PS_RGB_GREY, PS_RED, PS_BLUE_DOT]
    path = tmp_path / "gs.pdf"
    ghostscript("pdfwrite", postscript_pages([(mark, (595, 842)) for mark in marks]), path)
    assert _same_as_rendering(path) == (3, 4)


def test_has_color_pixel_agrees_with_the_image_test() -> None:
    from PIL import Image

    from printhost.analysis.image import is_color_image

    for colour in [(10, 10, 10), (10, 18, 10), (10, 19, 10), (200, 100, 0), (5, 5, 14)]:
        image = Image.new("RGB", (7, 5), (255, 255, 255))
        image.putpixel((3, 2), colour)
        assert pdf.has_color_pixel(image, 8) == is_color_image(image, 8)
