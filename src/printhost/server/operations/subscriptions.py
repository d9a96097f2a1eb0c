"""Event notifications: subscriptions (RFC 3995) delivered with the ippget pull method
(RFC 3996) - Create-Printer-Subscriptions, Create-Job-Subscriptions, subscriptions carried by
Print-Job/Create-Job, Get-Subscription-Attributes, Get-Subscriptions, Renew-Subscription,
Cancel-Subscription and Get-Notifications.

Theory of operation. printhost keeps no per-subscription event queue. Every state change
already appends a row to the store's event log (``Store.events_after``) in the same
transaction as the change, so a subscription is only a *filter* over that log: its events
(``notify-events`` with the RFC 3995 §5.3.3.4 sub-values), its scope (one queue, all queues,
or one job) and ``start_seq``, the last log sequence number before it existed. The sequence
number a client sees is ``event.seq - start_seq``: it grows with every notification and lets
``notify-sequence-numbers`` resume where the client stopped, but unlike RFC 3995 §5.4.2 it
may skip values (events that did not match). Get-Notifications reads one bounded slice of
the log for all requested subscriptions, matches it here in pure functions, and, with
``notify-wait``, sleeps on the event bell until something is appended.

Only ippget is supported; push methods (``notify-recipient-uri``: mailto:, rss:...) are
refused per subscription with client-error-uri-scheme-not-supported (RFC 3995 §5.3.1,
§13.1) and a job submitted with one still succeeds (§11.1.3).

Decisions here are pure functions (parsing a subscription template, granting a lease,
matching events, building attribute groups); the handlers load, call them and write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from printhost.auth import Principal
from printhost.ipp.constants import JobState, Operation, PrinterState, Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message
from printhost.jobs.model import JobId, JobRecord
from printhost.server.context import Context, Handler
from printhost.server.operations.common import queue_or_all, require_may_manage, require_may_submit
from printhost.server.printer_attributes import NOTIFY_EVENTS, QueueDescription, clean_text
from printhost.server.reply import IppError, add_group, bad_request, not_found, not_possible
from printhost.store.base import EventRecord, SubscriptionRecord

if TYPE_CHECKING:
    from printhost.server.services import Services

PULL_METHOD = "ippget"
#: Subscribed events and the events they also stand for (RFC 3995 §5.3.3.4).
SUB_EVENTS: Mapping[str, frozenset[str]] = {
    "job-state-changed": frozenset({"job-created", "job-completed", "job-stopped"}),
    "printer-state-changed": frozenset(
        {"printer-restarted", "printer-shutdown", "printer-stopped"}
    ),
    "printer-config-changed": frozenset({"printer-media-changed", "printer-finishings-changed"}),
}
#: Most log rows one Get-Notifications reads; older rows are treated as expired (a busy
#: server with more events than this within ippget-event-life loses the oldest, as CUPS
#: loses events beyond MaxEvents).
MAX_SCAN = 2000
#: Longest notify-wait sleep per request; then the client is told to poll again.
MAX_WAIT_SECONDS = 30.0
#: Re-read the log at least this often while waiting, for writers that do not ring the bell.
WAIT_SLICE_SECONDS = 5.0
#: Events stay retrievable this long past ippget-event-life: the client polls every
#: notify-get-interval (= event life) seconds and needs some slack for latency (RFC 3996 §8.1
#: makes the event life a minimum).
EVENT_LIFE_GRACE = 15
#: Subscriptions one owner may hold at once (client-error-too-many-subscriptions, §13.3).
MAX_SUBSCRIPTIONS_PER_OWNER = 100
#: Unauthenticated subscribers never get longer (or infinite) leases than this (§5.3.8
#: allows requiring authentication for long leases): their name is only a claim, so they
#: must not be able to fill the shared quota for good.
ANONYMOUS_LEASE_MAX = 86400
MAX_IDS_PER_REQUEST = 100
MAX_USER_DATA = 63  # octets, RFC 3995 §5.3.5
CHARSET = "utf-8"  # the only charset-supported value: every subscription gets it (§5.3.6)
LANGUAGE = "en"  # the only generated-natural-language-supported value (§5.3.7)

#: Status codes of a Subscription Attributes Group, most important first (§5.2 step 8d).
_STATUS_ORDER = (
    Status.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED,
    Status.CLIENT_ERROR_BAD_REQUEST,
    Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
    Status.CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS,
    Status.SUCCESSFUL_OK_TOO_MANY_EVENTS,
    Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES,
)
_TEMPLATE_NAMES = frozenset({
    "notify-events", "notify-pull-method", "notify-user-data", "notify-charset",
    "notify-natural-language", "notify-lease-duration", "notify-time-interval",
})  # fmt: skip
_DESCRIPTION_NAMES = frozenset({
    "notify-subscription-id", "notify-subscription-uuid", "notify-sequence-number",
    "notify-lease-expiration-time", "notify-printer-up-time", "notify-printer-uri",
    "notify-job-id", "notify-subscriber-user-name",
})  # fmt: skip
_JOB_STATES = {state.keyword: state for state in JobState}
_TERMINAL_REASONS = {
    JobState.COMPLETED: "job-completed-successfully",
    JobState.CANCELED: "job-canceled-by-user",
    JobState.ABORTED: "aborted-by-system",
}
_JOB_TEXT = {
    "job-created": "Job {job} was created on {queue}.",
    "job-completed": "Job {job} is {state}.",
    "job-stopped": "Job {job} has stopped.",
    "job-config-changed": "Job {job} was changed.",
    "job-progress": "Job {job} is in progress.",
}
_PRINTER_TEXT = {
    "printer-stopped": "Printer {queue} was stopped",
    "printer-shutdown": "Printer {queue} was shut down",
    "printer-restarted": "Printer {queue} was restarted",
    "printer-config-changed": "Printer {queue} was reconfigured",
}


def _description_default(name: str) -> int:
    """A queue's advertised notification values (printer_attributes) are the one source."""
    default = next(f.default for f in dataclasses.fields(QueueDescription) if f.name == name)
    assert isinstance(default, int)
    return default


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    """What a queue advertises (RFC 3995 §5.3, RFC 3996 §8.1; printer_attributes)."""

    events_supported: frozenset[str] = frozenset(NOTIFY_EVENTS)
    events_default: tuple[str, ...] = ("job-completed",)
    max_events: int = _description_default("notify_max_events")
    lease_default: int = _description_default("notify_lease_duration_default")
    lease_min: int = 0
    lease_max: int = _description_default("notify_lease_duration_max")
    event_life: int = _description_default("ippget_event_life")


