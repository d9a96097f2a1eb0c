"""Stamping a line of text on every page of a PDF, over the content.

Theory of operation
-------------------
The document is opened with pikepdf (qpdf): incremental updates, object and
cross-reference streams, linearization and empty-password encryption are read as any
viewer reads them; the output is a fresh, unencrypted PDF written to the target only.

Each page's original content streams become one form XObject (a single stream is
copied still encoded; several are decoded and joined, because a graphics-state ``q`` in
one may be closed in the next) whose resources are the page's own, and the page's
content becomes ``q /Form Do Q`` followed by the stamp. ``Do`` saves and restores the
whole graphics state around a form and a form's content is parsed on its own, so
nothing the page leaves behind — an unbalanced ``q``, a scaled or rotated CTM, an open
text object, an unterminated string that would swallow an appended stream — can move,
hide or restyle the stamp.

The stamp is Helvetica (a standard 14 font, ``WinAnsiEncoding``) filled with a grey at
an opacity (``/ca`` and ``/CA`` of an ExtGState). Its font and ExtGState are added to a
per-page shallow copy of the page's resources (resources may be shared or inherited)
under names that appear nowhere in the page's resources. It is laid out in the page as
the user sees it: the visible box is the crop box clipped to the media box, turned by
``/Rotate``, and a transformation maps that upright view back to the page's user space;
the text is centred, and shrunk if needed so that it lies wholly inside the visible box
with a margin (widths are Helvetica's; heights its font bounding box).

Text is normalised (NFC), mapped to WinAnsi (anything outside it becomes ``?``,
whitespace a space, control characters ``?``), capped at :data:`MAX_TEXT_CHARS`
characters and written as a literal string with ``\\``, ``(`` and ``)`` escaped and
every byte outside printable ASCII as an octal escape.

This runs in the calling process (pikepdf is memory-safe and does not interpret
content streams, except for decoding a page's streams when it has several); run it on
documents that analysis has already accepted.
"""

from __future__ import annotations

import math
import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from printhost.modify._files import fsync_directory, same_file
from printhost.modify.errors import ModificationError

Position = Literal["diagonal", "top", "bottom", "center"]
POSITIONS: tuple[str, ...] = get_args(Position)

MAX_TEXT_CHARS = 200
DEFAULT_FONT_SIZE = 10.0
DEFAULT_DIAGONAL_FONT_SIZE = 48.0
MAX_FONT_SIZE = 500.0
#: Resource names the stamp adds start with this; a number makes them unique.
RESOURCE_PREFIX = "PhWm"

_LETTER = (0.0, 0.0, 612.0, 792.0)  # what viewers assume for a missing or broken /MediaBox
_ASCENT = 0.931  # Helvetica's font bounding box, per point of font size
_DESCENT = 0.225
# Helvetica advance widths (1/1000 em) for WinAnsi codes 32..255; None: no character.
_WIDTHS: tuple[int | None, ...] = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, None,
    556, None, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, None, 611, None,
    None, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, None, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
)  # fmt: skip

Box = tuple[float, float, float, float]
Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True, slots=True)
class WatermarkStyle:
    """How the stamp looks. ``font_size`` is in points; ``None`` means
    :data:`DEFAULT_FONT_SIZE`, or :data:`DEFAULT_DIAGONAL_FONT_SIZE` on the diagonal.
    Text is shrunk below it where it would not fit the page. ``gray`` is the fill, 0 black
    to 1 white; ``opacity`` from 0.05 to 1."""

    position: Position = "diagonal"
    opacity: float = 0.3
    font_size: float | None = None
    gray: float = 0.5

    def __post_init__(self) -> None:
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {', '.join(POSITIONS)}")
        if not 0.05 <= self.opacity <= 1.0:
            raise ValueError("opacity must be between 0.05 and 1")
        if self.font_size is not None and not 0 < self.font_size <= MAX_FONT_SIZE:
            raise ValueError(f"font_size must be above 0 and at most {MAX_FONT_SIZE:g}")
        if not 0.0 <= self.gray <= 1.0:
            raise ValueError("gray must be between 0 and 1")

    @property
    def size(self) -> float:
        if self.font_size is not None:
            return self.font_size
        return DEFAULT_DIAGONAL_FONT_SIZE if self.position == "diagonal" else DEFAULT_FONT_SIZE


