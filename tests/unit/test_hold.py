from __future__ import annotations

import datetime

import pytest

from printhost.jobs.hold import release_time

UTC = datetime.UTC


def at(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("hold", "held", "due"),
    [
        ("no-hold", "2026-11-18 10:00", "2026-11-18 10:00"),
        ("day-time", "2026-11-18 10:00", "2026-11-18 10:00"),  # inside the window: at once
        ("day-time", "2026-11-18 20:00", "2026-11-19 06:00"),
        ("evening", "2026-11-18 10:00", "2026-11-18 18:00"),
        ("evening", "2026-11-18 23:30", "2026-11-18 23:30"),
        ("night", "2026-11-18 03:00", "2026-11-18 03:00"),
        ("second-shift", "2026-11-18 09:00", "2026-11-18 16:00"),
        ("third-shift", "2026-11-18 09:00", "2026-11-19 00:00"),
        ("weekend", "2026-11-18 09:00", "2026-11-21 00:00"),  # a Wednesday
        ("weekend", "2026-11-22 09:00", "2026-11-22 09:00"),  # a Sunday
        ("23:00", "2026-11-18 09:00", "2026-11-18 23:00"),
        ("00:30:00", "2026-11-18 09:00", "2026-11-19 00:30"),
        ("09:00", "2026-11-18 09:00", "2026-11-19 09:00"),  # now is not "next"
    ],
)
def test_release_times(hold: str, held: str, due: str) -> None:
    assert release_time(hold, at(held)) == at(due)


@pytest.mark.parametrize("hold", ["indefinite", "25:00", "someday", ""])
def test_only_a_release_frees_the_others(hold: str) -> None:
    assert release_time(hold, at("2026-11-18 09:00")) is None
