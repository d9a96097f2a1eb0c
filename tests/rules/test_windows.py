"""Weekly UTC time windows: parsing, days of week, ranges across midnight."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printhost.rules.windows import ALL_DAYS, parse_window
from rules.factories import MONDAY, at

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def test_the_reference_monday_is_a_monday() -> None:
    assert parse_window("Mon").contains(MONDAY)
    assert not parse_window("Sun").contains(MONDAY)
    assert parse_window("Thu").contains(0.0)  # 1970-01-01


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("Mon-Fri 08:00-18:00", {MON, TUE, WED, THU, FRI}, 480, 1080),
        ("Sat,Sun", {SAT, SUN}, 0, 1440),
        ("22:00-06:00", set(ALL_DAYS), 1320, 360),
        ("fri-mon 00:00-24:00", {FRI, SAT, SUN, MON}, 0, 1440),
        ("Monday,Wed-Thu 12:30-13:15", {MON, WED, THU}, 750, 795),
        ("Sun-Sun", {SUN}, 0, 1440),
    ],
)
def test_parse(text: str, days: set[int], start: int, end: int) -> None:
    window = parse_window(text)
    assert (window.days, window.start, window.end) == (frozenset(days), start, end)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "is not a time window"),
        ("Mon Tue 08:00-09:00", "is not a time window"),
        ("Mon 8:00-9:00", "is not a time range"),
        ("Mon 08:00", "is not a time range"),
        ("Funday 08:00-09:00", "'Funday' is not a day"),
        ("Mon-Xyz", "'Xyz' is not a day"),
        ("25:00-26:00", "25:00 is not a time of day"),
        ("08:60-09:00", "08:60 is not a time of day"),
        ("24:00-06:00", "24:00 is not a time of day"),
        ("08:00-08:00", "starts and ends at the same time"),
    ],
)
def test_parse_errors(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_window(text)


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at(MON, 7, 59), False),
        (at(MON, 8, 0), True),  # the start is inside
        (at(FRI, 17, 59), True),
        (at(FRI, 18, 0), False),  # the end is outside
        (at(SAT, 10), False),
        (at(SUN, 12), False),
    ],
)
def test_office_hours(when: float, inside: bool) -> None:
    assert parse_window("Mon-Fri 08:00-18:00").contains(when) is inside


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at(FRI, 21, 59), False),
        (at(FRI, 22, 0), True),
        (at(SAT, 0, 0), True),  # past midnight: still Friday's window
        (at(SAT, 5, 59), True),
        (at(SAT, 6, 0), False),
        (at(SAT, 22, 30), False),  # Saturday's own night is not in the window
        (at(THU, 23, 0), False),
        (at(FRI, 3, 0), False),  # the early hours of Friday belong to Thursday's night
    ],
)
def test_a_night_window_belongs_to_the_day_it_starts(when: float, inside: bool) -> None:
    assert parse_window("Fri 22:00-06:00").contains(when) is inside


def test_a_night_window_crossing_the_end_of_the_week() -> None:
    window = parse_window("Sun 20:00-02:00")
    assert window.contains(at(SUN, 23))
    assert window.contains(at(MON, 1))  # every week: the Sunday before this Monday
    assert window.contains(at(MON + 7, 1))  # the next Monday, 01:00
    assert not window.contains(at(MON, 2))
    assert not window.contains(at(TUE, 1))


def test_a_whole_day_window_and_24_00() -> None:
    window = parse_window("Sat 00:00-24:00")
    assert window.contains(at(SAT, 0)) and window.contains(at(SAT, 23, 59))
    assert not window.contains(at(SUN, 0)) and not window.contains(at(FRI, 23, 59))


def test_before_1970() -> None:
    assert parse_window("Wed 23:00-24:00").contains(-1800.0)  # 1969-12-31 was a Wednesday


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_contains_never_raises(when: float) -> None:
    result = parse_window("Fri-Mon 22:00-06:00").contains(when)
    assert result is False or math.isfinite(when)
