"""Event notification operations (RFC 3995 subscriptions, RFC 3996 ippget delivery):
Create-Printer-Subscriptions, Create-Job-Subscriptions, subscriptions carried by
Print-Job/Create-Job, Get-Subscription-Attributes, Get-Subscriptions, Renew-Subscription,
Cancel-Subscription and Get-Notifications.

Decisions are pure functions: creating subscriptions in server/subscription_templates.py,
matching events and building attribute groups (with the theory of operation) in
server/notifications.py. The handlers here load, call them and write.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from printhost.ipp.constants import Operation, PrinterState, Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message
from printhost.jobs.model import JobId, JobRecord
from printhost.server.context import Context, Handler
from printhost.server.notifications import (
    EVENT_LIFE_GRACE,
    MAX_SCAN,
    Notification,
    PrinterFacts,
    event_attributes,
    event_queue,
    first_log_seq,
    is_complete,
    is_expired,
    is_over,
    job_start_seq,
    may_access,
    needs_sequence_number,
    notifications_for,
    scan_start,
    select_subscription_attributes,
    subscription_attributes,
)
from printhost.server.operations.common import queue_or_all, require_may_manage, require_may_submit
from printhost.server.reply import IppError, add_group, bad_request, not_found, not_possible
from printhost.server.subscription_templates import (
    DEFAULT_POLICY,
    PULL_METHOD,
    NotifyPolicy,
    SubscriptionGroups,
    SubscriptionTemplate,
    creation_status,
    grant_lease,
    is_int,
    lease_expiry,
    parse_template,
    response_group,
)
from printhost.store.base import SubscriptionRecord

if TYPE_CHECKING:
    from printhost.server.services import Services

#: Longest notify-wait sleep per request; then the client is told to poll again.
MAX_WAIT_SECONDS = 30.0
#: Re-read the log at least this often while waiting, for writers that do not ring the bell.
WAIT_SLICE_SECONDS = 5.0
#: Subscriptions one owner may hold at once (client-error-too-many-subscriptions, §13.3).
MAX_SUBSCRIPTIONS_PER_OWNER = 100
MAX_IDS_PER_REQUEST = 100


# --- handlers -------------------------------------------------------------------------------------


async def create_printer_subscriptions(ctx: Context) -> Message:
    """Create-Printer-Subscriptions (§11.1.2). Any user who may submit jobs may subscribe:
    desktop tools (system-config-printer) do so without operator rights."""
    require_may_submit(ctx)
    queue = queue_or_all(ctx)
    if (job_id := ctx.op.get("notify-job-id")) is not None:
        ctx.unsupported.append(job_id)  # §11.1.2.1
    templates = _templates(ctx, DEFAULT_POLICY, per_job=False, required=True)
    groups, created = await _create(ctx, templates, DEFAULT_POLICY, queue=queue, job=None)
    return _creation_response(ctx, creation_status(created), groups)


async def create_subscriptions_for_job(ctx: Context) -> Message:
    """Create-Job-Subscriptions (§11.1.1): the job's owner or an operator, any time before
    the job ends."""
    job_id = ctx.integer("notify-job-id")
    if job_id is None:
        raise bad_request("missing notify-job-id (RFC 3995 §11.1.1.1.1)")
    queue = queue_or_all(ctx)
    job = await ctx.services.jobs.get(job_id)
    if job is None or (queue is not None and job.queue != queue):
        raise not_found(f"job {job_id}")
    require_may_manage(ctx, job)
    if job.state.is_terminal:
        raise not_possible(f"job {job_id} is already {job.state.keyword}")
    templates = _templates(ctx, DEFAULT_POLICY, per_job=True, required=True)
    groups, created = await _create(ctx, templates, DEFAULT_POLICY, queue=job.queue, job=job)
    return _creation_response(ctx, creation_status(created), groups)


async def create_job_subscriptions(ctx: Context, job: JobRecord) -> SubscriptionGroups:
    """Subscriptions carried by Print-Job / Create-Job (tag 0x06 groups, §11.1.3), made
    after the job exists. Never raises for a bad subscription: the job has been created, so
    a refused subscription only shows in its group's notify-status-code."""
    if not ctx.request.groups_of(Tag.SUBSCRIPTION):
        return SubscriptionGroups([], ignored_subscriptions=False)
    templates = _templates(ctx, DEFAULT_POLICY, per_job=True, required=False)
    groups, created = await _create(
        ctx, templates, DEFAULT_POLICY, queue=job.queue, job=job, new_job=True
    )
    return SubscriptionGroups(groups, ignored_subscriptions=not all(created))


