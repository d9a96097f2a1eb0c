"""Cost schedules and the one pure pricing function.

A schedule belongs to a printer or pool. It charges per impression (a marked side;
colour impressions at the colour rate instead of the mono rate) plus per sheet, with
rates that may differ by paper size, less a duplex discount; a free printer charges
nothing. The counts come from document analysis (issue 5: impressions, colour
impressions, sheets).

Duplex discount: ``duplex_discount_percent`` off the impression cost of the impressions
printed on two-sided sheets. From the counts alone, ``impressions - sheets`` sheets carry
two impressions, so ``2 * (impressions - sheets)`` impressions are duplex. Which of them
are colour is unknown, so the discount is taken proportionally from the whole impression
cost and rounded down (the charge rounds up: the ledger never gives away a fraction of a
cent it cannot account for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from printhost.accounting.money import ZERO, Money


@dataclass(frozen=True, slots=True)
class Rates:
    mono: Money = ZERO  # per mono impression
    color: Money = ZERO  # per colour impression (instead of the mono rate)
    sheet: Money = ZERO  # per sheet of paper


@dataclass(frozen=True, slots=True)
class CostSchedule:
    rates: Rates = field(default_factory=Rates)
    #: Rates for particular paper sizes (media keywords, e.g. "iso_a3_297x420mm").
    by_media: Mapping[str, Rates] = field(default_factory=dict)
    duplex_discount_percent: int = 0
    free: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.duplex_discount_percent <= 100:
            raise ValueError(
                f"duplex discount must be 0..100 percent, not {self.duplex_discount_percent}"
            )


FREE = CostSchedule(free=True)


def price(
    schedule: CostSchedule, impressions: int, color_impressions: int, sheets: int, media: str
) -> Money:
    """The cost of printing the counted job on a printer with ``schedule``."""
    _check_counts(impressions, color_impressions, sheets)
    if schedule.free:
        return ZERO
    rates = schedule.by_media.get(media, schedule.rates)
    mono_impressions = impressions - color_impressions
    impression_cost = rates.mono * mono_impressions + rates.color * color_impressions
    discount = _duplex_discount(impression_cost, impressions, sheets, schedule)
    return impression_cost - discount + rates.sheet * sheets


def _duplex_discount(
    impression_cost: Money, impressions: int, sheets: int, schedule: CostSchedule
) -> Money:
    duplex_impressions = min(impressions, 2 * max(0, impressions - sheets))
    if duplex_impressions == 0 or schedule.duplex_discount_percent == 0:
        return ZERO
    numerator = impression_cost.cents * duplex_impressions * schedule.duplex_discount_percent
    return Money(numerator // (impressions * 100))


def _check_counts(impressions: int, color_impressions: int, sheets: int) -> None:
    if impressions < 0 or color_impressions < 0 or sheets < 0:
        raise ValueError("counts cannot be negative")
    if color_impressions > impressions:
        raise ValueError(
            f"colour impressions ({color_impressions}) exceed impressions ({impressions})"
        )
