"""Exact results on a generated corpus with known truth, one format at a time.

Documents are analysed in this process (``analyze_file``) to keep the suite fast; the
bounded worker path is covered in test_hostile.py and test_analyze_cli.py.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from printhost.analysis import AnalysisError, analyze_bounded, analyze_file
from printhost.analysis import text as text_module
from printhost.analysis.text import count_text_pages

from .corpus import (
    BLANK,
    CMYK_BLACK,
    CMYK_CYAN,
    COLOR_TEXT,
    GRAY_FILL,
    GREY_TEXT,
    PS_BLANK,
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
    ghostscript,
    make_nested_pdf,
    make_pdf,
    postscript_pages,
)

LETTER = (612.0, 792.0)

# --- plain text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "pages"),
    [
        (b"hello", 1),
        (b"hello\n", 1),
        (b"a\n" * 66, 1),
        (b"a\n" * 67, 2),
        (b"a\n" * 66 + b"b", 2),
        (b"a\r\n" * 132, 2),
        (b"a\fb", 2),
        (b"a\f", 1),
        (b"a\n\f", 1),
        (b"a\f\fb", 3),
        (b"\fa", 2),
        (b"a\n" * 70 + b"\f" + b"b\n" * 10 + b"\f", 3),
        ("caf\u00e9 \u20ac\t\x1b[1mbold\n".encode(), 1),
    ],
)
def test_text_pages(tmp_path: Path, content: bytes, pages: int) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(content)
    analysis = analyze_file(path)
    assert (analysis.format, analysis.pages, analysis.color_pages) == ("text/plain", pages, ())
    assert analysis.page_sizes == (LETTER,) * pages


def _reference_pages(data: bytes) -> int:
    segments = data.split(b"\f")
    if segments[-1] == b"":
        segments.pop()
    return sum(max(1, -(-len(s.splitlines()) // 66)) for s in segments)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([b"x", b"\n", b"\f", b"yy\n"]), max_size=400))
def test_text_pages_do_not_depend_on_chunking(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    expected = _reference_pages(data)
    for chunk in (1, 3, 1 << 20):
        original, text_module.CHUNK = text_module.CHUNK, chunk
        try:
            assert count_text_pages(io.BytesIO(data)) == expected
        finally:
            text_module.CHUNK = original


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"a" * 5000 + b"\x00" + b"b", "control byte 0x00 at byte 5000"),
        (b"a" * 5000 + b"\xff\xfe", "invalid UTF-8 at byte 5000"),
        (b"a" * 5000 + b"\xc3", "invalid UTF-8 at byte 5000"),
    ],
)
def test_binary_after_a_text_head_is_rejected(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(content)
    with pytest.raises(AnalysisError, match=reason):
        analyze_file(path)


# --- PWG Raster and Apple URF (Ghostscript) --------------------------------------------

RASTER_PAGES = [
    (PS_GREY, (612, 792)),
    (PS_RED, (612, 792)),
    (PS_RGB_GREY, (792, 612)),
    (PS_BLUE_DOT, (420, 596)),
    (PS_BLANK, (612, 792)),
]
RASTER_SIZES = tuple((float(w), float(h)) for _, (w, h) in RASTER_PAGES)


@pytest.mark.parametrize(
    ("device", "options", "colors"),
    [
        ("pwgraster", ["-dcupsColorSpace=19", "-dcupsBitsPerColor=8"], (2, 4)),  # sRGB
        ("pwgraster", ["-dcupsColorSpace=1", "-dcupsBitsPerColor=8"], (2, 4)),  # RGB
        ("pwgraster", ["-dcupsColorSpace=20", "-dcupsBitsPerColor=8"], (2, 4)),  # AdobeRGB
        ("pwgraster", ["-dcupsColorSpace=19", "-dcupsBitsPerColor=16"], (2, 4)),
        # CMYK: Ghostscript makes the RGB grey of page 3 from cyan, magenta and yellow ink
        # (a composite grey, colour toner on paper); setgray stays black-only
        ("pwgraster", ["-dcupsColorSpace=6", "-dcupsBitsPerColor=8"], (2, 3, 4)),
        ("pwgraster", ["-dcupsColorSpace=18", "-dcupsBitsPerColor=8"], ()),  # sGray
        ("pwgraster", [], ()),  # Ghostscript's default: 1-bit black
        ("urf", ["-dcupsColorSpace=19", "-dcupsBitsPerColor=8"], (2, 4)),
        ("urf", ["-dcupsColorSpace=6", "-dcupsBitsPerColor=8"], (2, 3, 4)),
        ("urf", ["-dcupsColorSpace=18", "-dcupsBitsPerColor=8"], ()),
        ("urf", [], ()),
    ],
)
def test_raster_pages_sizes_and_colour(
    tmp_path: Path, device: str, options: list[str], colors: tuple[int, ...]
) -> None:
    path = tmp_path / f"doc.{device}"
    ghostscript(device, postscript_pages(RASTER_PAGES), path, *options)
    analysis = analyze_file(path)
    mime = "image/pwg-raster" if device == "pwgraster" else "image/urf"
    assert analysis.format == mime
    assert analysis.pages == len(RASTER_PAGES)
    assert analysis.color_pages == colors
    assert analysis.page_sizes == RASTER_SIZES


# --- JPEG and PNG (Pillow) -------------------------------------------------------------


def _rgb(
    size: tuple[int, int],
    fill: tuple[int, int, int],
    dot: tuple[int, ...] | None = None,
    mode: str = "RGB",
) -> Image.Image:
    image = Image.new(mode, size, fill if mode == "RGB" else (*fill, 255))
    if dot is not None:
        for x in range(10, 18):
            for y in range(10, 18):
                image.putpixel((x, y), dot)
    return image


def _save(image: Image.Image, path: Path, **options: object) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.parametrize(
    ("name", "make", "options", "color", "size"),
    [
        ("grey.png", lambda: _rgb((200, 100), (128, 128, 128)), {}, False, (200.0, 100.0)),
        (
            "red.png",
            lambda: _rgb((200, 100), (255, 255, 255), (255, 0, 0)),
            {"dpi": (144, 144)},
            True,
            (100.0, 50.0),
        ),
        (
            "near-grey.png",
            lambda: _rgb((50, 50), (128, 128, 128), (128, 128, 129)),
            {},
            True,
            (50.0, 50.0),
        ),
        (
            "gray.png",
            lambda: Image.new("L", (300, 600), 90),
            {"dpi": (300, 300)},
            False,
            (72.0, 144.0),
        ),
        (
            "hidden.png",
            lambda: _rgb((40, 40), (0, 0, 0), (255, 0, 0, 0), "RGBA"),
            {},
            False,
            (40.0, 40.0),
        ),
        (
            "tinted.png",
            lambda: _rgb((40, 40), (0, 0, 0), (255, 0, 0, 128), "RGBA"),
            {},
            True,
            (40.0, 40.0),
        ),
        (
            "palette.png",
            lambda: _rgb((40, 40), (9, 9, 9), (0, 0, 200)).convert("P"),
            {},
            True,
            (40.0, 40.0),
        ),
        (
            "grey.jpg",
            lambda: _rgb((160, 80), (70, 70, 70), (200, 200, 200)),
            {"quality": 60},
            False,
            (160.0, 80.0),
        ),
        (
            "red.jpg",
            lambda: _rgb((160, 80), (255, 255, 255), (220, 0, 0)),
            {"dpi": (200, 200)},
            True,
            (57.6, 28.8),
        ),
        ("gray.jpg", lambda: Image.new("L", (72, 144), 30), {}, False, (72.0, 144.0)),
        (
            "black.cmyk.jpg",
            lambda: Image.new("CMYK", (40, 40), (0, 0, 0, 200)),
            {},
            False,
            (40.0, 40.0),
        ),
        (
            "cyan.cmyk.jpg",
            lambda: Image.new("CMYK", (40, 40), (200, 0, 0, 0)),
            {},
            True,
            (40.0, 40.0),
        ),
    ],
)
def test_images(
    tmp_path: Path,
    name: str,
    make: object,
    options: dict[str, object],
    color: bool,
    size: tuple[float, float],
) -> None:
    assert callable(make)
    path = _save(make(), tmp_path / name, **options)
    analysis = analyze_file(path)
    assert analysis.format == ("image/png" if name.endswith(".png") else "image/jpeg")
    assert (analysis.pages, analysis.color_pages, analysis.page_sizes) == (
        1,
        (1,) if color else (),
        (size,),
    )


def test_jpeg_exif_orientation_swaps_the_displayed_size(tmp_path: Path) -> None:
    image = Image.new("RGB", (100, 50), (10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = _save(image, tmp_path / "rotated.jpg", exif=exif)
    assert analyze_file(path).page_sizes == ((50.0, 100.0),)


# --- PDF -------------------------------------------------------------------------------

PDF_PAGES = [
    PdfPage(GRAY_FILL),
    PdfPage(RED),
    PdfPage(RGB_GREY, mediabox=(0, 0, 842, 595)),  # landscape by media box
    PdfPage(CMYK_BLACK, rotate=90),  # landscape by /Rotate
    PdfPage(THIN_BLUE_LINE, mediabox=(0, 0, 595, 842), rotate=180),
    PdfPage(RED_UNDER_WHITE),
    PdfPage(RED_OFF_PAGE),
    PdfPage(GREY_TEXT, rotate=-90),
    PdfPage(COLOR_TEXT, mediabox=(50, 100, 470, 695)),
    PdfPage(CMYK_CYAN, rotate=270),
    PdfPage(BLANK, cropbox=(10, 10, 110, 210)),
]
PDF_SIZES = (
    LETTER,
    LETTER,
    (842.0, 595.0),
    (792.0, 612.0),
    (595.0, 842.0),
    LETTER,
    LETTER,
    (792.0, 612.0),
    (420.0, 595.0),
    (792.0, 612.0),
    (100.0, 200.0),
)
PDF_COLORS = (2, 5, 9, 10)


@pytest.fixture(scope="module")
def mixed_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "mixed.pdf"
    path.write_bytes(make_pdf(PDF_PAGES))
    return path


def _resave(source: Path, target: Path, **options: object) -> Path:
    with pikepdf.open(source) as pdf:
        pdf.save(target, **options)  # type: ignore[arg-type]
    return target


@pytest.mark.parametrize(
    "variant",
    ["plain", "object-streams", "linearized", "encrypted-empty-password", "aes256-empty"],
)
def test_pdf_pages_sizes_and_colour(mixed_pdf: Path, tmp_path: Path, variant: str) -> None:
    path = {
        "plain": lambda: mixed_pdf,
        "object-streams": lambda: _resave(
            mixed_pdf, tmp_path / "os.pdf", object_stream_mode=pikepdf.ObjectStreamMode.generate
        ),
        "linearized": lambda: _resave(mixed_pdf, tmp_path / "lin.pdf", linearize=True),
        "encrypted-empty-password": lambda: _resave(
            mixed_pdf, tmp_path / "enc.pdf", encryption=pikepdf.Encryption(owner="o", user="", R=4)
        ),
        "aes256-empty": lambda: _resave(
            mixed_pdf, tmp_path / "aes.pdf", encryption=pikepdf.Encryption(owner="o", user="")
        ),
    }[variant]()
    analysis = analyze_file(path)
    assert analysis.format == "application/pdf"
    assert analysis.pages == len(PDF_PAGES)
    assert analysis.page_sizes == PDF_SIZES
    assert analysis.color_pages == PDF_COLORS


def test_pdf_incremental_update_is_read(tmp_path: Path) -> None:
    """An appended update that turns page 1's content red (and adds nothing else)."""
    original = make_pdf([PdfPage(GRAY_FILL), PdfPage(GREY_TEXT)])
    with pikepdf.open(io.BytesIO(original)) as pdf:
        content_number = pdf.pages[0].obj.Contents.objgen[0]
        size = len(pdf.objects) + 1
    start = original.rindex(b"startxref\n") + len(b"startxref\n")
    previous = int(original[start:].split(b"\n", 1)[0])
    update_offset = len(original)
    data = zlib.compress(RED)
    body = (
        b"%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % (content_number, len(data))
        + data
        + b"\nendstream\nendobj\n"
    )
    xref = update_offset + len(body)
    update = body + (
        b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R /Prev %d >>\n"
        b"startxref\n%d\n%%%%EOF\n" % (content_number, update_offset, size, previous, xref)
    )
    path = tmp_path / "updated.pdf"
    path.write_bytes(original + update)
    analysis = analyze_file(path)
    assert (analysis.pages, analysis.color_pages) == (2, (1,))