async def validate_job_subscriptions(ctx: Context) -> SubscriptionGroups:
    """Validate-Job with subscription groups (§11.2.2): what would happen, no ids."""
    if not ctx.request.groups_of(Tag.SUBSCRIPTION):
        return SubscriptionGroups([], ignored_subscriptions=False)
    queue_or_all(ctx)
    templates = _templates(ctx, DEFAULT_POLICY, per_job=True, required=False)
    groups = [
        AttributeGroup(Tag.SUBSCRIPTION, response_group(t, None, t.status)) for t in templates
    ]
    return SubscriptionGroups(groups, ignored_subscriptions=not all(t.creatable for t in templates))


async def get_subscription_attributes(ctx: Context) -> Message:
    """Get-Subscription-Attributes (§11.2.4); requested-attributes defaults to 'all'."""
    queue_or_all(ctx)
    sub = await _load_own_subscription(ctx)
    requested = ctx.keywords("requested-attributes") or ["all"]
    response = ctx.respond()
    attrs = await _subscription_attrs(ctx, [sub], requested)
    add_group(response, Tag.SUBSCRIPTION, attrs[0])
    return response


async def get_subscriptions(ctx: Context) -> Message:
    """Get-Subscriptions (§11.2.5): Per-Printer Subscriptions of the target (all queues for
    the server root), or the Per-Job ones of notify-job-id. Users other than operators only
    ever see their own (§25.1); my-subscriptions is then implied."""
    queue = queue_or_all(ctx)
    job_id = ctx.integer("notify-job-id")
    limit = ctx.integer("limit")
    if (limit is not None and limit < 1) or (job_id is not None and job_id < 1):
        raise bad_request("limit and notify-job-id must be positive")
    mine = ctx.boolean("my-subscriptions", False) or not ctx.principal.is_operator
    owner = _requester(ctx) if mine else None
    cap = ctx.services.config.jobs.max_jobs_per_listing
    if job_id is not None:
        found = await ctx.services.store.list_subscriptions(None, JobId(job_id), owner, cap)
    else:
        found = await ctx.services.store.list_subscriptions(queue, None, owner, cap)
        found = [sub for sub in found if sub.job_id is None]
    now = ctx.services.clock.now()
    subs = [sub for sub in found if not is_expired(sub, now)][:limit]
    requested = ctx.keywords("requested-attributes") or ["notify-subscription-id"]
    response = ctx.respond()
    for attrs in await _subscription_attrs(ctx, subs, requested):
        add_group(response, Tag.SUBSCRIPTION, attrs)
    return response


async def renew_subscription(ctx: Context) -> Message:
    """Renew-Subscription (§11.2.6): a new lease from now; Per-Job Subscriptions have none."""
    queue_or_all(ctx)
    sub = await _load_own_subscription(ctx)
    if sub.job_id is not None:
        raise not_possible(f"subscription {sub.id} belongs to job {sub.job_id} and has no lease")
    requested = _requested_lease(ctx)
    lease = grant_lease(requested, DEFAULT_POLICY, authenticated=ctx.principal.authenticated)
    now = ctx.services.clock.now()
    changes = {"lease_duration": lease, "expires_at": lease_expiry(now, lease)}
    await ctx.services.store.update_subscription(sub.id, changes)
    substituted = requested is not None and requested != lease
    status = (
        Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
        if substituted
        else Status.SUCCESSFUL_OK
    )
    response = ctx.respond(status)
    add_group(
        response, Tag.SUBSCRIPTION, [Attribute.of("notify-lease-duration", Tag.INTEGER, lease)]
    )
    return response


async def cancel_subscription(ctx: Context) -> Message:
    """Cancel-Subscription (§11.2.7)."""
    queue_or_all(ctx)
    sub = await _load_own_subscription(ctx)
    await ctx.services.store.delete_subscription(sub.id)
    return ctx.respond()


