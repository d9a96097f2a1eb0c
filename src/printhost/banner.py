"""Banner (cover) pages: one page naming whose job follows, rendered as PDF, PostScript
or PCL. Pure: bytes out, no I/O, no clock (the time is part of :class:`BannerInfo`).

Theory of operation
-------------------
Every text field comes from a client (``requesting-user-name``, ``job-name``, the
originating host), so it is hostile until proven otherwise. :func:`_clean` first turns
every control, format, surrogate, private-use and unassigned character (Unicode category
``C*``) and the line/paragraph separators into spaces, collapses whitespace and caps the
length; then each language escapes what is left for its own syntax:

- PDF and PostScript: a literal string ``( ... )`` with ``\\``, ``(`` and ``)``
  backslash-escaped and every byte outside printable ASCII written as ``\\ddd`` (PDF 1.7
  §7.3.4.2, PLRM 3 §3.2.2), so the file stays 7-bit and no string can end early.
  Text is encoded for the font: WinAnsiEncoding (cp1252) in PDF, ISOLatin1Encoding in
  PostScript; characters the encoding lacks print as ``?``.
- PCL: after cleaning there is no byte below 0x20, none in 0x7F-0x9F, so no ESC (the only
  way into a PCL command or, via UEL ``ESC%-12345X``, back to PJL), no CR/LF (the only
  way to start a PJL line) and no other control code. Client text never goes into the
  PJL header at all. Text is ISO 8859-1 (symbol set ``ESC(0N``).

The layout is one list of :class:`_Line` shared by all three languages, so the pages
look alike; sizes shrink to fit the width (an estimate from average glyph widths, which
is enough for a cover sheet).

Input trays
-----------
A banner often prints on coloured paper from its own tray. ``tray`` is any of the names
:func:`tray_keyword` accepts; :func:`tray_selection` gives what each language needs.

========================  ===========  ====================  ==========================
IPP media-source keyword  PCL ESC&l#H  PS /MediaPosition      accepted aliases
========================  ===========  ====================  ==========================
auto                      7            (not set)             "", automatic
main                      1            0                     (Tray 2 on HP: main cassette)
manual                    2            3 + /ManualFeed true  manual-feed, manualfeed
by-pass-tray              4            3                     bypass, by-pass, multipurpose
envelope                  6            (not set)
large-capacity            5            (not set)             lcc, hci
tray-1                    4            3                     tray1, "tray 1", "1"
tray-2                    1            0                     tray2, "tray 2", "2"
tray-3                    5            1                     ...
tray-4                    8            4
tray-5                    9            38
other media-source        (not set)    (not set)             e.g. top, roll-1, tray-7
========================  ===========  ====================  ==========================

The keywords are IPP's media-source values (the ``media-source`` member of
``media-col``, PWG 5100.7-2019 IPP Job Extensions v2.0; printers list what they have
in ``media-source-supported`` and ``media-source-properties``, PWG 5100.13 IPP Driver
Replacement Extensions v2.0); the full registered set is :data:`MEDIA_SOURCES`. The PCL
and PostScript numbers are device-dependent by definition (the PostScript Language
Reference, 3rd ed., ch. 6, leaves MediaPosition values to the device); the ones above
are HP LaserJet's, as printed in the "paper-source commands" tables of HP's LaserJet
Enterprise user guides, which most PCL printers copy. A printer without the tray falls
back to its own choice:

- PostScript: the request is made inside ``[{ ... } stopped cleartomark`` (the idiom
  PPD-driven spoolers use for every feature), so a printer that rejects it, or lacks
  ``setpagedevice`` keys, still prints the page;
- PCL: an unknown ``ESC&l#H`` value is ignored by PCL 5 printers (the paper source
  stays as it was); the PJL header only asks for one copy, simplex;
- PDF: a PDF file cannot select a tray. The dispatcher asks for it in the job instead,
  with ``media-col`` = { ``media-source`` = :func:`tray_keyword` (tray) } in the
  Print-Job/Create-Job request to IPP printers.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MEDIA_SOURCES",
    "BannerInfo",
    "TraySelection",
    "render_banner",
    "tray_keyword",
    "tray_selection",
]

FORMATS = ("pdf", "postscript", "pcl")

#: Longest text kept per field, in characters (after cleaning); longer text ends in "...".
MAX_USER = 64
MAX_JOB_NAME = 100
MAX_FIELD = 100

#: Registered media-source keywords (PWG 5100.7-2019; IANA IPP registry).
_NAMED_SOURCES = (
    "alternate", "alternate-roll", "auto", "bottom", "by-pass-tray", "center", "disc",
    "envelope", "hagaki", "large-capacity", "left", "main", "main-roll", "manual",
    "middle", "photo", "rear", "right", "side", "top",
)  # fmt: skip
MEDIA_SOURCES: frozenset[str] = frozenset(
    (*_NAMED_SOURCES, *(f"tray-{n}" for n in range(1, 21)), *(f"roll-{n}" for n in range(1, 11)))
)

_ALIASES = {
    "": "auto",
    "automatic": "auto",
    "manual-feed": "manual",
    "manualfeed": "manual",
    "bypass": "by-pass-tray",
    "by-pass": "by-pass-tray",
    "bypass-tray": "by-pass-tray",
    "multipurpose": "by-pass-tray",
    "multi-purpose": "by-pass-tray",
    "lcc": "large-capacity",
    "hci": "large-capacity",
}
_TRAY_NUMBER_RE = re.compile(r"^(?:tray)?[-_ ]?(\d{1,2})$")


@dataclass(frozen=True, slots=True)
class TraySelection:
    """How each language selects one input tray (see the table in the module docstring).
    ``None`` means "do not select": the printer chooses."""

    keyword: str
    pcl: int | None
    postscript: int | None
    manual_feed: bool = False


_SELECTIONS: dict[str, tuple[int | None, int | None, bool]] = {
    "auto": (7, None, False),
    "main": (1, 0, False),
    "manual": (2, 3, True),
    "by-pass-tray": (4, 3, False),
    "envelope": (6, None, False),
    "large-capacity": (5, None, False),
    "tray-1": (4, 3, False),
    "tray-2": (1, 0, False),
    "tray-3": (5, 1, False),
    "tray-4": (8, 4, False),
    "tray-5": (9, 38, False),
}


def tray_keyword(tray: str) -> str:
    """The IPP media-source keyword for a tray name ("Tray 2", "tray2", "2" -> "tray-2";
    "" -> "auto"). Raise ValueError for names that are no media-source."""
    name = " ".join(tray.strip().lower().split())
    name = _ALIASES.get(name, name)
    number = _TRAY_NUMBER_RE.match(name)
    if number:
        name = f"tray-{int(number.group(1))}"
    if name not in MEDIA_SOURCES:
        raise ValueError(f"unknown input tray {tray!r}: not an IPP media-source keyword")
    return name


def tray_selection(tray: str) -> TraySelection:
    """The tray's keyword and PCL/PostScript numbers; ValueError as :func:`tray_keyword`."""
    keyword = tray_keyword(tray)
    pcl, postscript, manual_feed = _SELECTIONS.get(keyword, (None, None, False))
    return TraySelection(keyword, pcl, postscript, manual_feed)


