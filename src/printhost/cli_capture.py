"""``printhost capture``: a filter between a terminal session and the terminal that prints
what the host sends in VT100 printer controller mode (``ESC [ 5 i`` ... ``ESC [ 4 i``).

Usage: ``host-session | printhost capture --server ipp://printhost/printers/myprinter``.
Standard input is the session's output; standard output gets it back, byte for byte,
minus the controller-mode data and sequences (see :mod:`printhost.capture`). Each
capture becomes one Print-Job. For an interactive session the local terminal must be
raw, e.g. ``stty raw -echo; ssh -tt host | printhost capture; stty sane``; wrapping a
command in a pseudo-terminal (``printhost capture -- ssh host``) is not implemented.

Theory of operation
-------------------
The main thread only moves bytes: read whatever standard input has (``os.read``, so an
interactive session is never held back waiting for a full buffer), feed the extractor,
write the passthrough. Finished captures go to a submitter thread through a small
bounded queue, so a slow or dead server never stalls the session. A capture that cannot
be submitted (server down, refused, timed out, queue full) is written to the spool
directory (``--spool-dir``, default ``$XDG_STATE_HOME/printhost/capture``) with fsync
before rename, the error and the file name go to standard error, and the stream keeps
flowing: nothing is lost. At end of input the submitter finishes the queue (each
submission bounded by ``--timeout``) before the command exits.

Exit status: 0 when every capture was submitted, 1 when any was saved instead (or lost,
if even saving failed), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import getpass
import os
import queue
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from printhost.capture import DEFAULT_MAX_CAPTURE_BYTES, Capture, CaptureExtractor
from printhost.client_transport import RoundRobinTransport
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp_client import IppClientError, new_request, send_ipp

__all__ = ["register"]

CHUNK = 64 * 1024
#: Captures waiting for the submitter; beyond this they are saved straight to disk.
BACKLOG = 4
_SUFFIXES = {
    "text/plain": "txt",
    "application/pdf": "pdf",
    "application/postscript": "ps",
    "application/vnd.hp-pcl": "pcl",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``capture`` subcommand to the ``printhost`` parser."""
    # Imported here, not at the top: printhost.cli imports this module.
    from printhost.cli import _client_options

    capture = commands.add_parser(
        "capture",
        help="pass a terminal stream through and print its printer-controller-mode data",
        description="Copy standard input (a terminal session) to standard output, minus "
        "what the host sends in VT100 printer controller mode (ESC [ 5 i ... ESC [ 4 i), "
        "and print each such capture as one job.",
    )
    capture.add_argument("--title", "-t", help="job name (default: 'terminal capture N')")
    capture.add_argument(
        "--format", "-f", default="text/plain", help="document-format (default: %(default)s)"
    )
    capture.add_argument(
        "--spool-dir",
        type=Path,
        help="where captures that could not be submitted are saved "
        "(default: $XDG_STATE_HOME/printhost/capture, else ~/.local/state/printhost/capture)",
    )
    capture.add_argument(
        "--max-capture-bytes",
        type=int,
        default=DEFAULT_MAX_CAPTURE_BYTES,
        help="cut longer captures (default: %(default)s)",
    )
    capture.add_argument(
        "--c1",
        action="store_true",
        help="also accept the 8-bit CSI (0x9B); only for 8-bit, non-UTF-8 sessions",
    )
    capture.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per submission (default: 60)"
    )
    capture.add_argument(
        "--verbose", "-v", action="store_true", help="report each submitted job on stderr"
    )
    _client_options(capture)
    capture.set_defaults(run=_run)


def _default_spool_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "printhost" / "capture"


@dataclass(frozen=True, slots=True)
class _Settings:
    server: str
    user: str
    auth: tuple[str, str] | None
    title: str | None
    document_format: str
    spool_dir: Path
    timeout: float
    verbose: bool


def _run(args: argparse.Namespace) -> int:
    if args.max_capture_bytes < 1:
        return _usage("--max-capture-bytes must be at least 1")
    auth = None
    if args.password:
        password = os.environ.get("PRINTHOST_PASSWORD") or _ask_password()
        if password is None:
            return _usage("--password needs $PRINTHOST_PASSWORD when there is no terminal")
        auth = (args.user, password)
    settings = _Settings(
        args.server,
        args.user,
        auth,
        args.title,
        args.format,
        args.spool_dir or _default_spool_dir(),
        args.timeout,
        args.verbose,
    )
    extractor = CaptureExtractor(max_capture_bytes=args.max_capture_bytes, c1_controls=args.c1)
    submitter = _Submitter(settings)
    submitter.start()
    try:
        _pump(extractor, submitter)
    finally:
        submitter.finish()
    if submitter.failures:
        _note(f"{submitter.failures} capture(s) not submitted; see {settings.spool_dir}")
        return 1
    return 0


