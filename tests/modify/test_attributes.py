"""forced_attributes: the IPP job attributes print rules force."""

from __future__ import annotations

import pytest

from printhost.modify import forced_attributes

MONO = {"print-color-mode": "monochrome"}
LONG = {"sides": "two-sided-long-edge"}
SHORT = {"sides": "two-sided-short-edge"}


@pytest.mark.parametrize(
    ("grayscale", "duplex", "current_sides", "expected"),
    [
        (False, False, None, {}),
        (False, False, "one-sided", {}),
        (False, False, "two-sided-short-edge", {}),
        (True, False, None, MONO),
        (True, False, "one-sided", MONO),
        (False, True, None, LONG),
        (False, True, "one-sided", LONG),
        (False, True, "two-sided-long-edge", LONG),
        (False, True, "two-sided-short-edge", SHORT),
        (False, True, "", LONG),
        (False, True, "TWO-SIDED-SHORT-EDGE", LONG),  # not an IPP keyword
        (False, True, "tumble", LONG),
        (True, True, None, MONO | LONG),
        (True, True, "one-sided", MONO | LONG),
        (True, True, "two-sided-short-edge", MONO | SHORT),
    ],
)
def test_forced_attributes(
    grayscale: bool, duplex: bool, current_sides: str | None, expected: dict[str, str]
) -> None:
    assert forced_attributes(grayscale, duplex, current_sides) == expected


def test_result_is_a_fresh_dict() -> None:
    first = forced_attributes(True, False, None)
    first["extra"] = "x"
    assert forced_attributes(True, False, None) == MONO
