"""What analysis finds in a document, and what printing it costs in impressions and sheets.

Conventions (issue 5, "Document analysis"):

- ``pages`` counts page images for one copy of the document. Copies the document asks
  for itself (PostScript /NumCopies, PCL copy commands) are ``embedded_copies``; they
  multiply like job copies.
- ``color_pages`` are the 1-based numbers of pages with at least one visibly
  non-neutral pixel (an RGB grey with equal channels is mono).
- ``page_sizes`` are ``(width, height)`` in points as displayed, i.e. after /Rotate.
- An impression is a marked side of a sheet: the blank back of an odd last sheet is
  not counted. A colour impression is a side holding at least one colour page. With
  number-up K, K consecutive selected pages share one side. Every copy starts on a
  new sheet, so each copy is laid out on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SIDES = ("one-sided", "two-sided-long-edge", "two-sided-short-edge")
#: The most page images one document may have, in every format (copies the document asks
#: for itself included): enough for any real job, small enough that an analysis, its
#: JSON and the judge's counting stay small.
MAX_PAGES = 10_000


class AnalysisError(Exception):
    """A document that cannot be analysed; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Analysis:
    format: str
    pages: int
    color_pages: tuple[int, ...]
    page_sizes: tuple[tuple[float, float], ...]
    embedded_copies: int = 1

    def __post_init__(self) -> None:
        if self.pages < 0 or self.embedded_copies < 1:
            raise ValueError("pages must be >= 0 and embedded_copies >= 1")
        if len(self.page_sizes) != self.pages:
            raise ValueError("one page size per page")
        if any(not 1 <= p <= self.pages for p in self.color_pages):
            raise ValueError("color_pages out of range")
        if list(self.color_pages) != sorted(set(self.color_pages)):
            raise ValueError("color_pages must be sorted and unique")

    def to_json(self) -> dict[str, object]:
        return {
            "format": self.format,
            "pages": self.pages,
            "color_pages": list(self.color_pages),
            "page_sizes": [[w, h] for w, h in self.page_sizes],
            "embedded_copies": self.embedded_copies,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Analysis:
        """The inverse of :meth:`to_json`; raises ValueError/TypeError on bad data."""
        sizes = data["page_sizes"]
        colors = data["color_pages"]
        if not isinstance(sizes, list) or not isinstance(colors, list):
            raise TypeError("page_sizes and color_pages must be lists")
        return cls(
            format=str(data["format"]),
            pages=_as_int(data["pages"]),
            color_pages=tuple(_as_int(p) for p in colors),
            page_sizes=tuple((float(w), float(h)) for w, h in sizes),
            embedded_copies=_as_int(data.get("embedded_copies", 1)),
        )


@dataclass(frozen=True, slots=True)
class Charge:
    impressions: int
    sheets: int
    color_impressions: int


def charge(
    analysis: Analysis,
    copies: int = 1,
    sides: str = "one-sided",
    number_up: int = 1,
    page_ranges: Sequence[tuple[int, int]] | None = None,
) -> Charge:
    """Impressions, sheets and colour impressions for printing ``analysis``.

    ``page_ranges`` are 1-based inclusive ``(first, last)`` pairs (IPP page-ranges);
    pages outside the document are ignored. Raises ValueError for invalid arguments.
    """
    if copies < 1 or number_up < 1:
        raise ValueError("copies and number-up must be at least 1")
    if sides not in SIDES:
        raise ValueError(f"unknown sides {sides!r}")
    selected = select_pages(analysis.pages, page_ranges)
    colored = set(analysis.color_pages)
    side_groups = [selected[i : i + number_up] for i in range(0, len(selected), number_up)]
    impressions = len(side_groups)
    color_sides = sum(1 for group in side_groups if colored.intersection(group))
    sheets = impressions if sides == "one-sided" else (impressions + 1) // 2
    total_copies = copies * analysis.embedded_copies
    return Charge(
        impressions=impressions * total_copies,
        sheets=sheets * total_copies,
        color_impressions=color_sides * total_copies,
    )


def select_pages(pages: int, page_ranges: Sequence[tuple[int, int]] | None) -> list[int]:
    """The 1-based page numbers printed, in order (RFC 8011 §5.2.7 page-ranges)."""
    if page_ranges is None:
        return list(range(1, pages + 1))
    chosen: set[int] = set()
    for first, last in page_ranges:
        if first < 1 or last < first:
            raise ValueError(f"invalid page range {first}-{last}")
        chosen.update(range(first, min(last, pages) + 1))
    return sorted(chosen)


def _as_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    return value
