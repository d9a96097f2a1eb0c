"""Builders for the documents the modification tests feed in, and helpers to look at the
output with pdfium (an independent PDF implementation)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium  # type: ignore[import-untyped]
from PIL import Image, ImageChops

LETTER = (0.0, 0.0, 612.0, 792.0)


@dataclass
class RawPdf:
    """A PDF written object by object (so that odd structures can be written too);
    ``objects[n-1]`` is object n."""

    objects: list[bytes] = field(default_factory=list)

    def add(self, body: bytes = b"") -> int:
        self.objects.append(body)
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def stream(self, data: bytes, extra: bytes = b"", compress: bool = False) -> int:
        if compress:
            data = zlib.compress(data)
            extra += b" /Filter /FlateDecode"
        return self.add(
            b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"
        )

    def tobytes(self, root: int, trailer_extra: bytes = b"") -> bytes:
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\n" % (
            len(self.objects) + 1,
            root,
            trailer_extra,
        )
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


def helvetica(pdf: pikepdf.Pdf, base: str = "Helvetica") -> pikepdf.Object:
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name("/" + base),
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )


@dataclass(frozen=True)
class Page:
    content: bytes
    mediabox: Sequence[float] = LETTER
    cropbox: Sequence[float] | None = None
    rotate: int | None = None


def make_pdf(path: Path, pages: Sequence[Page], **save_options: object) -> Path:
    """A PDF with pikepdf: each page has Helvetica as /F1."""
    with pikepdf.new() as pdf:
        font = helvetica(pdf)
        for spec in pages:
            page = pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=list(spec.mediabox),
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=pdf.make_stream(spec.content),
            )
            if spec.cropbox is not None:
                page.CropBox = list(spec.cropbox)
            if spec.rotate is not None:
                page.Rotate = spec.rotate
            pdf.pages.append(pikepdf.Page(page))
        pdf.save(path, **save_options)  # type: ignore[arg-type]
    return path


def text_page(text: str, x: float = 72, y: float = 700, size: float = 12) -> bytes:
    return b"BT /F1 %g Tf %g %g Td (%s) Tj ET" % (size, x, y, text.encode())


def page_texts(path: Path, password: str | None = None) -> list[str]:
    document = pdfium.PdfDocument(path, password=password)
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def page_sizes(path: Path, password: str | None = None) -> list[tuple[float, float]]:
    """Page sizes as displayed (crop box, after /Rotate), by pdfium."""
    document = pdfium.PdfDocument(path, password=password)
    try:
        sizes = []
        for page in document:
            width, height = page.get_size()
            sizes.append((round(width, 2), round(height, 2)))
            page.close()
        return sizes
    finally:
        document.close()


def render(path: Path, scale: float = 1.0) -> list[Image.Image]:
    """Each page as pdfium shows it (crop box, /Rotate applied), RGB."""
    document = pdfium.PdfDocument(path)
    try:
        images = []
        for page in document:
            images.append(page.render(scale=scale).to_pil().convert("RGB"))
            page.close()
        return images
    finally:
        document.close()


def ink_box(image: Image.Image, threshold: int = 200) -> tuple[int, int, int, int] | None:
    """Bounding box (left, top, right, bottom) of pixels darker than ``threshold``."""
    gray = image.convert("L")
    return gray.point(lambda v: 255 if v < threshold else 0).getbbox()


def max_channel_spread(image: Image.Image) -> int:
    """The largest |r-g| or |g-b| of any pixel."""
    red, green, blue = image.convert("RGB").split()
    return max(
        darkest(ImageChops.difference(red, green), lightest=True),
        darkest(ImageChops.difference(green, blue), lightest=True),
    )


def darkest(image: Image.Image, lightest: bool = False) -> int:
    """The lowest (or highest) value of any pixel of a one-channel image."""
    levels = [level for level, count in enumerate(image.histogram()) if count]
    return levels[-1] if lightest else levels[0]
