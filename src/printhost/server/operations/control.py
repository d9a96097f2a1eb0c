"""Acting on jobs: cancel (one, many, mine, current), hold, release, restart, suspend,
resume, promote, schedule-after, Set-Job-Attributes (RFC 8011 §4.3; RFC 3998; RFC 3380;
PWG 5100.11)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from printhost.ipp.constants import JobState, Status, Tag
from printhost.ipp.model import Attribute, Message
from printhost.jobs.model import JobRecord
from printhost.jobs.pin import PinRefused
from printhost.jobs.service import ACTIVE_STATES, JobNotPossible
from printhost.server.context import Context
from printhost.server.job_attributes import decode_template, encode_template
from printhost.server.operations.common import (
    load_job,
    load_own_job,
    possible,
    queue_name,
    queue_or_all,
    require_may_manage,
)
from printhost.server.operations.create import _supported
from printhost.server.reply import IppError, bad_request, not_found, not_possible
from printhost.server.template import check_template
from printhost.store.base import JobFilter

T = TypeVar("T")


async def cancel_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    if job.state.is_terminal:
        raise not_possible(f"job {job.id} is already {job.state.keyword}")
    reason = (
        "job-canceled-by-operator"
        if ctx.principal.is_operator and ctx.principal.name != job.owner
        else "job-canceled-by-user"
    )
    await _try(ctx.services.jobs.cancel(job, reason=reason, message=ctx.text("message", "")))
    return ctx.respond()


async def cancel_jobs(ctx: Context) -> Message:
    """Cancel-Jobs (PWG 5100.11): an operator cancels all (or the listed) jobs."""
    ctx.require_operator()
    return await _cancel_many(ctx, owner=None, reason="job-canceled-by-operator")


async def cancel_my_jobs(ctx: Context) -> Message:
    owner = (
        ctx.principal.name
        if ctx.principal.authenticated
        else ctx.text("requesting-user-name", "anonymous")
    )
    return await _cancel_many(ctx, owner=owner, reason="job-canceled-by-user")


async def _cancel_many(ctx: Context, owner: str | None, reason: str) -> Message:
    queue = queue_or_all(ctx)
    ids_attr = ctx.op.get("job-ids")
    ids = [v for v in ids_attr.values if isinstance(v, int)] if ids_attr else None
    jobs = await ctx.services.jobs.list(
        JobFilter(queue=queue, states=ACTIVE_STATES, owner=owner, job_ids=ids)
    )
    if ids is not None and len(jobs) != len(set(ids)):
        raise not_possible("some job-ids are not active jobs you may cancel")
    for job in jobs:
        # all or nothing: a name that matches a job submitted with a proven identity is
        # only a claim, answered with a challenge before anything is canceled (inv. 4)
        require_may_manage(ctx, job)
    for job in jobs:
        # a job finishing meanwhile is not an error of this request
        with contextlib.suppress(JobNotPossible):
            await ctx.services.jobs.cancel(job, reason=reason)
    return ctx.respond()


async def cancel_current_job(ctx: Context) -> Message:
    ctx.require_operator()
    job = await _current_job(ctx)
    await _try(ctx.services.jobs.cancel(job, reason="job-canceled-by-operator"))
    return ctx.respond()


async def suspend_current_job(ctx: Context) -> Message:
    ctx.require_operator()
    job = await _current_job(ctx)
    await _try(ctx.services.jobs.suspend(job))
    return ctx.respond()


async def _current_job(ctx: Context) -> JobRecord:
    queue = queue_name(ctx)
    if ctx.target.job_id is not None:
        job = await load_job(ctx)
        if job.state != JobState.PROCESSING:
            raise not_possible(f"job {job.id} is not the current job")
        return job
    jobs = await ctx.services.jobs.list(
        JobFilter(queue=queue, states=(JobState.PROCESSING,), limit=1)
    )
    if not jobs:
        raise not_possible(f"{queue} has no job printing now")
    return jobs[0]


async def resume_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    if job.state != JobState.PROCESSING_STOPPED:
        raise not_possible(f"job {job.id} is not suspended")
    await _try(ctx.services.jobs.resume(job))
    return ctx.respond()


async def hold_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    until = ctx.text("job-hold-until", "indefinite")
    if until == "no-hold":
        until = "indefinite"
    await _try(ctx.services.jobs.hold(job, until))
    return ctx.respond()


async def release_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    await _try(_release(ctx, job))
    return ctx.respond()


async def _release(ctx: Context, job: JobRecord) -> JobRecord:
    """Release-Job, or job-hold-until no-hold: a PIN job needs its PIN (job-password in
    the operation attributes), except from an operator."""
    pin = ctx.value("job-password")
    given = pin.decode("ascii", "replace") if isinstance(pin, bytes) else pin
    if job.password_hash and given is None and not ctx.principal.authenticated:
        # No PIN: an operator may release it without one, so ask who is there (401)
        raise IppError(
            Status.CLIENT_ERROR_NOT_AUTHENTICATED,
            f"job {job.id} is released with its PIN (job-password) or by an operator",
        )
    return await ctx.services.jobs.release(
        job,
        pin=given if isinstance(given, str) else None,
        operator=ctx.principal.is_operator,
    )


async def restart_job(ctx: Context) -> Message:
    job = await load_own_job(ctx)
    await _try(ctx.services.jobs.restart(job))
    return ctx.respond()


async def promote_job(ctx: Context) -> Message:
    """Promote-Job (RFC 3998 §4.3.2): the job prints next - top priority."""
    ctx.require_operator()
    job = await load_job(ctx)
    await _try(ctx.services.jobs.update(job, {"priority": 100}))
    return ctx.respond()


async def schedule_job_after(ctx: Context) -> Message:
    """Schedule-Job-After (RFC 3998 §4.3.3): the job prints after job-id-after; printhost
    orders by priority then age, so the job takes the priority just below that job's."""
    ctx.require_operator()
    job = await load_job(ctx)
    after_id = ctx.integer("job-id-after")
    after = await ctx.services.jobs.get(after_id) if after_id is not None else None
    if after_id is not None and after is None:
        raise not_found(f"job {after_id}")
    priority = max(1, after.priority - 1) if after is not None else 1
    await _try(ctx.services.jobs.update(job, {"priority": priority}))
    return ctx.respond()


