"""PostScript: pages, colour pages, page sizes and embedded copies by running Ghostscript.

Theory of operation
-------------------
DSC comments (``%%Pages``, ``%%BoundingBox``) are hints a program may omit or get wrong,
so nothing here reads them. Ghostscript interprets the document and renders every page
it outputs at :data:`RENDER_DPI` to the ``ppmraw`` device, written to a pipe: the
frames are the truth for the page count and for colour, judged on the pixels exactly as
for PDF (a pixel whose channels are more than :data:`COLOR_TOLERANCE` apart is colour;
``-dUseFastColor`` keeps equal-channel RGB greys and black-only CMYK exact greys).

Before the document runs, a prologue installs an ``/EndPage`` procedure that, for each
page output, writes one line to standard error: a per-run random token, the page
device's ``/PageSize``, ``/Orientation`` and the copies Ghostscript will output
(``/NumCopies`` if not null, else ``#copies``). Ghostscript outputs each page that many
times, so the frames are grouped by those lines; the sizes must agree with the frames'
pixel dimensions, and a document that replaces ``/EndPage`` (no line for a frame) is
refused. Page sizes are ``/PageSize``, swapped for ``/Orientation`` 1 or 3 (Ghostscript
then renders the page landscape). When every printed page asks for the same number of
copies, that is ``embedded_copies`` and ``pages`` counts one copy; otherwise each
output page image is counted as a page, which is what the printer prints.

Bounds: Ghostscript runs with ``-dSAFER`` in its own empty temporary directory (also
its ``TMPDIR``: Ghostscript lets SAFER documents write into its temp directory), with
standard input closed, no file may grow past 0 bytes (``RLIMIT_FSIZE``), CPU time and
address space limited (never above the worker's own limits), a wall-clock timer, and
it dies with its parent. The prologue stops Ghostscript after :data:`MAX_PAGES` page
images, and this side refuses frames larger than :data:`MAX_RENDER_PIXELS`. A first
pass on the ``nullpage`` device (no rendering) runs the same prologue, so page floods,
loops and PostScript errors are refused before any page is rendered and read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import resource
import secrets
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image

from printhost.analysis.image import is_color_image
from printhost.analysis.model import MAX_PAGES, Analysis, AnalysisError

RENDER_DPI = 50
COLOR_TOLERANCE = 8
MAX_RENDER_PIXELS = 3000 * 3000  # per page image, at RENDER_DPI (60 x 60 inches)
MAX_MEMORY = 1 << 30
MAX_CPU_SECONDS = 30
WALL_MARGIN = 5.0  # seconds of wall clock beyond the CPU limit
SIZE_SLACK = 1.0  # pixels: the frame may differ from the declared size by rounding
_STDERR_TAIL = 20
_PR_SET_PDEATHSIG = 1

# The page hook. NONCE and LIMIT are substituted; //phcount is a one-element array made
# just before and embedded in the procedure, so the document cannot reset the count.
_PROLOGUE = """
userdict /phcount [0] put
<< /EndPage {
  exch pop dup 2 ne {
    currentpagedevice
    dup /PageSize get aload pop
    2 index /Orientation .knownget not { 0 } if
    4 -1 roll /NumCopies .knownget not { null } if
    dup null eq { pop /#copies where { /#copies get } { 1 } ifelse } if
    dup type /integertype ne { cvi } if
    //phcount 0 get 1 index dup 0 lt { pop 0 } if add //phcount exch 0 exch put
    (%stderr) (w) file
    dup (NONCE page ) writestring
    4 -1 1 { index 64 string cvs 1 index exch writestring dup ( ) writestring } for
    5 1 roll 4 { pop } repeat
    dup (\\n) writestring dup flushfile
    //phcount 0 get LIMIT gt {
      dup (NONCE limit\\n) writestring flushfile quit
    } { pop } ifelse
  } if
  2 ne
} bind executeonly >> setpagedevice
userdict /phcount undef
"""


@dataclass(frozen=True, slots=True)
class _PageInfo:
    width: float
    height: float
    orientation: int
    copies: int

    @property
    def displayed(self) -> tuple[float, float]:
        size = (round(self.width, 2), round(self.height, 2))
        return (size[1], size[0]) if self.orientation % 2 else size


@dataclass(frozen=True, slots=True)
class _Frame:
    width: int
    height: int
    color: bool


def analyze_postscript(path: Path) -> Analysis:
    nonce = secrets.token_hex(8)
    # an explicit dir: tempfile's own choice probes by writing a file, which the
    # worker's RLIMIT_FSIZE of 0 forbids; inside the sandbox's own directory when in the
    # worker, so that nothing is left behind if the worker is killed
    cwd = Path.cwd()
    in_sandbox = cwd.name.startswith("printhost-analysis-")
    parent = str(cwd) if in_sandbox else os.environ.get("TMPDIR") or "/tmp"
    with tempfile.TemporaryDirectory(prefix="printhost-ps-", dir=parent) as workdir:
        # a cheap first pass without rendering stops page floods and loops early
        _run_ghostscript(path, nonce, Path(workdir), "nullpage")
        infos, frames = _run_ghostscript(path, nonce, Path(workdir), "ppmraw")
    return _assemble(infos, frames)


def _assemble(infos: list[_PageInfo], frames: list[_Frame]) -> Analysis:
    if sum(max(info.copies, 0) for info in infos) != len(frames):
        raise AnalysisError(
            "PostScript replaces the page hook (/EndPage): its pages cannot be told apart"
        )
    printed: list[tuple[_PageInfo, list[_Frame]]] = []
    position = 0
    for info in infos:
        if info.copies < 1:
            continue
        group = frames[position : position + info.copies]
        position += info.copies
        width, height = info.displayed
        for frame in group:
            if not (
                abs(frame.width - width * RENDER_DPI / 72) <= SIZE_SLACK
                and abs(frame.height - height * RENDER_DPI / 72) <= SIZE_SLACK
            ):
                raise AnalysisError(
                    "PostScript page size does not match its rendered page "
                    f"({width:g} x {height:g} pt vs {frame.width} x {frame.height} px)"
                )
        printed.append((info, group))
    if not printed:
        raise AnalysisError("PostScript document prints no pages")
    copies = {info.copies for info, _ in printed}
    if len(copies) == 1:
        embedded = copies.pop()
        sizes = [info.displayed for info, _ in printed]
        colors = [any(frame.color for frame in group) for _, group in printed]
    else:  # pages ask for different copies: count every page image the printer prints
        embedded = 1
        sizes = [info.displayed for info, group in printed for _ in group]
        colors = [frame.color for _, group in printed for frame in group]
    return Analysis(
        format="application/postscript",
        pages=len(sizes),
        color_pages=tuple(n for n, color in enumerate(colors, 1) if color),
        page_sizes=tuple(sizes),
        embedded_copies=embedded,
    )


def _run_ghostscript(
    path: Path, nonce: str, workdir: Path, device: str
) -> tuple[list[_PageInfo], list[_Frame]]:
    cpu = _lowered(resource.RLIMIT_CPU, MAX_CPU_SECONDS)
    prologue = _PROLOGUE.replace("NONCE", nonce).replace("LIMIT", str(MAX_PAGES))
    command = [
        "gs",
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-dNOINTERPOLATE",
        "-dUseFastColor",
        f"-dMaxBitmap={MAX_RENDER_PIXELS * 3 + (1 << 20)}",
        f"-sDEVICE={device}",
        f"-r{RENDER_DPI}",
        "-sstdout=%stderr",
        "-sOutputFile=-",
        "-c",
        prologue,
        "-f",
        str(Path(path).absolute()),
    ]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": str(workdir)}
    env["HOME"] = str(workdir)
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=_limiter(cpu),  # the worker is single-threaded
            start_new_session=True,
        )
    except OSError as exc:
        raise AnalysisError(f"cannot run Ghostscript: {exc.strerror or exc}") from None
    assert process.stdout is not None and process.stderr is not None
    errors = _StderrReader(process.stderr, nonce)
    errors.start()
    timed_out = threading.Event()

    def on_timeout() -> None:
        timed_out.set()
        process.kill()

    wall = cpu + WALL_MARGIN
    timer = threading.Timer(wall, on_timeout)
    timer.start()
    try:
        frames = _read_frames(process.stdout, process.kill)
    except AnalysisError:
        process.kill()
        raise
    finally:
        process.stdout.close()
        status = process.wait()
        timer.cancel()
        errors.join()
    if timed_out.is_set():
        raise AnalysisError(f"PostScript took longer than {wall:g} s (an endless loop?)")
    if errors.limit:
        raise AnalysisError(f"PostScript has more than {MAX_PAGES} pages")
    if status < 0:
        raise AnalysisError(_death(-status, cpu))
    if status != 0:
        raise AnalysisError(f"PostScript error: {errors.reason()}")
    return errors.infos, frames


def _lowered(which: int, ceiling: int) -> int:
    soft, _ = resource.getrlimit(which)
    return ceiling if soft == resource.RLIM_INFINITY else min(soft, ceiling)


def _limiter(cpu: int) -> Callable[[], None]:
    memory = _lowered(resource.RLIMIT_AS, MAX_MEMORY)
    libc_name = ctypes.util.find_library("c")
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl if libc_name else None

    def limit() -> None:
        for which, value in (
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_AS, memory),
            (resource.RLIMIT_FSIZE, 0),
            (resource.RLIMIT_CORE, 0),
        ):
            _, hard = resource.getrlimit(which)
            top = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (top, top if which != resource.RLIMIT_CPU else hard))
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return limit


def _death(signum: int, cpu: int) -> str:
    if signum == signal.SIGXCPU:
        return f"PostScript used more than its CPU time limit ({cpu} s; an endless loop?)"
    if signum == signal.SIGXFSZ:
        return "PostScript tried to write a file, or has a page too large to render in memory"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"Ghostscript was killed by {name}: the document needs more memory than allowed"


class _StderrReader(threading.Thread):
    """Collects the page hook's lines from Ghostscript's standard error, and a tail of
    everything else for the error message; bounded whatever the document prints."""

    def __init__(self, stream: IO[bytes], nonce: str) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.prefix = nonce.encode() + b" "
        self.infos: list[_PageInfo] = []
        self.limit = False
        self.bad = False
        self.tail: list[str] = []

    def run(self) -> None:
        for raw in self.stream:
            line = raw[:4096]
            if line.startswith(self.prefix):
                self._hook_line(line[len(self.prefix) :].split())
            elif line.strip():
                self.tail = [*self.tail[-_STDERR_TAIL:], line.decode(errors="replace").strip()]
        self.stream.close()

    def _hook_line(self, fields: list[bytes]) -> None:
        if fields[:1] == [b"limit"]:
            self.limit = True
            return
        try:
            _, width, height, orientation, copies = fields
            info = _PageInfo(float(width), float(height), int(orientation), int(copies))
        except ValueError:
            self.bad = True
            return
        if len(self.infos) <= MAX_PAGES:
            self.infos.append(info)

    def reason(self) -> str:
        for line in self.tail:
            if line.startswith("Error:"):
                return line.removeprefix("Error:").strip()[:200]
        return (self.tail[-1] if self.tail else "Ghostscript failed")[:200]


_HEADER = re.compile(rb"P6\s+(?:#[^\n]*\n\s*)*(\d+)\s+(\d+)\s+(\d+)\s")


def _read_frames(stream: IO[bytes], stop: Callable[[], None]) -> list[_Frame]:
    frames: list[_Frame] = []
    while True:
        head = _read_header(stream)
        if head is None:
            return frames
        match = _HEADER.fullmatch(head)
        if match is None or int(match[3]) != 255:
            raise AnalysisError("Ghostscript wrote an unexpected image")
        width, height = int(match[1]), int(match[2])
        if width * height > MAX_RENDER_PIXELS:
            raise AnalysisError(
                f"PostScript page is too large ({width * 72 / RENDER_DPI:.0f} x "
                f"{height * 72 / RENDER_DPI:.0f} pt)"
            )
        if len(frames) >= MAX_PAGES:
            stop()
            raise AnalysisError(f"PostScript has more than {MAX_PAGES} pages")
        size = width * height * 3
        pixels = stream.read(size)
        if len(pixels) != size:
            raise AnalysisError("Ghostscript stopped in the middle of a page")
        image = Image.frombytes("RGB", (width, height), pixels)
        frames.append(_Frame(width, height, is_color_image(image, COLOR_TOLERANCE)))


def _read_header(stream: IO[bytes]) -> bytes | None:
    """``P6``, optional comment lines, width, height, maxval and one whitespace byte."""
    head = bytearray()
    numbers = 0
    in_comment = False
    in_number = False
    while True:
        byte = stream.read(1)
        if not byte:
            if head:
                raise AnalysisError("Ghostscript stopped in the middle of a page")
            return None
        head += byte
        if len(head) > 512:
            raise AnalysisError("Ghostscript wrote an unexpected image")
        if len(head) <= 2:
            continue
        if in_comment:
            in_comment = byte != b"\n"
        elif byte == b"#" and not in_number:
            in_comment = True
        elif byte.isdigit():
            in_number = True
        elif in_number:  # whitespace after a number
            in_number = False
            numbers += 1
            if numbers == 3:
                return bytes(head)
