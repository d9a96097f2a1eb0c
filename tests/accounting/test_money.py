"""Money: integer cents, exact parsing and formatting, no floats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printhost.accounting.money import ZERO, Money, total


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.20", 120),
        ("1.2", 120),
        ("1", 100),
        ("0.05", 5),
        ("-0.05", -5),
        ("+3.00", 300),
        (" 12.34 ", 1234),
        ("0", 0),
        ("-0", 0),
    ],
)
def test_parse(text: str, cents: int) -> None:
    assert Money.parse(text) == Money(cents)


@pytest.mark.parametrize(
    "text", ["", "1.234", ".5", "1.", "1,20", "1e2", "abc", "--1", "1.2.3", "nan", "inf"]
)
def test_parse_refuses_what_is_not_plain_money(text: str) -> None:
    with pytest.raises(ValueError):
        Money.parse(text)


@pytest.mark.parametrize(
    ("cents", "text"), [(120, "1.20"), (5, "0.05"), (-5, "-0.05"), (0, "0.00"), (-120, "-1.20")]
)
def test_format(cents: int, text: str) -> None:
    assert str(Money(cents)) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_parse_round_trip(cents: int) -> None:
    assert Money.parse(str(Money(cents))) == Money(cents)


@pytest.mark.parametrize("bad", [1.2, True, "120", None])
def test_only_integer_cents(bad: object) -> None:
    with pytest.raises(TypeError):
        Money(bad)  # type: ignore[arg-type]


def test_arithmetic_and_order() -> None:
    a, b = Money(120), Money(40)
    assert a + b == Money(160)
    assert a - b == Money(80)
    assert -a == Money(-120)
    assert a * 3 == 3 * a == Money(360)
    assert b < a and b > ZERO
    assert total([a, b, -a]) == b
    assert total([]) == ZERO
    with pytest.raises(TypeError):
        a * 1.5  # type: ignore[operator]
