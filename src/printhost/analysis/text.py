"""Plain text: 66 lines per page, a form feed starts a new page, a trailing form feed adds
none. Pages are US letter and mono. A long line is one line (no wrapping).

The whole file must look like text (UTF-8, no control characters other than tab, line
feed, carriage return, form feed and escape), not only its head: random bytes must not
pass as thousands of text pages.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO

from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError

LINES_PER_PAGE = 66
LETTER = (612.0, 792.0)
CHUNK = 1 << 20
_ALLOWED_CONTROLS = frozenset(b"\t\n\r\f\x1b")
_BAD_BYTES = bytes(c for c in range(32) if c not in _ALLOWED_CONTROLS) + b"\x7f"


def analyze_text(stream: BinaryIO) -> Analysis:
    pages = count_text_pages(stream)
    return Analysis(format="text/plain", pages=pages, color_pages=(), page_sizes=(LETTER,) * pages)


def count_text_pages(stream: BinaryIO) -> int:
    decoder = codecs.getincrementaldecoder("utf-8")()
    counter = _PageCounter()
    offset = 0
    while chunk := stream.read(CHUNK):
        _check_text(chunk, decoder, offset)
        counter.feed(chunk)
        offset += len(chunk)
    _check_text(b"", decoder, offset, final=True)
    return counter.finish()


def _check_text(
    chunk: bytes, decoder: codecs.IncrementalDecoder, offset: int, final: bool = False
) -> None:
    pending = len(decoder.getstate()[0])  # bytes of a character cut at the last chunk
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        position = offset - pending + exc.start
        raise AnalysisError(f"not plain text: invalid UTF-8 at byte {position}") from None
    stripped = chunk.translate(None, _BAD_BYTES)
    if len(stripped) != len(chunk):
        position = next(i for i, c in enumerate(chunk) if c in _BAD_BYTES)
        raise AnalysisError(
            f"not plain text: control byte 0x{chunk[position]:02x} at byte {offset + position}"
        )


class _PageCounter:
    """Counts pages over a stream split at arbitrary points.

    A page segment is the text between form feeds; it takes
    ``max(1, ceil(lines / 66))`` pages, where a last line without a newline counts.
    The empty segment after a trailing form feed (and an empty file) takes none.
    """

    def __init__(self) -> None:
        self.pages = 0
        self.lines = 0  # complete lines in the current segment
        self.partial = False  # the current segment has text after its last newline
        self.started = False  # the current segment exists (text or a form feed before it)

    def feed(self, chunk: bytes) -> None:
        parts = chunk.split(b"\f")
        for index, part in enumerate(parts):
            if index > 0:
                self._close_segment()
            if part:
                self.started = True
                self.lines += part.count(b"\n")
                self.partial = not part.endswith(b"\n")

    def _close_segment(self) -> None:
        lines = self.lines + (1 if self.partial else 0)
        self.pages += max(1, -(-lines // LINES_PER_PAGE))
        self.lines, self.partial, self.started = 0, False, False
        if self.pages > MAX_PAGES:
            raise AnalysisError(f"text has more than {MAX_PAGES} pages")

    def finish(self) -> int:
        if self.started:
            self._close_segment()
        return self.pages
