"""Row 8: document analysis (pages, colour pages) by printhost and by Ghostscript 10.0.

The corpus is made here, in the run's work directory, from one PostScript program whose
truth is known by construction (:func:`corpus_program`): A4 pages of mono text, and on
each page one of five marks that cycle -

1. a red patch and a line of blue text (colour),
2. a ten-step DeviceGray ramp (mono),
3. a patch of neutral RGB grey, ``0.4 0.4 0.4 setrgbcolor`` (mono: printhost's convention,
   issue 5, is that an RGB grey with equal channels is not colour),
4. a patch of CMYK black only, ``0 0 0 0.7 setcmykcolor`` (mono),
5. a thin (0.5 pt) blue line (colour) -

so pages 1, 5, 6, 10, 11, ... are colour. Ghostscript's ``pdfwrite`` turns it into the
PDFs (as ``bench.documents`` does for rows 1-2) and ``pwgraster`` into a PWG raster
(sRGB, 8 bits, :data:`RASTER_DPI`).

Measured, per document, each pass timed alone (wall clock) and the median taken:

* printhost: ``printhost.analysis.analyze_bounded`` - the full analysis (page tree, page
  count, page sizes and colour pages) in a fresh child process forked from a pre-started
  worker that has already imported the analysers (``analysis/forkserver.py``; the child
  has its own session, rlimits and an empty temporary cwd, and is killed at the wall
  limit). The timed call includes the temporary directory, the fork, the whole analysis
  and the answer; it does not include starting the pre-started worker, which is done once
  (the first, untimed, warm-up call of a run). Colour is decided from the page content
  where that is exact (neutral-only pages are mono; a provably visible colour rectangle
  is colour), and only the rest is rendered (pdfium), whole or just the crop holding the
  colour. Pages alone cannot be asked for, so both lines of a document show this same
  full analysis. CPU is that of the forked children (reported by the worker).
* Ghostscript, pages: ``gs -q -dNODISPLAY -dSAFER --permit-file-read=FILE -c "(FILE) (r)
  file runpdfbegin pdfpagecount = quit"`` (the usual page-counting idiom).
* Ghostscript, colour: ``gs -q -dSAFER -o - -sDEVICE=inkcov FILE``: one line of C M Y K
  coverage per page; a page is colour when C, M or Y is non-zero. inkcov converts RGB to
  CMYK without keeping neutral greys on K, so neutral RGB grey counts as colour there.

Each tool's answer is checked against the truth: ``pages_exact`` / ``colour_exact`` are 1
when it found exactly the pages / exactly the colour pages, on every pass.
Ghostscript cannot read PWG raster, so the raster is printhost's alone. The truth of the
raster is the truth of the program it was rendered from; Ghostscript's colour management
renders some neutral marks as near-greys a level or a few off neutral (70 % CMYK black
becomes sRGB (109, 110, 113), DeviceGray 0.3 becomes (76, 77, 76)), which an exact
pixel test calls colour.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from printhost.analysis import AnalysisError, analyze_bounded
from printhost.analysis.sandbox import shared_server

GS_TIMEOUT = 300.0
RASTER_DPI = 300
#: Page marks in cycle order, and whether each makes the page colour.
MARKS: tuple[tuple[str, bool], ...] = (
    ("1 0 0 setrgbcolor 72 300 160 120 rectfill "
     "/Helvetica findfont 11 scalefont setfont 0 0 1 setrgbcolor 72 280 moveto "
     "(a line of blue text) show", True),
    ("0 1 9 { dup 9 div setgray 40 mul 72 add 300 40 40 rectfill } for", False),
    ("0.4 0.4 0.4 setrgbcolor 72 300 160 120 rectfill", False),
    ("0 0 0 0.7 setcmykcolor 72 300 160 120 rectfill", False),
    ("0 0 1 setrgbcolor 0.5 setlinewidth 72 300 moveto 400 300 lineto stroke", True),
)  # fmt: skip
A4 = (595, 842)
BODY_LINES = 40


@dataclass(frozen=True, slots=True)
class Truth:
    pages: int
    color_pages: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AnalysisDocument:
    name: str  # "pdf-10", "pdf-100", "pwg-10"
    path: Path
    truth: Truth


def truth(pages: int) -> Truth:
    colour = tuple(n for n in range(1, pages + 1) if MARKS[(n - 1) % len(MARKS)][1])
    return Truth(pages, colour)


def corpus_program(pages: int) -> str:
    """PostScript for ``pages`` A4 pages: mono text and the marks of :data:`MARKS`."""
    width, height = A4
    header = [
        "%!PS-Adobe-3.0",
        f"%%BoundingBox: 0 0 {width} {height}",
        f"%%Pages: {pages}",
        "%%EndComments",
        f"<< /PageSize [{width} {height}] >> setpagedevice",
        "/body { /Times-Roman findfont 10 scalefont setfont 0 setgray",
        f"  0 1 {BODY_LINES - 1} {{ 12 mul {height - 90} exch sub 72 exch moveto",
        "  (The quick brown fox jumps over the lazy dog; printhost bench, row 8.) show } for",
        "} def",
    ]
    out = header
    for n in range(1, pages + 1):
        mark = MARKS[(n - 1) % len(MARKS)][0]
        out += [
            f"%%Page: {n} {n}",
            f"/Helvetica-Bold findfont 18 scalefont setfont 0 setgray 72 {height - 60} moveto "
            f"(Page {n} of {pages}) show body gsave {mark} grestore showpage",
        ]
    return "\n".join([*out, "%%EOF", ""])


def make_corpus(
    directory: Path, pdf_pages: Sequence[int], raster_pages: int
) -> dict[str, AnalysisDocument]:
    directory.mkdir(parents=True, exist_ok=True)
    docs = [
        _ghostscript(directory, f"pdf-{n}", "pdfwrite", n, [])
        for n in pdf_pages
    ]  # fmt: skip
    raster = ["-dcupsColorSpace=19", "-dcupsBitsPerColor=8", f"-r{RASTER_DPI}"]
    docs.append(_ghostscript(directory, f"pwg-{raster_pages}", "pwgraster", raster_pages, raster))
    return {doc.name: doc for doc in docs}


def _ghostscript(
    directory: Path, name: str, device: str, pages: int, options: Sequence[str]
) -> AnalysisDocument:
    target = directory / f"analysis-{name}.{'pdf' if device == 'pdfwrite' else 'pwg'}"
    command = [
        "gs",
        *("-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", f"-sDEVICE={device}", *options),
        f"-sOutputFile={target}",
        "-",
    ]
    program = corpus_program(pages).encode("ascii")
    subprocess.run(command, input=program, check=True, capture_output=True, timeout=GS_TIMEOUT)
    return AnalysisDocument(name, target, truth(pages))


# --- the tools ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What a tool found: pages (None: not asked), colour pages (None: not asked)."""

    pages: int | None
    color_pages: tuple[int, ...] | None