def stamp_watermark(
    source: Path, target: Path, text: str, style: WatermarkStyle = WatermarkStyle()
) -> int:
    """Write ``source`` with ``text`` stamped on every page to ``target`` (fsynced) and
    return the number of pages stamped. Raises :class:`ModificationError` for a document
    that cannot be stamped, :class:`ValueError` for empty text or ``target`` being
    ``source``; ``source`` is never written."""
    source, target = Path(source), Path(target)
    encoded = winansi_text(text)
    if same_file(source, target):
        raise ValueError("target must not be the source")
    pdf = _open(source)
    with pdf:
        try:
            pages = list(pdf.pages)
            if not pages:
                raise ModificationError("the PDF has no pages")
            stamper = _Stamper(pdf, encoded, style)
            for page in pages:
                stamper.stamp(page.obj)
        except ModificationError:
            raise
        except MemoryError:
            raise ModificationError("the PDF needs more memory than watermarking allows") from None
        except RecursionError:
            raise ModificationError("the PDF is nested too deeply") from None
        except Exception as exc:  # pikepdf's own error on a malformed document
            raise ModificationError(f"malformed PDF ({_describe(exc)})") from None
        _save(pdf, target)
    return len(pages)


def winansi_text(text: str) -> bytes:
    """``text`` as the stamp shows it, in WinAnsiEncoding: NFC-normalised, whitespace as
    spaces, anything else WinAnsi cannot show as ``?``, stripped, at most
    :data:`MAX_TEXT_CHARS` characters. :class:`ValueError` if nothing is left."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        if char.isspace():
            out += b" "
            continue
        try:
            code = char.encode("cp1252")[0]
        except UnicodeEncodeError:
            code = 0x3F
        out.append(code if code >= 0x20 and _WIDTHS[code - 32] is not None else 0x3F)
    encoded = bytes(out).strip(b" ")[:MAX_TEXT_CHARS].rstrip(b" ")
    if not encoded:
        raise ValueError("watermark text is empty")
    return encoded


def pdf_string(data: bytes) -> bytes:
    """A PDF literal string for ``data``: ``\\``, ``(`` and ``)`` escaped, and every
    byte outside printable ASCII written as an octal escape."""
    out = bytearray(b"(")
    for byte in data:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 0x20 <= byte < 0x7F:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b")"
    return bytes(out)


def text_width(data: bytes, size: float) -> float:
    """Advance width in points of WinAnsi ``data`` in Helvetica at ``size``."""
    return sum(_WIDTHS[byte - 32] or 0 for byte in data if byte >= 32) * size / 1000


def _open(source: Path) -> Pdf:
    if not stat.S_ISREG(os.stat(source).st_mode):  # FileNotFoundError is the caller's
        raise ModificationError("the document is not a regular file")
    try:
        return pikepdf.open(source)
    except pikepdf.PasswordError:
        raise ModificationError(
            "the PDF is encrypted and needs a password to open; it cannot be watermarked"
        ) from None
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ModificationError(f"cannot read the PDF: {exc.strerror or exc}") from None
    except MemoryError:
        raise ModificationError("the PDF needs more memory than watermarking allows") from None
    except Exception as exc:  # pikepdf.PdfError and relatives: not a PDF qpdf can repair
        raise ModificationError(f"not a readable PDF ({_describe(exc)})") from None


def _save(pdf: Pdf, target: Path) -> None:
    try:
        with open(target, "wb") as out:
            pdf.save(out, encryption=False)
            out.flush()
            os.fsync(out.fileno())
    except BaseException as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, MemoryError):
            raise ModificationError("the PDF needs more memory than watermarking allows") from None
        if isinstance(exc, Exception) and not isinstance(exc, OSError):  # OSError: the disk's
            raise ModificationError(f"cannot write the PDF ({_describe(exc)})") from None
        raise
    fsync_directory(target.parent)


def _describe(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


class _Stamper:
    def __init__(self, pdf: Pdf, text: bytes, style: WatermarkStyle) -> None:
        self.pdf = pdf
        self.text = text
        self.style = style
        self.font = pdf.make_indirect(
            Dictionary(
                Type=Name.Font,
                Subtype=Name.Type1,
                BaseFont=Name.Helvetica,
                Encoding=Name.WinAnsiEncoding,
            )
        )
        opacity = round(style.opacity, 4)
        self.state = pdf.make_indirect(Dictionary(Type=Name.ExtGState, ca=opacity, CA=opacity))
        self.forms: dict[tuple[tuple[int, int], tuple[int, int]], Stream] = {}

    def stamp(self, page: Dictionary) -> None:
        media = _box(page.get(Name.MediaBox)) or _LETTER
        crop = _box(page.get(Name.CropBox))
        visible = (_intersection(crop, media) if crop else None) or media
        resources = page.get(Name.Resources)
        if not isinstance(resources, Dictionary):
            resources = Dictionary()
        taken = _resource_names(resources)
        form_name, font_name, state_name = (
            _unique_name(kind, taken) for kind in ("Page", "F", "GS")
        )
        new_resources = _shallow_copy(resources)
        content = b""
        form = self._form(page.get(Name.Contents), resources, media)
        if form is not None:
            _add_resource(new_resources, Name.XObject, form_name, form)
            content = b"q " + form_name.encode() + b" Do Q\n"
        _add_resource(new_resources, Name.Font, font_name, self.font)
        _add_resource(new_resources, Name.ExtGState, state_name, self.state)
        content += self._stamp_content(visible, _rotation(page), font_name, state_name)
        page[Name.Resources] = new_resources
        page[Name.Contents] = self.pdf.make_stream(content)

    def _form(self, contents: object, resources: Dictionary, bbox: Box) -> Stream | None:
        if isinstance(contents, Stream):
            streams = [contents]
        elif isinstance(contents, Array):
            streams = [s for s in contents if isinstance(s, Stream)]
        else:
            return None  # no content, or not content a viewer would draw
        if not streams:
            return None
        key = None
        if isinstance(contents, Stream | Array) and contents.is_indirect and resources.is_indirect:
            key = (contents.objgen, resources.objgen)
            if key in self.forms:
                return self.forms[key]
        form = Stream(self.pdf, b"")
        if len(streams) == 1:
            original = streams[0]
            form.write(
                original.read_raw_bytes(),
                filter=cast(Name | Array | None, original.get(Name.Filter)),
                decode_parms=cast(Dictionary | Array | None, original.get(Name.DecodeParms)),
                type_check=False,
            )
        else:
            form.write(b"\n".join(s.read_bytes() for s in streams))
        form[Name.Type] = Name.XObject
        form[Name.Subtype] = Name.Form
        form[Name.BBox] = Array(bbox)
        form[Name.Resources] = resources
        form = self.pdf.make_indirect(form)
        if key is not None:
            self.forms[key] = form
        return form

    def _stamp_content(self, visible: Box, quarter_turns: int, font: str, state: str) -> bytes:
        x0, y0, x1, y1 = visible
        width, height = x1 - x0, y1 - y0
        if quarter_turns % 2:
            width, height = height, width
        view = _view_matrix(visible, quarter_turns)
        margin = min(18.0, 0.05 * min(width, height))
        advance = text_width(self.text, 1.0)  # per point of font size
        tall = _ASCENT + _DESCENT
        position = self.style.position
        lines = [b"q", f"{state} gs".encode(), _cm(view)]
        if position == "diagonal":
            angle = math.atan2(height, width)
            cos, sin = math.cos(angle), math.sin(angle)
            fit = min(
                (width - 2 * margin) / (advance * cos + tall * sin),
                (height - 2 * margin) / (advance * sin + tall * cos),
            )
            lines.append(_cm((cos, sin, -sin, cos, width / 2, height / 2)))
            size = _fitted(self.style.size, fit)
            origin = (-advance * size / 2, (_DESCENT - _ASCENT) * size / 2)
        else:
            fit = min((width - 2 * margin) / advance, (height - 2 * margin) / tall)
            size = _fitted(self.style.size, fit)
            x = (width - advance * size) / 2
            if position == "top":
                y = height - margin - _ASCENT * size
            elif position == "bottom":
                y = margin + _DESCENT * size
            else:
                y = (height + (_DESCENT - _ASCENT) * size) / 2
            origin = (x, y)
        lines += [
            b"BT",
            f"{font} {_num(size)} Tf".encode(),
            b"0 Tc 0 Tw 100 Tz 0 Ts 0 Tr",
            f"{_num(self.style.gray)} g".encode(),
            f"{_num(origin[0])} {_num(origin[1])} Td".encode(),
            pdf_string(self.text) + b" Tj",
            b"ET",
            b"Q",
        ]
        return b"\n".join(lines) + b"\n"


def _fitted(wanted: float, fit: float) -> float:
    return max(min(wanted, fit), 0.01)


def _view_matrix(visible: Box, quarter_turns: int) -> Matrix:
    """Maps the upright view of the visible box (origin bottom left, as the user sees
    the page after /Rotate, which turns clockwise) to the page's user space."""
    x0, y0, x1, y1 = visible
    return (
        (1, 0, 0, 1, x0, y0),
        (0, 1, -1, 0, x1, y0),
        (-1, 0, 0, -1, x1, y1),
        (0, -1, 1, 0, x0, y1),
    )[quarter_turns]


