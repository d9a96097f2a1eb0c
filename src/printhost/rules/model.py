"""What a rule sees (``JobFacts``) and what a rule is (``Rule``: match, condition, action).

All plain frozen data: rules come from configuration (``rules.parse``) and later from the
admin UI; ``rules.evaluate`` judges facts against them without I/O. The caller gathers the
facts — document analysis, the job's attributes, the price and the account's balance, and a
little history (``Recent``) for rate limits and duplicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from printhost.accounting.money import Money
from printhost.rules.windows import TimeWindow


@dataclass(frozen=True, slots=True)
class Recent:
    """The submitting user's recent history, as far back as ``history_seconds(rules)``."""

    #: POSIX times of the user's earlier jobs (not this one); order does not matter.
    submissions: tuple[float, ...] = ()
    #: Seconds since this user last printed a document with the same sha256, or None.
    same_document_within: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobFacts:
    user: str
    groups: tuple[str, ...]
    queue: str
    #: The printer or pool the job is routed to; "" while not yet known (held for release).
    destination: str
    document_format: str  # the sniffed MIME type
    pages: int  # page images of one copy
    color_pages: int
    impressions: int
    color_impressions: int
    sheets: int
    copies: int
    sides: str
    print_color_mode: str
    document_sha256: str
    submitted_at: float  # POSIX seconds
    cost: Money | None  # None: not priced (no cost schedule)
    balance_available: Money | None  # what the account may still spend; None: no account
    account: str | None  # the chosen account, None when none was chosen
    recent: Recent = field(default_factory=Recent)

    def __post_init__(self) -> None:
        counts = ("pages", "color_pages", "impressions", "color_impressions", "sheets")
        for name in counts:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative: {getattr(self, name)}")
        if self.color_pages > self.pages:
            raise ValueError(f"color_pages ({self.color_pages}) exceed pages ({self.pages})")
        if self.copies < 1:
            raise ValueError(f"copies must be at least 1, not {self.copies}")
        if not math.isfinite(self.submitted_at):
            raise ValueError(f"submitted_at must be a finite time, not {self.submitted_at}")
        within = self.recent.same_document_within
        if within is not None and not (math.isfinite(within) and within >= 0):
            raise ValueError(f"same_document_within must be >= 0 seconds, not {within}")

    @property
    def total_pages(self) -> int:
        """Pages the job prints over all its copies (what ``MaxPages`` limits)."""
        return self.pages * self.copies


#: The longest look-back a rate limit or duplicate check may ask for: 31 days.
MAX_MINUTES = 31 * 24 * 60


# --- match ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """Which jobs a rule applies to. Each empty field matches everything; a non-empty one
    matches when any of its values does; the rule applies when every field matches."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    #: MIME types; "image/*" matches every image type.
    formats: tuple[str, ...] = ()
    #: Submitted inside any of these windows (UTC).
    windows: tuple[TimeWindow, ...] = ()


# --- conditions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Always:
    """No condition: the rule fires on every job it matches."""


@dataclass(frozen=True, slots=True)
class MaxPages:
    """Fires when pages x copies exceed ``limit``."""

    limit: int

    def __post_init__(self) -> None:
        _check_at_least(0, limit=self.limit)


@dataclass(frozen=True, slots=True)
class MaxCopies:
    limit: int

    def __post_init__(self) -> None:
        _check_at_least(1, limit=self.limit)


@dataclass(frozen=True, slots=True)
class AllowedFormats:
    """Fires when the document's format is none of ``formats`` ("image/*" allowed)."""

    formats: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ColorPages:
    """Fires when the document has at least one colour page."""


@dataclass(frozen=True, slots=True)
class TimeCondition:
    """Fires when the job is submitted inside (or, with ``outside``, outside all of) the
    windows."""

    windows: tuple[TimeWindow, ...]
    outside: bool = False


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Fires when the user already submitted ``jobs`` jobs in the last ``minutes``."""

    jobs: int
    minutes: float

    def __post_init__(self) -> None:
        _check_at_least(1, jobs=self.jobs)
        _check_minutes(self.minutes)


@dataclass(frozen=True, slots=True)
class DuplicateWithin:
    """Fires when the user printed the same document (sha256) in the last ``minutes``."""

    minutes: float

    def __post_init__(self) -> None:
        _check_minutes(self.minutes)


@dataclass(frozen=True, slots=True)
class BalanceBelowCost:
    """Fires when the job's cost exceeds the available balance (both known)."""


Condition = (
    Always
    | MaxPages
    | MaxCopies
    | AllowedFormats
    | ColorPages
    | TimeCondition
    | RateLimit
    | DuplicateWithin
    | BalanceBelowCost
)


# --- actions ------------------------------------------------------------------------------------


class ActionKind(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    DENY = "deny"
    GRAYSCALE = "grayscale"
    DUPLEX = "duplex"
    REQUIRE_ACCOUNT = "require-account"
    WATERMARK = "watermark"


#: Actions that end evaluation: the first of these to fire decides the verdict.
TERMINAL_ACTIONS = frozenset({ActionKind.ALLOW, ActionKind.HOLD, ActionKind.DENY})

#: Placeholders a watermark template may use; the job-modification stage fills them in.
WATERMARK_FIELDS = frozenset({"user", "account", "queue", "job_id", "time", "date"})


#: Where a watermark goes on the page (printhost.modify.watermark).
WATERMARK_POSITIONS = ("diagonal", "top", "bottom", "center")


@dataclass(frozen=True, slots=True)
class Watermark:
    """A watermark a rule asks for: a template such as "{user} {date} job {job_id}"
    (WATERMARK_FIELDS), where it goes and how opaque it is (0.05 to 1)."""

    text: str
    position: str = "diagonal"
    opacity: float = 0.3

    def __post_init__(self) -> None:
        if self.position not in WATERMARK_POSITIONS:
            raise ValueError(f"position must be one of {', '.join(WATERMARK_POSITIONS)}")
        if not (math.isfinite(self.opacity) and 0.05 <= self.opacity <= 1.0):
            raise ValueError(f"opacity must be from 0.05 to 1, not {self.opacity}")


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    #: hold and deny: shown to the user before the rule's explanation.
    reason: str = ""
    #: watermark: what to stamp.
    watermark: Watermark | None = None

    @property
    def is_terminal(self) -> bool:
        return self.kind in TERMINAL_ACTIONS


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    action: Action
    match: Match = field(default_factory=Match)
    condition: Condition = field(default_factory=Always)


def _check_at_least(least: int, **values: int) -> None:
    for name, value in values.items():
        if value < least:
            raise ValueError(f"{name} must be at least {least}, not {value}")


def _check_minutes(minutes: float) -> None:
    # The bound keeps the history a caller must load (history_seconds) finite and small.
    if not (math.isfinite(minutes) and 0 < minutes <= MAX_MINUTES):
        raise ValueError(f"minutes must be more than 0 and at most {MAX_MINUTES}, not {minutes}")
