"""Printer (queue) operations: Get-Printer-Attributes, Get-Printer-Supported-Values,
Set-Printer-Attributes, Identify-Printer, and the operator's RFC 3998 controls
(pause/resume, enable/disable, hold/release new jobs, shutdown/startup/restart), Purge-Jobs
and CUPS-Accept/Reject-Jobs."""

from __future__ import annotations

import dataclasses

from printhost.ipp.constants import Status, Tag
from printhost.ipp.model import Message
from printhost.jobs.service import ACTIVE_STATES, TERMINAL_STATES
from printhost.server.attribute_selection import select_attributes
from printhost.server.context import Context
from printhost.server.operations.common import queue_name
from printhost.server.reply import IppError, add_group, bad_request
from printhost.store.base import JobFilter, NewEvent, QueueState

#: Printer attributes an operator may set (printer-settable-attributes-supported).
SETTABLE = ("printer-message-from-operator",)


async def get_printer_attributes(ctx: Context) -> Message:
    queue = queue_name(ctx)
    attrs = await ctx.services.queues.attributes(queue, ctx.uris)
    selected, _unknown = select_attributes(attrs, ctx.keywords("requested-attributes"))
    response = ctx.respond()
    add_group(response, Tag.PRINTER, selected)
    return response


async def get_printer_supported_values(ctx: Context) -> Message:
    """RFC 3380 §4.3: the values that Set-Printer-Attributes accepts."""
    queue = queue_name(ctx)
    attrs = await ctx.services.queues.attributes(queue, ctx.uris)
    settable = [a for a in attrs if a.name in SETTABLE]
    requested = ctx.keywords("requested-attributes")
    if requested is not None and "all" not in requested:
        settable = [a for a in settable if a.name in requested]
    response = ctx.respond()
    add_group(response, Tag.PRINTER, settable)
    return response


async def set_printer_attributes(ctx: Context) -> Message:
    ctx.require_operator()
    queue = queue_name(ctx)
    attrs = ctx.group(Tag.PRINTER).attributes
    if not attrs:
        raise bad_request("Set-Printer-Attributes without printer attributes")
    bad = [a for a in attrs if a.name not in SETTABLE or not isinstance(a.value, str)]
    if bad:
        ctx.unsupported.extend(bad)
        raise IppError(
            Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
            "not settable: " + ", ".join(a.name for a in bad),
        )
    message = str(attrs[0].value)[:127]
    await _change_queue(ctx, queue, "printer-config-changed", state_message=message)
    return ctx.respond()


async def identify_printer(ctx: Context) -> Message:
    """Identify-Printer (PWG 5100.13): recorded as an event for the physical printer's
    owner of the day; printhost's queues have no lamp or display of their own."""
    queue = queue_name(ctx)
    actions = ctx.keywords("identify-actions") or ["display"]
    await ctx.services.store.append_event(
        NewEvent(
            "printer-identify",
            ctx.services.clock.now(),
            queue=queue,
            data={"actions": actions, "message": ctx.text("message", ""), "by": ctx.principal.name},
        )
    )
    return ctx.respond()


async def pause_printer(ctx: Context) -> Message:
    return await _operator_change(ctx, "printer-stopped", paused=True)


async def resume_printer(ctx: Context) -> Message:
    response = await _operator_change(ctx, "printer-state-changed", paused=False)
    ctx.services.wake_dispatcher()
    return response


async def enable_printer(ctx: Context) -> Message:
    return await _operator_change(ctx, "printer-state-changed", is_accepting_jobs=True)


async def disable_printer(ctx: Context) -> Message:
    return await _operator_change(ctx, "printer-state-changed", is_accepting_jobs=False)


async def hold_new_jobs(ctx: Context) -> Message:
    return await _operator_change(ctx, "printer-state-changed", hold_new_jobs=True)


async def release_held_new_jobs(ctx: Context) -> Message:
    """RFC 3998 §3.3.2: also releases the jobs that were held because of Hold-New-Jobs."""
    response = await _operator_change(ctx, "printer-state-changed", hold_new_jobs=False)
    queue = queue_name(ctx)
    held = await ctx.services.jobs.list(JobFilter(queue=queue, states=(ACTIVE_STATES[1],)))
    for job in held:
        if "job-held-for-review" in job.state_reasons and job.hold_until is None:
            await ctx.services.jobs.release(job)
    return response


async def shutdown_printer(ctx: Context) -> Message:
    return await _operator_change(ctx, "printer-shutdown", paused=True, is_accepting_jobs=False)


async def startup_printer(ctx: Context) -> Message:
    response = await _operator_change(
        ctx, "printer-restarted", paused=False, is_accepting_jobs=True
    )
    ctx.services.wake_dispatcher()
    return response


async def restart_printer(ctx: Context) -> Message:
    """RFC 3998 §3.5.1: back to the configured state - accepting, not paused, no holds."""
    response = await _operator_change(
        ctx, "printer-restarted", paused=False, is_accepting_jobs=True, hold_new_jobs=False
    )
    ctx.services.wake_dispatcher()
    return response


async def purge_jobs(ctx: Context) -> Message:
    """Purge-Jobs (RFC 8011 §4.2.9): cancel active jobs and forget all jobs of the queue."""
    ctx.require_operator()
    queue = queue_name(ctx)
    for job in await ctx.services.jobs.list(JobFilter(queue=queue, states=ACTIVE_STATES)):
        await ctx.services.jobs.cancel(job, reason="job-canceled-by-operator")
    done = await ctx.services.jobs.list(JobFilter(queue=queue, states=TERMINAL_STATES))
    await ctx.services.purge([job.id for job in done])
    return ctx.respond()


async def _operator_change(ctx: Context, event: str, **changes: bool) -> Message:
    ctx.require_operator()
    await _change_queue(ctx, queue_name(ctx), event, **changes)
    return ctx.respond()


async def _change_queue(ctx: Context, queue: str, event: str, **changes: object) -> None:
    store, now = ctx.services.store, ctx.services.clock.now()
    state = await store.get_queue_state(queue)
    new_state: QueueState = dataclasses.replace(state, state_change_time=now, **changes)  # type: ignore[arg-type]
    await store.set_queue_state(
        new_state, NewEvent(event, now, queue=queue, data={"by": ctx.principal.name})
    )
