"""Which queue or job a request is about, from printer-uri / job-uri (+ job-id).

CUPS clients hard-code ``ipp://localhost/...`` even when talking to a remote server
(IPP-CLIENTS.md §4.1), so only the path counts; host and port are ignored.
``ipp://host/`` and ``.../printers/`` (empty name) mean "all queues".
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from printhost.ipp.model import AttributeGroup

_QUEUE_PREFIXES = ("/printers/", "/classes/", "/ipp/print/")


@dataclass(frozen=True, slots=True)
class Target:
    """``queue`` None means all queues; ``job_id`` is set for job operations."""

    queue: str | None
    job_id: int | None = None
    has_printer_uri: bool = False
    has_job_uri: bool = False


class TargetError(ValueError):
    pass


def queue_from_uri(uri: str) -> str | None:
    """The queue named by a printer URI's path; None for the server root / all queues."""
    path = unquote(urlsplit(uri).path).rstrip("/")
    if path in ("", "/printers", "/classes", "/admin", "/jobs"):
        return None
    if path == "/ipp/print":
        return ""  # ippeveprinter-style default queue; the caller maps "" to the default
    for prefix in _QUEUE_PREFIXES:
        if (path + "/").startswith(prefix):
            name = path[len(prefix) :]
            if name and "/" not in name:
                return name
    raise TargetError(f"no queue at {uri!r}")


def job_id_from_uri(uri: str) -> int:
    path = urlsplit(uri).path.rstrip("/")
    prefix, _, number = path.rpartition("/")
    if prefix.endswith("/jobs") and number.isdigit() and 0 < int(number) < 2**31:
        return int(number)
    raise TargetError(f"no job at {uri!r}")


def resolve_target(operation: AttributeGroup) -> Target:
    """Read printer-uri / job-uri / job-id. Raises TargetError for malformed values."""
    job_uri = operation.get("job-uri")
    if job_uri is not None:
        return Target(queue=None, job_id=job_id_from_uri(str(job_uri.value)), has_job_uri=True)
    printer_uri = operation.get("printer-uri")
    job_id_attr = operation.get("job-id")
    job_id = None
    if job_id_attr is not None:
        if not isinstance(job_id_attr.value, int) or isinstance(job_id_attr.value, bool):
            raise TargetError("job-id must be an integer")
        job_id = job_id_attr.value
    queue = queue_from_uri(str(printer_uri.value)) if printer_uri is not None else None
    return Target(queue=queue, job_id=job_id, has_printer_uri=printer_uri is not None)
