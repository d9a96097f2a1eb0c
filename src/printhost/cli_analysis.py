"""``printhost analyze FILE``: what a document is and what printing it costs.

Prints one JSON object: ``format``, ``pages``, ``color_pages`` (1-based),
``page_sizes`` (``[width, height]`` in points as displayed) and ``embedded_copies``;
with any of ``--copies``, ``--sides``, ``--number-up`` or ``--page-ranges`` it adds
``impressions``, ``sheets`` and ``color_impressions`` (conventions in
:mod:`printhost.analysis.model`). The document is analysed in a bounded worker process;
a rejected document exits with status 1 and the reason on standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from printhost.analysis import SIDES, AnalysisError, Limits, analyze_bounded, charge

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``analyze`` subcommand to the ``printhost`` parser."""
    analyze = commands.add_parser(
        "analyze",
        help="count pages, colour pages and page sizes of a document",
        description="Analyse a document (PDF, PWG Raster, Apple URF, JPEG, PNG, plain "
        "text) and print one JSON object; with job options, also what it costs.",
    )
    analyze.add_argument("file", type=Path)
    analyze.add_argument("--copies", "-n", type=_positive, help="copies (default 1)")
    analyze.add_argument("--sides", choices=SIDES, help="default one-sided")
    analyze.add_argument("--number-up", type=_positive, help="pages per side (default 1)")
    analyze.add_argument(
        "--page-ranges", type=_page_ranges, help="pages to print, e.g. 1-3,7 (default all)"
    )
    analyze.add_argument(
        "--timeout", type=float, default=Limits().wall_seconds, help="seconds (default %(default)s)"
    )
    analyze.set_defaults(run=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    limits = Limits(wall_seconds=args.timeout)
    try:
        analysis = analyze_bounded(args.file, limits)
    except AnalysisError as exc:
        print(f"printhost: analyze: {args.file}: {exc.reason}", file=sys.stderr)
        return 1
    result = analysis.to_json()
    options = (args.copies, args.sides, args.number_up, args.page_ranges)
    if any(option is not None for option in options):
        cost = charge(
            analysis,
            copies=args.copies or 1,
            sides=args.sides or "one-sided",
            number_up=args.number_up or 1,
            page_ranges=args.page_ranges,
        )
        result |= {
            "impressions": cost.impressions,
            "sheets": cost.sheets,
            "color_impressions": cost.color_impressions,
        }
    print(json.dumps(result))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _page_ranges(text: str) -> list[tuple[int, int]]:
    ranges = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid page range {part!r}") from None
        if low < 1 or high < low:
            raise argparse.ArgumentTypeError(f"invalid page range {part!r}")
        ranges.append((low, high))
    return ranges
