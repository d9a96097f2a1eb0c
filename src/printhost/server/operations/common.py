"""Pieces shared by the handlers: finding the queue or job a request names, checking who
may act on it, and the job group every job-creating response carries."""

from __future__ import annotations

from printhost.ipp.constants import Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.jobs.model import JobRecord
from printhost.jobs.service import JobNotPossible
from printhost.server.context import Context
from printhost.server.job_attributes import JobView
from printhost.server.reply import IppError, add_group, bad_request, not_found, not_possible


def queue_name(ctx: Context) -> str:
    """The queue the request names; the default queue for the server root."""
    if not ctx.target.has_printer_uri and not ctx.target.has_job_uri:
        raise bad_request("missing printer-uri")
    return ctx.services.queues.resolve(ctx.target.queue)


def queue_or_all(ctx: Context) -> str | None:
    """For listings: a named queue, or None for all queues (``ipp://host/``)."""
    if not ctx.target.has_printer_uri:
        raise bad_request("missing printer-uri")
    if ctx.target.queue is None:
        return None
    return ctx.services.queues.resolve(ctx.target.queue)


async def load_job(ctx: Context) -> JobRecord:
    """The job named by job-uri or printer-uri + job-id (RFC 8011 §4.3)."""
    if not ctx.target.has_printer_uri and not ctx.target.has_job_uri:
        raise bad_request("missing printer-uri or job-uri")
    if ctx.target.job_id is None:
        raise bad_request("missing job-id")
    job = await ctx.services.jobs.get(ctx.target.job_id)
    if job is None:
        raise not_found(f"job {ctx.target.job_id}")
    if ctx.target.queue and ctx.services.queues.resolve(ctx.target.queue) != job.queue:
        raise not_found(f"job {job.id} on {ctx.target.queue}")
    return job


async def load_own_job(ctx: Context) -> JobRecord:
    job = await load_job(ctx)
    require_may_manage(ctx, job)
    return job


def require_may_manage(ctx: Context, job: JobRecord) -> None:
    """Invariant 4: only the owner (or an operator) acts on a job."""
    if ctx.principal.may_manage(job.owner, job.owner_authenticated):
        return
    if not ctx.principal.authenticated:
        raise IppError(
            Status.CLIENT_ERROR_NOT_AUTHENTICATED,
            f"job {job.id} belongs to another user: authenticate first",
        )
    raise IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, f"job {job.id} belongs to another user")


def require_may_submit(ctx: Context) -> None:
    if not ctx.principal.authenticated and not ctx.services.config.server.allow_anonymous:
        raise IppError(
            Status.CLIENT_ERROR_NOT_AUTHENTICATED,
            "this server does not accept anonymous jobs: authenticate first",
        )


def job_view(ctx: Context, intervening: int = 0) -> JobView:
    return JobView(
        job_uri=ctx.uris.job,
        printer_uri=ctx.uris.printer,
        more_info=lambda job_id: ctx.uris.web(f"/jobs/{job_id}"),
        up_time=ctx.services.up_time(),
        intervening=intervening,
    )


def job_status_attributes(ctx: Context, job: JobRecord) -> list[Attribute]:
    """The job group of Print-Job/Create-Job/... responses (RFC 8011 §4.2.1.2)."""
    a = Attribute.of
    attrs = [
        a("job-id", Tag.INTEGER, job.id),
        a("job-uri", Tag.URI, ctx.uris.job(job.id)),
        a("job-uuid", Tag.URI, job.uuid),
        a("job-state", Tag.ENUM, int(job.state)),
        a("job-state-reasons", Tag.KEYWORD, *job.state_reasons),
    ]
    if job.state_message:
        attrs.append(a("job-state-message", Tag.TEXT, job.state_message[:1023]))
    return attrs


def job_response(ctx: Context, job: JobRecord, extra: list[Attribute] | None = None) -> Message:
    response = ctx.respond()
    add_group(response, Tag.JOB, job_status_attributes(ctx, job) + (extra or []))
    return response


def ok(ctx: Context) -> Message:
    return ctx.respond()


def possible(exc: JobNotPossible) -> IppError:
    return not_possible(str(exc))