@dataclass(frozen=True, slots=True)
class BannerInfo:
    """What a banner page says. Text fields are untrusted client data."""

    user: str
    job_name: str
    job_id: int
    host: str  # originating host
    queue: str
    printer: str
    time: float  # POSIX seconds from the injected clock; printed in UTC


def render_banner(info: BannerInfo, fmt: str, tray: str = "") -> bytes:
    """One banner page in ``fmt`` ("pdf", "postscript" or "pcl"), fed from ``tray`` when
    the language can say so (PDF cannot: see the module docstring). Raise ValueError for
    an unknown format or tray."""
    selection = tray_selection(tray) if tray else None
    lines = _layout(info)
    if fmt == "pdf":
        return _render_pdf(lines)
    if fmt == "postscript":
        return _render_postscript(lines, selection)
    if fmt == "pcl":
        return _render_pcl(lines, selection)
    raise ValueError(f"unknown banner format {fmt!r}: expected one of {', '.join(FORMATS)}")


# --- text and layout ----------------------------------------------------------------------

_PAGE_WIDTH = 595.0  # A4 portrait, in points; Letter (612) is wider, so this fits both
_PDF_PAGE_HEIGHT = 842.0
_LEFT = 54.0
_VALUE_X = 140.0
_USABLE = _PAGE_WIDTH - 2 * _LEFT
_MIN_SIZE = 8.0


