"""Creating subscriptions, decided purely: a Subscription Template Attributes Group parsed
against what a queue advertises (RFC 3995 §5.2, §5.3), the lease granted (§5.3.8), the one
notify-status-code a group reports (§5.2 step 8d) and the groups of a creation response.

Only ippget (RFC 3996) is supported; push methods (``notify-recipient-uri``: mailto:, rss:...)
are refused per subscription with client-error-uri-scheme-not-supported (RFC 3995 §5.3.1,
§13.1) and a job submitted with one still succeeds (§11.1.3). The handlers that store the
subscriptions are in operations/subscriptions.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from printhost.ipp.constants import Status, Tag
from printhost.ipp.model import Attribute, AttributeGroup, Message
from printhost.server.printer_attributes import NOTIFY_EVENTS
from printhost.server.queue_description import QueueDescription
from printhost.store.base import SubscriptionRecord

PULL_METHOD = "ippget"
#: Unauthenticated subscribers never get longer (or infinite) leases than this (§5.3.8
#: allows requiring authentication for long leases): their name is only a claim, so they
#: must not be able to fill the shared quota for good.
ANONYMOUS_LEASE_MAX = 86400
MAX_USER_DATA = 63  # octets, RFC 3995 §5.3.5

#: Status codes of a Subscription Attributes Group, most important first (§5.2 step 8d).
_STATUS_ORDER = (
    Status.CLIENT_ERROR_URI_SCHEME_NOT_SUPPORTED,
    Status.CLIENT_ERROR_BAD_REQUEST,
    Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
    Status.CLIENT_ERROR_TOO_MANY_SUBSCRIPTIONS,
    Status.SUCCESSFUL_OK_TOO_MANY_EVENTS,
    Status.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES,
)


def _description_default(name: str) -> int:
    """A queue's advertised notification values (QueueDescription) are the one source."""
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


def is_int(value: object) -> bool:
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
    elif len(attr.items) == 1 and attr.tag == Tag.INTEGER and is_int(attr.value):
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