def _cm(matrix: Iterable[float]) -> bytes:
    return (" ".join(_num(v) for v in matrix) + " cm").encode()


def _num(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _box(value: object) -> Box | None:
    if not isinstance(value, Array) or len(value) != 4:
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in numbers):
        return None
    x0, x1 = sorted(numbers[0::2])
    y0, y1 = sorted(numbers[1::2])
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None
    return (x0, y0, x1, y1)


def _intersection(a: Box, b: Box) -> Box | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _rotation(page: Dictionary) -> int:
    """Quarter turns clockwise, as viewers read /Rotate (truncated to a multiple of 90)."""
    value = page.get(Name.Rotate)
    if isinstance(value, bool):
        return 0
    try:
        degrees = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0
    turns = abs(degrees) // 90
    return (turns if degrees >= 0 else -turns) % 4


def _resource_names(resources: Dictionary) -> set[str]:
    names: set[str] = set()
    for category in resources.values():
        if isinstance(category, Dictionary):
            names.update(map(str, category.keys()))
    return names


def _unique_name(kind: str, taken: set[str]) -> str:
    number = 0
    while f"/{RESOURCE_PREFIX}{kind}{number}" in taken:
        number += 1
    name = f"/{RESOURCE_PREFIX}{kind}{number}"
    taken.add(name)
    return name


def _shallow_copy(dictionary: Dictionary) -> Dictionary:
    copy = Dictionary()
    for key, value in dictionary.items():
        copy[key] = value
    return copy


def _add_resource(resources: Dictionary, category: Name, name: str, value: object) -> None:
    existing = resources.get(category)
    entries = _shallow_copy(existing) if isinstance(existing, Dictionary) else Dictionary()
    entries[name] = value
    resources[category] = entries


__all__ = [
    "DEFAULT_DIAGONAL_FONT_SIZE",
    "DEFAULT_FONT_SIZE",
    "MAX_TEXT_CHARS",
    "POSITIONS",
    "RESOURCE_PREFIX",
    "Position",
    "WatermarkStyle",
    "pdf_string",
    "stamp_watermark",
    "text_width",
    "winansi_text",
]