async def set_job_attributes(ctx: Context) -> Message:
    """Set-Job-Attributes (RFC 3380 §4.2): all changes or none. CUPS's `lp -H resume`
    releases a job this way (job-hold-until=no-hold) and resends option defaults."""
    job = await load_own_job(ctx)
    attrs = ctx.group(Tag.JOB).attributes
    if not attrs:
        raise bad_request("Set-Job-Attributes without job attributes")
    check = check_template(attrs, await _supported(ctx, job.queue))
    if check.unsupported:
        ctx.unsupported.extend(check.unsupported)
        raise IppError(
            Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            "unsupported attributes or values: " + ", ".join(a.name for a in check.unsupported),
        )
    changes, hold = _job_changes(job, check.accepted)
    if changes:
        job = await _try(ctx.services.jobs.update(job, changes))
    if hold == "no-hold" and job.state == JobState.PENDING_HELD:
        await _try(_release(ctx, job))
    elif hold not in (None, "no-hold"):
        await _try(ctx.services.jobs.hold(job, hold))
    return ctx.respond()


def _job_changes(job: JobRecord, accepted: list[Attribute]) -> tuple[dict[str, object], str | None]:
    changes: dict[str, object] = {}
    hold: str | None = None
    template = {a.name: a for a in decode_template(job.template)}
    for attr in accepted:
        if attr.name == "job-hold-until":
            hold = str(attr.value)
        elif attr.name == "job-priority":
            changes["priority"] = attr.value
        elif attr.name == "job-name":
            changes["name"] = str(attr.value)[:255]
        elif attr.name != "job-uuid":
            template[attr.name] = attr
    changes["template"] = encode_template(template.values())
    return changes, hold


async def _try(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except JobNotPossible as exc:
        raise possible(exc) from None
    except PinRefused as exc:
        raise IppError(Status.CLIENT_ERROR_NOT_AUTHORIZED, str(exc)) from None
