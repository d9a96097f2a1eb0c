"""Job queries: Get-Job-Attributes, Get-Jobs (RFC 8011 §4.2.6, §4.3.4; PWG 5100.7
which-jobs values; PWG 5100.11 job-ids; PWG 5100.13 first-index), Get-Documents and
Get-Document-Attributes (PWG 5100.5)."""

from __future__ import annotations

from printhost.ipp.constants import JobState, Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.jobs.model import DocumentRecord, JobRecord
from printhost.server.context import Context
from printhost.server.job_attributes import (
    GET_JOBS_DEFAULT,
    job_attributes,
    select_job_attributes,
)
from printhost.server.operations.common import job_view, load_job, queue_or_all
from printhost.server.reply import IppError, add_group, bad_request, not_found
from printhost.store.base import JobFilter

S = JobState
WHICH_JOBS: dict[str, tuple[JobState, ...]] = {
    "not-completed": (S.PENDING, S.PENDING_HELD, S.PROCESSING, S.PROCESSING_STOPPED),
    "completed": (S.COMPLETED, S.CANCELED, S.ABORTED),
    "all": tuple(JobState),
    "pending": (S.PENDING,),
    "pending-held": (S.PENDING_HELD,),
    "processing": (S.PROCESSING,),
    "processing-stopped": (S.PROCESSING_STOPPED,),
    "aborted": (S.ABORTED,),
    "canceled": (S.CANCELED,),
    # Job kinds printhost does not keep; asking for them is valid and lists nothing.
    "proof-print": (),
    "saved": (),
    "fetchable": (),
    "proof-and-suspend": (),
}


async def get_job_attributes(ctx: Context) -> Message:
    job = await load_job(ctx)
    private = not ctx.principal.may_manage(job.owner, job.owner_authenticated)
    ahead = await _intervening(ctx, job)
    attrs = job_attributes(job, job_view(ctx, ahead), private=private)
    response = ctx.respond()
    add_group(response, Tag.JOB, select_job_attributes(attrs, ctx.keywords("requested-attributes")))
    return response


async def get_jobs(ctx: Context) -> Message:
    queue = queue_or_all(ctx)
    which = ctx.text("which-jobs", "not-completed")
    if which not in WHICH_JOBS:
        # echo the attribute as sent: its value need not be a valid keyword
        ctx.unsupported.append(
            ctx.op.get("which-jobs") or Attribute.of("which-jobs", Tag.KEYWORD, which)
        )
        raise IppError(
            Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            f"which-jobs {which} is not supported",
        )
    jobs = await _listed_jobs(ctx, queue, which)
    requested = ctx.keywords("requested-attributes")
    response = ctx.respond()
    view = job_view(ctx)
    for job in jobs:
        private = not ctx.principal.may_manage(job.owner, job.owner_authenticated)
        attrs = job_attributes(job, view, private=private)
        add_group(response, Tag.JOB, select_job_attributes(attrs, requested, GET_JOBS_DEFAULT))
    return response


async def _listed_jobs(ctx: Context, queue: str | None, which: str) -> list[JobRecord]:
    states = WHICH_JOBS[which]
    if not states:
        return []
    limit = ctx.integer("limit")
    first = ctx.integer("first-index", 1) or 1
    if (limit is not None and limit < 1) or first < 1:
        raise bad_request("limit and first-index must be positive")
    cap = ctx.services.config.jobs.max_jobs_per_listing
    where = JobFilter(
        queue=queue,
        states=states,
        owner=_my_jobs_owner(ctx),
        limit=min(cap, (limit or cap) + first - 1),
        newest_first=which == "completed",
        job_ids=_job_ids(ctx),
    )
    jobs = await ctx.services.jobs.list(where)
    return jobs[first - 1 :]


def _my_jobs_owner(ctx: Context) -> str | None:
    if not ctx.boolean("my-jobs", False):
        return None
    if ctx.principal.authenticated:
        return ctx.principal.name
    return ctx.text("requesting-user-name", "anonymous")


def _job_ids(ctx: Context) -> list[int] | None:
    attr = ctx.op.get("job-ids")
    if attr is None:
        return None
    ids = [v for v in attr.values if isinstance(v, int) and not isinstance(v, bool)]
    if len(ids) != len(attr.items):
        raise bad_request("job-ids must be integers")
    return ids


async def _intervening(ctx: Context, job: JobRecord) -> int:
    if job.state not in (S.PENDING, S.PENDING_HELD):
        return 0
    ahead = await ctx.services.store.list_jobs(JobFilter(queue=job.queue, states=(S.PENDING,)))
    return sum(1 for other in ahead if (-other.priority, other.id) < (-job.priority, job.id))


# --- documents (PWG 5100.5) -------------------------------------------------------------


async def get_documents(ctx: Context) -> Message:
    job = await load_job(ctx)
    private = not ctx.principal.may_manage(job.owner, job.owner_authenticated)
    requested = ctx.keywords("requested-attributes")
    response = ctx.respond()
    for document in job.documents:
        attrs = _document_attributes(ctx, job, document, private)
        add_group(response, Tag.DOCUMENT, _select(attrs, requested, ("document-number",)))
    return response


async def get_document_attributes(ctx: Context) -> Message:
    job = await load_job(ctx)
    number = ctx.integer("document-number")
    if number is None:
        raise bad_request("missing document-number")
    document = next((d for d in job.documents if d.number == number), None)
    if document is None:
        raise not_found(f"document {number} of job {job.id}")
    private = not ctx.principal.may_manage(job.owner, job.owner_authenticated)
    attrs = _document_attributes(ctx, job, document, private)
    response = ctx.respond()
    add_group(response, Tag.DOCUMENT, _select(attrs, ctx.keywords("requested-attributes"), None))
    return response


def _select(
    attrs: list[Attribute], requested: list[str] | None, default: tuple[str, ...] | None
) -> list[Attribute]:
    return select_job_attributes(attrs, requested, default)


def _document_attributes(
    ctx: Context, job: JobRecord, doc: DocumentRecord, private: bool
) -> list[Attribute]:
    a = Attribute.of
    attrs = [
        a("document-number", Tag.INTEGER, doc.number),
        a("document-job-id", Tag.INTEGER, job.id),
        a("document-job-uri", Tag.URI, ctx.uris.job(job.id)),
        a("document-printer-uri", Tag.URI, ctx.uris.printer(job.queue)),
        a("document-state", Tag.ENUM, int(job.state)),
        a("document-state-reasons", Tag.KEYWORD, *job.state_reasons),
        a("document-format", Tag.MIME_MEDIA_TYPE, doc.declared_format),
        a("document-format-detected", Tag.MIME_MEDIA_TYPE, doc.format),
        a("k-octets", Tag.INTEGER, (doc.size + 1023) // 1024),
        a("time-at-creation", Tag.INTEGER, int(doc.created_at)),
        a("printer-up-time", Tag.INTEGER, ctx.services.up_time()),
        a(
            "last-document",
            Tag.BOOLEAN,
            doc.number == job.document_count and not job.open_for_documents,
        ),
    ]
    if doc.name and not private:
        attrs.append(a("document-name", Tag.NAME, doc.name[:255]))
    return attrs
