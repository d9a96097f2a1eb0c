"""Printer-controller capture: lift the print data out of a VT100-style terminal stream.

Theory of operation
-------------------
Legacy host applications print on the user's "terminal printer" by sending
``CSI 5 i`` (Media Copy, "printer controller mode on"), the data, then ``CSI 4 i``
("printer controller mode off"); CSI is the two-byte ``ESC [`` (DEC VT102/VT220 manuals,
"Media Copy"; ECMA-48 MC). A real terminal in controller mode does not display
what it receives, it sends it to the printer. :class:`CaptureExtractor` does the same
for a byte stream: everything outside controller mode is *passthrough* (returned for the
terminal, byte for byte), everything inside is one *capture* (returned whole when it
ends). The two sequences themselves go to neither.

It is sans-I/O: ``feed(bytes)`` returns ``FeedResult(passthrough, captures)`` and
``close()`` says the stream ended. A sequence split across chunks is recognised: the end
of a chunk that could be the beginning of a sequence (at most three bytes) is held back
until the next chunk decides it. Only the exact sequences are recognised; parameters
written differently (``CSI 05 i``, ``CSI 5;0 i``) are not and pass through as data.

Decisions
---------
- **Stray or unrelated sequences pass through untouched.** ``CSI 4 i`` outside controller
  mode, and ``CSI 5 i`` inside it (a VT100 passes it to the printer), are data.
  *Auto print* mode, ``CSI ? 5 i`` / ``CSI ? 4 i``, and print-screen ``CSI i`` /
  ``CSI ? 1 i`` are left to the real terminal downstream: in auto print mode the data is
  both displayed and printed line by line as the *terminal* lays it out, which a filter
  without a screen model cannot reproduce.
- **8-bit CSI (0x9B) is off by default.** A VT220 in 8-bit mode also accepts the C1
  control 0x9B as CSI. In a UTF-8 session 0x9B is an ordinary continuation byte (U+00DB
  "Û" is C3 9B), so "Û5i" would start a capture: recognising it is only safe for
  8-bit (ISO 8859) sessions, hence the opt-in ``c1_controls=True``.
- **Captures are bounded.** At most ``max_capture_bytes`` (default 64 MiB) of one capture
  are kept; the rest, up to its ``CSI 4 i``, is counted in ``Capture.dropped_bytes`` and
  discarded, so memory stays bounded whatever the host sends. The caller decides what
  to say about a cut capture.
- **An unterminated capture is still a capture.** If the stream ends in controller mode
  (the host died, the session was cut), ``close()`` returns what was collected with
  ``terminated=False``: the user asked for it to be printed and losing it is worse than
  printing a partial document; the caller can tell from the flag.
- Empty captures (``CSI 5 i CSI 4 i``) are returned too; the caller may skip them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MAX_CAPTURE_BYTES",
    "Capture",
    "CaptureExtractor",
    "FeedResult",
]

DEFAULT_MAX_CAPTURE_BYTES = 64 << 20

_START_7BIT = b"\x1b[5i"
_STOP_7BIT = b"\x1b[4i"
_START_8BIT = b"\x9b5i"
_STOP_8BIT = b"\x9b4i"


@dataclass(frozen=True, slots=True)
class Capture:
    """The bytes received in one printer-controller-mode session.

    ``dropped_bytes`` > 0 means the capture was cut at the size limit; ``terminated`` is
    False when the stream ended before ``CSI 4 i``.
    """

    data: bytes
    dropped_bytes: int = 0
    terminated: bool = True

    @property
    def truncated(self) -> bool:
        return self.dropped_bytes > 0


@dataclass(frozen=True, slots=True)
class FeedResult:
    """What one ``feed``/``close`` produced: bytes for the terminal, finished captures."""

    passthrough: bytes = b""
    captures: list[Capture] = field(default_factory=list)


class CaptureExtractor:
    """Splits a terminal byte stream into passthrough and captures (module docstring)."""

    def __init__(
        self,
        *,
        max_capture_bytes: int = DEFAULT_MAX_CAPTURE_BYTES,
        c1_controls: bool = False,
    ) -> None:
        if max_capture_bytes < 1:
            raise ValueError("max_capture_bytes must be at least 1")
        self.max_capture_bytes = max_capture_bytes
        self._starts = (_START_7BIT, _START_8BIT) if c1_controls else (_START_7BIT,)
        self._stops = (_STOP_7BIT, _STOP_8BIT) if c1_controls else (_STOP_7BIT,)
        self._held = b""  # a possible beginning of a sequence, at most 3 bytes
        self._capturing = False
        self._capture = bytearray()
        self._dropped = 0
        self._closed = False

    @property
    def capturing(self) -> bool:
        """True while in printer controller mode."""
        return self._capturing

    def feed(self, data: bytes) -> FeedResult:
        """Process the next chunk of the stream."""
        if self._closed:
            raise RuntimeError("feed() after close()")
        buffer = self._held + data
        self._held = b""
        passthrough = bytearray()
        captures: list[Capture] = []
        position = 0
        while True:
            patterns = self._stops if self._capturing else self._starts
            found, end = _find_first(buffer, position, patterns)
            if found < 0:
                keep = _partial_suffix(buffer, position, patterns)
                self._route(buffer[position:keep], passthrough)
                self._held = buffer[keep:]
                return FeedResult(bytes(passthrough), captures)
            self._route(buffer[position:found], passthrough)
            position = end
            if self._capturing:
                captures.append(self._finish(terminated=True))
            else:
                self._capturing = True

    def close(self) -> FeedResult:
        """End of stream: release held bytes; return an unterminated capture, if any."""
        if self._closed:
            return FeedResult()
        self._closed = True
        passthrough = bytearray()
        self._route(self._held, passthrough)
        self._held = b""
        if self._capturing:
            return FeedResult(bytes(passthrough), [self._finish(terminated=False)])
        return FeedResult(bytes(passthrough))

    def _route(self, chunk: bytes, passthrough: bytearray) -> None:
        if not self._capturing:
            passthrough += chunk
            return
        room = self.max_capture_bytes - len(self._capture)
        self._capture += chunk[:room]
        self._dropped += max(0, len(chunk) - room)

    def _finish(self, *, terminated: bool) -> Capture:
        capture = Capture(bytes(self._capture), self._dropped, terminated)
        self._capture = bytearray()
        self._dropped = 0
        self._capturing = False
        return capture


def _find_first(buffer: bytes, start: int, patterns: tuple[bytes, ...]) -> tuple[int, int]:
    """(index, end) of the earliest complete pattern at or after ``start``; (-1, -1)."""
    best, best_end = -1, -1
    for pattern in patterns:
        index = buffer.find(pattern, start)
        if index >= 0 and (best < 0 or index < best):
            best, best_end = index, index + len(pattern)
    return best, best_end


def _partial_suffix(buffer: bytes, start: int, patterns: tuple[bytes, ...]) -> int:
    """Where the longest suffix of ``buffer[start:]`` that is a proper prefix of a
    pattern begins (``len(buffer)`` when there is none)."""
    longest = max(len(pattern) for pattern in patterns) - 1
    for size in range(min(longest, len(buffer) - start), 0, -1):
        tail = buffer[len(buffer) - size :]
        if any(pattern.startswith(tail) for pattern in patterns):
            return len(buffer) - size
    return len(buffer)
