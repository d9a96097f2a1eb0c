"""The pure parts of RFC 3995/3996 notifications (printhost.server.subscription_templates and
printhost.server.notifications): template parsing, leases, event matching and numbering,
attribute groups; and the operations table. No server."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest

from printhost.auth import Principal
from printhost.ipp.constants import JobState, Operation, PrinterState, Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message
from printhost.jobs.model import JobId, JobRecord
from printhost.server import notifications as notify
from printhost.server import subscription_templates as templates
from printhost.server.notifications import Notification, PrinterFacts
from printhost.server.operations.subscriptions import OPERATIONS
from printhost.server.queue_description import QueueDescription
from printhost.server.subscription_templates import (
    DEFAULT_POLICY,
    NotifyPolicy,
    SubscriptionGroups,
)
from printhost.store.base import EventRecord, SubscriptionRecord

T0 = 1_800_000_000.0
S = Status


def sub(**overrides: Any) -> SubscriptionRecord:
    fields: dict[str, Any] = {
        "id": 5,
        "owner": "alice",
        "queue": "q",
        "job_id": None,
        "events": ("job-completed",),
        "pull_method": "ippget",
        "lease_duration": 3600,
        "expires_at": T0 + 3600,
        "time_interval": 0,
        "user_data": b"",
        "created_at": T0,
        "start_seq": 100,
    }
    fields.update(overrides)
    return SubscriptionRecord(**fields)


def job_sub(**overrides: Any) -> SubscriptionRecord:
    return sub(**{"job_id": JobId(7), "lease_duration": 0, "expires_at": None, **overrides})


def event(seq: int, kind: str, job_id: int | None = None, queue: str | None = "q",
          printer: str | None = None, time: float = T0, **data: Any) -> EventRecord:  # fmt: skip
    return EventRecord(
        seq, time, kind, None if job_id is None else JobId(job_id), queue, printer, data
    )


def job(state: JobState = JobState.PROCESSING, **overrides: Any) -> JobRecord:
    fields: dict[str, Any] = {
        "id": JobId(7), "uuid": "urn:uuid:00000000-0000-0000-0000-000000000007", "queue": "q",
        "owner": "alice", "owner_authenticated": False, "originating_host": "127.0.0.1",
        "name": "report", "state": state, "state_reasons": ("job-printing",), "state_message": "",
        "priority": 50, "hold_until": None, "template": b"", "created_at": T0,
        "processing_at": None, "completed_at": None, "open_for_documents": False,
        "document_count": 1, "size": 10, "printer": "p", "remote_job_id": None,
        "impressions_completed": 3, "delivery_attempts": 0, "next_attempt_at": None,
        "lease_owner": None, "lease_expires": None,
    }  # fmt: skip
    fields.update(overrides)
    return JobRecord(**fields)


def group(*attrs: Attribute) -> AttributeGroup:
    return AttributeGroup(Tag.SUBSCRIPTION, list(attrs))


def kw(name: str, *values: str) -> Attribute:
    return Attribute.of(name, Tag.KEYWORD, *values)


PULL = kw("notify-pull-method", "ippget")


def names(attrs: list[Attribute]) -> list[str]:
    return [a.name for a in attrs]


def value(attrs: list[Attribute], name: str) -> Any:
    found = [a for a in attrs if a.name == name]
    assert len(found) == 1, f"{name}: {found}"
    return found[0].values if len(found[0].items) > 1 else found[0].value


# --- policy ---------------------------------------------------------------------------------------


def test_default_policy_is_what_queues_advertise() -> None:
    desc = {f.name: f.default for f in dataclasses.fields(QueueDescription)}
    assert DEFAULT_POLICY.event_life == desc["ippget_event_life"]
    assert DEFAULT_POLICY.lease_default == desc["notify_lease_duration_default"]
    assert DEFAULT_POLICY.lease_max == desc["notify_lease_duration_max"]
    assert DEFAULT_POLICY.max_events == desc["notify_max_events"]
    assert "job-completed" in DEFAULT_POLICY.events_supported


# --- subscription templates -----------------------------------------------------------------------


def parse(
    *attrs: Attribute, per_job: bool = False, policy: NotifyPolicy = DEFAULT_POLICY
) -> templates.SubscriptionTemplate:
    return templates.parse_template(group(*attrs), policy, per_job=per_job)  # fmt: skip


def test_pull_subscription_with_everything_supported() -> None:
    t = parse(PULL, kw("notify-events", "printer-config-changed", "printer-state-changed"),
              Attribute.of("notify-lease-duration", Tag.INTEGER, 600),
              Attribute.of("notify-time-interval", Tag.INTEGER, 5),
              Attribute.of("notify-user-data", Tag.OCTET_STRING, b"x" * 63),
              Attribute.of("notify-charset", Tag.CHARSET, "us-ascii"),
              Attribute.of("notify-natural-language", Tag.NATURAL_LANGUAGE, "fr"))  # fmt: skip
    assert t.status is None and t.creatable and t.unsupported == ()
    assert t.events == ("printer-config-changed", "printer-state-changed")
    assert (t.requested_lease, t.time_interval, t.user_data) == (600, 5, b"x" * 63)


def test_events_default_to_the_printer_default() -> None:
    assert parse(PULL).events == DEFAULT_POLICY.events_default == ("job-completed",)


def test_push_recipient_is_refused_with_its_uri() -> None:
    recipient = Attribute.of("notify-recipient-uri", Tag.URI, "mailto:a@example.com")
    t = parse(recipient, kw("notify-events", "job-completed"))
    assert t.status == S.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED and not t.creatable
    assert t.unsupported == (recipient,)


def test_neither_push_nor_pull_is_a_bad_request() -> None:
    t = parse(kw("notify-events", "job-completed"))
    assert t.status == S.CLIENT_ERROR_BAD_REQUEST and not t.creatable


@pytest.mark.parametrize("method", [kw("notify-pull-method", "rss"),
                                    Attribute.of("notify-pull-method", Tag.NAME, "ippget"),
                                    kw("notify-pull-method", "ippget", "ippget")])  # fmt: skip
def test_other_pull_methods_are_refused(method: Attribute) -> None:
    t = parse(method)
    assert t.status == S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED and not t.creatable
    assert t.unsupported == (method,)


def test_unsupported_event_values_are_returned_and_the_rest_kept() -> None:
    t = parse(PULL, kw("notify-events", "job-completed", "bogus-event", "job-completed"))
    assert t.events == ("job-completed",)
    assert t.status == S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES and t.creatable
    assert t.unsupported == (kw("notify-events", "bogus-event"),)


def test_none_alone_creates_nothing_and_none_with_others_is_unsupported() -> None:
    alone = parse(PULL, kw("notify-events", "none"))
    assert not alone.creatable and alone.unsupported == ()
    mixed = parse(PULL, kw("notify-events", "none", "job-completed"))
    assert mixed.creatable and mixed.events == ("job-completed",)
    assert mixed.unsupported == (kw("notify-events", "none"),)


def test_only_unsupported_events_create_nothing() -> None:
    t = parse(PULL, kw("notify-events", "bogus"))
    assert t.status == S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED and not t.creatable


def test_too_many_events() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, max_events=2)
    t = parse(PULL, kw("notify-events", "job-created", "job-completed", "printer-stopped"),
              policy=policy)  # fmt: skip
    assert t.events == ("job-created", "job-completed")
    assert t.status == S.SUCCESSFUL_OK_TOO_MANY_EVENTS and t.creatable
    assert t.unsupported == (kw("notify-events", "printer-stopped"),)


def test_job_subscriptions_have_no_lease() -> None:
    t = parse(PULL, Attribute.of("notify-lease-duration", Tag.INTEGER, 60), per_job=True)
    assert t.requested_lease is None and t.creatable
    assert t.unsupported == (Attribute.of("notify-lease-duration", Tag.UNSUPPORTED, None),)
    assert t.status == S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES


@pytest.mark.parametrize("attr", [
    Attribute.of("notify-lease-duration", Tag.INTEGER, -1),
    Attribute.of("notify-lease-duration", Tag.KEYWORD, "forever"),
    Attribute.of("notify-time-interval", Tag.INTEGER, -5),
    Attribute.of("notify-user-data", Tag.OCTET_STRING, b"x" * 64),
    Attribute.of("notify-user-data", Tag.TEXT, "hello"),
    Attribute.of("notify-charset", Tag.KEYWORD, "utf-8"),
    Attribute.of("notify-natural-language", Tag.TEXT, "en"),
])  # fmt: skip
def test_bad_values_are_ignored_but_the_subscription_is_made(attr: Attribute) -> None:
    t = parse(PULL, attr)
    assert t.creatable and t.status == S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
    assert t.unsupported == (attr,)
    assert (t.requested_lease, t.time_interval, t.user_data) == (None, 0, b"")


def test_unknown_attributes_come_back_as_unsupported() -> None:
    t = parse(PULL, kw("notify-attributes", "job-name"), Attribute.of("job-name", Tag.NAME, "x"))
    assert t.creatable and names(list(t.unsupported)) == ["notify-attributes", "job-name"]
    assert all(a.tag == Tag.UNSUPPORTED for a in t.unsupported)


def test_notify_status_picks_the_most_important() -> None:
    assert templates.notify_status([]) is None
    assert templates.notify_status([S.SUCCESSFUL_OK_TOO_MANY_EVENTS,
                               S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES]) \
        == S.SUCCESSFUL_OK_TOO_MANY_EVENTS  # fmt: skip
    recipient = Attribute.of("notify-recipient-uri", Tag.URI, "rss://x")
    assert (
        parse(recipient, kw("notify-events", "bogus")).status
        == S.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED
    )


# --- leases ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("requested", "authenticated", "granted"), [
    (None, True, 86400),  # the default
    (600, True, 600),
    (0, True, 0),  # infinite, only when asked
    (0, False, templates.ANONYMOUS_LEASE_MAX),
    (10**9, True, 67108863),
    (10**9, False, templates.ANONYMOUS_LEASE_MAX),
    (600, False, 600),
])  # fmt: skip
def test_grant_lease(requested: int | None, authenticated: bool, granted: int) -> None:
    assert templates.grant_lease(requested, DEFAULT_POLICY, authenticated=authenticated) == granted


def test_grant_lease_within_a_narrow_range() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, lease_min=60, lease_max=3600, lease_default=600)
    assert templates.grant_lease(0, policy, authenticated=True) == 3600  # closest to infinite
    assert templates.grant_lease(5, policy, authenticated=True) == 60
    assert templates.grant_lease(None, policy, authenticated=True) == 600


def test_lease_expiry() -> None:
    assert templates.lease_expiry(T0, 0) is None
    assert templates.lease_expiry(T0, 60) == T0 + 60


# --- creation responses ---------------------------------------------------------------------------


@pytest.mark.parametrize(("created", "status"), [
    ([True], S.SUCCESSFUL_OK),
    ([True, False], S.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS),
    ([False], S.CLIENT_ERROR_IGNORED_ALL_SUBSCRIPTIONS),
])  # fmt: skip
def test_creation_status(created: list[bool], status: Status) -> None:
    assert templates.creation_status(created) == status


def test_response_group_of_a_printer_subscription() -> None:
    t = parse(PULL, kw("notify-events", "job-completed", "bogus"))
    attrs = templates.response_group(t, sub(id=9, lease_duration=600), t.status)
    assert value(attrs, "notify-subscription-id") == 9
    assert value(attrs, "notify-lease-duration") == 600
    assert value(attrs, "notify-events") == "bogus"
    assert value(attrs, "notify-status-code") == S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES
    assert next(a for a in attrs if a.name == "notify-status-code").tag == Tag.ENUM


def test_response_group_of_a_job_subscription_and_of_a_refused_one() -> None:
    t = parse(PULL)
    assert names(templates.response_group(t, job_sub(id=3), None)) == ["notify-subscription-id"]
    refused = parse(Attribute.of("notify-recipient-uri", Tag.URI, "mailto:a@b"))
    attrs = templates.response_group(refused, None, refused.status)
    assert names(attrs) == ["notify-recipient-uri", "notify-status-code"]
    assert value(attrs, "notify-status-code") == S.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED


@pytest.mark.parametrize(("ignored", "before", "after"), [
    (False, S.SUCCESSFUL_OK, S.SUCCESSFUL_OK),
    (True, S.SUCCESSFUL_OK, S.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS),
    (True, S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES,
     S.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS),
    (True, S.CLIENT_ERROR_BAD_REQUEST, S.CLIENT_ERROR_BAD_REQUEST),
])  # fmt: skip
def test_subscription_groups_join_a_job_response(
    ignored: bool, before: Status, after: Status
) -> None:
    response = Message((2, 0), before, 1, [AttributeGroup(Tag.OPERATION), AttributeGroup(Tag.JOB)])
    extra = AttributeGroup(
        Tag.SUBSCRIPTION, [Attribute.of("notify-subscription-id", Tag.INTEGER, 1)]
    )
    SubscriptionGroups([extra], ignored_subscriptions=ignored).add_to(response)
    assert response.code == after
    assert [g.tag for g in response.groups] == [Tag.OPERATION, Tag.JOB, Tag.SUBSCRIPTION]


# --- subscription attributes ----------------------------------------------------------------------


def test_printer_subscription_attributes() -> None:
    attrs = notify.subscription_attributes(
        sub(user_data=b"\x01"), "ipp://h:631/printers/q", int(T0), 4
    )
    assert value(attrs, "notify-subscription-id") == 5
    assert value(attrs, "notify-printer-uri") == "ipp://h:631/printers/q"
    assert value(attrs, "notify-lease-duration") == 3600
    assert value(attrs, "notify-lease-expiration-time") == int(T0) + 3600
    assert value(attrs, "notify-printer-up-time") == int(T0)
    assert value(attrs, "notify-sequence-number") == 4
    assert value(attrs, "notify-user-data") == b"\x01"
    assert value(attrs, "notify-subscriber-user-name") == "alice"
    assert value(attrs, "notify-subscription-uuid").startswith("urn:uuid:")
    assert "notify-job-id" not in names(attrs)
    assert len(set(names(attrs))) == len(attrs)


def test_job_subscription_attributes_have_no_lease() -> None:
    attrs = notify.subscription_attributes(job_sub(), "ipp://h:631/printers/q", int(T0), 0)
    assert value(attrs, "notify-job-id") == 7
    for absent in ("notify-lease-duration", "notify-lease-expiration-time",
                   "notify-printer-up-time", "notify-user-data"):  # fmt: skip
        assert absent not in names(attrs)


def test_infinite_lease_expires_at_zero() -> None:
    attrs = notify.subscription_attributes(sub(lease_duration=0, expires_at=None), "u", 1, 0)
    assert value(attrs, "notify-lease-expiration-time") == 0


def test_subscription_uuid_is_stable_and_distinct() -> None:
    assert notify.subscription_uuid(sub()) == notify.subscription_uuid(sub())
    assert notify.subscription_uuid(sub()) != notify.subscription_uuid(sub(id=6))
    assert notify.subscription_uuid(sub()) != notify.subscription_uuid(sub(created_at=T0 + 1))


@pytest.mark.parametrize(("requested", "expected"), [
    (["notify-subscription-id"], {"notify-subscription-id"}),
    (["subscription-template"], {"notify-events", "notify-pull-method", "notify-charset",
                                 "notify-natural-language", "notify-time-interval",
                                 "notify-lease-duration"}),
    (["subscription-description", "notify-events"], {
        "notify-subscription-id", "notify-subscription-uuid", "notify-printer-uri",
        "notify-subscriber-user-name", "notify-sequence-number", "notify-lease-expiration-time",
        "notify-printer-up-time", "notify-events"}),
    (["bogus"], set()),
])  # fmt: skip
def test_select_subscription_attributes(requested: list[str], expected: set[str]) -> None:
    attrs = notify.subscription_attributes(sub(), "u", 1, 0)
    assert set(names(notify.select_subscription_attributes(attrs, requested))) == expected
    assert notify.select_subscription_attributes(attrs, ["all"]) == attrs


def test_needs_sequence_number() -> None:
    assert notify.needs_sequence_number(["all"])
    assert notify.needs_sequence_number(["notify-sequence-number"])
    assert not notify.needs_sequence_number(["notify-subscription-id", "subscription-template"])


@pytest.mark.parametrize(("principal", "requester", "allowed"), [
    (Principal("alice"), "alice", True),
    (Principal("bob"), "bob", False),
    (Principal("bob", "operator", authenticated=True), "bob", True),
    (Principal("bob", "operator", authenticated=False), "bob", False),
])  # fmt: skip
def test_may_access(principal: Principal, requester: str, allowed: bool) -> None:
    assert notify.may_access(principal, requester, sub()) is allowed


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subscribed", "kind", "data", "expected"), [
    (("job-completed",), "job-completed", {}, "job-completed"),
    (("job-state-changed",), "job-completed", {}, "job-state-changed"),
    (("job-state-changed",), "job-created", {}, "job-state-changed"),
    (("job-completed",), "job-state-changed", {"state": "processing"}, None),
    (("job-stopped",), "job-state-changed", {"state": "processing-stopped"}, "job-stopped"),
    (("job-stopped",), "job-state-changed", {"state": "processing"}, None),
    (("job-state-changed", "job-completed"), "job-completed", {}, "job-completed"),  # exact first
    (("printer-state-changed",), "printer-stopped", {}, "printer-state-changed"),
    (("printer-state-changed",), "printer-shutdown", {}, "printer-state-changed"),
    (("printer-stopped",), "printer-state-changed", {}, None),
    (("printer-config-changed",), "printer-media-changed", {}, "printer-config-changed"),
    (("printer-config-changed", "printer-state-changed"), "printer-identify", {}, None),
    ((), "job-completed", {}, None),
])  # fmt: skip
def test_subscribed_event(subscribed: tuple[str, ...], kind: str, data: dict[str, Any],
                          expected: str | None) -> None:  # fmt: skip
    assert notify.subscribed_event(subscribed, event(1, kind, **data)) == expected


PRINTERS = {"q": "p", "other": "p2"}
SCOPES = {
    "printer sub on q": sub(),
    "printer sub on all queues": sub(queue=None),
    "job sub for job 7": job_sub(),
}
EVENTS = {
    "job 7 on q": event(1, "job-completed", job_id=7),
    "job 8 on q": event(1, "job-completed", job_id=8),
    "job 9 on other": event(1, "job-completed", job_id=9, queue="other"),
    "queue q": event(1, "printer-stopped"),
    "queue other": event(1, "printer-stopped", queue="other"),
    "printer p (serves q)": event(1, "printer-state-changed", queue=None, printer="p"),
    "printer p2": event(1, "printer-state-changed", queue=None, printer="p2"),
}
IN_SCOPE = {
    ("printer sub on q", "job 7 on q"), ("printer sub on q", "job 8 on q"),
    ("printer sub on q", "queue q"), ("printer sub on q", "printer p (serves q)"),
    *(("printer sub on all queues", e) for e in EVENTS),
    ("job sub for job 7", "job 7 on q"), ("job sub for job 7", "queue q"),
    ("job sub for job 7", "printer p (serves q)"),
}  # fmt: skip


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize("what", sorted(EVENTS))
def test_in_scope_every_pair(scope: str, what: str) -> None:
    assert notify.in_scope(SCOPES[scope], EVENTS[what], PRINTERS) is ((scope, what) in IN_SCOPE)


def test_notifications_are_numbered_from_start_seq() -> None:
    s = sub(events=("job-state-changed",), start_seq=100)
    log = [event(100, "job-created", job_id=1), event(101, "job-created", job_id=1),
           event(102, "printer-stopped"), event(104, "job-completed", job_id=1)]  # fmt: skip
    found = notify.notifications_for(s, log)
    assert [(n.number, n.subscribed_event) for n in found] == [
        (1, "job-state-changed"),
        (4, "job-state-changed"),
    ]
    assert [n.number for n in notify.notifications_for(s, log, first_number=2)] == [4]
    assert notify.notifications_for(s, log, first_number=5) == []


def test_old_events_are_not_returned() -> None:
    log = [
        event(101, "job-completed", job_id=1, time=T0),
        event(102, "job-completed", job_id=2, time=T0 + 60),
    ]
    found = notify.notifications_for(sub(), log, not_before=T0 + 30)
    assert [n.event.seq for n in found] == [102]


def test_job_progress_is_thinned_by_time_interval_whatever_the_window() -> None:
    s = sub(events=("job-progress",), time_interval=10)
    log = [
        event(100 + i, "job-progress", job_id=1, time=T0 + t)
        for i, t in enumerate([1, 5, 12, 20, 30], 1)
    ]
    assert [n.event.time - T0 for n in notify.notifications_for(s, log)] == [1, 12, 30]
    assert [n.event.time - T0 for n in notify.notifications_for(s, log, first_number=2)] == [12, 30]
    unthrottled = notify.notifications_for(dataclasses.replace(s, time_interval=0), log)
    assert len(unthrottled) == 5


def test_scan_bounds() -> None:
    assert notify.scan_start([50, 80], last_seq=100) == 50
    assert notify.scan_start([50], last_seq=5000, max_scan=1000) == 4000
    assert notify.scan_start([], last_seq=100) == 100
    assert notify.first_log_seq(sub(start_seq=100), 1) == 100
    assert notify.first_log_seq(sub(start_seq=100), 5) == 104
    assert notify.first_log_seq(sub(start_seq=100), 0) == 100


def test_job_start_seq_catches_the_job_created_event() -> None:
    log = [event(10, "job-created", job_id=6), event(11, "job-created", job_id=7),
           event(12, "job-state-changed", job_id=7)]  # fmt: skip
    assert notify.job_start_seq(log, 7, default=12) == 10
    assert notify.job_start_seq(log, 8, default=12) == 12


@pytest.mark.parametrize(("s", "j", "complete"), [
    (sub(), None, False),
    (job_sub(), job(JobState.PROCESSING), False),
    (job_sub(), job(JobState.COMPLETED), True),
    (job_sub(), job(JobState.CANCELED), True),
    (job_sub(), None, True),  # purged
])  # fmt: skip
def test_is_complete(s: SubscriptionRecord, j: JobRecord | None, complete: bool) -> None:
    assert notify.is_complete(s, j) is complete


ENDED = job(JobState.COMPLETED, completed_at=T0)


@pytest.mark.parametrize(("s", "j", "now", "over"), [
    (sub(), None, T0 + 3599, False),
    (sub(), None, T0 + 3600, True),
    (sub(expires_at=None), None, T0 + 10**9, False),
    (job_sub(), job(JobState.PENDING), T0 + 10**9, False),
    (job_sub(), None, T0, True),
    (job_sub(), ENDED, T0 + 60 + notify.EVENT_LIFE_GRACE - 1, False),
    (job_sub(), ENDED, T0 + 60 + notify.EVENT_LIFE_GRACE, True),
])  # fmt: skip
def test_is_over(s: SubscriptionRecord, j: JobRecord | None, now: float, over: bool) -> None:
    assert notify.is_over(s, j, now, event_life=60) is over
    assert notify.is_expired(s, now) is (s.job_id is None and over)


# --- event notification content -------------------------------------------------------------------


PRINTER = PrinterFacts("q", PrinterState.STOPPED, ("paused",), False)


def test_job_event_group() -> None:
    done = event(103, "job-completed", job_id=7, state="completed")
    n = Notification(job_sub(user_data=b"ud"), done, "job-state-changed", 3)
    ended = job(JobState.COMPLETED, state_reasons=("job-completed-successfully",))
    attrs = notify.event_attributes(n, "ipp://h/printers/q", ended, PRINTER)
    assert value(attrs, "notify-subscription-id") == 5
    assert value(attrs, "notify-sequence-number") == 3
    assert value(attrs, "notify-subscribed-event") == "job-state-changed"
    assert value(attrs, "notify-printer-uri") == "ipp://h/printers/q"
    assert value(attrs, "notify-user-data") == b"ud"
    assert value(attrs, "notify-charset") == "utf-8"
    assert value(attrs, "notify-natural-language") == "en"
    assert value(attrs, "printer-up-time") == int(T0)
    assert value(attrs, "printer-current-time") == datetime.datetime.fromtimestamp(T0, datetime.UTC)
    assert value(attrs, "job-id") == value(attrs, "notify-job-id") == 7
    assert value(attrs, "job-state") == JobState.COMPLETED
    assert value(attrs, "job-state-reasons") == "job-completed-successfully"
    assert value(attrs, "job-impressions-completed") == 3
    assert value(attrs, "notify-text") == "Job 7 is completed."
    assert "printer-state" not in names(attrs)
    assert len(set(names(attrs))) == len(attrs)


def test_job_event_state_comes_from_the_log_not_the_current_job() -> None:
    n = Notification(
        job_sub(), event(101, "job-created", job_id=7, state="pending"), "job-created", 1
    )
    attrs = notify.event_attributes(n, "u", job(JobState.COMPLETED), PRINTER)
    assert value(attrs, "job-state") == JobState.PENDING
    assert value(attrs, "job-state-reasons") == "none"
    assert "job-impressions-completed" not in names(attrs)


def test_purged_job_is_reported_canceled() -> None:
    n = Notification(job_sub(), event(101, "job-completed", job_id=7), "job-completed", 1)
    attrs = notify.event_attributes(n, "u", None, None)
    assert value(attrs, "job-state") == JobState.CANCELED
    assert value(attrs, "job-state-reasons") == "job-canceled-by-user"
    assert value(attrs, "job-impressions-completed") == 0


def test_printer_event_group() -> None:
    n = Notification(sub(events=("printer-state-changed",)), event(101, "printer-stopped", by="op"),
                     "printer-state-changed", 1)  # fmt: skip
    attrs = notify.event_attributes(n, "u", None, PRINTER)
    assert value(attrs, "printer-state") == PrinterState.STOPPED
    assert value(attrs, "printer-state-reasons") == "paused"
    assert value(attrs, "printer-is-accepting-jobs") is False
    assert value(attrs, "printer-name") == "q"
    assert value(attrs, "notify-user-data") == b""  # RFC 3996: zero length when none
    assert value(attrs, "notify-text") == "Printer q was stopped by op."
    assert "job-id" not in names(attrs)


@pytest.mark.parametrize(("kind", "data", "text"), [
    ("job-created", {}, "Job 7 was created on q."),
    ("job-state-changed", {"state": "processing"}, "Job 7 is now processing."),
    ("job-state-changed", {"state": "processing-stopped"}, "Job 7 has stopped."),
])  # fmt: skip
def test_notify_text_for_jobs(kind: str, data: dict[str, Any], text: str) -> None:
    e = event(1, kind, job_id=7, **data)
    k = notify.event_kinds(e)[0]
    assert notify.notify_text(k, e, notify.event_job_state(e, job())) == text


def test_operations_table() -> None:
    assert set(OPERATIONS) == {
        Operation.CREATE_PRINTER_SUBSCRIPTIONS, Operation.CREATE_JOB_SUBSCRIPTIONS,
        Operation.GET_SUBSCRIPTION_ATTRIBUTES, Operation.GET_SUBSCRIPTIONS,
        Operation.RENEW_SUBSCRIPTION, Operation.CANCEL_SUBSCRIPTION, Operation.GET_NOTIFICATIONS,
    }  # fmt: skip
