"""Reprocess-Job and Resubmit-Job (PWG 5100.11 §6.3, §6.4): a new job made from a retained
job's documents, printed again as it was or with new job template attributes; and the
document operations Cancel-Document and Set-Document-Attributes (PWG 5100.5).

The new job gets copies of the documents (a real copy, fsync'd like any intake), so either
job can be purged without taking the other's files with it.
"""

from __future__ import annotations

from printhost.ipp.constants import Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.jobs.model import DocumentRecord, JobRecord
from printhost.jobs.service import JobNotPossible, JobSpec
from printhost.server.context import Context
from printhost.server.job_attributes import decode_template, encode_template
from printhost.server.operations.common import job_response, load_own_job, possible
from printhost.server.operations.create import _supported
from printhost.server.reply import IppError, bad_request, not_found, not_possible
from printhost.server.template import check_template
from printhost.store.base import NewDocument

COPY_CHUNK = 256 * 1024


async def reprocess_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    return await _copy_job(ctx, job, decode_template(job.template))


async def resubmit_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    changes = ctx.group(Tag.JOB).attributes
    check = check_template(changes, await _supported(ctx, job.queue))
    if check.unsupported:
        ctx.unsupported.extend(check.unsupported)
        raise IppError(Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                       "unsupported attributes: " + ", ".join(a.name for a in check.unsupported))
    template = {a.name: a for a in decode_template(job.template)}
    template.update({a.name: a for a in check.accepted})
    return await _copy_job(ctx, job, list(template.values()))


async def _copy_job(ctx: Context, job: JobRecord, template: list[Attribute]) -> Message:
    if not job.state.is_terminal:
        raise not_possible(f"job {job.id} is still {job.state.keyword}; only finished jobs "
                           "are reprocessed")
    if not job.documents or not all(d.path for d in job.documents):
        raise not_possible(f"job {job.id}'s documents are no longer kept")
    documents = [await _copy_document(ctx, d) for d in job.documents]
    spec = JobSpec(queue=job.queue, owner=job.owner, owner_authenticated=job.owner_authenticated,
                   originating_host=ctx.client_host, name=job.name, priority=job.priority,
                   template=encode_template(template))
    try:
        copy = await ctx.services.jobs.submit(spec, documents)
    except BaseException:  # no job refers to the copies: remove them
        for document in documents:
            await ctx.services.spool.delete(document.path)
        raise
    return job_response(ctx, copy)


async def _copy_document(ctx: Context, document: DocumentRecord) -> NewDocument:
    spool = ctx.services.spool
    writer = spool.writer("copy")
    with spool.path(document.path).open("rb") as source:
        while chunk := source.read(COPY_CHUNK):
            writer.write(chunk)
    stored = await writer.commit()
    return NewDocument(path=stored.path, format=document.format,
                       declared_format=document.declared_format, name=document.name,
                       size=stored.size, sha256=stored.sha256)


async def cancel_document(ctx: Context) -> Message:
    """printhost prints and cancels whole jobs; a document can be canceled on its own
    only when it is the job's only document (then the job is canceled)."""
    job = await load_own_job(ctx)
    number = ctx.integer("document-number")
    if number is None:
        raise bad_request("missing document-number")
    if not any(d.number == number for d in job.documents):
        raise not_found(f"document {number} of job {job.id}")
    if job.document_count != 1 or job.open_for_documents:
        raise not_possible(f"job {job.id} has {job.document_count} documents; cancel the job "
                           "instead (documents of a job print together)")
    if job.state.is_terminal:
        raise not_possible(f"document {number} is already {job.state.keyword}")
    try:
        await ctx.services.jobs.cancel(job)
    except JobNotPossible as exc:
        raise possible(exc) from None
    return ctx.respond()


async def set_document_attributes(ctx: Context) -> Message:
    """No document attribute is settable (document-settable-attributes-supported is
    empty): every request is answered with the attributes it tried to set."""
    job = await load_own_job(ctx)
    number = ctx.integer("document-number")
    if number is None or not any(d.number == number for d in job.documents):
        raise not_found(f"document {number} of job {job.id}")
    attrs = ctx.group(Tag.DOCUMENT).attributes
    ctx.unsupported.extend(attrs)
    raise IppError(Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                   "document attributes are not settable on this server")