@dataclass(frozen=True, slots=True)
class _Line:
    """One run of text: ``y`` is the baseline's distance from the top edge, in points."""

    text: str
    x: float
    y: float
    size: float
    bold: bool


def _clean(text: str, limit: int) -> str:
    """Control-free, whitespace-collapsed text of at most ``limit`` characters."""
    kept = "".join(
        " " if unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" else ch
        for ch in unicodedata.normalize("NFC", text[: limit * 4])
    )
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 3].rstrip() + "..."


def _fit(text: str, x: float, size: float, bold: bool) -> float:
    """The largest size <= ``size`` at which ``text`` is estimated to fit right of ``x``."""
    em = 0.64 if bold else 0.58  # average Helvetica advance width, in ems
    width = max(len(text), 1) * em
    return max(_MIN_SIZE, min(size, (_PAGE_WIDTH - _LEFT - x) / width))


def _timestamp(seconds: float) -> str:
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return "unknown"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _layout(info: BannerInfo) -> list[_Line]:
    user = _clean(info.user, MAX_USER) or "(unknown user)"
    job_name = _clean(info.job_name, MAX_JOB_NAME) or "(untitled)"
    fields = (
        ("Job ID", str(int(info.job_id))),
        ("Host", _clean(info.host, MAX_FIELD) or "-"),
        ("Queue", _clean(info.queue, MAX_FIELD) or "-"),
        ("Printer", _clean(info.printer, MAX_FIELD) or "-"),
        ("Time", _timestamp(info.time)),
    )
    lines = [
        _Line(user, _LEFT, 150.0, _fit(user, _LEFT, 60.0, True), True),
        _Line(job_name, _LEFT, 200.0, _fit(job_name, _LEFT, 22.0, True), True),
    ]
    for row, (label, value) in enumerate(fields):
        y = 250.0 + 20.0 * row
        lines.append(_Line(f"{label}:", _LEFT, y, 12.0, True))
        lines.append(_Line(value, _VALUE_X, y, _fit(value, _VALUE_X, 12.0, False), False))
    return lines


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _string_literal(text: str, encoding: str) -> bytes:
    """A PDF/PostScript literal string: ( ) \\ escaped, non-printable bytes as \\ddd."""
    out = bytearray(b"(")
    for byte in text.encode(encoding, errors="replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 0x20 <= byte < 0x7F:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b")"
    return bytes(out)


# --- PDF ----------------------------------------------------------------------------------


def _render_pdf(lines: Sequence[_Line]) -> bytes:
    """A one-page PDF 1.4 with the two standard fonts (PDF 1.7 §9.6.2.2), no compression,
    and a cross-reference table of exact offsets (§7.5.4: 20-byte entries)."""
    content = bytearray(b"0 g 36 806 523 4 re f\n")  # a rule across the top
    for line in lines:
        font = b"/F2" if line.bold else b"/F1"
        y = _PDF_PAGE_HEIGHT - line.y
        content += b"BT %s %s Tf %s %s Td %s Tj ET\n" % (
            font,
            _number(line.size).encode(),
            _number(line.x).encode(),
            _number(y).encode(),
            _string_literal(line.text, "cp1252"),
        )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), bytes(content)),
        b"<< /Title (printhost banner) /Producer (printhost) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n\r\n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


# --- PostScript ---------------------------------------------------------------------------

_PS_PROLOG = b"""\
%%BeginProlog
/printhost-reencode { % /newname /basename -> (defines newname as ISO Latin-1 basename)
  findfont dup length dict begin
    { 1 index /FID ne { def } { pop pop } ifelse } forall
    % ISOLatin1Encoding has /minus and curly quotes at 0x2D, 0x27, 0x60: use ASCII's
    /Encoding ISOLatin1Encoding 256 array copy
      dup 45 /hyphen put dup 39 /quotesingle put dup 96 /grave put def
    currentdict
  end
  definefont pop
} bind def
/Helvetica-L1 /Helvetica printhost-reencode
/Helvetica-Bold-L1 /Helvetica-Bold printhost-reencode
%%EndProlog
"""


