"""charge(): impressions, sheets and colour impressions, by example and by invariant."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printhost.analysis import SIDES, Analysis, Charge, charge
from printhost.analysis.model import select_pages

LETTER = (612.0, 792.0)


def doc(pages: int, colors: tuple[int, ...] = (), embedded: int = 1) -> Analysis:
    return Analysis("application/pdf", pages, colors, (LETTER,) * pages, embedded)


@pytest.mark.parametrize(
    ("analysis", "options", "expected"),
    [
        (doc(1), {}, Charge(1, 1, 0)),
        (doc(3), {"sides": "two-sided-long-edge"}, Charge(3, 2, 0)),
        # every copy starts on a new sheet: the blank back of page 3 is not shared
        (doc(3), {"sides": "two-sided-long-edge", "copies": 2}, Charge(6, 4, 0)),
        (doc(3, (2,)), {"sides": "two-sided-short-edge", "copies": 2}, Charge(6, 4, 2)),
        (doc(4, (1, 4)), {}, Charge(4, 4, 2)),
        (doc(5, (5,)), {"number_up": 2}, Charge(3, 3, 1)),
        (doc(5, (1, 2)), {"number_up": 2}, Charge(3, 3, 1)),
        (doc(8, (2, 7)), {"number_up": 4, "sides": "two-sided-long-edge"}, Charge(2, 1, 2)),
        (doc(9), {"number_up": 4, "sides": "two-sided-long-edge"}, Charge(3, 2, 0)),
        (doc(10, (5,)), {"page_ranges": [(1, 4)]}, Charge(4, 4, 0)),
        (doc(10, (5,)), {"page_ranges": [(4, 6), (9, 20)]}, Charge(5, 5, 1)),
        (doc(3), {"page_ranges": [(7, 9)]}, Charge(0, 0, 0)),
        (doc(0), {}, Charge(0, 0, 0)),
        (doc(3, (1,), embedded=2), {"sides": "two-sided-long-edge"}, Charge(6, 4, 2)),
        (doc(2, (2,), embedded=3), {"copies": 2}, Charge(12, 12, 6)),
    ],
)
def test_charge_examples(analysis: Analysis, options: dict[str, object], expected: Charge) -> None:
    assert charge(analysis, **options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"copies": 0},
        {"number_up": 0},
        {"sides": "three-sided"},
        {"page_ranges": [(0, 2)]},
        {"page_ranges": [(3, 2)]},
    ],
)
def test_charge_rejects_invalid_options(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        charge(doc(3), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"pages": -1, "page_sizes": ()},
        {"pages": 2, "page_sizes": (LETTER,)},
        {"pages": 1, "page_sizes": (LETTER,), "color_pages": (2,)},
        {"pages": 2, "page_sizes": (LETTER, LETTER), "color_pages": (2, 1)},
        {"pages": 1, "page_sizes": (LETTER,), "embedded_copies": 0},
    ],
)
def test_analysis_rejects_inconsistent_fields(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"format": "text/plain", "color_pages": ()} | fields
    with pytest.raises(ValueError):
        Analysis(**values)  # type: ignore[arg-type]


def test_analysis_json_round_trip() -> None:
    analysis = doc(3, (1, 3), embedded=2)
    assert Analysis.from_json(analysis.to_json()) == analysis


@st.composite
def analyses(draw: st.DrawFn) -> Analysis:
    pages = draw(st.integers(0, 40))
    colors = draw(st.sets(st.integers(1, pages), max_size=pages)) if pages else set()
    return doc(pages, tuple(sorted(colors)), draw(st.integers(1, 3)))


ranges = st.none() | st.lists(
    st.tuples(st.integers(1, 50), st.integers(0, 10)).map(lambda t: (t[0], t[0] + t[1])),
    min_size=1,
    max_size=4,
)


@given(
    analysis=analyses(),
    copies=st.integers(1, 5),
    sides=st.sampled_from(SIDES),
    number_up=st.integers(1, 9),
    page_ranges=ranges,
)
def test_charge_invariants(
    analysis: Analysis,
    copies: int,
    sides: str,
    number_up: int,
    page_ranges: list[tuple[int, int]] | None,
) -> None:
    cost = charge(analysis, copies, sides, number_up, page_ranges)
    selected = select_pages(analysis.pages, page_ranges)
    per_copy = -(-len(selected) // number_up)
    total_copies = copies * analysis.embedded_copies
    assert cost.impressions == per_copy * total_copies
    assert cost.sheets <= cost.impressions <= cost.sheets * 2
    assert 0 <= cost.color_impressions <= cost.impressions
    if sides == "one-sided":
        assert cost.impressions == cost.sheets
    else:
        assert cost.sheets == -(-per_copy // 2) * total_copies
    if not set(selected) & set(analysis.color_pages):
        assert cost.color_impressions == 0
    if set(selected) <= set(analysis.color_pages):
        assert cost.color_impressions == cost.impressions
    if number_up == 1:
        colored = len(set(selected) & set(analysis.color_pages))
        assert cost.color_impressions == colored * total_copies
    single = charge(analysis, 1, sides, number_up, page_ranges)
    assert cost == Charge(
        single.impressions * copies, single.sheets * copies, single.color_impressions * copies
    )


@given(analysis=analyses(), number_up=st.integers(1, 9))
def test_long_and_short_edge_cost_the_same(analysis: Analysis, number_up: int) -> None:
    long_edge = charge(analysis, 2, "two-sided-long-edge", number_up)
    assert long_edge == charge(analysis, 2, "two-sided-short-edge", number_up)