#: Every queue advertises the QueueDescription defaults (server/queues.py sets no notify-*
#: field), so handlers use this; a per-queue setting would be looked up where they pass it.
DEFAULT_POLICY = NotifyPolicy()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- subscription templates (RFC 3995 §5.2, §5.3) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionTemplate:
    """One parsed Subscription Template Attributes Group."""

    events: tuple[str, ...]
    requested_lease: int | None
    time_interval: int
    user_data: bytes
    #: notify-status-code for the response group; None = created with everything asked.
    status: Status | None
    #: Unsupported attributes/values, returned in the group (§5.2 step 2).
    unsupported: tuple[Attribute, ...]

    @property
    def creatable(self) -> bool:
        return self.status is None or self.status.is_success


@dataclass(slots=True)
class _Draft:
    events: tuple[str, ...] | None = None
    pull_method: bool | None = None  # None: not given; False: given but not ippget
    push: bool = False
    lease: int | None = None
    time_interval: int = 0
    user_data: bytes = b""
    unsupported: list[Attribute] = field(default_factory=list)
    codes: set[Status] = field(default_factory=set)

    def refuse(self, attr: Attribute, code: Status) -> None:
        self.unsupported.append(attr)
        self.codes.add(code)

    def ignore(self, attr: Attribute) -> None:
        self.refuse(attr, Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES)

    def ignore_attribute(self, attr: Attribute) -> None:
        """An attribute printhost does not support at all: 'unsupported' out-of-band value."""
        self.ignore(Attribute.of(attr.name, Tag.UNSUPPORTED, None))