def _ps_tray(selection: TraySelection | None) -> bytes:
    """Tray selection wrapped so that a printer refusing it still prints: a failing
    ``setpagedevice`` raises an ordinary error, which ``stopped`` catches."""
    if selection is None or selection.postscript is None:
        return b""
    request = b"/MediaPosition %d" % selection.postscript
    if selection.manual_feed:
        request += b" /ManualFeed true"
    keyword = selection.keyword.encode("ascii")
    return (
        b"[{\n%%%%BeginFeature: *InputSlot %s\n<< %s >> setpagedevice\n%%%%EndFeature\n"
        b"} stopped cleartomark\n" % (keyword, request)
    )


def _render_postscript(lines: Sequence[_Line], selection: TraySelection | None) -> bytes:
    """A DSC-conforming one-page PostScript Level 2 program; positions are measured from
    the top of the printable area (``clippath pathbbox``), so A4 and Letter both work."""
    out = bytearray(
        b"%!PS-Adobe-3.0\n%%Title: printhost banner\n%%Creator: printhost\n"
        b"%%Pages: 1\n%%LanguageLevel: 2\n%%EndComments\n"
    )
    out += _PS_PROLOG
    out += b"%%BeginSetup\n" + _ps_tray(selection) + b"%%EndSetup\n"
    out += b"%%Page: 1 1\n"
    out += b"clippath pathbbox /printhost-top exch def pop pop pop newpath\n"
    out += b"0 setgray 36 printhost-top 36 sub 523 4 rectfill\n"
    for line in lines:
        font = b"/Helvetica-Bold-L1" if line.bold else b"/Helvetica-L1"
        out += b"%s findfont %s scalefont setfont %s printhost-top %s sub moveto %s show\n" % (
            font,
            _number(line.size).encode(),
            _number(line.x).encode(),
            _number(line.y).encode(),
            _string_literal(line.text, "latin-1"),
        )
    out += b"showpage\n%%Trailer\n%%EOF\n"
    return bytes(out)


# --- PCL ----------------------------------------------------------------------------------

ESC = b"\x1b"
UEL = ESC + b"%-12345X"  # Universal Exit Language: back to PJL (PJL Tech. Ref. ch. 2)
_PJL_JOB_NAME = b'"printhost banner"'
_UNIVERS = 4148  # PCL typeface number of Univers, the scalable font of every PCL 5 printer


def _pcl_text(text: str) -> bytes:
    """ISO 8859-1 bytes with nothing below 0x20 and nothing in 0x7F-0x9F (see _clean)."""
    raw = text.encode("latin-1", errors="replace")
    return bytes(b for b in raw if 0x20 <= b < 0x7F or b >= 0xA0)


def _render_pcl(lines: Sequence[_Line], selection: TraySelection | None) -> bytes:
    """PJL job header, then PCL 5: reset, portrait, one copy, tray, Latin-1, no
    end-of-line wrap; each line positioned absolutely in decipoints (1/720 inch)."""
    out = bytearray(UEL)
    out += b"@PJL JOB NAME=" + _PJL_JOB_NAME + b"\r\n"
    out += b"@PJL SET COPIES=1\r\n@PJL SET DUPLEX=OFF\r\n"
    out += b"@PJL ENTER LANGUAGE=PCL\r\n"
    out += ESC + b"E" + ESC + b"&l0O" + ESC + b"&l1X"
    if selection is not None and selection.pcl is not None:
        out += ESC + b"&l%dH" % selection.pcl
    out += ESC + b"(0N" + ESC + b"&s1C"
    out += ESC + b"&a360h360V" + ESC + b"*c5230h40v0P"  # the rule: a filled rectangle
    for line in lines:
        weight = 3 if line.bold else 0
        out += ESC + b"&a%dh%dV" % (round(line.x * 10), round(line.y * 10))
        out += ESC + b"(s1p%sv0s%db%dT" % (_number(line.size).encode(), weight, _UNIVERS)
        out += _pcl_text(line.text)
    out += b"\x0c" + ESC + b"E"
    out += UEL + b"@PJL EOJ NAME=" + _PJL_JOB_NAME + b"\r\n" + UEL
    return bytes(out)
