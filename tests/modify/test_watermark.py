"""stamp_watermark: text on every page, over the content, upright and inside the page as
the user sees it; the original content intact; hostile input refused or contained."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from printhost.modify import ModificationError, WatermarkStyle, stamp_watermark
from printhost.modify.watermark import MAX_TEXT_CHARS, RESOURCE_PREFIX, pdf_string, winansi_text

from .documents import (
    Page,
    RawPdf,
    darkest,
    helvetica,
    ink_box,
    make_pdf,
    page_sizes,
    page_texts,
    render,
    text_page,
)

MARK = "CONFIDENTIAL printhost"
BLACK = WatermarkStyle(position="top", opacity=1.0, gray=0.0, font_size=14)

# Pages (content, box, rotation) the geometry tests render: only the stamp is dark.
GEOMETRY_PAGES = [
    Page(b""),
    Page(b"", rotate=90),
    Page(b"", rotate=180),
    Page(b"", rotate=270),
    Page(b"", rotate=-90),
    Page(b"", mediabox=(0, 0, 842, 595)),
    Page(b"", mediabox=(-100, -200, 512, 592), cropbox=(0, 0, 300, 400), rotate=90),
    Page(b"", mediabox=(0, 0, 612, 792), cropbox=(100, 150, 400, 600), rotate=270),
    Page(b"", mediabox=(612, 792, 0, 0)),  # corners swapped
    Page(b"", mediabox=(0, 0, 200, 100)),  # small: the text must shrink
    # The page leaves two q open, a scaled, turned CTM, a colour and an open text object.
    Page(
        b"q q 0.2 0 0 3 50 50 cm 0.7 0.3 0.3 -0.7 0 0 cm 1 1 1 rg 1 1 1 RG 3 Tr "
        b"BT /F1 40 Tf 3 Tc 50 Tz 1 0 0 1 10 10 Tm (x) Tj"
    ),
    # More Q than q, then a changed state.
    Page(b"Q Q 4 0 0 4 0 0 cm 1 1 1 rg 3 Tr"),
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("watermark")


@pytest.fixture(scope="module")
def geometry_pdf(workdir: Path) -> Path:
    return make_pdf(workdir / "geometry.pdf", GEOMETRY_PAGES)


@pytest.fixture(scope="module")
def text_pdf(workdir: Path) -> Path:
    pages = [
        Page(text_page("Original page one")),
        Page(text_page("Original page two", x=72, y=500), rotate=90),
        Page(text_page("Original page three", x=150, y=300), cropbox=(100, 100, 500, 700)),
        Page(b"q 0.5 0 0 0.5 0 0 cm q " + text_page("Original page four") + b" q 1 0 0 rg"),
    ]
    return make_pdf(workdir / "text.pdf", pages)


def _stamped(source: Path, style: WatermarkStyle = BLACK, text: str = MARK) -> Path:
    target = source.with_name(f"{source.stem}-{style.position}-{len(text)}.out.pdf")
    stamp_watermark(source, target, text, style)
    return target


# --- the text ------------------------------------------------------------------------


def test_every_page_carries_the_mark_and_keeps_its_text(text_pdf: Path) -> None:
    before = _sha256(text_pdf)
    target = text_pdf.with_name("text-stamped.pdf")
    count = stamp_watermark(text_pdf, target, MARK)
    assert count == 4
    assert _sha256(text_pdf) == before
    texts = page_texts(target)
    assert len(texts) == 4
    for number, (text, word) in enumerate(zip(texts, ["one", "two", "three", "four"], strict=True)):
        assert f"Original page {word}" in text, number
        assert MARK in text, number
    assert page_sizes(target) == page_sizes(text_pdf)


@pytest.mark.parametrize("position", ["diagonal", "top", "bottom", "center"])
def test_each_position_stamps_every_page(geometry_pdf: Path, position: str) -> None:
    target = _stamped(geometry_pdf, WatermarkStyle(position=position))  # type: ignore[arg-type]
    texts = page_texts(target)
    assert len(texts) == len(GEOMETRY_PAGES)
    assert all(MARK in text for text in texts)
    assert page_sizes(target) == page_sizes(geometry_pdf)


def test_awkward_text_round_trips(geometry_pdf: Path, workdir: Path) -> None:
    source = make_pdf(workdir / "one.pdf", [Page(b"")])
    text = "Price (net) \\ 100% \u2014 \u00dcn\u00efc\u00f6d\u00e9 \u65e5\u672c\u8a9e) (\tend\\"
    target = source.with_name("awkward.pdf")
    stamp_watermark(source, target, text, BLACK)
    [shown] = page_texts(target)
    assert shown.strip() == "Price (net) \\ 100% \u2014 \u00dcn\u00efc\u00f6d\u00e9 ???) ( end\\"


def test_text_is_capped(workdir: Path) -> None:
    source = make_pdf(workdir / "cap.pdf", [Page(b"")])
    target = source.with_name("cap-out.pdf")
    stamp_watermark(source, target, "ab" * 300, WatermarkStyle(font_size=2))
    [shown] = page_texts(target)
    assert shown.strip() == ("ab" * 300)[:MAX_TEXT_CHARS]


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("plain", b"plain"),
        ("  spaced\tout\n ", b"spaced out"),
        ("caf\u00e9 \u20ac", b"caf\xe9 \x80"),
        ("e\u0301", b"\xe9"),  # NFC
        ("\u65e5\x00\x7f", b"???"),
        ("x" * 500, b"x" * MAX_TEXT_CHARS),
    ],
)
def test_winansi_text(text: str, encoded: bytes) -> None:
    assert winansi_text(text) == encoded


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text_pdf: Path, text: str) -> None:
    with pytest.raises(ValueError):
        stamp_watermark(text_pdf, text_pdf.with_name("never.pdf"), text)
    assert not text_pdf.with_name("never.pdf").exists()


def test_pdf_string_escapes() -> None:
    assert pdf_string(b"a(b)c\\d") == b"(a\\(b\\)c\\\\d)"
    assert pdf_string(b"\xe9\r\n") == b"(\\351\\015\\012)"


# --- where it lands --------------------------------------------------------------------


def _check_band(image: Image.Image, box: tuple[int, int, int, int] | None, where: str) -> None:
    assert box is not None, "no watermark drawn"
    left, top, right, bottom = box
    width, height = image.size
    assert left > 0 and top > 0 and right < width and bottom < height, (box, image.size)
    assert right - left > 2 * (bottom - top), f"text not horizontal: {box}"
    middle_x = (left + right) / 2
    assert abs(middle_x - width / 2) < 0.05 * width, f"not centred: {box} in {image.size}"
    middle_y = (top + bottom) / 2
    if where == "top":
        assert middle_y < 0.2 * height, (box, image.size)
    elif where == "bottom":
        assert middle_y > 0.8 * height, (box, image.size)
    else:
        assert abs(middle_y - height / 2) < 0.05 * height, (box, image.size)


@pytest.mark.parametrize("position", ["top", "bottom", "center"])
def test_text_is_upright_and_inside_the_visible_page(geometry_pdf: Path, position: str) -> None:
    style = WatermarkStyle(position=position, opacity=1.0, gray=0.0, font_size=14)  # type: ignore[arg-type]
    target = _stamped(geometry_pdf, style)
    images = render(target)
    boxes = [ink_box(image) for image in images]
    for number, (image, box) in enumerate(zip(images, boxes, strict=True)):
        try:
            _check_band(image, box, position)
        except AssertionError as exc:
            raise AssertionError(f"page {number + 1}: {exc}") from None
    # The hostile pages' own state does not reach the stamp: it looks as on a clean page.
    clean = boxes[0]
    assert clean is not None
    for hostile in boxes[-2:]:
        assert hostile is not None
        assert all(abs(a - b) <= 2 for a, b in zip(hostile, clean, strict=True)), (hostile, clean)


def test_diagonal_runs_from_bottom_left_to_top_right(geometry_pdf: Path) -> None:
    style = WatermarkStyle(position="diagonal", opacity=1.0, gray=0.0)
    target = _stamped(geometry_pdf, style)
    for number, image in enumerate(render(target, scale=0.5), 1):
        box = ink_box(image)
        assert box is not None, number
        left, top, right, bottom = box
        width, height = image.size
        assert left > 0 and top > 0 and right < width and bottom < height, (number, box)
        assert right - left > 0.5 * width, (number, box, image.size)
        half_w, half_h = width // 2, height // 2
        quarters = {
            name: ink_box(image.crop(area))
            for name, area in {
                "top-left": (0, 0, half_w // 2, half_h // 2),
                "bottom-right": (width - half_w // 2, height - half_h // 2, width, height),
                "bottom-left": (0, half_h, half_w, height),
                "top-right": (half_w, 0, width, half_h),
            }.items()
        }
        assert quarters["bottom-left"] and quarters["top-right"], (number, quarters)
        assert not quarters["top-left"] and not quarters["bottom-right"], (number, quarters)


def test_default_style_is_translucent_grey(geometry_pdf: Path) -> None:
    target = _stamped(geometry_pdf, WatermarkStyle(position="center", font_size=40))
    image = render(target)[0].convert("L")
    assert ink_box(image, threshold=250) is not None
    assert darkest(image) >= 200  # 0.3 opacity of 0.5 grey on white: ~217


def test_small_page_shrinks_the_text(geometry_pdf: Path) -> None:
    target = _stamped(
        geometry_pdf, WatermarkStyle(position="center", font_size=200, opacity=1, gray=0)
    )
    small = render(target)[9]
    assert small.size == (200, 100)
    _check_band(small, ink_box(small), "center")


# --- resources and structure ------------------------------------------------------------


def test_resource_names_do_not_clash(workdir: Path) -> None:
    path = workdir / "names.pdf"
    with pikepdf.new() as pdf:
        font = helvetica(pdf)
        courier = helvetica(pdf, "Courier")
        taken = {f"/{RESOURCE_PREFIX}F0": courier, f"/{RESOURCE_PREFIX}GS0": courier}
        resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary({"/F1": font, **taken}),
            ExtGState=pikepdf.Dictionary({f"/{RESOURCE_PREFIX}F1": pikepdf.Dictionary()}),
        )
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 612, 792],
            Resources=resources,
            Contents=pdf.make_stream(text_page("Uses F1") + b" " + text_page("Uses F0", y=600)),
        )
        page.Contents.write(
            b"BT /F1 12 Tf 72 700 Td (Uses F1) Tj ET BT /"
            + RESOURCE_PREFIX.encode()
            + b"F0 12 Tf 72 600 Td (Uses F0) Tj ET"
        )
        pdf.pages.append(pikepdf.Page(page))
        pdf.save(path)
    target = workdir / "names-out.pdf"
    stamp_watermark(path, target, MARK)
    [text] = page_texts(target)
    assert "Uses F1" in text and "Uses F0" in text and MARK in text
    with pikepdf.open(target) as pdf:
        fonts = pdf.pages[0].obj.Resources.Font
        assert fonts.F1.BaseFont == "/Helvetica"
        assert fonts[f"/{RESOURCE_PREFIX}F0"].BaseFont == "/Courier"
        added = set(fonts.keys()) - {"/F1", f"/{RESOURCE_PREFIX}F0", f"/{RESOURCE_PREFIX}GS0"}
        assert len(added) == 1
        [name] = added
        assert name not in {f"/{RESOURCE_PREFIX}F1"}
        assert fonts[name].BaseFont == "/Helvetica"
        assert fonts[name].Encoding == "/WinAnsiEncoding"
        states = pdf.pages[0].obj.Resources.ExtGState
        [state] = set(states.keys()) - {f"/{RESOURCE_PREFIX}F1"}
        assert state not in taken
        assert float(states[state].ca) == pytest.approx(0.3)
        assert float(states[state].CA) == pytest.approx(0.3)


@pytest.fixture(scope="module")
def odd_structure_pdf(workdir: Path) -> Path:
    """Inherited /Resources, /MediaBox and /Rotate; a content array whose q is closed in
    the next stream; an unterminated string at the end of a page's content; one content
    stream shared by two pages with different fonts under the same name."""
    raw = RawPdf()
    catalog = raw.add()
    pages = raw.add()
    helv = raw.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    courier = raw.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>")
    inherited = raw.add(b"<< /Font << /F1 %d 0 R >> >>" % helv)
    split_a = raw.stream(
        b"q 2 0 0 2 0 0 cm BT /F1 12 Tf 36 300 Td (Split across streams)", compress=True
    )
    split_b = raw.stream(b"Tj ET Q")
    swallow = raw.stream(b"BT /F1 12 Tf 72 700 Td (Before) Tj ET BT (never closed")
    shared = raw.stream(b"BT /F1 12 Tf 72 650 Td (Shared content) Tj ET")
    kids = []
    kids.append(
        raw.add(
            b"<< /Type /Page /Parent %d 0 R /Contents [%d 0 R %d 0 R] >>"
            % (pages, split_a, split_b)
        )
    )
    kids.append(
        raw.add(b"<< /Type /Page /Parent %d 0 R /Contents %d 0 R /Rotate 0 >>" % (pages, swallow))
    )
    kids.append(raw.add(b"<< /Type /Page /Parent %d 0 R /Contents %d 0 R >>" % (pages, shared)))
    kids.append(
        raw.add(
            b"<< /Type /Page /Parent %d 0 R /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages, shared, courier)
        )
    )
    raw.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    raw.set(
        pages,
        b"<< /Type /Pages /Kids [%s] /Count %d /MediaBox [0 0 612 792] /Rotate 90 "
        b"/Resources %d 0 R >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids), inherited),
    )
    path = workdir / "odd.pdf"
    path.write_bytes(raw.tobytes(catalog))
    return path


def test_odd_structures(odd_structure_pdf: Path) -> None:
    target = odd_structure_pdf.with_name("odd-out.pdf")
    assert stamp_watermark(odd_structure_pdf, target, MARK, BLACK) == 4
    texts = page_texts(target)
    assert "Split across streams" in texts[0]
    assert "Before" in texts[1]
    assert "Shared content" in texts[2] and "Shared content" in texts[3]
    assert all(MARK in text for text in texts), texts
    assert (
        page_sizes(target)
        == page_sizes(odd_structure_pdf)
        == [(792, 612), (612, 792)] + [(792, 612)] * 2
    )
    images = render(target)
    for image in images:
        box = ink_box(image.crop((0, 0, image.width, image.height // 5)))
        assert box is not None
        assert box[2] - box[0] > 3 * (box[3] - box[1])  # upright, in the top band
    with pikepdf.open(target) as pdf:
        fonts = [page.obj.Resources.Font.F1.BaseFont for page in pdf.pages]
    assert fonts == ["/Helvetica", "/Helvetica", "/Helvetica", "/Courier"]


# --- input the library must read --------------------------------------------------------


@pytest.fixture(scope="module")
def incremental_pdf(workdir: Path) -> Path:
    """Object and cross-reference streams, then an incremental update (classic xref
    section with /Prev) that replaces the first page's content."""
    base = make_pdf(
        workdir / "objstm.pdf",
        [Page(text_page("Old text")), Page(text_page("Second page"), rotate=90)],
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
    )
    data = base.read_bytes()
    with pikepdf.open(base) as pdf:
        page_number, _ = pdf.pages[0].obj.objgen
        root, _ = pdf.Root.objgen
        size = int(pdf.trailer.Size)
        font_number, _ = pdf.pages[0].obj.Resources.Font.F1.objgen
        parent, _ = pdf.pages[0].obj.Parent.objgen
    prev = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    update = bytearray(data)
    content = text_page("Updated text")
    content_number = size
    offsets = {}
    offsets[content_number] = len(update)
    update += b"%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (
        content_number,
        len(content),
        content,
    )
    offsets[page_number] = len(update)
    update += (
        b"%d 0 obj\n<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n"
        % (page_number, parent, font_number, content_number)
    )
    xref = len(update)
    update += b"xref\n"
    for number in sorted(offsets):
        update += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    update += b"trailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size + 1,
        root,
        prev,
        xref,
    )
    path = workdir / "incremental.pdf"
    path.write_bytes(bytes(update))
    assert "Updated text" in page_texts(path)[0]  # pdfium reads the update too
    return path


