"""Facts and rules for the rules tests, with every field defaulted to a plain mono job."""

from __future__ import annotations

import calendar
import dataclasses
from typing import Any

from printhost.accounting.money import Money
from printhost.rules.model import (
    Action,
    ActionKind,
    Always,
    Condition,
    JobFacts,
    Match,
    Rule,
    Watermark,
)

#: 2024-01-01 was a Monday.
MONDAY = calendar.timegm((2024, 1, 1, 0, 0, 0))
DAY = 86400.0

BASE = JobFacts(
    user="alice",
    groups=("staff",),
    queue="myprinter",
    destination="office",
    document_format="application/pdf",
    pages=10,
    color_pages=0,
    impressions=10,
    color_impressions=0,
    sheets=10,
    copies=1,
    sides="one-sided",
    print_color_mode="auto",
    document_sha256="ab" * 32,
    submitted_at=MONDAY + 10 * 3600,  # Monday 10:00 UTC
    cost=Money(120),
    balance_available=Money(1000),
    account="alice",
)


def facts(**changes: Any) -> JobFacts:
    return dataclasses.replace(BASE, **changes)


def at(day: int, hour: int, minute: int = 0) -> float:
    """POSIX time of weekday ``day`` (0 = Monday) of the week of 2024-01-01, UTC."""
    return MONDAY + day * DAY + hour * 3600 + minute * 60


def rule(
    name: str,
    kind: ActionKind | str,
    condition: Condition | None = None,
    *,
    reason: str = "",
    text: str = "",
    match: Match | None = None,
) -> Rule:
    return Rule(
        name,
        Action(ActionKind(kind), reason=reason, watermark=Watermark(text) if text else None),
        match or Match(),
        condition or Always(),
    )
