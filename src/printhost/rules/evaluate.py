"""Judging a job against the rules: one pure function, ``evaluate``.

Theory of operation
-------------------
Rules are tried in order. A rule *fires* when it matches the job (``Match``) and its
condition holds; the condition also says *why* ("250 pages > 200"). Modifying actions
(grayscale, duplex, require-account, watermark) accumulate; the first terminal action
(allow, hold, deny) to fire decides the verdict and ends evaluation, so rules after it
are not tried. When no terminal rule fires the job is allowed.

Every firing is recorded with a short message for the user ("held by rule
'colour-needs-release': 3 colour pages"); ``Judgement.message`` joins them, the deciding
one first, for IPP ``job-state-message`` (RFC 8011 §5.3.9: text(MAX), at most 1023 octets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from printhost.rules.model import (
    Action,
    ActionKind,
    AllowedFormats,
    Always,
    BalanceBelowCost,
    ColorPages,
    Condition,
    DuplicateWithin,
    JobFacts,
    Match,
    MaxCopies,
    MaxPages,
    RateLimit,
    Rule,
    TimeCondition,
    Watermark,
)
from printhost.rules.windows import TimeWindow

#: RFC 8011 §5.3.9 job-state-message is text(MAX): 1023 octets.
MAX_MESSAGE_OCTETS = 1023


class Verdict(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule that fired: which, what it did, why, and what the user is told."""

    rule: str
    action: ActionKind
    why: str  # the condition's explanation; "" for a rule without a condition
    message: str


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    #: Every rule that fired, in order; a terminal one, if any, is last and decided.
    fired: tuple[Firing, ...] = ()
    grayscale: bool = False
    duplex: bool = False
    require_account: bool = False
    #: Watermarks, in rule order.
    watermarks: tuple[Watermark, ...] = ()

    @property
    def deciding(self) -> Firing | None:
        """The terminal rule that decided the verdict; None when the job is allowed by
        default (no terminal rule fired)."""
        if self.fired and self.fired[-1].action in _VERDICTS:
            return self.fired[-1]
        return None

    @property
    def message(self) -> str:
        """All firings' messages, the deciding one first, for job-state-message."""
        deciding = self.deciding
        ordered = ([deciding] if deciding else []) + [f for f in self.fired if f is not deciding]
        return _truncate("; ".join(f.message for f in ordered), MAX_MESSAGE_OCTETS)


_VERDICTS = {
    ActionKind.ALLOW: Verdict.ALLOW,
    ActionKind.HOLD: Verdict.HOLD,
    ActionKind.DENY: Verdict.DENY,
}

_DOING = {
    ActionKind.ALLOW: "allowed",
    ActionKind.HOLD: "held",
    ActionKind.DENY: "denied",
    ActionKind.GRAYSCALE: "printed in grayscale",
    ActionKind.DUPLEX: "printed two-sided",
    ActionKind.REQUIRE_ACCOUNT: "account required",
    ActionKind.WATERMARK: "watermarked",
}


def evaluate(rules: Sequence[Rule], facts: JobFacts) -> Judgement:
    """Judge ``facts`` against ``rules`` in order (see the module docstring)."""
    fired: list[Firing] = []
    grayscale = duplex = require_account = False
    watermarks: list[Watermark] = []
    verdict = Verdict.ALLOW
    for rule in rules:
        why = explain(rule.condition, facts) if matches(rule.match, facts) else None
        if why is None:
            continue
        fired.append(Firing(rule.name, rule.action.kind, why, _message(rule, why)))
        kind = rule.action.kind
        if kind in _VERDICTS:
            verdict = _VERDICTS[kind]
            break
        grayscale |= kind is ActionKind.GRAYSCALE
        duplex |= kind is ActionKind.DUPLEX
        require_account |= kind is ActionKind.REQUIRE_ACCOUNT
        if kind is ActionKind.WATERMARK and rule.action.watermark is not None:
            watermarks.append(rule.action.watermark)
    return Judgement(verdict, tuple(fired), grayscale, duplex, require_account, tuple(watermarks))


def matches(match: Match, facts: JobFacts) -> bool:
    return (
        _any_of(match.users, (facts.user,))
        and _any_of(match.groups, facts.groups)
        and _any_of(match.queues, (facts.queue,))
        and _any_of(match.destinations, (facts.destination,))
        and (not match.formats or is_format_among(facts.document_format, match.formats))
        and (not match.windows or _inside(match.windows, facts.submitted_at))
    )