def _usage(message: str) -> int:
    _note(message)
    return 2


def _ask_password() -> str | None:
    """Prompt on the controlling terminal; never on standard input, which is the stream."""
    try:
        with open("/dev/tty", "rb"):
            pass
    except OSError:
        return None
    return getpass.getpass("password: ")


def _pump(extractor: CaptureExtractor, submitter: _Submitter) -> None:
    """Copy standard input to standard output through the extractor until EOF."""
    source, sink = sys.stdin.fileno(), sys.stdout.fileno()
    try:
        while chunk := os.read(source, CHUNK):
            result = extractor.feed(chunk)
            _write_all(sink, result.passthrough)
            submitter.put_all(result.captures)
    except BrokenPipeError:
        _note("standard output closed; stopping")
    finally:
        result = extractor.close()
        with contextlib.suppress(BrokenPipeError):
            _write_all(sink, result.passthrough)
        submitter.put_all(result.captures)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _note(message: str) -> None:
    print(f"printhost capture: {message}", file=sys.stderr, flush=True)


class _Submitter:
    """Owns the thread that submits captures; ``finish()`` drains the queue and joins."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.failures = 0
        self._count = 0
        self._queue: queue.Queue[tuple[int, Capture] | None] = queue.Queue(BACKLOG)
        self._thread = threading.Thread(target=self._work, name="capture-submitter")
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def put_all(self, captures: list[Capture]) -> None:
        for capture in captures:
            self._count += 1
            number = self._count
            if not capture.data:
                _note(f"capture {number} is empty; nothing to print")
                continue
            _describe_limits(number, capture)
            try:
                self._queue.put_nowait((number, capture))
            except queue.Full:
                self._save(number, capture, "too many captures waiting for the server")

    def finish(self) -> None:
        self._queue.put(None)  # blocks only while the queue is full; it drains
        self._thread.join()

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            number, capture = item
            try:
                job_id = asyncio.run(_print_job(self.settings, number, capture))
            # Anything that goes wrong with the server, the network or the URI must not
            # lose the capture or stop the thread: save it and say why.
            except Exception as exc:
                self._save(number, capture, f"{type(exc).__name__}: {exc}")
                continue
            if self.settings.verbose:
                _note(f"capture {number} ({len(capture.data)} bytes) submitted as job {job_id}")

    def _save(self, number: int, capture: Capture, reason: str) -> None:
        with self._lock:
            self.failures += 1
        try:
            path = save_capture(self.settings.spool_dir, number, capture, self._suffix())
        except OSError as exc:
            _note(f"capture {number} not submitted ({reason}) and LOST: cannot save: {exc}")
            return
        _note(f"capture {number} not submitted ({reason}); saved as {path}")

    def _suffix(self) -> str:
        return _SUFFIXES.get(self.settings.document_format.lower(), "bin")


def _describe_limits(number: int, capture: Capture) -> None:
    if capture.truncated:
        _note(
            f"capture {number} cut at {len(capture.data)} bytes "
            f"({capture.dropped_bytes} more bytes dropped)"
        )
    if not capture.terminated:
        _note(f"capture {number} ended without ESC [ 4 i; printing what arrived")


async def _print_job(settings: _Settings, number: int, capture: Capture) -> object:
    """Print-Job with the capture as the document; return the job-id (None if absent).
    Raise IppClientError for an unsuccessful status."""
    request = new_request(Operation.PRINT_JOB, settings.server, number, settings.user)
    op = request.operation_attributes
    op.add("job-name", Tag.NAME, settings.title or f"terminal capture {number}")
    op.add("document-format", Tag.MIME_MEDIA_TYPE, settings.document_format)
    # self-signed by default, as cli.py; every address of the name is tried in turn
    async with httpx.AsyncClient(transport=RoundRobinTransport(verify=False)) as client:
        response = await send_ipp(
            client,
            settings.server,
            request,
            _chunks(capture.data),
            auth=settings.auth,
            timeout=settings.timeout,
        )
    status = Status(response.code) if response.code in Status._value2member_map_ else None
    if status is None or not status.is_success:
        message = response.operation_attributes.get("status-message")
        keyword = status.keyword if status else f"0x{response.code:04x}"
        text = message.value if message else ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        raise IppClientError(f"{keyword}: {text}")
    job = response.group(Tag.JOB)
    job_id = job.get("job-id") if job else None
    return job_id.value if job_id else None


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def save_capture(directory: Path, number: int, capture: Capture, suffix: str) -> Path:
    """Write a capture durably (temporary file, fsync, rename, fsync of the directory)
    as ``capture-<UTC time>-<pid>-<number>.<suffix>``, readable by the owner only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    path = directory / f"capture-{stamp}-{os.getpid()}-{number}.{suffix}"
    temporary = directory / f".{path.name}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _write_all(fd, capture.data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
    return path