async def get_notifications(ctx: Context) -> Message:
    """Get-Notifications (RFC 3996 §5). Each response ends Event Wait Mode: it always
    carries notify-get-interval (= ippget-event-life, the minimum §5.2.1 allows) unless all
    subscriptions are complete (successful-ok-events-complete, which must not carry it)."""
    queue_or_all(ctx)  # the target must exist; subscription ids are server-wide
    asked = _asked_sequences(ctx)
    subs = await _load_pull_subscriptions(ctx, [sub_id for sub_id, _ in asked])
    wait = ctx.boolean("notify-wait", False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(MAX_WAIT_SECONDS, float(DEFAULT_POLICY.event_life))
    while True:
        found, complete = await _collect(ctx, subs, dict(asked), DEFAULT_POLICY)
        remaining = deadline - loop.time()
        if found or complete or not wait or remaining <= 0:
            break
        await ctx.services.event_bell.wait(min(remaining, WAIT_SLICE_SECONDS))
        subs = await _reload(ctx, subs)
    response = ctx.respond(
        Status.SUCCESSFUL_OK_EVENTS_COMPLETE if complete else Status.SUCCESSFUL_OK
    )
    operation = response.groups[0]
    if not complete:
        operation.add("notify-get-interval", Tag.INTEGER, DEFAULT_POLICY.event_life)
    operation.add("printer-up-time", Tag.INTEGER, max(1, ctx.services.up_time()))
    facts = _Facts(ctx)
    for n in found:
        job = await facts.job(n.event.job_id)
        printer = await facts.printer(event_queue(n.sub, n.event, facts.printers_by_queue))
        attrs = event_attributes(n, _printer_uri(ctx, n.sub.queue), job, printer)
        add_group(response, Tag.EVENT_NOTIFICATION, attrs)
    return response


OPERATIONS: dict[Operation, Handler] = {
    Operation.CREATE_PRINTER_SUBSCRIPTIONS: create_printer_subscriptions,
    Operation.CREATE_JOB_SUBSCRIPTIONS: create_subscriptions_for_job,
    Operation.GET_SUBSCRIPTION_ATTRIBUTES: get_subscription_attributes,
    Operation.GET_SUBSCRIPTIONS: get_subscriptions,
    Operation.RENEW_SUBSCRIPTION: renew_subscription,
    Operation.CANCEL_SUBSCRIPTION: cancel_subscription,
    Operation.GET_NOTIFICATIONS: get_notifications,
}


async def expire_subscriptions(services: Services) -> int:
    """Housekeeping: delete subscriptions whose lease ran out and Per-Job Subscriptions
    whose job ended more than an event life ago (or is gone). Returns how many."""
    now = services.clock.now()
    removed = 0
    for sub in await services.store.list_subscriptions(None, None, None, None):
        job = await services.store.get_job(sub.job_id) if sub.job_id is not None else None
        if is_over(sub, job, now, DEFAULT_POLICY.event_life):
            await services.store.delete_subscription(sub.id)
            removed += 1
    return removed


# --- handler helpers ------------------------------------------------------------------------------


def _requester(ctx: Context) -> str:
    """notify-subscriber-user-name: the most authenticated name (RFC 3995 §5.4.7)."""
    if ctx.principal.authenticated:
        return ctx.principal.name
    return ctx.text("requesting-user-name", "anonymous")[:255] or "anonymous"


def _templates(
    ctx: Context, policy: NotifyPolicy, *, per_job: bool, required: bool
) -> list[SubscriptionTemplate]:
    """Parse the subscription groups. For Create-*-Subscriptions a group with neither
    notify-recipient-uri nor notify-pull-method rejects the request (§5.2 step 4); in a job
    creation it only refuses that subscription, as the job must not fail (§11.1.3)."""
    groups = ctx.request.groups_of(Tag.SUBSCRIPTION)
    if required and not groups:
        raise bad_request("no subscription attributes group")
    templates = [parse_template(group, policy, per_job=per_job) for group in groups]
    if required and any(t.status == Status.CLIENT_ERROR_BAD_REQUEST for t in templates):
        raise bad_request("a subscription needs notify-pull-method (RFC 3995 §5.3)")
    return templates


async def _create(
    ctx: Context,
    templates: list[SubscriptionTemplate],
    policy: NotifyPolicy,
    *,
    queue: str | None,
    job: JobRecord | None,
    new_job: bool = False,
) -> tuple[list[AttributeGroup], list[bool]]:
    store, now, owner = ctx.services.store, ctx.services.clock.now(), _requester(ctx)
    held = len(await store.list_subscriptions(None, None, owner, MAX_SUBSCRIPTIONS_PER_OWNER))
    start = await _start_seq(ctx, job if new_job else None)
    groups: list[AttributeGroup] = []
    created: list[bool] = []
    for template in templates:
        status = template.status
        sub = None
        if template.creatable and held >= MAX_SUBSCRIPTIONS_PER_OWNER:
            status = Status.CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS
        elif template.creatable:
            record = _new_record(ctx, template, policy, queue, job, owner, now, start)
            sub = await store.create_subscription(record)
            held += 1
        created.append(sub is not None)
        groups.append(AttributeGroup(Tag.SUBSCRIPTION, response_group(template, sub, status)))
    return groups, created


def _new_record(
    ctx: Context,
    template: SubscriptionTemplate,
    policy: NotifyPolicy,
    queue: str | None,
    job: JobRecord | None,
    owner: str,
    now: float,
    start_seq: int,
) -> SubscriptionRecord:
    if job is not None:
        lease, expires = 0, None  # ends with the job (§5.3.8)
    else:
        lease = grant_lease(
            template.requested_lease, policy, authenticated=ctx.principal.authenticated
        )
        expires = lease_expiry(now, lease)
    return SubscriptionRecord(
        id=0, owner=owner, queue=queue, job_id=job.id if job is not None else None,
        events=template.events, pull_method=PULL_METHOD, lease_duration=lease,
        expires_at=expires, time_interval=template.time_interval,
        user_data=template.user_data, created_at=now, start_seq=start_seq,
        owner_authenticated=ctx.principal.authenticated,
    )  # fmt: skip


async def _start_seq(ctx: Context, new_job: JobRecord | None) -> int:
    last = await ctx.services.store.last_event_seq()
    if new_job is None:
        return last
    recent = await ctx.services.store.events_after(max(0, last - 100), 100)
    return job_start_seq(recent, new_job.id, last)


def _creation_response(ctx: Context, status: Status, groups: list[AttributeGroup]) -> Message:
    response = ctx.respond(status)
    response.groups.extend(groups)
    return response


def _requested_lease(ctx: Context) -> int | None:
    """CUPS sends notify-lease-duration as an operation attribute; RFC 3995 §11.2.6.1
    lists it under a subscription group. Accept both."""
    attr = ctx.op.get("notify-lease-duration") or ctx.group(Tag.SUBSCRIPTION).get(
        "notify-lease-duration"
    )
    if attr is None:
        return None
    if not is_int(attr.value) or len(attr.items) != 1:
        raise bad_request("notify-lease-duration must be one integer")
    value = attr.value
    assert isinstance(value, int)
    if value < 0:
        ctx.unsupported.append(attr)
        return None
    return value


async def _load_subscription(ctx: Context, sub_id: int) -> SubscriptionRecord:
    sub = await ctx.services.store.get_subscription(sub_id)
    if sub is None or is_expired(sub, ctx.services.clock.now()):
        raise not_found(f"subscription {sub_id}")
    return sub


async def _load_own_subscription(ctx: Context) -> SubscriptionRecord:
    sub_id = ctx.integer("notify-subscription-id")
    if sub_id is None or sub_id < 1:
        raise bad_request("missing or bad notify-subscription-id")
    sub = await _load_subscription(ctx, sub_id)
    _require_may_access(ctx, sub)
    return sub


def _require_may_access(ctx: Context, sub: SubscriptionRecord) -> None:
    if may_access(ctx.principal, _requester(ctx), sub):
        return
    if not ctx.principal.authenticated:
        raise IppError(
            Status.CLIENT_ERROR_NOT_AUTHENTICATED,
            f"subscription {sub.id} belongs to another user: authenticate first",
        )
    raise IppError(
        Status.CLIENT_ERROR_NOT_AUTHORIZED, f"subscription {sub.id} belongs to another user"
    )


def _asked_sequences(ctx: Context) -> list[tuple[int, int]]:
    """(notify-subscription-ids, notify-sequence-numbers) pairs; a missing sequence number
    counts as 1 and extra ones are ignored (RFC 3996 §5.1.2)."""
    ids = _integers(ctx, "notify-subscription-ids")
    if not ids:
        raise bad_request("missing notify-subscription-ids (RFC 3996 §5.1.1)")
    if len(ids) > MAX_IDS_PER_REQUEST or any(i < 1 for i in ids):
        raise bad_request(f"notify-subscription-ids: 1 to {MAX_IDS_PER_REQUEST} positive ids")
    numbers = _integers(ctx, "notify-sequence-numbers")
    numbers += [1] * (len(ids) - len(numbers))
    return [(sub_id, max(1, number)) for sub_id, number in zip(ids, numbers, strict=False)]


def _integers(ctx: Context, name: str) -> list[int]:
    attr = ctx.op.get(name)
    if attr is None:
        return []
    values = [v for v in attr.values if isinstance(v, int) and not isinstance(v, bool)]
    if len(values) != len(attr.items):
        raise bad_request(f"{name} must be integers")
    return values


async def _load_pull_subscriptions(ctx: Context, ids: list[int]) -> list[SubscriptionRecord]:
    subs = []
    for sub_id in dict.fromkeys(ids):
        sub = await _load_subscription(ctx, sub_id)
        if sub.pull_method != PULL_METHOD:
            raise not_found(f"ippget subscription {sub_id}")  # RFC 3996 §5.1.1
        _require_may_access(ctx, sub)
        subs.append(sub)
    return subs


async def _reload(ctx: Context, subs: list[SubscriptionRecord]) -> list[SubscriptionRecord]:
    """While waiting: subscriptions canceled or expired meanwhile drop out."""
    now = ctx.services.clock.now()
    fresh = [await ctx.services.store.get_subscription(sub.id) for sub in subs]
    return [sub for sub in fresh if sub is not None and not is_expired(sub, now)]


async def _collect(
    ctx: Context, subs: list[SubscriptionRecord], asked: dict[int, int], policy: NotifyPolicy
) -> tuple[list[Notification], bool]:
    """All notifications due, subscription by subscription (RFC 3996 §5.2 ordering), and
    whether every subscription is complete (none left counts as complete)."""
    store = ctx.services.store
    last = await store.last_event_seq()
    after = scan_start((first_log_seq(s, asked.get(s.id, 1)) for s in subs), last)
    events = await store.events_after(after, MAX_SCAN) if subs else []
    not_before = ctx.services.clock.now() - policy.event_life - EVENT_LIFE_GRACE
    printers = _printers_by_queue(ctx)
    found = [n for sub in subs for n in notifications_for(
        sub, events, first_number=asked.get(sub.id, 1), not_before=not_before,
        printers_by_queue=printers)]  # fmt: skip
    jobs = [await ctx.services.jobs.get(s.job_id) if s.job_id is not None else None for s in subs]
    complete = all(is_complete(sub, job) for sub, job in zip(subs, jobs, strict=True))
    return found, complete


async def _subscription_attrs(
    ctx: Context, subs: list[SubscriptionRecord], requested: list[str]
) -> list[list[Attribute]]:
    numbers = {sub.id: 0 for sub in subs}
    if subs and needs_sequence_number(requested):
        last = await ctx.services.store.last_event_seq()
        events = await ctx.services.store.events_after(
            scan_start((s.start_seq for s in subs), last), MAX_SCAN
        )
        printers = _printers_by_queue(ctx)
        for sub in subs:
            found = notifications_for(sub, events, printers_by_queue=printers)
            numbers[sub.id] = found[-1].number if found else 0
    up_time = ctx.services.up_time()
    return [select_subscription_attributes(
        subscription_attributes(sub, _printer_uri(ctx, sub.queue), up_time, numbers[sub.id]),
        requested) for sub in subs]  # fmt: skip


def _printer_uri(ctx: Context, queue: str | None) -> str:
    """notify-printer-uri; ``.../printers/`` names all queues (targets.queue_from_uri)."""
    return ctx.uris.printer(queue or "")


def _printers_by_queue(ctx: Context) -> dict[str, str]:
    registry = ctx.services.queues
    return {name: registry.printer_name(name) for name in registry.names()}


class _Facts:
    """Jobs and queue states for event groups, each looked up once per request. The queue
    state is the current one: the log keeps what changed, not the whole state."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._jobs: dict[int, JobRecord | None] = {}
        self._printers: dict[str, PrinterFacts | None] = {}
        self.printers_by_queue = _printers_by_queue(ctx)

    async def job(self, job_id: int | None) -> JobRecord | None:
        if job_id is None:
            return None
        if job_id not in self._jobs:
            self._jobs[job_id] = await self._ctx.services.jobs.get(job_id)
        return self._jobs[job_id]

    async def printer(self, queue: str | None) -> PrinterFacts | None:
        if queue is None:
            return None
        if queue not in self._printers:
            self._printers[queue] = await self._load_printer(queue)
        return self._printers[queue]

    async def _load_printer(self, queue: str) -> PrinterFacts | None:
        try:
            attrs = {
                a.name: a for a in await self._ctx.services.queues.attributes(queue, self._ctx.uris)
            }
        except IppError:  # the queue was removed from the configuration
            return PrinterFacts(queue, PrinterState.STOPPED, ("none",), False)
        state = attrs.get("printer-state")
        reasons = attrs.get("printer-state-reasons")
        accepting = attrs.get("printer-is-accepting-jobs")
        state_value = state.value if state is not None else None
        return PrinterFacts(
            name=queue,
            state=PrinterState(state_value) if isinstance(state_value, int) else PrinterState.IDLE,
            reasons=tuple(str(v) for v in reasons.values) if reasons is not None else ("none",),
            accepting=bool(accepting.value) if accepting is not None else True,
        )