def parse_template(
    group: AttributeGroup, policy: NotifyPolicy, *, per_job: bool
) -> SubscriptionTemplate:
    draft = _Draft()
    for attr in group:
        check = _CHECKS.get(attr.name)
        if check is None:
            draft.ignore_attribute(attr)
        else:
            check(draft, attr, policy, per_job)
    if draft.push:
        draft.codes.add(Status.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED)
    elif draft.pull_method is None:
        draft.codes.add(Status.CLIENT_ERROR_BAD_REQUEST)  # neither push nor pull: §5.2 step 4
    events = policy.events_default if draft.events is None else draft.events
    if not events:
        draft.codes.add(Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED)
    return SubscriptionTemplate(
        events=events,
        requested_lease=draft.lease,
        time_interval=draft.time_interval,
        user_data=draft.user_data,
        status=notify_status(draft.codes),
        unsupported=tuple(draft.unsupported),
    )


def notify_status(codes: Iterable[Status]) -> Status | None:
    """The one notify-status-code a group reports: the most important (§5.2 step 8d)."""
    present = set(codes)
    return next((code for code in _STATUS_ORDER if code in present), None)


def _check_recipient(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
    draft.push = True  # no push delivery method is supported (§5.3.1)
    draft.unsupported.append(attr)


def _check_pull_method(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
    draft.pull_method = (
        len(attr.items) == 1 and attr.tag == Tag.KEYWORD and attr.value == PULL_METHOD
    )
    if not draft.pull_method:
        draft.refuse(attr, Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED)  # §5.3.2


def _check_events(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
    """§5.3.3: unsupported values are returned; values past notify-max-events-supported too,
    with successful-ok-too-many-events; 'none' alone creates nothing, 'none' with others is
    an unsupported value (§5.3.3.4.1)."""
    valid: list[str] = []
    bad: list[str] = []
    for item in attr.items:
        value = item.value
        if item.tag != Tag.KEYWORD or not isinstance(value, str):
            bad.append(str(value))
        elif value == "none":
            if len(attr.items) > 1:
                bad.append(value)
        elif value not in policy.events_supported:
            bad.append(value)
        elif value not in valid:
            valid.append(value)
    kept, extra = valid[: policy.max_events], valid[policy.max_events :]
    draft.events = tuple(kept)
    if bad:
        draft.ignore(Attribute.of(attr.name, Tag.KEYWORD, *bad))
    if extra:
        draft.refuse(
            Attribute.of(attr.name, Tag.KEYWORD, *extra), Status.SUCCESSFUL_OK_TOO_MANY_EVENTS
        )


def _check_lease(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
    if per_job:  # a job subscription lasts as long as its job (§5.3.8, §5.2 step 8b)
        draft.ignore_attribute(attr)
    elif len(attr.items) == 1 and attr.tag == Tag.INTEGER and _is_int(attr.value):
        value = attr.value
        assert isinstance(value, int)
        if value >= 0:
            draft.lease = value
        else:
            draft.ignore(attr)
    else:
        draft.ignore(attr)


def _check_time_interval(
    draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool
) -> None:
    value = attr.value
    if len(attr.items) == 1 and attr.tag == Tag.INTEGER and isinstance(value, int) and value >= 0:
        draft.time_interval = value
    else:
        draft.ignore(attr)


def _check_user_data(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
    value = attr.value
    if len(attr.items) == 1 and attr.tag == Tag.OCTET_STRING and isinstance(value, bytes) \
            and len(value) <= MAX_USER_DATA:  # fmt: skip
        draft.user_data = value
    else:
        draft.ignore(attr)


def _syntax_check(tag: Tag) -> Callable[[_Draft, Attribute, NotifyPolicy, bool], None]:
    """notify-charset / -natural-language: an unsupported value is silently replaced
    (§5.3.6, §5.3.7), so only a wrong syntax is reported."""

    def check(draft: _Draft, attr: Attribute, policy: NotifyPolicy, per_job: bool) -> None:
        if len(attr.items) != 1 or attr.tag != tag:
            draft.ignore(attr)

    return check


_CHECKS: dict[str, Callable[[_Draft, Attribute, NotifyPolicy, bool], None]] = {
    "notify-recipient-uri": _check_recipient,
    "notify-pull-method": _check_pull_method,
    "notify-events": _check_events,
    "notify-lease-duration": _check_lease,
    "notify-time-interval": _check_time_interval,
    "notify-user-data": _check_user_data,
    "notify-charset": _syntax_check(Tag.CHARSET),
    "notify-natural-language": _syntax_check(Tag.NATURAL_LANGUAGE),
}


def grant_lease(requested: int | None, policy: NotifyPolicy, *, authenticated: bool) -> int:
    """notify-lease-duration as granted (§5.3.8): the default when not asked, else the
    supported value closest to the request; 0 (infinite) only when asked and supported."""
    lease = policy.lease_default if requested is None else requested
    if lease == 0 and policy.lease_min > 0:
        lease = policy.lease_max
    elif lease != 0:
        lease = min(max(lease, max(policy.lease_min, 1)), policy.lease_max)
    if not authenticated and (lease == 0 or lease > ANONYMOUS_LEASE_MAX):
        lease = min(ANONYMOUS_LEASE_MAX, policy.lease_max)
    return lease


def lease_expiry(now: float, lease: int) -> float | None:
    return None if lease == 0 else now + lease


def creation_status(created: Sequence[bool]) -> Status:
    """Status of Create-Job/Printer-Subscriptions (§11.1.1.2, §12)."""
    if all(created):
        return Status.SUCCESSFUL_OK
    if any(created):
        return Status.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS
    return Status.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS


def response_group(
    template: SubscriptionTemplate, sub: SubscriptionRecord | None, status: Status | None
) -> list[Attribute]:
    """One Subscription Attributes Group of a creation response (§5.2 steps 7-8).
    ``sub`` is None when nothing was created (or for Validate-Job)."""
    attrs: list[Attribute] = []
    if sub is not None:
        attrs.append(Attribute.of("notify-subscription-id", Tag.INTEGER, sub.id))
        if sub.job_id is None:
            attrs.append(Attribute.of("notify-lease-duration", Tag.INTEGER, sub.lease_duration))
    attrs.extend(template.unsupported)
    if status is not None:
        attrs.append(Attribute.of("notify-status-code", Tag.ENUM, int(status)))
    return attrs


# --- subscription attributes (RFC 3995 §5.3, §5.4) ----------------------------------------------


def subscription_uuid(sub: SubscriptionRecord) -> str:
    """notify-subscription-uuid, derived: stable for a subscription, and different for a
    re-used id after the database was reset (created_at differs)."""
    name = f"printhost-subscription:{sub.id}:{sub.created_at!r}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def subscription_attributes(
    sub: SubscriptionRecord, printer_uri: str, up_time: int, sequence_number: int
) -> list[Attribute]:
    a = Attribute.of
    attrs = [
        a("notify-subscription-id", Tag.INTEGER, sub.id),
        a("notify-subscription-uuid", Tag.URI, subscription_uuid(sub)),
        a("notify-printer-uri", Tag.URI, printer_uri),
        a("notify-subscriber-user-name", Tag.NAME, sub.owner[:255] or "anonymous"),
        a("notify-events", Tag.KEYWORD, *(sub.events or ("none",))),
        a("notify-pull-method", Tag.KEYWORD, sub.pull_method),
        a("notify-charset", Tag.CHARSET, CHARSET),
        a("notify-natural-language", Tag.NATURAL_LANGUAGE, LANGUAGE),
        a("notify-time-interval", Tag.INTEGER, sub.time_interval),
        a("notify-sequence-number", Tag.INTEGER, max(0, sequence_number)),
    ]
    if sub.user_data:
        attrs.append(a("notify-user-data", Tag.OCTET_STRING, sub.user_data))
    if sub.job_id is not None:
        attrs.append(a("notify-job-id", Tag.INTEGER, sub.job_id))
    else:  # only Per-Printer Subscriptions have a lease (§5.3.8, §5.4.3, §5.4.4)
        expiry = 0 if sub.expires_at is None else max(1, int(sub.expires_at))
        attrs += [
            a("notify-lease-duration", Tag.INTEGER, sub.lease_duration),
            a("notify-lease-expiration-time", Tag.INTEGER, expiry),
            a("notify-printer-up-time", Tag.INTEGER, max(1, up_time)),
        ]
    return attrs


def select_subscription_attributes(
    attrs: list[Attribute], requested: Iterable[str]
) -> list[Attribute]:
    """requested-attributes with the group names of §11.2.4.1.2."""
    names = set(requested)
    if "all" in names:
        return attrs
    if "subscription-template" in names:
        names |= _TEMPLATE_NAMES
    if "subscription-description" in names:
        names |= _DESCRIPTION_NAMES
    return [attr for attr in attrs if attr.name in names]


def needs_sequence_number(requested: Iterable[str]) -> bool:
    names = set(requested)
    return bool(names & {"all", "subscription-description", "notify-sequence-number"})


def may_access(principal: Principal, requester: str, sub: SubscriptionRecord) -> bool:
    """Owners and operators only (RFC 3995 §25.1, RFC 3996 §5 access rights). A
    subscription made with a proven identity is only the proven identity's: a name that
    merely matches is a claim (invariant 4, as ``Principal.owns`` for jobs)."""
    if principal.is_operator:
        return True
    return sub.owner == requester and (principal.authenticated or not sub.owner_authenticated)


# --- matching events (RFC 3995 §5.3.3.5, §5.3.9) --------------------------------------------------


def event_kinds(event: EventRecord) -> tuple[str, ...]:
    """What an event is, most specific first: the server logs a job stopping as
    job-state-changed with state processing-stopped, which is also 'job-stopped'."""
    if event.kind == "job-state-changed" and event.data.get("state") == "processing-stopped":
        return ("job-stopped", event.kind)
    return (event.kind,)


def subscribed_event(events: Iterable[str], event: EventRecord) -> str | None:
    """The subscribed event that matches ``event`` (notify-subscribed-event, §8.1): the
    event itself when subscribed, else the event it is a sub-value of; None if none."""
    subscribed = tuple(events)
    kinds = event_kinds(event)
    exact = next((kind for kind in kinds if kind in subscribed), None)
    if exact is not None:
        return exact
    return next((s for s in subscribed if SUB_EVENTS.get(s, frozenset()) & set(kinds)), None)


def in_scope(
    sub: SubscriptionRecord, event: EventRecord, printers_by_queue: Mapping[str, str]
) -> bool:
    """Job events reach Per-Printer Subscriptions of their queue and the Per-Job
    Subscriptions of their job; printer events reach every subscription of the printer,
    Per-Job ones included (§5.3.3.5.1-2). sub.queue None means all queues."""
    if event.job_id is not None:
        if sub.job_id is not None:
            return event.job_id == sub.job_id
        return sub.queue is None or event.queue == sub.queue
    if sub.queue is None:
        return sub.job_id is None
    if event.queue is not None:
        return event.queue == sub.queue
    return event.printer is not None and printers_by_queue.get(sub.queue) == event.printer


@dataclass(frozen=True, slots=True)
class Notification:
    sub: SubscriptionRecord
    event: EventRecord
    subscribed_event: str
    number: int  # notify-sequence-number


def sequence_number(sub: SubscriptionRecord, event: EventRecord) -> int:
    return event.seq - sub.start_seq


def notifications_for(
    sub: SubscriptionRecord,
    events: Iterable[EventRecord],
    *,
    first_number: int = 1,
    not_before: float = float("-inf"),
    printers_by_queue: Mapping[str, str] | None = None,
) -> list[Notification]:
    """The notifications of ``sub`` among ``events`` (in log order), numbered, from
    ``first_number`` on, no older than ``not_before``. job-progress is thinned to one per
    notify-time-interval seconds (§5.3.9) before the window is cut, so the same events give
    the same notifications whatever the client asks."""
    out: list[Notification] = []
    last_progress: float | None = None
    for event in events:
        if event.seq <= sub.start_seq or not in_scope(sub, event, printers_by_queue or {}):
            continue
        subscribed = subscribed_event(sub.events, event)
        if subscribed is None:
            continue
        if event.kind == "job-progress" and sub.time_interval > 0:
            if last_progress is not None and event.time < last_progress + sub.time_interval:
                continue
            last_progress = event.time
        number = sequence_number(sub, event)
        if number >= first_number and event.time >= not_before:
            out.append(Notification(sub, event, subscribed, number))
    return out


def scan_start(lowest: Iterable[int], last_seq: int, max_scan: int = MAX_SCAN) -> int:
    """The log position to read after: the lowest one any subscription needs, but never
    more than ``max_scan`` rows back."""
    return max(min(lowest, default=last_seq), last_seq - max_scan, 0)


def first_log_seq(sub: SubscriptionRecord, first_number: int) -> int:
    """Log rows after this one can carry notify-sequence-number >= first_number."""
    return sub.start_seq + max(first_number, 1) - 1


def job_start_seq(events: Iterable[EventRecord], job_id: int, default: int) -> int:
    """start_seq for a subscription created with its job: just before the job's first
    event, so job-created is delivered (§11.1.3)."""
    seqs = [event.seq for event in events if event.job_id == job_id]
    return min(seqs) - 1 if seqs else default


def is_complete(sub: SubscriptionRecord, job: JobRecord | None) -> bool:
    """A Per-Job Subscription whose job ended (or is gone) has no more events to come
    (successful-ok-events-complete, RFC 3996 §5.2)."""
    return sub.job_id is not None and (job is None or job.state.is_terminal)


def is_over(sub: SubscriptionRecord, job: JobRecord | None, now: float, event_life: int) -> bool:
    """Whether housekeeping deletes ``sub``: its lease ran out (§5.4.3), or its job is
    gone, or ended longer ago than events stay retrievable."""
    if sub.job_id is None:
        return sub.expires_at is not None and sub.expires_at <= now
    if job is None:
        return True
    if not job.state.is_terminal:
        return False
    ended = job.completed_at if job.completed_at is not None else sub.created_at
    return ended + event_life + EVENT_LIFE_GRACE <= now


def is_expired(sub: SubscriptionRecord, now: float) -> bool:
    return sub.expires_at is not None and sub.expires_at <= now


# --- event notification content (RFC 3996 §5.2 tables 3-6) ----------------------------------------


@dataclass(frozen=True, slots=True)
class PrinterFacts:
    name: str
    state: PrinterState
    reasons: tuple[str, ...]
    accepting: bool


def event_job_state(event: EventRecord, job: JobRecord | None) -> JobState:
    """The job's state as of the event: logged with it, else the job's current state; a
    job purged meanwhile is reported as canceled (§5.3.3.4.3)."""
    logged = event.data.get("state")
    if isinstance(logged, str) and logged in _JOB_STATES:
        return _JOB_STATES[logged]
    return job.state if job is not None else JobState.CANCELED


def event_job_reasons(state: JobState, job: JobRecord | None) -> tuple[str, ...]:
    if job is not None and job.state == state and job.state_reasons:
        return job.state_reasons
    return (_TERMINAL_REASONS.get(state, "none"),)


def notify_text(kind: str, event: EventRecord, job_state: JobState | None) -> str:
    queue = event.queue or event.printer or "printhost"
    if event.job_id is not None:
        template = _JOB_TEXT.get(kind, "Job {job} is now {state}.")
        state = job_state.keyword if job_state is not None else "unknown"
        return template.format(job=event.job_id, queue=queue, state=state)
    text = _PRINTER_TEXT.get(kind, "Printer {queue} changed state").format(queue=queue)
    by = event.data.get("by")
    return f"{text} by {by}." if isinstance(by, str) and by else f"{text}."


def event_attributes(
    n: Notification, printer_uri: str, job: JobRecord | None, printer: PrinterFacts | None
) -> list[Attribute]:
    """One Event Notification Attributes Group (RFC 3996 §5.2, tables 3-6)."""
    a = Attribute.of
    event, kind = n.event, event_kinds(n.event)[0]
    job_state = event_job_state(event, job) if event.job_id is not None else None
    attrs = [
        a("notify-subscription-id", Tag.INTEGER, n.sub.id),
        a("notify-sequence-number", Tag.INTEGER, n.number),
        a("notify-subscribed-event", Tag.KEYWORD, n.subscribed_event),
        a("notify-printer-uri", Tag.URI, printer_uri),
        a("notify-text", Tag.TEXT, clean_text(notify_text(kind, event, job_state))),
        a("notify-charset", Tag.CHARSET, CHARSET),
        a("notify-natural-language", Tag.NATURAL_LANGUAGE, LANGUAGE),
        a("notify-user-data", Tag.OCTET_STRING, n.sub.user_data),
        a("printer-up-time", Tag.INTEGER, max(1, int(event.time))),
        a("printer-current-time", Tag.DATE_TIME, _datetime(event.time)),
    ]
    if printer is not None:
        attrs.append(a("printer-name", Tag.NAME, printer.name))
    if event.job_id is not None and job_state is not None:
        attrs += _job_event_attributes(n, kind, job, job_state)
    elif printer is not None:
        attrs += [
            a("printer-state", Tag.ENUM, int(printer.state)),
            a("printer-state-reasons", Tag.KEYWORD, *(printer.reasons or ("none",))),
            a("printer-is-accepting-jobs", Tag.BOOLEAN, printer.accepting),
        ]
    return attrs


def _job_event_attributes(
    n: Notification, kind: str, job: JobRecord | None, state: JobState
) -> list[Attribute]:
    a = Attribute.of
    job_id = n.event.job_id
    assert job_id is not None
    attrs = [
        a("job-id", Tag.INTEGER, job_id),
        a("notify-job-id", Tag.INTEGER, job_id),  # what CUPS clients read (system-config-printer)
        a("job-state", Tag.ENUM, int(state)),
        a("job-state-reasons", Tag.KEYWORD, *event_job_reasons(state, job)),
    ]
    if (kind, n.subscribed_event) in _IMPRESSIONS_COMBINATIONS:  # RFC 3996 table 5
        done = job.impressions_completed if job is not None else 0
        attrs.append(a("job-impressions-completed", Tag.INTEGER, max(0, done)))
    return attrs


_IMPRESSIONS_COMBINATIONS = frozenset({
    ("job-progress", "job-progress"),
    ("job-completed", "job-completed"),
    ("job-completed", "job-state-changed"),
})  # fmt: skip


def _datetime(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)


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


@dataclass(frozen=True, slots=True)
class SubscriptionGroups:
    """The Subscription Attributes Groups for a job creation response."""

    groups: list[AttributeGroup]
    ignored_subscriptions: bool

    def add_to(self, response: Message) -> None:
        """Append the groups (after the job group) and, when a subscription was refused,
        report successful-ok-ignored-subscriptions, which hides any other successful-ok-xxx
        (RFC 3995 §11.1.3.2, §12.1). The job itself succeeded either way."""
        response.groups.extend(self.groups)
        if self.ignored_subscriptions and Status(response.code).is_success:
            response.code = Status.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS


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
        printer = await facts.printer(_event_queue(n.sub, n.event, facts.printers_by_queue))
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
    if not _is_int(attr.value) or len(attr.items) != 1:
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


def _event_queue(
    sub: SubscriptionRecord, event: EventRecord, printers_by_queue: Mapping[str, str]
) -> str | None:
    """The queue whose state a printer event reports."""
    if event.queue or sub.queue:
        return event.queue or sub.queue
    return next((q for q, p in printers_by_queue.items() if p == event.printer), None)


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
