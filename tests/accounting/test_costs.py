"""Pricing: per impression (mono/colour), per sheet, by paper size, duplex discount, free."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printhost.accounting.costs import FREE, CostSchedule, Rates, price
from printhost.accounting.money import ZERO, Money

A4 = "iso_a4_210x297mm"
A3 = "iso_a3_297x420mm"
BASIC = CostSchedule(Rates(mono=Money(10), color=Money(50), sheet=Money(2)))


def test_mono_and_colour_impressions_and_sheets() -> None:
    # 10 impressions, 3 of them colour, on 10 sheets (simplex)
    assert price(BASIC, 10, 3, 10, A4) == Money(7 * 10 + 3 * 50 + 10 * 2)


def test_paper_size_rates_replace_the_default() -> None:
    schedule = CostSchedule(BASIC.rates, by_media={A3: Rates(Money(20), Money(100), Money(5))})
    assert price(schedule, 2, 1, 2, A3) == Money(20 + 100 + 2 * 5)
    assert price(schedule, 2, 1, 2, A4) == Money(10 + 50 + 2 * 2)


def test_free_printer_charges_nothing() -> None:
    assert price(FREE, 100, 50, 50, A4) == ZERO


def test_duplex_discount_on_two_sided_impressions() -> None:
    schedule = CostSchedule(Rates(mono=Money(10)), duplex_discount_percent=20)
    # 4 impressions on 2 sheets: all duplex, 20% off 0.40
    assert price(schedule, 4, 0, 2, A4) == Money(32)
    # 3 impressions on 2 sheets: one duplex sheet (2 impressions), 20% off 0.20 of them
    assert price(schedule, 3, 0, 2, A4) == Money(30 - 4)
    # simplex: no discount
    assert price(schedule, 3, 0, 3, A4) == Money(30)


def test_duplex_discount_rounds_in_favour_of_the_ledger() -> None:
    schedule = CostSchedule(Rates(mono=Money(3)), duplex_discount_percent=50)
    assert price(schedule, 2, 0, 1, A4) == Money(3)  # 0.06 - 0.03
    assert price(CostSchedule(Rates(mono=Money(1)), duplex_discount_percent=50), 2, 0, 1, A4) == (
        Money(1)  # 0.02 - floor(0.01) = 0.01
    )


@pytest.mark.parametrize(("impressions", "colour", "sheets"), [(-1, 0, 0), (1, 2, 1), (1, 0, -1)])
def test_impossible_counts_are_refused(impressions: int, colour: int, sheets: int) -> None:
    with pytest.raises(ValueError):
        price(BASIC, impressions, colour, sheets, A4)


def test_discount_must_be_a_percentage() -> None:
    with pytest.raises(ValueError):
        CostSchedule(duplex_discount_percent=101)


@given(
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(0, 1000),
    st.integers(0, 100),
)
def test_price_is_never_negative_and_discount_never_exceeds_percent(
    impressions: int, colour: int, sheets: int, rate: int, percent: int
) -> None:
    colour = min(colour, impressions)
    schedule = CostSchedule(Rates(Money(rate), Money(rate * 3), Money(1)), {}, percent)
    full = CostSchedule(schedule.rates)
    charged = price(schedule, impressions, colour, sheets, A4)
    undiscounted = price(full, impressions, colour, sheets, A4)
    assert ZERO <= charged <= undiscounted
    assert (undiscounted - charged).cents * 100 <= undiscounted.cents * percent