def test_pdf_inherited_media_box_and_rotate(tmp_path: Path) -> None:
    data, sizes, colors = make_nested_pdf()
    path = tmp_path / "nested.pdf"
    path.write_bytes(data)
    analysis = analyze_file(path)
    assert analysis.page_sizes == tuple(sizes)
    assert analysis.color_pages == tuple(colors)


def test_pdf_with_a_user_password_is_rejected(mixed_pdf: Path, tmp_path: Path) -> None:
    path = _resave(
        mixed_pdf, tmp_path / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="secret")
    )
    with pytest.raises(AnalysisError, match="encrypted with a password"):
        analyze_file(path)


def test_pdf_made_by_ghostscript(tmp_path: Path) -> None:
    path = tmp_path / "gs.pdf"
    ghostscript("pdfwrite", postscript_pages(RASTER_PAGES), path)
    analysis = analyze_file(path)
    assert (analysis.pages, analysis.color_pages) == (5, (2, 4))
    assert analysis.page_sizes == RASTER_SIZES


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"\x1bE\x1b&l1X", "PCL job prints no pages"),
        (b") HP-PCL XL;2;0\r\n", "PCL XL job prints no pages"),
        (b"", "empty document"),
        (b"\x00\x01\x02garbage", "unrecognised document format"),
    ],
)
def test_documents_without_pages_and_unknown_bytes_are_refused(
    tmp_path: Path, head: bytes, reason: str
) -> None:
    path = tmp_path / "doc"
    path.write_bytes(head)
    with pytest.raises(AnalysisError, match=reason):
        analyze_file(path)


