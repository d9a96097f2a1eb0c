"""Converting a PDF or PostScript document to a grayscale PDF with Ghostscript.

Theory of operation
-------------------
Ghostscript's ``pdfwrite`` device re-writes the document with
``-sColorConversionStrategy=Gray -dProcessColorModel=/DeviceGray``: every colour,
image and shading is converted to DeviceGray. ``-dAutoRotatePages=/None`` keeps every
page as it was (pdfwrite would otherwise turn pages by the direction of their text).
A PDF (``%PDF-`` in its first KiB) is first opened with qpdf: Ghostscript answers a PDF
it cannot read, or one that needs a password, with a blank page and exit status 0, so
such a PDF is refused before Ghostscript runs, and the output must have as many pages as
the input. Any output must be a PDF with at least one page. An empty file is refused.
(A PostScript program that prints no page still gets one blank page: pdfwrite always
writes one. Analysis, which counts pages, is the place to refuse such jobs.)

Ghostscript interprets untrusted code (PostScript is a programming language), so it is
bounded the way document analysis bounds its worker:

- ``-dSAFER``, standard input closed, a fresh minimal environment (no ``GS_OPTIONS``)
  and a fresh empty temporary working directory, which is also its ``TMPDIR`` and
  ``HOME``. SAFER still lets a document write files in Ghostscript's temporary
  directory (the system's ``/tmp`` by default, subdirectories included); pointed into
  the per-job directory, which is deleted afterwards, those writes go nowhere, and
  nothing outside it is writable. The output is written there too and then moved (or
  copied and fsynced) to the target: the target is the only file this leaves behind.
- Its own session (``start_new_session``): on the wall-clock timeout the whole process
  group is killed, so an endless loop (``{} loop``) costs at most
  :attr:`ConversionLimits.wall_seconds`.
- rlimits set in the child before Ghostscript starts, by a tiny ``python -I -S``
  wrapper that then execs ``gs`` (not ``preexec_fn``: the server calls this from a
  worker thread, and forking a threaded process must not run Python code): address
  space, CPU time (``SIGXCPU``, then ``SIGKILL`` a second later), the largest file it
  may write (output, its temporary files, the log) and no core dumps. It is also killed
  if the calling thread dies (``PR_SET_PDEATHSIG``).

Ghostscript's messages go to a log file in the working directory; the reason for a
failure is taken from it (``Error: /undefined in ...``), trimmed to printable text.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from printhost.modify._files import fsync_directory, same_file
from printhost.modify.errors import ModificationError

#: Exit status of the wrapper when it cannot start Ghostscript.
_EXEC_FAILED = 127
_LOG_TAIL = 16 * 1024
_REASON_CHARS = 200

# argv: memory cpu fsize gs-path gs-args... ; sets limits, then becomes Ghostscript.
_WRAPPER = """\
import os, resource, signal, sys
# Python ignores these; ignored signals stay ignored across exec. Ghostscript must die
# of SIGXFSZ at the file size limit (it carries on after a failed write otherwise).
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
try:
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
memory, cpu, fsize = (int(v) for v in sys.argv[1:4])
for which, value in (
    (resource.RLIMIT_CPU, cpu),
    (resource.RLIMIT_AS, memory),
    (resource.RLIMIT_FSIZE, fsize),
    (resource.RLIMIT_CORE, 0),
):
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if which == resource.RLIMIT_CPU:
        top = value + 1 if hard == resource.RLIM_INFINITY else min(value + 1, hard)
    else:
        top = value
    resource.setrlimit(which, (value, top))
try:
    os.execv(sys.argv[4], sys.argv[4:])
except OSError as exc:
    sys.stderr.write("cannot start Ghostscript: %s\\n" % (exc.strerror or exc))
    sys.exit(127)