def test_object_streams_and_incremental_update(incremental_pdf: Path) -> None:
    target = _stamped(incremental_pdf)
    texts = page_texts(target)
    assert "Updated text" in texts[0] and "Old text" not in texts[0]
    assert "Second page" in texts[1]
    assert all(MARK in text for text in texts)
    assert page_sizes(target) == page_sizes(incremental_pdf)


def test_linearized_input(workdir: Path) -> None:
    source = make_pdf(
        workdir / "linear.pdf",
        [Page(text_page(f"Linear {n}")) for n in range(3)],
        linearize=True,
    )
    with pikepdf.open(source) as pdf:
        assert pdf.is_linearized
    target = _stamped(source)
    texts = page_texts(target)
    assert [f"Linear {n}" in text and MARK in text for n, text in enumerate(texts)] == [True] * 3


def test_empty_user_password_opens(workdir: Path) -> None:
    source = make_pdf(
        workdir / "owner-only.pdf",
        [Page(text_page("Encrypted text"))],
        encryption=pikepdf.Encryption(owner="owner-secret", user="", R=6),
    )
    with pikepdf.open(source) as pdf:
        assert pdf.is_encrypted
    target = _stamped(source)
    with pikepdf.open(target) as pdf:
        assert not pdf.is_encrypted
    [text] = page_texts(target)
    assert "Encrypted text" in text and MARK in text


