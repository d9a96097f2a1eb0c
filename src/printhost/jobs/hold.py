"""When a held job may go: job-hold-until (RFC 8011 §5.2.2, PWG 5100.7) as a pure function.

Windows follow CUPS (scheduler/job.c), so a CUPS client gets what it expects: day-time
06:00-18:00, evening and night 18:00-06:00, second-shift 16:00-24:00, third-shift
00:00-08:00, weekend Saturday and Sunday, and "HH:MM[:SS]" the next time the clock shows
it. Like CUPS, times are UTC (the server's clock, not the client's, decides); a job held
inside its window goes at once. "indefinite" (and anything unknown) waits for a release.
"""

from __future__ import annotations

import datetime
import re

UTC = datetime.UTC
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
#: keyword -> (start hour, end hour) of the daily window; end may be past midnight (< start)
_WINDOWS = {
    "day-time": (6, 18),
    "evening": (18, 6),
    "night": (18, 6),
    "second-shift": (16, 24),
    "third-shift": (0, 8),
}
KEYWORDS = frozenset({"no-hold", "indefinite", "weekend", *_WINDOWS})


def release_time(hold_until: str, held_at: float) -> float | None:
    """The epoch second from which the job may print; None = until released by hand."""
    moment = datetime.datetime.fromtimestamp(held_at, tz=UTC)
    if hold_until == "no-hold":
        return held_at
    if hold_until in _WINDOWS:
        return _window_start(moment, *_WINDOWS[hold_until]).timestamp()
    if hold_until == "weekend":
        return _weekend_start(moment).timestamp()
    match = _TIME_RE.match(hold_until)
    if match:
        hour, minute, second = (int(g or 0) for g in match.groups())
        return _next_time(moment, hour, minute, second).timestamp()
    return None


def _window_start(moment: datetime.datetime, start: int, end: int) -> datetime.datetime:
    hour = moment.hour
    inside = start <= hour < end if start < end else (hour >= start or hour < end)
    if inside:
        return moment
    return _next_time(moment, start, 0, 0)


def _weekend_start(moment: datetime.datetime) -> datetime.datetime:
    if moment.weekday() >= 5:  # Saturday or Sunday
        return moment
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + datetime.timedelta(days=5 - moment.weekday())


def _next_time(
    moment: datetime.datetime,
    hour: int,
    minute: int,
    second: int,
) -> datetime.datetime:
    candidate = moment.replace(hour=hour % 24, minute=minute, second=second, microsecond=0)
    if candidate <= moment:
        candidate += datetime.timedelta(days=1)
    return candidate
