"""The pure half of the IPP backend: the requests it builds, how it reads the printer's
answers, and what each answer means for the job. No I/O (see ``ipp.py`` for that).

Everything here is a plain function of messages and values, so every status code, job
state and lookup match is unit-tested without a printer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeGuard

from printhost.dispatch.backends.base import (
    DeliveryRequest,
    DeliveryResult,
    DocumentFile,
    Outcome,
    RemoteLookup,
    RemoteState,
)
from printhost.ipp.constants import JobState, Operation, PrinterState, Status, Tag
from printhost.ipp.model import AttributeGroup, Message, PyValue

OCTET_STREAM = "application/octet-stream"

PRINTER_ATTRIBUTES = (
    "operations-supported",
    "document-format-supported",
    "printer-is-accepting-jobs",
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "multiple-document-jobs-supported",
)
JOB_ATTRIBUTES = (
    "job-id",
    "job-state",
    "job-state-reasons",
    "job-state-message",
    "job-impressions-completed",
)
LOOKUP_ATTRIBUTES = (
    "job-id",
    "job-uuid",
    "job-name",
    "job-originating-user-name",
    "job-state",
)

#: Statuses after which sending again later may work (RFC 8011 §B.1.5, PWG 5100.x):
#: the printer is busy, stopped, offline, full, or wants credentials an admin can add.
RETRY_STATUSES = frozenset(
    {
        Status.CLIENT_ERROR_NOT_AUTHENTICATED,
        Status.CLIENT_ERROR_NOT_AUTHORIZED,
        Status.CLIENT_ERROR_FORBIDDEN,
        Status.CLIENT_ERROR_NOT_FOUND,  # wrong printer path: a configuration to fix
        Status.CLIENT_ERROR_TIMEOUT,
        Status.SERVER_ERROR_INTERNAL_ERROR,
        Status.SERVER_ERROR_SERVICE_UNAVAILABLE,
        Status.SERVER_ERROR_DEVICE_ERROR,
        Status.SERVER_ERROR_TEMPORARY_ERROR,
        Status.SERVER_ERROR_NOT_ACCEPTING_JOBS,
        Status.SERVER_ERROR_BUSY,
        Status.SERVER_ERROR_PRINTER_IS_DEACTIVATED,
        Status.SERVER_ERROR_TOO_MANY_JOBS,
    }
)

#: job-state-reasons keywords (RFC 8011 §5.3.8) for statuses that end a job for good.
FAILURE_REASONS: dict[int, str] = {
    Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED: "unsupported-document-format",
    Status.CLIENT_ERROR_DOCUMENT_FORMAT_ERROR: "document-format-error",
    Status.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED: "unsupported-compression",
    Status.CLIENT_ERROR_COMPRESSION_ERROR: "compression-error",
    Status.CLIENT_ERROR_DOCUMENT_ACCESS_ERROR: "document-access-error",
    Status.CLIENT_ERROR_DOCUMENT_PASSWORD_ERROR: "document-password-error",
    Status.CLIENT_ERROR_DOCUMENT_PERMISSION_ERROR: "document-permission-error",
    Status.CLIENT_ERROR_DOCUMENT_SECURITY_ERROR: "document-security-error",
    Status.CLIENT_ERROR_DOCUMENT_UNPRINTABLE_ERROR: "document-unprintable-error",
    Status.CLIENT_ERROR_CONFLICTING_ATTRIBUTES: "conflicting-attributes",
    Status.SERVER_ERROR_JOB_CANCELED: "job-canceled-at-device",
}


# -- what the printer says about itself ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrinterInfo:
    operations: frozenset[int] = frozenset()
    formats: tuple[str, ...] = ()
    accepting: bool = True  # absent: assume yes and let Print-Job tell
    state: int = PrinterState.IDLE
    state_reasons: tuple[str, ...] = ()
    state_message: str = ""
    multiple_document_jobs: bool = False

    def supports(self, operation: Operation) -> bool:
        return not self.operations or operation in self.operations

    def describe(self) -> str:
        reasons = ", ".join(r for r in self.state_reasons if r != "none")
        return "; ".join(part for part in (self.state_message, reasons) if part)


def read_printer_info(response: Message) -> PrinterInfo:
    group = response.group(Tag.PRINTER) or AttributeGroup(Tag.PRINTER)
    state = _first(group, "printer-state")
    return PrinterInfo(
        operations=frozenset(v for v in _all(group, "operations-supported") if _is_int(v)),
        formats=tuple(v for v in _all(group, "document-format-supported") if isinstance(v, str)),
        accepting=_first(group, "printer-is-accepting-jobs") is not False,
        state=state if _is_int(state) else PrinterState.IDLE,
        state_reasons=_strings(group, "printer-state-reasons"),
        state_message=_text(group, "printer-state-message"),
        multiple_document_jobs=_first(group, "multiple-document-jobs-supported") is True,
    )


def not_ready(printer: PrinterInfo) -> DeliveryResult | None:
    """RETRY when the printer will not take or print a job now (checked before sending)."""
    if not printer.accepting:
        why = "printer is not accepting jobs"
    elif printer.state == PrinterState.STOPPED:
        why = "printer is stopped"
    else:
        return None
    detail = printer.describe()
    return DeliveryResult(
        Outcome.RETRY, "printer-stopped", why + (f" ({detail})" if detail else "")
    )


# -- what to send -------------------------------------------------------------------------


class Plan(Enum):
    PRINT_JOB = "print-job"  # one document: Print-Job
    CREATE_JOB = "create-job"  # several documents: Create-Job + Send-Document each
    SPLIT = "split"  # several documents, printer takes one per job: a Print-Job each


def plan_submission(printer: PrinterInfo, document_count: int) -> Plan:
    if document_count == 1:
        return Plan.PRINT_JOB
    if (
        printer.multiple_document_jobs
        and Operation.CREATE_JOB in printer.operations
        and Operation.SEND_DOCUMENT in printer.operations
    ):
        return Plan.CREATE_JOB
    return Plan.SPLIT


def choose_format(detected: str, supported: Sequence[str]) -> str:
    """The detected format when the printer lists it (or lists nothing), else
    application/octet-stream so the printer sniffs it (RFC 8011 §5.4.21)."""
    return detected if not supported or detected in supported else OCTET_STREAM


def add_job_attributes(message: Message, request: DeliveryRequest, *, with_uuid: bool) -> None:
    """job-name in the operation group; job-uuid and the template attributes in a job group
    (RFC 8011 §4.2.1.1, PWG 5100.13 for job-uuid)."""
    message.operation_attributes.add("job-name", Tag.NAME, request.job_name)
    job = message.add_group(Tag.JOB)
    if with_uuid:
        job.add("job-uuid", Tag.URI, request.job_uuid)
    for attribute in request.attributes:
        job.append(attribute)


def add_document_attributes(
    message: Message, document: DocumentFile, supported: Sequence[str]
) -> None:
    group = message.operation_attributes
    if document.name:
        group.add("document-name", Tag.NAME, document.name)
    group.add("document-format", Tag.MIME_MEDIA_TYPE, choose_format(document.format, supported))


# -- what the printer's answers mean ------------------------------------------------------


def status_of(response: Message) -> Status | int:
    try:
        return Status(response.code)
    except ValueError:
        return response.code


def is_success(response: Message) -> bool:
    return response.code < 0x0100


def refused_result(response: Message, doing: str) -> DeliveryResult:
    """The result for a request the printer answered with an error status."""
    status = status_of(response)
    keyword = status.keyword if isinstance(status, Status) else f"status 0x{status:04x}"
    detail = _text(response.operation_attributes, "status-message")
    message = f"{doing}: printer answered {keyword}" + (f" ({detail})" if detail else "")
    if status in RETRY_STATUSES:
        return DeliveryResult(Outcome.RETRY, "printer-stopped", message)
    reason = FAILURE_REASONS.get(status, "aborted-by-system")
    if "document-format" in (unsupported_attributes(response) or ()):
        reason = "unsupported-document-format"  # ippeveprinter sniffs octet-stream data
    return DeliveryResult(Outcome.FAILED, reason, message)


def unsupported_attributes(response: Message) -> set[str] | None:
    """Names in the unsupported-attributes group (RFC 8011 §4.1.7); None without one."""
    group = response.group(Tag.UNSUPPORTED_GROUP)
    return None if group is None else {attr.name for attr in group}


def should_retry_without_uuid(response: Message) -> bool:
    """After client-error-attributes-or-values-not-supported: was job-uuid (or, when the
    printer does not say, possibly job-uuid) the attribute it objected to?"""
    if response.code != Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED:
        return False
    unsupported = unsupported_attributes(response)
    return unsupported is None or "job-uuid" in unsupported


def created_job_id(response: Message) -> int | None:
    group = response.group(Tag.JOB)
    value = _first(group, "job-id") if group else None
    return value if _is_int(value) else None


@dataclass(frozen=True, slots=True)
class JobStatus:
    state: int
    reasons: tuple[str, ...] = ()
    message: str = ""
    impressions: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state >= JobState.CANCELED

    def describe(self) -> str:
        try:
            text = JobState(self.state).keyword
        except ValueError:
            text = f"job-state {self.state}"
        reasons = ", ".join(r for r in self.reasons if r != "none")
        text += f" ({reasons})" if reasons else ""
        return text + (f": {self.message}" if self.message else "")


def read_job_status(response: Message) -> JobStatus | None:
    group = response.group(Tag.JOB)
    state = _first(group, "job-state") if group else None
    if group is None or not _is_int(state):
        return None
    impressions = _first(group, "job-impressions-completed")
    return JobStatus(
        state=state,
        reasons=_strings(group, "job-state-reasons"),
        message=_text(group, "job-state-message"),
        impressions=impressions if _is_int(impressions) else None,
    )


def final_result(job_id: int, status: JobStatus) -> DeliveryResult:
    """The result for a job the printer reports in a terminal state (RFC 8011 §5.3.7)."""
    if status.state == JobState.COMPLETED:
        outcome, reason = Outcome.COMPLETED, "job-completed-successfully"
    elif status.state == JobState.CANCELED:
        outcome, reason = Outcome.CANCELED, "job-canceled-at-device"
    elif "document-format-error" in status.reasons:
        outcome, reason = Outcome.FAILED, "document-format-error"
    else:
        outcome, reason = Outcome.FAILED, "aborted-by-system"
    text = f"printer job {job_id}: {status.describe()}"
    return DeliveryResult(outcome, reason, text, job_id, status.impressions)


# -- lookup -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemoteJob:
    job_id: int
    state: int
    uuids: tuple[str, ...] = ()  # ippeveprinter keeps the client's job-uuid *and* its own
    name: str = ""
    user: str = ""


def read_jobs(responses: Iterable[Message]) -> list[RemoteJob]:
    jobs: dict[int, RemoteJob] = {}
    for response in responses:
        for group in response.groups_of(Tag.JOB):
            job_id, state = _first(group, "job-id"), _first(group, "job-state")
            if _is_int(job_id) and _is_int(state):
                jobs[job_id] = RemoteJob(
                    job_id=job_id,
                    state=state,
                    uuids=_strings(group, "job-uuid"),
                    name=_text(group, "job-name"),
                    user=_text(group, "job-originating-user-name"),
                )
    return list(jobs.values())


def match_job(jobs: Sequence[RemoteJob], request: DeliveryRequest) -> RemoteLookup:
    """Find our job among the printer's: by job-uuid; else by the remote job id we
    recorded (if the name agrees: ids restart when a printer is reset); else, only on
    printers that report no job-uuid at all, by job-name + user when exactly one matches."""
    by_uuid = [j for j in jobs if request.job_uuid in j.uuids]
    if by_uuid:
        return _found(by_uuid[-1], "job-uuid")
    by_id = [
        j
        for j in jobs
        if j.job_id == request.remote_job_id and (not j.name or j.name == request.job_name)
    ]
    if by_id:
        return _found(by_id[0], "job-id")
    if any(j.uuids for j in jobs):
        return RemoteLookup(RemoteState.NOT_FOUND, message="no job with our job-uuid")
    by_name = [j for j in jobs if (j.name, j.user) == (request.job_name, request.user_name)]
    if len(by_name) == 1:
        return _found(by_name[0], "job-name and user")
    if by_name:
        return RemoteLookup(
            RemoteState.UNKNOWN, message=f"{len(by_name)} jobs have this name and user"
        )
    return RemoteLookup(RemoteState.NOT_FOUND, message="no matching job")


def _found(job: RemoteJob, how: str) -> RemoteLookup:
    if job.state == JobState.COMPLETED:
        state = RemoteState.COMPLETED
    elif job.state >= JobState.CANCELED:
        state = RemoteState.FAILED
    else:
        state = RemoteState.ACTIVE
    return RemoteLookup(state, job.job_id, f"printer job {job.job_id} (matched by {how})")


# -- attribute access (values from printers are untrusted: check types) --------------------


def _all(group: AttributeGroup, name: str) -> list[PyValue]:
    return [v for attr in group if attr.name == name for v in attr.values]


def _first(group: AttributeGroup, name: str) -> PyValue:
    values = _all(group, name)
    return values[0] if values else None


def _strings(group: AttributeGroup, name: str) -> tuple[str, ...]:
    return tuple(v for v in _all(group, name) if isinstance(v, str))


def _text(group: AttributeGroup, name: str) -> str:
    value = _first(group, name)
    if isinstance(value, str):
        return value
    text = getattr(value, "text", None)  # textWithLanguage / nameWithLanguage
    return text if isinstance(text, str) else ""


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
