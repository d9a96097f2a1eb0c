"""The ``file:///dir`` backend: printhost's built-in virtual printer.

Theory of operation
-------------------
A delivered job becomes files in the directory named by the URI:

- ``job-<id>-<n>.<ext>``: document *n* (1-based), byte for byte as spooled;
- ``job-<id>.json``: a sidecar describing the job (ids, name, user, documents with format,
  size and SHA-256, and the job template attributes as JSON).

Every file is written to a temporary name in the same directory, fsync'd, renamed into
place, and the directory is fsync'd, so a reader (or a crash) sees either the old file or
the whole new one. The sidecar is written last: it is the commit marker ``lookup`` relies
on, so "sidecar present" implies "all documents present". Re-delivering the same job id
overwrites the earlier files (renames replace atomically) and removes documents the new
delivery no longer has, which makes delivery idempotent.

File I/O is blocking, so it runs in a worker thread; cancelling ``deliver`` sets a flag the
copy loop checks between chunks, so it stops promptly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from printhost.dispatch.backends.base import (
    DeliveryRequest,
    DeliveryResult,
    DocumentFile,
    Outcome,
    Progress,
    RemoteLookup,
    RemoteState,
)
from printhost.ipp.model import (
    Attribute,
    Collection,
    PyValue,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
)

CHUNK_BYTES = 1 << 16

#: File name extensions for the formats printers take; anything else is ``.bin``. A fixed
#: table (not :mod:`mimetypes`) so names do not depend on the host's /etc/mime.types.
EXTENSIONS = {
    "application/pdf": "pdf",
    "application/postscript": "ps",
    "application/vnd.hp-pcl": "pcl",
    "application/vnd.hp-pclxl": "pxl",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/pwg-raster": "pwg",
    "image/urf": "urf",
    "text/plain": "txt",
}


class DeliveryStopped(Exception):
    """Raised inside the copy thread when the awaiting task was cancelled."""


class FileBackend:
    """Writes jobs into a local directory (see the module docstring)."""

    def __init__(self, timeout: float = 30.0) -> None:
        # Local writes have no network timeout; kept for a uniform constructor.
        self.timeout = timeout

    async def deliver(self, request: DeliveryRequest, progress: Progress) -> DeliveryResult:
        directory = directory_from_uri(request.printer_uri)
        if directory is None:
            return _bad_uri(request.printer_uri)
        stop = threading.Event()
        try:
            await asyncio.to_thread(write_job, directory, request, stop)
        except asyncio.CancelledError:
            stop.set()
            raise
        except OSError as exc:
            return _io_error(exc, directory, request.documents)
        return DeliveryResult(
            Outcome.COMPLETED,
            "job-completed-successfully",
            f"written to {directory}",
        )

    async def cancel_job(self, request: DeliveryRequest) -> None:
        """A file: printer has finished with a job once its files are written."""

    async def aclose(self) -> None:
        """Nothing pooled: each delivery opens and closes its own connection or files."""

    async def lookup(self, request: DeliveryRequest) -> RemoteLookup:
        directory = directory_from_uri(request.printer_uri)
        if directory is None:
            return RemoteLookup(RemoteState.UNKNOWN, message="invalid file: URI")
        try:
            return await asyncio.to_thread(find_job, directory, request)
        except (OSError, ValueError) as exc:
            return RemoteLookup(RemoteState.UNKNOWN, message=f"cannot read sidecar: {exc}")

    async def probe(self, printer_uri: str) -> bool:
        directory = directory_from_uri(printer_uri)
        return directory is not None and await asyncio.to_thread(_is_writable_dir, directory)


# -- URI --------------------------------------------------------------------------------


def directory_from_uri(uri: str) -> Path | None:
    """``file:///var/out`` (or ``file://localhost/var/out``) -> ``/var/out``; None if the URI
    names another host or no absolute path (RFC 8089 §2)."""
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    return Path(path) if path.startswith("/") else None


# -- writing ----------------------------------------------------------------------------


def document_file_name(job_id: int, number: int, document_format: str) -> str:
    return f"job-{job_id}-{number}.{EXTENSIONS.get(document_format, 'bin')}"


def sidecar_name(job_id: int) -> str:
    return f"job-{job_id}.json"


def write_job(directory: Path, request: DeliveryRequest, stop: threading.Event) -> None:
    """Write the documents, then the sidecar (the commit marker), each durably."""
    entries = []
    for number, document in enumerate(request.documents, start=1):
        name = document_file_name(request.job_id, number, document.format)
        with document.path.open("rb") as source:
            size, digest = _write_atomically(directory, name, source, stop)
        entries.append(_document_entry(name, document, size, digest))
    _remove_stale_documents(directory, request.job_id, {e["file"] for e in entries})
    _fsync_dir(directory)  # documents durable before the marker that announces them
    sidecar = json.dumps(build_sidecar(request, entries), indent=2, ensure_ascii=False)
    _write_bytes_atomically(directory, sidecar_name(request.job_id), sidecar.encode())
    _fsync_dir(directory)


def _write_atomically(
    directory: Path, name: str, source: BinaryIO, stop: threading.Event
) -> tuple[int, str]:
    """Copy ``source`` to ``directory/name`` via temp file + fsync + rename."""
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                if stop.is_set():
                    raise DeliveryStopped(name)
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return size, digest.hexdigest()


def _write_bytes_atomically(directory: Path, name: str, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_stale_documents(directory: Path, job_id: int, keep: set[str]) -> None:
    """An earlier delivery of this job may have had more documents (or other formats)."""
    pattern = re.compile(rf"job-{job_id}-\d+\.[A-Za-z0-9]+")
    for path in directory.glob(f"job-{job_id}-*"):
        if pattern.fullmatch(path.name) and path.name not in keep:
            path.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make the renames themselves durable (CUPS skips this; we do not)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_writable_dir(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)


# -- the sidecar ------------------------------------------------------------------------


def _document_entry(name: str, document: DocumentFile, size: int, digest: str) -> dict[str, Any]:
    return {
        "file": name,
        "document-format": document.format,
        "document-name": document.name,
        "size": size,
        "sha256": digest,
    }


def build_sidecar(request: DeliveryRequest, documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-ready description of a delivered job (IPP attribute names as keys)."""
    return {
        "job-id": request.job_id,
        "job-uuid": request.job_uuid,
        "job-name": request.job_name,
        "job-originating-user-name": request.user_name,
        "job-originating-host-name": request.originating_host,
        "printer-uri": request.printer_uri,
        "documents": list(documents),
        "attributes": attributes_to_json(request.attributes),
    }


