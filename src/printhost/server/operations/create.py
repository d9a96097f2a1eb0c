"""Job creation: Print-Job, Validate-Job, Create-Job, Send-Document, Close-Job,
Validate-Document (RFC 8011 §4.2.1-4.2.4, §4.3.1; PWG 5100.7 Close-Job).

Order matters for invariant 1: the document is streamed to the spool and fsync'd, then
the job record is committed, and only then is the job-id returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from printhost.formats import OCTET_STREAM
from printhost.ipp.constants import JobState, Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.jobs.model import JobRecord
from printhost.jobs.pin import hash_pin, parse_pin
from printhost.jobs.service import JobNotPossible, JobRefused, JobSpec
from printhost.server.context import Context
from printhost.server.intake import COMPRESSIONS, DocumentMeta, spool_document
from printhost.server.job_attributes import encode_template
from printhost.server.operations import subscriptions
from printhost.server.operations.common import (
    job_response,
    load_own_job,
    possible,
    queue_name,
    require_may_submit,
)
from printhost.server.reply import IppError, bad_request
from printhost.server.template import check_template
from printhost.store.base import NewDocument

#: Job attributes kept as job record fields rather than in the stored template.
_RECORD_FIELDS = ("job-priority", "job-hold-until", "job-uuid", "job-name")
_UUID_RE = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class NewJobRequest:
    spec: JobSpec
    meta: DocumentMeta
    hold_new_jobs: bool


async def print_job(ctx: Context) -> Message:
    request = await _job_request(ctx)
    document = await _spool(ctx, request.meta)
    if document is None:
        raise bad_request("Print-Job without document data")
    return await _created(ctx, await _submit(ctx, request, [document]))


async def validate_job(ctx: Context) -> Message:
    await _job_request(ctx)
    response = ctx.respond()
    (await subscriptions.validate_job_subscriptions(ctx)).add_to(response)
    return response


async def create_job(ctx: Context) -> Message:
    request = await _job_request(ctx)
    return await _created(ctx, await _submit(ctx, request, [], open_for_documents=True))


async def _submit(
    ctx: Context,
    request: NewJobRequest,
    documents: list[NewDocument],
    *,
    open_for_documents: bool = False,
) -> JobRecord:
    try:
        return await ctx.services.jobs.submit(
            request.spec,
            documents,
            open_for_documents=open_for_documents,
            hold_new_jobs=request.hold_new_jobs,
        )
    except JobRefused as exc:
        raise IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, str(exc)) from None


async def send_document(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    last = ctx.value("last-document")
    if not isinstance(last, bool):
        raise bad_request("missing or bad last-document (RFC 8011 §4.3.1.1)")
    if not job.open_for_documents:
        raise IppError(
            Status.CLIENT_ERROR_NOT_POSSIBLE,
            f"job {job.id} is {job.state.keyword} and takes no more documents",
        )
    document = await _spool(ctx, _document_meta(ctx, await _supported(ctx, job.queue)))
    try:
        if document is None:
            if not last:
                raise bad_request("Send-Document without data must have last-document true")
            job = await ctx.services.jobs.close(job)
        else:
            job = await ctx.services.jobs.add_document(job, document, last=last)
    except JobNotPossible as exc:
        raise possible(exc) from None
    return job_response(ctx, job)


async def close_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    if not job.open_for_documents:
        raise IppError(Status.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is already closed")
    try:
        job = await ctx.services.jobs.close(job)
    except JobNotPossible as exc:
        raise possible(exc) from None
    return job_response(ctx, job)


async def validate_document(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    _document_meta(ctx, await _supported(ctx, job.queue))
    return ctx.respond()


# --- building a job from the request ----------------------------------------------------


async def _job_request(ctx: Context) -> NewJobRequest:
    require_may_submit(ctx)
    queue = queue_name(ctx)
    state = await ctx.services.store.get_queue_state(queue)
    if not state.is_accepting_jobs:
        raise IppError(Status.SERVER_ERROR_NOT_ACCEPTING_JOBS, f"{queue} is not accepting jobs")
    supported = await _supported(ctx, queue)
    meta = _document_meta(ctx, supported)
    accepted = _checked_template(ctx, supported)
    spec = JobSpec(
        queue=queue,
        owner=_owner(ctx),
        owner_authenticated=ctx.principal.authenticated,
        originating_host=ctx.client_host,
        name=_job_name(ctx),
        priority=_priority(accepted),
        hold_until=_hold_until(accepted),
        template=encode_template(a for a in accepted if a.name not in _RECORD_FIELDS),
        uuid=_job_uuid(accepted),
        password_hash=await _pin_hash(ctx),
    )
    return NewJobRequest(spec, meta, state.hold_new_jobs)


async def _supported(ctx: Context, queue: str) -> dict[str, Attribute]:
    return ctx.services.queues.supported(queue)


def _checked_template(ctx: Context, supported: dict[str, Attribute]) -> list[Attribute]:
    fidelity = ctx.boolean("ipp-attribute-fidelity", False)
    check = check_template(ctx.group(Tag.JOB).attributes, supported)
    if check.unsupported:
        ctx.unsupported.extend(check.unsupported)
        if fidelity:
            names = ", ".join(a.name for a in check.unsupported)
            raise IppError(
                Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"unsupported job attributes or values: {names}",
            )
    return check.accepted


def _document_meta(ctx: Context, supported: dict[str, Attribute]) -> DocumentMeta:
    fmt = ctx.text("document-format", OCTET_STREAM).lower()
    formats = supported.get("document-format-supported")
    if formats is not None and fmt not in {str(v).lower() for v in formats.values}:
        # echo the attribute as sent: its value need not be valid as a mimeMediaType
        ctx.unsupported.append(ctx.op.get("document-format") or _keyword("document-format", fmt))
        raise IppError(
            Status.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
            f"document-format {fmt} is not supported",
        )
    compression = ctx.text("compression", "none")
    if compression not in COMPRESSIONS:
        ctx.unsupported.append(ctx.op.get("compression") or _keyword("compression", compression))
        raise IppError(
            Status.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED,
            f"compression {compression} is not supported",
        )
    return DocumentMeta(
        name=ctx.text("document-name", "")[:255], declared_format=fmt, compression=compression
    )


def _keyword(name: str, value: str) -> Attribute:
    return Attribute.of(name, Tag.KEYWORD, value)


async def _spool(ctx: Context, meta: DocumentMeta) -> NewDocument | None:
    return await spool_document(ctx.services.spool, ctx.body, meta)


async def _created(ctx: Context, job: JobRecord) -> Message:
    ahead = await ctx.services.store.count_jobs(job.queue, _AHEAD_STATES)
    extra = [Attribute.of("number-of-intervening-jobs", Tag.INTEGER, max(0, ahead - 1))]
    response = job_response(ctx, job, extra)
    (await subscriptions.create_job_subscriptions(ctx, job)).add_to(response)
    return response


_AHEAD_STATES = (JobState.PENDING, JobState.PROCESSING)


async def _pin_hash(ctx: Context) -> str | None:
    """PWG 5100.11 job-password: the job waits for its PIN (jobs/pin.py). We support
    job-password-encryption "none" only (printer_attributes.py advertises so)."""
    attr = ctx.op.get("job-password")
    if attr is None:
        return None
    encryption = ctx.text("job-password-encryption", "none")
    if encryption != "none":
        ctx.unsupported.append(ctx.op.get("job-password-encryption") or attr)
        raise IppError(
            Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            f"job-password-encryption {encryption} is not supported (only none)",
        )
    if not isinstance(attr.value, bytes | str):
        raise bad_request("job-password must be an octetString")
    try:
        pin = parse_pin(attr.value)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return await hash_pin(pin)


def _owner(ctx: Context) -> str:
    """Invariant 4: an authenticated user owns the job whatever requesting-user-name says."""
    if ctx.principal.authenticated:
        return ctx.principal.name
    return ctx.text("requesting-user-name", "anonymous")[:255] or "anonymous"


def _job_name(ctx: Context) -> str:
    name = ctx.text("job-name", "") or ctx.text("document-name", "") or "untitled"
    return name[:255]


def _priority(accepted: list[Attribute]) -> int:
    attr = next((a for a in accepted if a.name == "job-priority"), None)
    return attr.value if attr is not None and isinstance(attr.value, int) else 50


def _hold_until(accepted: list[Attribute]) -> str | None:
    attr = next((a for a in accepted if a.name == "job-hold-until"), None)
    if attr is None or attr.value == "no-hold" or not isinstance(attr.value, str):
        return None
    return attr.value


def _job_uuid(accepted: list[Attribute]) -> str:
    attr = next((a for a in accepted if a.name == "job-uuid"), None)
    if attr is not None and isinstance(attr.value, str) and _UUID_RE.match(attr.value):
        return attr.value.lower()
    return ""