def printhost_answer(path: Path) -> Answer:
    try:
        found = analyze_bounded(path)
    except AnalysisError as exc:
        raise RuntimeError(f"printhost refused the bench's own {path.name}: {exc}") from exc
    return Answer(found.pages, found.color_pages)


def gs_pagecount_answer(path: Path) -> Answer:
    program = f"({path}) (r) file runpdfbegin pdfpagecount = quit"
    command = ["gs", "-q", "-dNODISPLAY", "-dSAFER", f"--permit-file-read={path}", "-c", program]
    done = subprocess.run(command, capture_output=True, text=True, timeout=GS_TIMEOUT, check=True)
    return Answer(int(done.stdout.split()[-1]), None)


def gs_inkcov_answer(path: Path) -> Answer:
    command = ["gs", "-q", "-dSAFER", "-o", "-", "-sDEVICE=inkcov", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=GS_TIMEOUT, check=True)
    coverage = [line.split() for line in done.stdout.splitlines() if line.endswith("OK")]
    colour = tuple(n for n, c in enumerate(coverage, 1) if any(float(v) > 0 for v in c[:3]))
    return Answer(len(coverage), colour)


@dataclass(frozen=True, slots=True)
class Timed:
    seconds: float  # median wall clock per pass
    cpu_seconds: float  # median CPU of the children (the worker, gs) per pass
    answers: tuple[Answer, ...]  # one per pass

    def pages_exact(self, truth: Truth) -> bool:
        return all(a.pages == truth.pages for a in self.answers)

    def colour_exact(self, truth: Truth) -> bool:
        return all(a.color_pages == truth.color_pages for a in self.answers)


def _children_cpu() -> float:
    """CPU seconds of this process's children, and of the pre-started worker's children
    (the forked analysis processes are its children, not ours)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + shared_server().cpu_seconds


def timed(tool: Callable[[Path], Answer], path: Path, passes: int) -> Timed:
    """``passes`` runs of ``tool`` on ``path``, each timed alone."""
    walls: list[float] = []
    cpus: list[float] = []
    answers: list[Answer] = []
    for _ in range(passes):
        before = _children_cpu()
        started = time.perf_counter()
        answers.append(tool(path))
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - before)
    return Timed(statistics.median(walls), statistics.median(cpus), tuple(answers))


def measure(doc: AnalysisDocument, label: str, passes: int) -> dict[str, float]:
    """Figures of one run: ``count_s``/``colour_s`` (median seconds per document) and
    ``pages_exact``/``colour_exact`` (1 or 0). ``label`` "CUPS" is the comparison column,
    here Ghostscript."""
    if label == "printhost":
        # Start the pre-started worker (once per bench process) outside the timed passes.
        printhost_answer(doc.path)
        # One analysis answers both questions: the same passes serve both lines.
        pages = colour = timed(printhost_answer, doc.path, passes)
    else:
        pages = timed(gs_pagecount_answer, doc.path, passes)
        colour = timed(gs_inkcov_answer, doc.path, passes)
    return {
        "documents": float(passes),
        "count_s": pages.seconds,
        "count_cpu_s": pages.cpu_seconds,
        "pages_exact": float(pages.pages_exact(doc.truth)),
        "colour_s": colour.seconds,
        "colour_cpu_s": colour.cpu_seconds,
        "colour_exact": float(colour.colour_exact(doc.truth)),
    }


async def measure_async(doc: AnalysisDocument, label: str, passes: int) -> dict[str, float]:
    return await asyncio.to_thread(measure, doc, label, passes)