def attributes_to_json(attributes: Iterable[Attribute]) -> dict[str, Any]:
    """IPP attributes as a JSON object: one value as a scalar, a 1setOf as a list."""
    result: dict[str, Any] = {}
    for attr in attributes:
        values = [json_value(v) for v in attr.values]
        result[attr.name] = values[0] if len(values) == 1 else values
    return result


def json_value(value: PyValue) -> Any:
    """One IPP value as a JSON-friendly Python value (see ``ipp.model`` for the types)."""
    if value is None or isinstance(value, bool | int | str):
        return value  # out-of-band values (no-value, unknown...) become null
    if isinstance(value, bytes):
        return {"octets-base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Resolution):
        units = {3: "dpi", 4: "dpcm"}.get(value.units, str(value.units))
        return {"cross-feed": value.cross_feed, "feed": value.feed, "units": units}
    if isinstance(value, RangeOfInteger):
        return {"lower": value.lower, "upper": value.upper}
    if isinstance(value, StringWithLanguage):
        return {"text": value.text, "language": value.language}
    if isinstance(value, Collection):
        return attributes_to_json(value.members)
    raise TypeError(f"not an IPP value: {value!r}")


# -- lookup -----------------------------------------------------------------------------


def find_job(directory: Path, request: DeliveryRequest) -> RemoteLookup:
    """COMPLETED when this job's sidecar exists and names the same job-uuid."""
    try:
        text = (directory / sidecar_name(request.job_id)).read_text(encoding="utf-8")
    except FileNotFoundError:
        return RemoteLookup(RemoteState.NOT_FOUND)
    sidecar = json.loads(text)
    if not isinstance(sidecar, dict) or sidecar.get("job-uuid") != request.job_uuid:
        # Same job id but another job (e.g. a reset database): ours was never written.
        return RemoteLookup(RemoteState.NOT_FOUND, message="sidecar belongs to another job")
    return RemoteLookup(RemoteState.COMPLETED, message=f"found {sidecar_name(request.job_id)}")


# -- results ----------------------------------------------------------------------------


def _bad_uri(uri: str) -> DeliveryResult:
    # The job is fine; the printer definition is not. Like CUPS stopping the queue on a bad
    # device URI, we keep the job and let an administrator fix the configuration.
    return DeliveryResult(
        Outcome.RETRY, "printer-stopped", f"invalid file: URI {uri!r} (needs file:///dir)"
    )


def _io_error(exc: OSError, directory: Path, documents: Sequence[DocumentFile]) -> DeliveryResult:
    if exc.filename is not None and any(str(d.path) == str(exc.filename) for d in documents):
        # Our own spooled document is unreadable: sending again will not help.
        return DeliveryResult(
            Outcome.FAILED, "document-access-error", f"cannot read spooled document: {exc}"
        )
    return DeliveryResult(
        Outcome.RETRY, "printer-stopped", f"cannot write to {directory}: {exc.strerror or exc}"
    )
