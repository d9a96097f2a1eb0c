"""A pre-started analysis worker: one long-lived process that has already imported the
analysers (pikepdf, pypdfium2, Pillow, ...) and forks one child per document.

Starting ``python -m printhost.analysis.worker`` costs about 0.1 s per document, almost all
of it interpreter start and imports; a fork of a process that has done them costs about a
millisecond. Every bound of the fresh worker is kept, per document, in the child:

- the child calls :func:`os.setsid` (its own session and process group), changes to the
  empty temporary directory the caller made for this document, limits itself
  (:func:`.worker.limit_self`: address space, CPU time, no files written, no core dumps),
  closes every descriptor it inherited except its standard output and error, and only
  then opens the document;
- the server kills the child's process group with SIGKILL at the wall-clock deadline;
- the child never returns into the server's loop: it leaves with :func:`os._exit`.

The server itself never opens a document. It is single-threaded (so forking it is safe),
runs in its own session, and exits when its control socket closes, killing any children
it still has. It speaks over a Unix socket: each request is one JSON message sent with a
fresh connected socket attached (``SCM_RIGHTS``); the answer - the child's exit status,
its standard output, the tail of its standard error, whether it was killed at the
deadline, and its CPU seconds - comes back on that socket as one JSON object. Requests
are served concurrently.

:class:`ForkServer` owns the server process: it starts it on first use, restarts it if it
has died (a crash of a child is only a failed analysis; a crash of the server costs the
documents in flight, which are reported as failed, and the next document starts a new
server), and stops it on :meth:`ForkServer.close`.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: Modules the server imports before forking, so that children start with them loaded.
PRELOAD = (
    "printhost.analysis.worker",
    "printhost.analysis.sniff",
    "printhost.analysis.pdf",
    "printhost.analysis.raster",
    "printhost.analysis.image",
    "printhost.analysis.text",
)
STDERR_TAIL = 4096  # bytes of a child's standard error kept for the error message
MAX_OUTPUT = 16 << 20  # a child's standard output beyond this is cut (the parse fails)
GRACE_SECONDS = 5.0  # how long the caller waits past the deadline for the server's answer
MAX_REQUEST = 1 << 16


@dataclass(frozen=True, slots=True)
class ChildResult:
    """How one child ended: ``returncode`` as :mod:`subprocess` gives it (negative: killed
    by that signal), its output, and whether the server killed it at the deadline."""

    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool
    cpu_seconds: float


class ServerGone(Exception):
    """The server died or closed the connection before answering; ``sent`` tells
    whether the request had reached it (if not, it is safe to try again)."""

    def __init__(self, reason: str, sent: bool) -> None:
        super().__init__(reason)
        self.sent = sent


class ForkServer:
    """Owner of one pre-forking analysis server process; thread-safe.

    :meth:`run` analyses one document in a fresh child of the server; :meth:`close`
    stops the server (and kills its children). Use it as a context manager, or call
    :meth:`close` when done; :func:`printhost.analysis.sandbox.analyze_bounded` uses a
    shared instance stopped at interpreter exit.
    """

    def __init__(self, python: str = sys.executable) -> None:
        self._python = python
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner = os.getpid()
        self._closed = False
        self.cpu_seconds = 0.0  # total CPU of the children that answered

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when it is not running."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> None:
        with self._lock:
            self._ensure_started()

    def run(
        self,
        path: Path,
        workdir: Path,
        max_memory: int,
        max_cpu: int,
        wall_seconds: float,
    ) -> ChildResult:
        """Analyse ``path`` in a child (cwd ``workdir``, the given limits). Raises
        :class:`ServerGone` if the server died before answering, TimeoutError if it did
        not answer within the deadline and a grace period."""
        request = json.dumps(
            {
                "path": str(path),
                "workdir": str(workdir),
                "max_memory": max_memory,
                "max_cpu": max_cpu,
                "wall_seconds": wall_seconds,
            }
        ).encode()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with mine:
            try:
                with self._lock:
                    control = self._ensure_started()
                    try:
                        socket.send_fds(control, [request], [theirs.fileno()])
                    except OSError:
                        self._stop_locked()
                        raise ServerGone("the analysis server is not running", sent=False) from None
            finally:
                theirs.close()
            answer = _read_all(mine, time.monotonic() + wall_seconds + GRACE_SECONDS)
        if not answer:
            raise ServerGone("the analysis server stopped before answering", sent=True)
        try:
            reply = json.loads(answer)
            result = ChildResult(
                returncode=int(reply["returncode"]),
                stdout=bytes.fromhex(reply["stdout"]),
                stderr=bytes.fromhex(reply["stderr"]),
                timed_out=bool(reply["timed_out"]),
                cpu_seconds=float(reply["cpu_seconds"]),
            )
        except (ValueError, KeyError, TypeError):
            raise ServerGone("the analysis server gave an invalid answer", sent=True) from None
        self.cpu_seconds += result.cpu_seconds
        return result

    def close(self) -> None:
        """Stop the server (its children are killed); later :meth:`run` calls fail."""
        with self._lock:
            self._closed = True
            self._stop_locked()

    def _ensure_started(self) -> socket.socket:
        if self._closed:
            raise ServerGone("the analysis server was closed", sent=False)
        if self._owner != os.getpid():  # we are a fork of the owner: the server is not ours
            self._process, self._control, self._owner = None, None, os.getpid()
        if self._process is not None and self._process.poll() is None and self._control:
            return self._control
        self._stop_locked()
        control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [self._python, "-m", "printhost.analysis.forkserver", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            control.close()
            raise
        finally:
            theirs.close()
        self._control = control
        return control

    def _stop_locked(self) -> None:
        control, process = self._control, self._process
        self._control = self._process = None
        if control is not None:
            control.close()  # the server exits on EOF and kills its children
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _read_all(conn: socket.socket, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the analysis server did not answer in time")
        conn.settimeout(left)
        try:
            chunk = conn.recv(1 << 16)
        except TimeoutError:
            raise TimeoutError("the analysis server did not answer in time") from None
        except OSError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# --- the server process ---------------------------------------------------------------


@dataclass(slots=True)
class _Child:
    pid: int
    pidfd: int
    out: int
    err: int
    reply: socket.socket
    deadline: float
    stdout: bytearray
    stderr: bytearray
    timed_out: bool = False


def serve(control: socket.socket) -> None:
    """The server's loop: fork a child per request, kill it at its deadline, answer."""
    for name in PRELOAD:
        __import__(name)
    _warm_up()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    children: dict[int, _Child] = {}
    try:
        while True:
            timeout = None
            if children:
                timeout = max(0.0, min(c.deadline for c in children.values()) - time.monotonic())
            for key, _ in selector.select(timeout):
                kind = key.data
                if kind == "control":
                    try:
                        data, fds, _flags, _addr = socket.recv_fds(control, MAX_REQUEST, 8)
                    except OSError:
                        data, fds = b"", []
                    if not data:
                        for fd in fds:
                            os.close(fd)
                        return
                    if len(fds) != 1:  # one request per message, with its socket
                        for fd in fds:
                            os.close(fd)
                        continue
                    child = _start_child(data, fds[0])
                    if child is not None:
                        children[child.pid] = child
                        selector.register(child.out, selectors.EVENT_READ, ("out", child.pid))
                        selector.register(child.err, selectors.EVENT_READ, ("err", child.pid))
                        selector.register(child.pidfd, selectors.EVENT_READ, ("exit", child.pid))
                else:
                    what, pid = kind
                    if pid not in children:  # ended earlier in this round
                        continue
                    child = children[pid]
                    if what == "exit":
                        _finish(selector, children.pop(pid))
                    else:
                        fd = child.out if what == "out" else child.err
                        buffer = child.stdout if what == "out" else child.stderr
                        chunk = os.read(fd, 1 << 16)
                        if not chunk:
                            selector.unregister(fd)
                        elif what == "out":
                            if len(buffer) < MAX_OUTPUT:
                                buffer += chunk
                        else:
                            buffer += chunk
                            del buffer[:-STDERR_TAIL]
            now = time.monotonic()
            for child in children.values():
                if not child.timed_out and now >= child.deadline:
                    child.timed_out = True
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
    finally:
        for child in children.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)


