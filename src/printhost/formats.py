"""Document format detection from the first bytes (clients such as CUPS's ``lp`` send
everything as application/octet-stream, IPP-CLIENTS.md §4.1).

Only magic numbers and, for text, a printable-character check on the head; analysis of
pages and colour is a later stage.
"""

from __future__ import annotations

OCTET_STREAM = "application/octet-stream"
HEAD_BYTES = 4096

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "application/pdf"),
    (b"%!", "application/postscript"),
    (b"\x04%!", "application/postscript"),
    (b"\xc5\xd0\xd3\xc6", "application/postscript"),  # DOS EPS binary header
    (b"RaS2", "image/pwg-raster"),
    (b"UNIRAST\x00", "image/urf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b") HP-PCL XL", "application/vnd.hp-pclxl"),
    (b"\x1bE", "application/vnd.hp-pcl"),
    (b"\x1b%-12345X", "application/vnd.hp-pcl"),  # PJL wrapper; refined below
)

_PJL_LANGUAGES = {
    b"PDF": "application/pdf",
    b"POSTSCRIPT": "application/postscript",
    b"PCLXL": "application/vnd.hp-pclxl",
    b"PCL": "application/vnd.hp-pcl",
}


def detect_format(head: bytes) -> str | None:
    """The MIME type of a document starting with ``head``; None when unknown."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return _pjl_language(head) if magic == b"\x1b%-12345X" else mime
    if head and _looks_like_text(head):
        return "text/plain"
    return None


def _pjl_language(head: bytes) -> str:
    upper = head.upper()
    marker = upper.find(b"ENTER LANGUAGE")
    if marker >= 0:
        rest = upper[marker:].split(b"=", 1)[-1].strip()
        for name, mime in _PJL_LANGUAGES.items():
            if rest.startswith(name):
                return mime
    for magic, mime in ((b"%PDF", "application/pdf"), (b"%!", "application/postscript")):
        if magic in head:
            return mime
    return "application/vnd.hp-pcl"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the head is still text
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    allowed = {"\t", "\n", "\r", "\f", "\x1b"}
    bad = sum(1 for ch in text if ch < " " and ch not in allowed)
    return bad == 0
