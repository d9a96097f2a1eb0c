"""The delivery backend port: how the dispatcher hands one job to one physical printer.

A backend is chosen by the printer URI's scheme (``ipp``, ``ipps``, ``socket``, ``lpd``,
``file``). It never raises for printer trouble: ``OSError``, TLS errors, timeouts and protocol
errors become a ``DeliveryResult`` whose ``outcome`` the dispatcher interprets (retry with
backoff, abort, complete). Only programming errors escape.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from printhost.ipp.model import Attribute


class Outcome(enum.Enum):
    #: The printer has the whole job and (where it can tell us) finished printing it.
    COMPLETED = "completed"
    #: A transient failure (refused, reset, timeout, printer busy/stopped): try again later.
    RETRY = "retry"
    #: The printer refused this job for good (format unsupported, bad attributes...).
    FAILED = "failed"
    #: The job was canceled at the printer.
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    outcome: Outcome
    #: An IPP job-state-reasons keyword saying why (e.g. "job-completed-successfully",
    #: "printer-stopped", "document-format-error", "job-canceled-at-device").
    reason: str
    #: A human-readable message, shown to the user as job-state-message.
    message: str = ""
    remote_job_id: int | None = None
    impressions_completed: int | None = None


@dataclass(frozen=True, slots=True)
class DocumentFile:
    path: Path
    format: str  # MIME media type as detected at intake (never application/octet-stream
    #               unless the format could not be detected)
    name: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryRequest:
    printer_uri: str
    job_id: int
    job_uuid: str  # "urn:uuid:..."
    job_name: str
    user_name: str
    documents: Sequence[DocumentFile]
    #: Job template attributes to ask the printer for (copies, sides, media, media-col,
    #: print-color-mode, ...), as the client gave them, already validated.
    attributes: Sequence[Attribute] = field(default_factory=tuple)
    originating_host: str = ""
    #: Remote job id recorded by an earlier attempt, if any (used when resuming).
    remote_job_id: int | None = None


class RemoteState(enum.Enum):
    NOT_FOUND = "not-found"  # the printer does not have the job: safe to (re)send
    ACTIVE = "active"  # the printer has it and is still working on it: follow it, don't resend
    COMPLETED = "completed"  # printed already: don't resend
    FAILED = "failed"  # the printer has it but it was canceled/aborted there
    UNKNOWN = "unknown"  # the printer cannot tell (socket/lpd/file) or cannot be reached


@dataclass(frozen=True, slots=True)
class RemoteLookup:
    state: RemoteState
    remote_job_id: int | None = None
    message: str = ""


class Progress(Protocol):
    """What a backend reports while delivering; the dispatcher makes each report durable."""

    async def remote_job_created(self, remote_job_id: int) -> None: ...

    async def message(self, text: str) -> None: ...


class Backend(Protocol):
    async def deliver(self, request: DeliveryRequest, progress: Progress) -> DeliveryResult:
        """Send the job and, where the protocol allows, follow it until the printer says it
        is done. Cancelling the awaiting task must stop delivery promptly."""
        ...

    async def lookup(self, request: DeliveryRequest) -> RemoteLookup:
        """After a crash: does the printer already have this job (by job-uuid, else by
        remote_job_id / job-name + user)? Used to avoid printing a job twice."""
        ...

    async def probe(self, printer_uri: str) -> bool:
        """Cheap health check: can the printer be reached and is it accepting jobs?"""
        ...

    async def cancel_job(self, request: DeliveryRequest) -> None:
        """Best effort, after Cancel-Job stopped a delivery: cancel the job at the printer
        too, so it does not print a job reported canceled. A no-op where the protocol has
        no way to (or the job is gone once sent)."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections; the backend must not be used afterwards."""
        ...