def _warm_up() -> None:
    """Touch what the first analysis in every child would otherwise pay for."""
    import pypdfium2  # type: ignore[import-untyped]  # noqa: F401  (initialises pdfium)


def _start_child(line: bytes, reply_fd: int) -> _Child | None:
    reply = socket.socket(fileno=reply_fd)
    try:
        request = json.loads(line)
        path = str(request["path"])
        workdir = str(request["workdir"])
        max_memory, max_cpu = int(request["max_memory"]), int(request["max_cpu"])
        wall = float(request["wall_seconds"])
    except (ValueError, KeyError, TypeError):
        reply.close()
        return None
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _child(path, workdir, max_memory, max_cpu, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    return _Child(
        pid=pid,
        pidfd=os.pidfd_open(pid),
        out=out_r,
        err=err_r,
        reply=reply,
        deadline=time.monotonic() + wall,
        stdout=bytearray(),
        stderr=bytearray(),
    )


def _child(path: str, workdir: str, max_memory: int, max_cpu: int, out: int, err: int) -> None:
    status = 70
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, _max_fd())
        os.chdir(workdir)
        from printhost.analysis.worker import analyze_and_reply, limit_self

        limit_self(max_memory, max_cpu)
        status = analyze_and_reply(Path(path))
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode(errors="replace"))
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
        os._exit(status)


def _max_fd() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (ValueError, OSError):
        return 1 << 16


def _finish(selector: selectors.BaseSelector, child: _Child) -> None:
    _, status, usage = os.wait4(child.pid, 0)
    for fd, buffer in ((child.out, child.stdout), (child.err, child.stderr)):
        with contextlib.suppress(KeyError):
            selector.unregister(fd)
        with contextlib.suppress(OSError):  # what the child wrote just before it ended
            while chunk := os.read(fd, 1 << 16):
                if len(buffer) < MAX_OUTPUT:
                    buffer += chunk
        os.close(fd)
    selector.unregister(child.pidfd)
    os.close(child.pidfd)
    answer = {
        "returncode": os.waitstatus_to_exitcode(status),
        "stdout": bytes(child.stdout).hex(),
        "stderr": bytes(child.stderr[-STDERR_TAIL:]).hex(),
        "timed_out": child.timed_out,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    with child.reply, contextlib.suppress(OSError):
        child.reply.sendall(json.dumps(answer).encode())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(args[0]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with control:
        serve(control)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