"""


@dataclass(frozen=True, slots=True)
class ConversionLimits:
    """Bounds on one Ghostscript run. ``output_bytes`` is the largest file it may write
    (the output PDF, each of its temporary files, its log)."""

    memory_bytes: int = 2 << 30
    cpu_seconds: int = 120
    wall_seconds: float = 180.0
    output_bytes: int = 2 << 30

    def __post_init__(self) -> None:
        if self.memory_bytes <= 0 or self.cpu_seconds <= 0 or self.output_bytes <= 0:
            raise ValueError("limits must be positive")
        if not self.wall_seconds > 0:
            raise ValueError("wall_seconds must be positive")


def convert_to_grayscale(
    source: Path, target: Path, limits: ConversionLimits = ConversionLimits()
) -> None:
    """Write ``source`` (PDF or PostScript) converted to a grayscale PDF to ``target``
    (fsynced). Raises :class:`ModificationError` with the reason when Ghostscript fails,
    is killed or times out, or its output is not a PDF with the document's pages;
    :class:`ValueError` if ``target`` is ``source``. ``source`` is never written."""
    source, target = Path(source).absolute(), Path(target)
    if same_file(source, target):
        raise ValueError("target must not be the source")
    if not stat.S_ISREG(os.stat(source).st_mode):  # FileNotFoundError is the caller's
        raise ModificationError("the document is not a regular file")
    with open(source, "rb") as document:
        head = document.read(1024)
    gs = shutil.which("gs")
    if gs is None:
        raise ModificationError("Ghostscript (gs) is not installed; cannot convert to grayscale")
    if not head:
        raise ModificationError("the document is empty")
    expected = _pdf_pages(source) if b"%PDF-" in head else None
    with tempfile.TemporaryDirectory(prefix="printhost-grayscale-") as workdir:
        work = Path(workdir)
        output = work / "out.pdf"
        log = work / "gs.log"
        status, timed_out = _run(gs, source, output, log, work, limits)
        if timed_out:
            raise ModificationError(
                f"grayscale conversion took longer than {limits.wall_seconds:g} s "
                "(an endless loop?)"
            )
        if status < 0:
            raise ModificationError(_death(-status, limits))
        if status == _EXEC_FAILED:
            raise ModificationError(f"cannot run Ghostscript: {_reason(log)}")
        if status != 0:
            raise ModificationError(f"Ghostscript could not convert the document: {_reason(log)}")
        _check_output(output, expected)
        _deliver(output, target)


def _command(gs: str, source: Path, output: Path, limits: ConversionLimits) -> list[str]:
    return [
        sys.executable,
        "-I",
        "-S",
        "-c",
        _WRAPPER,
        str(limits.memory_bytes),
        str(limits.cpu_seconds),
        str(limits.output_bytes),
        gs,
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOPROMPT",
        "-sDEVICE=pdfwrite",
        "-sColorConversionStrategy=Gray",
        "-dProcessColorModel=/DeviceGray",
        "-dAutoRotatePages=/None",
        # %d in OutputFile is a page-number template; %% is a literal %.
        "-sOutputFile=" + str(output).replace("%", "%%"),
        "-f",
        str(source),
    ]


def _run(
    gs: str, source: Path, output: Path, log: Path, work: Path, limits: ConversionLimits
) -> tuple[int, bool]:
    """Run Ghostscript; returns its exit status (negative: killed by that signal) and
    whether it was killed for the wall-clock timeout."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TMPDIR": str(work),
        "TMP": str(work),
        "TEMP": str(work),
        "HOME": str(work),
        "LC_ALL": "C",
    }
    with open(log, "wb") as log_file:
        try:
            process = subprocess.Popen(
                _command(gs, source, output, limits),
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ModificationError(f"cannot run Ghostscript: {exc.strerror or exc}") from None
    try:
        return process.wait(timeout=limits.wall_seconds), False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return process.wait(), True
    except BaseException:
        _kill_group(process)
        process.wait()
        raise


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    # Not yet waited for, so its pid (the group's id: it leads its own session) is not reused.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _death(signum: int, limits: ConversionLimits) -> str:
    if signum in (signal.SIGXCPU, signal.SIGKILL):
        return (
            f"grayscale conversion exceeded its CPU time limit ({limits.cpu_seconds} s; "
            "an endless loop?)"
        )
    if signum == signal.SIGXFSZ:
        return (
            f"grayscale conversion tried to write a file larger than {_size(limits.output_bytes)}"
        )
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return (
        f"Ghostscript was killed by {name}: the document is malformed or needs more than "
        f"{_size(limits.memory_bytes)}"
    )


def _size(count: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):.3g} {unit}"
    return f"{count} bytes"


def _reason(log: Path) -> str:
    try:
        with open(log, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - _LOG_TAIL))
            tail = file.read(_LOG_TAIL).decode("latin-1")
    except OSError:
        return "Ghostscript failed"
    lines = [
        "".join(c if c.isprintable() else " " for c in line).strip() for line in tail.splitlines()
    ]
    lines = [line for line in lines if line]
    for line in lines:
        if line.startswith("Error:"):
            return line.removeprefix("Error:").strip()[:_REASON_CHARS]
    for line in lines:
        if "Error" in line:
            return line.strip("* ")[:_REASON_CHARS]
    return (lines[-1] if lines else "Ghostscript failed")[:_REASON_CHARS]


def _pdf_pages(source: Path) -> int:
    """The page count of a PDF, read with qpdf before Ghostscript sees it: Ghostscript
    answers a PDF it cannot open, or one that needs a password, with a blank page and
    exit status 0, so such a PDF is refused here."""
    try:
        with pikepdf.open(source) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        raise ModificationError(
            "the PDF is encrypted and needs a password to open; it cannot be converted"
        ) from None
    except MemoryError:
        raise ModificationError("the PDF needs more memory than conversion allows") from None
    except Exception as exc:  # pikepdf.PdfError and relatives
        detail = " ".join(str(exc).split())[:_REASON_CHARS]
        raise ModificationError(f"not a readable PDF ({type(exc).__name__}: {detail})") from None
    if pages == 0:
        raise ModificationError("the PDF has no pages")
    return pages


def _check_output(output: Path, expected: int | None) -> None:
    try:
        with pikepdf.open(output) as pdf:
            pages = len(pdf.pages)
    except Exception:
        raise ModificationError(
            "Ghostscript did not produce a readable PDF (the document has no pages?)"
        ) from None
    if pages == 0:
        raise ModificationError("the converted document has no pages")
    if expected is not None and pages != expected:
        raise ModificationError(f"the converted document has {pages} pages instead of {expected}")


def _deliver(output: Path, target: Path) -> None:
    try:
        try:
            os.replace(output, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.copyfile(output, target)
        with open(target, "rb") as file:
            os.fsync(file.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


__all__ = ["ConversionLimits", "convert_to_grayscale"]