def explain(condition: Condition, facts: JobFacts) -> str | None:
    """Why ``condition`` holds for ``facts`` ("" when there is nothing to say), or None
    when it does not hold."""
    match condition:
        case Always():
            return ""
        case MaxPages(limit):
            return _max_pages(limit, facts)
        case MaxCopies(limit):
            return f"{facts.copies} copies > {limit}" if facts.copies > limit else None
        case AllowedFormats(formats):
            if is_format_among(facts.document_format, formats):
                return None
            return f"format {facts.document_format or 'unknown'} is not allowed"
        case ColorPages():
            return _count(facts.color_pages, "colour page") if facts.color_pages > 0 else None
        case TimeCondition(windows, outside):
            return _time(windows, outside, facts.submitted_at)
        case RateLimit(jobs, minutes):
            return _rate(jobs, minutes, facts)
        case DuplicateWithin(minutes):
            return _duplicate(minutes, facts)
        case BalanceBelowCost():
            return _balance(facts)
        case _:
            assert_never(condition)


def history_seconds(rules: Sequence[Rule]) -> float:
    """How far back ``Recent`` must reach for these rules (0: no history needed)."""
    spans = [0.0]
    for rule in rules:
        if isinstance(rule.condition, RateLimit | DuplicateWithin):
            spans.append(rule.condition.minutes * 60)
    return max(spans)


def is_format_among(document_format: str, formats: tuple[str, ...]) -> bool:
    """Exact MIME type match, or "type/*" for every subtype (case-insensitive)."""
    lowered = document_format.lower()
    for allowed in formats:
        pattern = allowed.lower()
        if lowered == pattern or (pattern.endswith("/*") and lowered.startswith(pattern[:-1])):
            return True
    return False


# --- explanations ---------------------------------------------------------------------------


def _max_pages(limit: int, facts: JobFacts) -> str | None:
    if facts.total_pages <= limit:
        return None
    if facts.copies == 1:
        return f"{facts.total_pages} pages > {limit}"
    return f"{facts.total_pages} pages ({facts.pages} x {facts.copies} copies) > {limit}"


def _time(windows: tuple[TimeWindow, ...], outside: bool, when: float) -> str | None:
    inside = _inside(windows, when)
    if inside == outside:
        return None
    names = ", ".join(w.text for w in windows)
    return f"{'outside' if outside else 'inside'} {names} UTC"


def _rate(jobs: int, minutes: float, facts: JobFacts) -> str | None:
    since = facts.submitted_at - minutes * 60
    count = sum(1 for t in facts.recent.submissions if since < t <= facts.submitted_at)
    if count < jobs:
        return None
    return f"{_count(count, 'job')} in the last {_minutes(minutes)} (limit {jobs})"


def _duplicate(minutes: float, facts: JobFacts) -> str | None:
    ago = facts.recent.same_document_within
    if ago is None or ago > minutes * 60:
        return None
    return f"the same document was printed {_ago(ago)}"


def _balance(facts: JobFacts) -> str | None:
    cost, available = facts.cost, facts.balance_available
    if cost is None or available is None or cost <= available:
        return None
    return f"balance {available} < cost {cost}"


# --- messages ---------------------------------------------------------------------------------


def _message(rule: Rule, why: str) -> str:
    """ "held by rule 'colour': 3 colour pages"; a reason goes first: "denied by rule
    'no-colour': colour is for staff (3 colour pages)"."""
    action: Action = rule.action
    head = f"{_DOING[action.kind]} by rule '{rule.name}'"
    reason = action.reason if action.kind in (ActionKind.HOLD, ActionKind.DENY) else ""
    if reason and why:
        return f"{head}: {reason} ({why})"
    if reason or why:
        return f"{head}: {reason or why}"
    return head


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _minutes(minutes: float) -> str:
    if minutes == int(minutes):
        return _count(int(minutes), "minute")
    return f"{minutes:g} minutes"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute ago"
    return f"{_count(int(seconds // 60), 'minute')} ago"


def _inside(windows: tuple[TimeWindow, ...], when: float) -> bool:
    return any(w.contains(when) for w in windows)


def _any_of(wanted: tuple[str, ...], have: tuple[str, ...]) -> bool:
    return not wanted or any(value in wanted for value in have)


def _truncate(text: str, octets: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= octets:
        return text
    ellipsis = "…"
    cut = encoded[: octets - len(ellipsis.encode("utf-8"))]
    return cut.decode("utf-8", errors="ignore") + ellipsis
