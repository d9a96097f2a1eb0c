"""The durable document spool: where document bytes live between intake and delivery.

Theory of operation
-------------------
DESIGN invariant 1 says a job-id is acknowledged only after the document *and* the job
record are on stable storage. For a file that takes three things, in order:

1. ``fsync`` of the file, so its data blocks and size are on disk;
2. ``fsync`` of the directory holding it, so its *name* is on disk — without this a crash
   can leave a fully written inode that no directory entry points at;
3. when the day directory itself was new, ``fsync`` of its parent, for the same reason.

Only then does intake commit the job record (which names the file) and answer the
client. CUPS does the first step only when ``SyncOnClose`` is set (off by default) and
never the second or third, so a power cut after "job queued" can lose the job.

Files go to ``root/YYYYMMDD/<uuid4 hex>[-<hint>]``: the day directory keeps directories
small and makes cleanup easy; the name never comes from client input except a sanitised
hint (letters, digits, ``.``, ``_``, ``-``; at most 32 characters), and is created with
``O_EXCL``, mode 0600, never following a symlink.

A document's first ``MEMORY_LIMIT`` bytes are kept in memory; only a document that grows
past them gets its file created then and written with synchronous buffered ``write(2)``s
into the page cache. ``commit()`` does the rest in a thread: for a small document
(most print jobs) creating, writing and fsyncing the file all happen there, so the event
loop never waits on the file system (measured: creating a file next to other files being
fsync'd took ~0.6 ms of the event loop per job).

Writers are owned by one caller each; the spool itself is safe to share between tasks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import BinaryIO

_HINT_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_HINT_MAX = 32
_BUFFER = 256 * 1024
#: Bytes of a document held in memory before its file is created (bounded per upload).
MEMORY_LIMIT = 1 << 20
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


class SpoolError(Exception):
    """A spool operation could not be done."""


class SpoolLimitExceeded(SpoolError):
    """A document grew past ``max_bytes`` (IPP: client-error-request-entity-too-large).
    The partial file has already been removed."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"document larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """A committed document file. ``path`` is relative to the spool root, as the store
    keeps it (``NewDocument.path``)."""

    path: str
    size: int
    sha256: str


class Spool:
    """Document files under ``root``. ``max_bytes`` bounds each file (None: unbounded);
    ``clock`` gives the time that names the day directory (injected for tests)."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._clock = clock
        #: Day directories whose own entry in ``root`` is known to be on disk.
        self._durable_days: set[str] = set()
        self._root_durable = False

    def writer(self, hint: str = "", *, max_bytes: int | None = None) -> SpoolWriter:
        """A writer for one new, uniquely named document file (created on demand).
        ``max_bytes`` overrides the spool's limit for this file."""
        day = time.strftime("%Y%m%d", time.gmtime(self._clock()))
        name = uuid.uuid4().hex
        safe_hint = _sanitise(hint)
        if safe_hint:
            name = f"{name}-{safe_hint}"
        limit = self.max_bytes if max_bytes is None else max_bytes
        return SpoolWriter(self, f"{day}/{name}", limit)

    def _create(self, relative: str) -> BinaryIO:
        """Create the file exclusively (and its day directory when new)."""
        day_dir = self.root / relative.split("/", 1)[0]
        if not day_dir.is_dir():
            day_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / relative, _OPEN_FLAGS, 0o600)
        return os.fdopen(fd, "wb", buffering=_BUFFER)

    def path(self, relative: str) -> Path:
        """The absolute path of a spooled file; refuses anything outside the root."""
        parts = PurePosixPath(relative).parts
        if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
            raise SpoolError(f"not a spool path: {relative!r}")
        return self.root.joinpath(*parts)

    def files_older_than(self, when: float) -> list[str]:
        """Relative paths of spooled files last written before ``when`` (epoch seconds);
        empty day directories are removed on the way."""
        found: list[str] = []
        if not self.root.is_dir():
            return found
        for day_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            files = [f for f in day_dir.iterdir() if f.is_file()]
            found.extend(f"{day_dir.name}/{f.name}" for f in files if f.stat().st_mtime < when)
            if not files and day_dir.stat().st_mtime < when:
                day_dir.rmdir()
        return found

    async def delete(self, relative: str) -> None:
        """Remove a spooled file (absent already is fine)."""
        path = self.path(relative)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def _make_durable(self, relative: str, fd: int) -> None:
        """fsync the file and its directory; the first time for a day directory, also its
        entry in root; the first time in this process, root's entry in its parent."""
        os.fsync(fd)
        day = relative.split("/", 1)[0]
        _fsync_dir(self.root / day)
        if day not in self._durable_days:
            _fsync_dir(self.root)
            self._durable_days.add(day)
        if not self._root_durable:
            _fsync_dir(self.root.parent)
            self._root_durable = True


class SpoolWriter:
    """One document being written. Call ``write`` for each chunk, then ``await commit()``;
    or ``abort()``. Used as a context manager, leaving without a commit aborts."""

    def __init__(self, spool: Spool, relative: str, max_bytes: int | None) -> None:
        self._spool = spool
        self.relative = relative
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._open = True
        self._hash = hashlib.sha256()
        self.size = 0
        self._committed: SpoolFile | None = None

    def write(self, chunk: bytes) -> None:
        self._check_open()
        limit = self.max_bytes
        if limit is not None and self.size + len(chunk) > limit:
            self.abort()
            raise SpoolLimitExceeded(limit)
        self._hash.update(chunk)
        self.size += len(chunk)
        if self._file is None and len(self._buffer) + len(chunk) <= MEMORY_LIMIT:
            self._buffer += chunk
            return
        if self._file is None:  # grew past the memory limit: stream to the file from now on
            self._file = self._spool._create(self.relative)
            self._file.write(self._buffer)
            self._buffer = bytearray()
        self._file.write(chunk)

    async def commit(self) -> SpoolFile:
        """Write what is buffered and make the file durable (see the module docstring);
        idempotent."""
        if self._committed is not None:
            return self._committed
        self._check_open()
        self._open = False  # from here on the thread owns (and closes) the file
        file, buffer, self._file, self._buffer = self._file, self._buffer, None, bytearray()
        try:
            await asyncio.to_thread(self._finish, file, bytes(buffer))
        except BaseException:
            self._spool.path(self.relative).unlink(missing_ok=True)
            raise
        self._committed = SpoolFile(self.relative, self.size, self._hash.hexdigest())
        return self._committed

    def abort(self) -> None:
        """Drop the document and remove any partial file. Idempotent; a no-op after
        commit."""
        if self._committed is not None or not self._open:
            return
        self._open = False
        self._buffer = bytearray()
        file, self._file = self._file, None
        if file is not None:
            file.close()
            self._spool.path(self.relative).unlink(missing_ok=True)

    def _finish(self, file: BinaryIO | None, buffer: bytes) -> None:
        if file is None:
            file = self._spool._create(self.relative)
        try:
            file.write(buffer)
            file.flush()
            self._spool._make_durable(self.relative, file.fileno())
        finally:
            file.close()

    def _check_open(self) -> None:
        if not self._open:
            raise SpoolError(f"spool file {self.relative} is no longer open for writing")

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _sanitise(hint: str) -> str:
    return _HINT_UNSAFE.sub("_", hint).lstrip("._-")[:_HINT_MAX]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
