"""Event notifications, decided purely (RFC 3995, RFC 3996 ippget): which events of the log
a subscription sees, their sequence numbers, and the attribute groups that report
subscriptions and events.

Theory of operation. printhost keeps no per-subscription event queue. Every state change
already appends a row to the store's event log (``Store.events_after``) in the same
transaction as the change, so a subscription is only a *filter* over that log: its events
(``notify-events`` with the RFC 3995 §5.3.3.4 sub-values), its scope (one queue, all queues,
or one job) and ``start_seq``, the last log sequence number before it existed. The sequence
number a client sees is ``event.seq - start_seq``: it grows with every notification and lets
``notify-sequence-numbers`` resume where the client stopped, but unlike RFC 3995 §5.4.2 it
may skip values (events that did not match). Get-Notifications (operations/subscriptions.py)
reads one bounded slice of the log for all requested subscriptions, matches it here, and,
with ``notify-wait``, sleeps on the event bell until something is appended.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from printhost.auth import Principal
from printhost.ipp.constants import JobState, PrinterState, Tag
from printhost.ipp.model import Attribute
from printhost.jobs.model import JobRecord
from printhost.server.printer_attributes import clean_text
from printhost.store.base import EventRecord, SubscriptionRecord

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
#: Events stay retrievable this long past ippget-event-life: the client polls every
#: notify-get-interval (= event life) seconds and needs some slack for latency (RFC 3996 §8.1
#: makes the event life a minimum).
EVENT_LIFE_GRACE = 15
CHARSET = "utf-8"  # the only charset-supported value: every subscription gets it (§5.3.6)
LANGUAGE = "en"  # the only generated-natural-language-supported value (§5.3.7)
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


def event_queue(
    sub: SubscriptionRecord, event: EventRecord, printers_by_queue: Mapping[str, str]
) -> str | None:
    """The queue whose state a printer event reports."""
    if event.queue or sub.queue:
        return event.queue or sub.queue
    return next((q for q, p in printers_by_queue.items() if p == event.printer), None)
