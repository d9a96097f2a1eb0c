"""Weekly time windows in UTC: ``"Mon-Fri 08:00-18:00"``, ``"Sat,Sun"``, ``"22:00-06:00"``.

Grammar (case-insensitive day names, three letters or in full)::

    window = days | [days " "] HH:MM "-" HH:MM
    days   = item ("," item)*        item = day | day "-" day   (ranges may wrap: Fri-Mon)

Without days a window is every day; without times it is the whole of each day. The end
may be ``24:00``. A window whose end is not after its start crosses midnight and belongs
to the day it *starts*: ``"Fri 22:00-06:00"`` is Friday 22:00 to Saturday 06:00. Start and
end are half-open (the end minute is outside). Times are computed from POSIX seconds
directly, not through ``datetime``, so any finite timestamp is answered without raising
(1970-01-01 was a Thursday).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ALL_DAYS = frozenset(range(7))
MINUTES_PER_DAY = 24 * 60
_THURSDAY = 3  # weekday of 1970-01-01, Monday = 0
_TIMES = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    text: str  # as written, for messages
    days: frozenset[int]  # weekdays, Monday = 0
    start: int  # minute of the day, 0..1439
    end: int  # minute of the day, 1..1440; end <= start crosses midnight

    def contains(self, when: float) -> bool:
        """Whether POSIX time ``when`` (UTC) falls inside the window (False if not finite)."""
        if not math.isfinite(when):
            return False
        weekday = (math.floor(when / 86400) + _THURSDAY) % 7
        minute = min(int((when % 86400.0) // 60), MINUTES_PER_DAY - 1)
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        return (weekday in self.days and minute >= self.start) or (
            (weekday - 1) % 7 in self.days and minute < self.end
        )


def parse_window(text: str) -> TimeWindow:
    """Parse one window; ``ValueError`` says what is wrong with it."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"{text!r} is not a time window like 'Mon-Fri 08:00-18:00'")
    times = _TIMES.fullmatch(parts[-1])
    if len(parts) == 2 and times is None:
        raise ValueError(f"{text!r}: {parts[-1]!r} is not a time range like 08:00-18:00")
    days = _parse_days(text, parts[0]) if len(parts) == 2 or times is None else ALL_DAYS
    if times is None:
        return TimeWindow(text.strip(), days, 0, MINUTES_PER_DAY)
    start = _minute(text, times.group(1), times.group(2), allow_24=False)
    end = _minute(text, times.group(3), times.group(4), allow_24=True)
    if start == end:
        raise ValueError(f"{text!r}: the window starts and ends at the same time")
    return TimeWindow(" ".join(parts), days, start, end)


def _parse_days(text: str, spec: str) -> frozenset[int]:
    days: set[int] = set()
    for item in spec.split(","):
        first, dash, last = item.partition("-")
        start = _day(text, first)
        stop = _day(text, last) if dash else start
        days.update((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return frozenset(days)


def _day(text: str, name: str) -> int:
    lowered = name.lower()
    for names in (DAY_NAMES, _FULL_DAY_NAMES):
        if lowered in names:
            return names.index(lowered)
    where = "" if name == text.strip() else f"{text!r}: "  # no "'Xmas': 'Xmas' is not..."
    raise ValueError(f"{where}{name!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)")


def _minute(text: str, hours: str, minutes: str, *, allow_24: bool) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY or (value == MINUTES_PER_DAY and not allow_24):
        raise ValueError(f"{text!r}: {hours}:{minutes} is not a time of day")
    return value
