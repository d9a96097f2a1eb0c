"""Generators for documents with known truth: hand-written PDFs (so that hostile page
trees can be written too), PostScript for Ghostscript's raster devices, text, images."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Page contents, each a PDF content stream, and whether it is colour.
GRAY_FILL = b"0.5 g 72 72 200 200 re f"
RGB_GREY = b"0.3 0.3 0.3 rg 72 72 200 200 re f"
CMYK_BLACK = b"0 0 0 0.7 k 72 72 200 200 re f"
RED = b"1 0 0 rg 72 72 200 200 re f"
THIN_BLUE_LINE = b"0 0 1 RG 0.5 w 100 100 m 300 100 l S"
CMYK_CYAN = b"1 0 0 0 k 72 72 20 20 re f"
RED_UNDER_WHITE = b"1 0 0 rg 72 72 100 100 re f 1 g 60 60 130 130 re f"
RED_OFF_PAGE = b"1 0 0 rg -500 -500 100 100 re f"
GREY_TEXT = b"BT /F1 24 Tf 0.2 g 72 400 Td (Hello grey) Tj ET"
COLOR_TEXT = b"BT /F1 10 Tf 0 0.6 0 rg 72 400 Td (green) Tj ET"
BLANK = b""

COLOR = {RED, THIN_BLUE_LINE, CMYK_CYAN, COLOR_TEXT}


@dataclass(frozen=True)
class PdfPage:
    content: bytes
    mediabox: tuple[float, float, float, float] | None = (0, 0, 612, 792)
    rotate: int | None = None
    cropbox: tuple[float, float, float, float] | None = None


def _fmt(box: Sequence[float]) -> bytes:
    return b"[" + b" ".join(str(v).encode() for v in box) + b"]"


class RawPdf:
    """A PDF written object by object; ``objects[n-1]`` is object n."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def add(self, body: bytes = b"") -> int:
        self.objects.append(body)
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def tobytes(self, root: int = 1) -> bytes:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R >>\n" % (len(self.objects) + 1, root)
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def page_dict(parent: int, content_ref: int, font_ref: int, page: PdfPage) -> bytes:
    parts = [
        b"/Type /Page /Parent %d 0 R" % parent,
        b"/Contents %d 0 R" % content_ref,
        b"/Resources << /Font << /F1 %d 0 R >> >>" % font_ref,
    ]
    if page.mediabox is not None:
        parts.append(b"/MediaBox " + _fmt(page.mediabox))
    if page.cropbox is not None:
        parts.append(b"/CropBox " + _fmt(page.cropbox))
    if page.rotate is not None:
        parts.append(b"/Rotate %d" % page.rotate)
    return b"<< " + b" ".join(parts) + b" >>"


def make_pdf(pages: Sequence[PdfPage], count: int | None = None, pages_extra: bytes = b"") -> bytes:
    """A one-level page tree; ``count`` overrides the true /Count (to make it lie)."""
    pdf = RawPdf()
    catalog = pdf.add()
    tree = pdf.add()
    font = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids = []
    for page in pages:
        content = pdf.add(stream(page.content))
        kids.append(pdf.add(page_dict(tree, content, font, page)))
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % tree)
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    pdf.set(
        tree,
        b"<< /Type /Pages /Kids [%s] /Count %d %s>>"
        % (refs, len(pages) if count is None else count, pages_extra),
    )
    return pdf.tobytes(catalog)


def make_nested_pdf() -> tuple[bytes, list[tuple[float, float]], list[int]]:
    """A two-level tree whose inner node gives /MediaBox and /Rotate 90 to its pages."""
    pdf = RawPdf()
    catalog = pdf.add()
    root = pdf.add()
    inner = pdf.add()
    font = pdf.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    first = pdf.add(page_dict(root, pdf.add(stream(GRAY_FILL)), font, PdfPage(b"")))
    inherited = PdfPage(b"", mediabox=None)
    second = pdf.add(page_dict(inner, pdf.add(stream(RED)), font, inherited))
    third = pdf.add(page_dict(inner, pdf.add(stream(GREY_TEXT)), font, inherited))
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    pdf.set(root, b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count 3 >>" % (first, inner))
    pdf.set(
        inner,
        b"<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R %d 0 R] /Count 2 "
        b"/MediaBox [0 0 595 842] /Rotate 90 >>" % (root, second, third),
    )
    return pdf.tobytes(catalog), [(612.0, 792.0), (842.0, 595.0), (842.0, 595.0)], [2]


def ghostscript(device: str, postscript: str, out: Path, *options: str) -> None:
    subprocess.run(
        [
            "gs",
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            f"-sDEVICE={device}",
            "-r36",
            *options,
            f"-sOutputFile={out}",
            "-",
        ],
        input=postscript.encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )


def postscript_pages(pages: Sequence[tuple[str, tuple[int, int]]]) -> str:
    """PostScript with one page per (paint, (width, height)); paint is PostScript code."""
    body = ["%!PS"]
    for paint, (width, height) in pages:
        body.append(f"<< /PageSize [{width} {height}] >> setpagedevice")
        body.append(f"{paint} showpage")
    return "\n".join(body) + "\n"


PS_GREY = "0.5 setgray 72 72 200 200 rectfill"
PS_RGB_GREY = "0.4 0.4 0.4 setrgbcolor 72 72 200 200 rectfill"
PS_RED = "1 0 0 setrgbcolor 72 72 200 200 rectfill"
PS_BLUE_DOT = "0 0 1 setrgbcolor 300 300 4 4 rectfill"
PS_BLANK = ""