def test_user_password_is_refused(workdir: Path) -> None:
    source = make_pdf(
        workdir / "locked.pdf",
        [Page(text_page("Secret"))],
        encryption=pikepdf.Encryption(owner="owner-secret", user="user-secret", R=4),
    )
    target = workdir / "locked-out.pdf"
    with pytest.raises(ModificationError) as caught:
        stamp_watermark(source, target, MARK)
    assert "password" in caught.value.reason
    assert not target.exists()


# --- hostile and broken input -----------------------------------------------------------


def _no_pages() -> bytes:
    raw = RawPdf()
    raw.add(b"<< /Type /Catalog /Pages 2 0 R >>")
    raw.add(b"<< /Type /Pages /Kids [] /Count 0 >>")
    return raw.tobytes(1)


def _page_tree_loop() -> bytes:
    raw = RawPdf()
    raw.add(b"<< /Type /Catalog /Pages 2 0 R >>")
    raw.add(b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>")
    return raw.tobytes(1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not a PDF at all\n" * 20,
        bytes(range(256)) * 16,
        b"%PDF-1.7\n%%EOF\n",
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>",
        _no_pages(),
        _page_tree_loop(),
    ],
    ids=["empty", "text", "binary", "header-only", "catalog-is-pages", "no-pages", "loop"],
)
def test_garbage_is_refused(tmp_path: Path, data: bytes) -> None:
    source = tmp_path / "garbage.pdf"
    source.write_bytes(data)
    target = tmp_path / "out.pdf"
    with pytest.raises(ModificationError) as caught:
        stamp_watermark(source, target, MARK)
    assert caught.value.reason
    assert not target.exists()
    assert source.read_bytes() == data


def test_missing_source_is_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        stamp_watermark(tmp_path / "absent.pdf", tmp_path / "out.pdf", MARK)


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModificationError):
        stamp_watermark(fifo, tmp_path / "out.pdf", MARK)


def test_target_must_not_be_source(text_pdf: Path) -> None:
    before = _sha256(text_pdf)
    with pytest.raises(ValueError):
        stamp_watermark(text_pdf, text_pdf, MARK)
    assert _sha256(text_pdf) == before


@pytest.mark.parametrize(
    "options",
    [
        {"position": "middle"},
        {"opacity": 0.01},
        {"opacity": 1.5},
        {"opacity": float("nan")},
        {"font_size": 0},
        {"font_size": 10_000},
        {"gray": -0.1},
        {"gray": 2},
    ],
)
def test_style_validation(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        WatermarkStyle(**options)  # type: ignore[arg-type]


def test_style_defaults() -> None:
    assert WatermarkStyle().size > WatermarkStyle(position="top").size == 10
