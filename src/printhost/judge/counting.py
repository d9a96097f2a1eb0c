"""What printing a job takes, from its analysis and the options it asks for: the job's
print options read from its IPP template, and the impressions, colour impressions and
sheets over all its documents (each document starts a new sheet, as with
``multiple-document-handling = separate-documents-*``; analysis/model.py has the
conventions). Pure functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from printhost.analysis.model import SIDES, Charge, charge
from printhost.ipp.model import Attribute, RangeOfInteger
from printhost.judge.records import JobAnalysis
from printhost.modify.attributes import forced_attributes
from printhost.routing.router import needs_of

#: print-color-mode values that print no colour (PWG 5100.13 §5.2.3).
MONOCHROME_MODES = frozenset({"monochrome", "process-monochrome", "bi-level", "auto-monochrome"})


@dataclass(frozen=True, slots=True)
class PrintOptions:
    copies: int = 1
    sides: str = "one-sided"
    number_up: int = 1
    page_ranges: tuple[tuple[int, int], ...] | None = None
    print_color_mode: str = "auto"
    media: str = ""
    #: job-account-id (PWG 5100.7 §5.2.1), the account the user asked to charge.
    account_id: str | None = None


def options_of(template: Sequence[Attribute]) -> PrintOptions:
    """The options in a job's template; what is missing or unusable keeps its default
    (intake has already refused what is out of range)."""
    by_name = {a.name: a for a in template if not a.is_out_of_band}
    copies = _integer(by_name.get("copies"), 1)
    number_up = _integer(by_name.get("number-up"), 1)
    sides = _keyword(by_name.get("sides"), "one-sided")
    return PrintOptions(
        copies=max(1, copies),
        sides=sides if sides in SIDES else "one-sided",
        number_up=max(1, number_up),
        page_ranges=_ranges(by_name.get("page-ranges")),
        print_color_mode=_keyword(by_name.get("print-color-mode"), "auto"),
        media=needs_of(template).media or "",
        account_id=_keyword(by_name.get("job-account-id"), "") or None,
    )


def forced(options: PrintOptions, *, grayscale: bool, duplex: bool) -> PrintOptions:
    """The options a job prints with after rules forced grayscale and/or duplex: the very
    attributes the printer is sent (modify/attributes.py)."""
    sent = forced_attributes(grayscale, duplex, options.sides)
    return dataclasses.replace(
        options,
        print_color_mode=sent.get("print-color-mode", options.print_color_mode),
        sides=sent.get("sides", options.sides),
    )


def count(analysis: JobAnalysis, options: PrintOptions) -> Charge:
    """Impressions, colour impressions and sheets over every document of the job. A job
    printed in monochrome has no colour impressions."""
    impressions = color = sheets = 0
    for document in analysis.documents:
        one = charge(
            document, options.copies, options.sides, options.number_up, options.page_ranges
        )
        impressions += one.impressions
        color += one.color_impressions
        sheets += one.sheets
    if options.print_color_mode in MONOCHROME_MODES:
        color = 0
    return Charge(impressions=impressions, sheets=sheets, color_impressions=color)


def _integer(attribute: Attribute | None, default: int) -> int:
    value = None if attribute is None else attribute.value
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _keyword(attribute: Attribute | None, default: str) -> str:
    value = None if attribute is None else attribute.value
    return value if isinstance(value, str) else default


def _ranges(attribute: Attribute | None) -> tuple[tuple[int, int], ...] | None:
    if attribute is None:
        return None
    ranges = [v for v in attribute.values if isinstance(v, RangeOfInteger)]
    valid = tuple((r.lower, r.upper) for r in ranges if 1 <= r.lower <= r.upper)
    return valid or None