def test_the_bounded_worker_gives_the_same_answers(tmp_path: Path) -> None:
    paths = [tmp_path / name for name in ("doc.txt", "doc.pwg", "doc.urf", "doc.png", "doc.jpg")]
    paths[0].write_bytes(b"a\n" * 100 + b"\fb")
    ghostscript(
        "pwgraster",
        postscript_pages(RASTER_PAGES),
        paths[1],
        "-dcupsColorSpace=19",
        "-dcupsBitsPerColor=8",
    )
    ghostscript("urf", postscript_pages(RASTER_PAGES), paths[2])
    _rgb((30, 20), (1, 2, 3)).save(paths[3])
    _rgb((30, 20), (99, 99, 99)).save(paths[4])
    for path in paths:
        assert analyze_bounded(path) == analyze_file(path)


def test_raster_near_neutral_greys_are_mono_like_in_pdf(tmp_path: Path) -> None:
    """Ghostscript turns 70 % CMYK black into an sRGB grey a few levels off neutral, e.g.
    (109, 110, 113): mono, as the same mark is in a PDF (the tolerance is shared); a
    tint 15 levels off neutral is colour."""
    pages = [
        ("0 0 0 0.7 setcmykcolor 72 72 200 200 rectfill", (612, 792)),
        ("0.50 0.50 0.56 setrgbcolor 72 72 200 200 rectfill", (612, 792)),
    ]
    path = tmp_path / "doc.pwg"
    ghostscript("pwgraster", postscript_pages(pages), path, "-dcupsColorSpace=19",
                "-dcupsBitsPerColor=8")  # fmt: skip
    assert analyze_file(path).color_pages == (2,)
