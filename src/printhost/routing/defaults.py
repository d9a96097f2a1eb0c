"""A user's default job options, applied to a new job's template where it says nothing
else (pure). ``max_copies`` is a limit, not a default: more copies are cut down to it."""

from __future__ import annotations

from dataclasses import dataclass

from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute
from printhost.store.base import JobDefaults

SIDES = ("one-sided", "two-sided-long-edge", "two-sided-short-edge")
COLOR_MODES = ("auto", "color", "monochrome")
ORIENTATIONS = (3, 4, 5, 6)  # portrait, landscape, reverse-landscape, reverse-portrait


@dataclass(frozen=True, slots=True)
class Applied:
    attributes: list[Attribute]
    #: What was changed against the job's own request (shown to the user), or "".
    note: str = ""


def check_defaults(defaults: JobDefaults) -> list[str]:
    """Problems with stored defaults, each naming the field (for the API's 400 answer)."""
    problems = []
    if defaults.sides and defaults.sides not in SIDES:
        problems.append(f"sides must be one of {', '.join(SIDES)}")
    if defaults.print_color_mode and defaults.print_color_mode not in COLOR_MODES:
        problems.append(f"print_color_mode must be one of {', '.join(COLOR_MODES)}")
    if defaults.orientation_requested and defaults.orientation_requested not in ORIENTATIONS:
        problems.append("orientation_requested must be 3, 4, 5 or 6 (RFC 8011 §5.2.10)")
    if not 0 <= defaults.max_copies <= 9999:
        problems.append("max_copies must be 0 (no limit) to 9999")
    return problems


def apply_defaults(template: list[Attribute], defaults: JobDefaults) -> Applied:
    given = {a.name for a in template}
    added = [
        Attribute.of(name, tag, value)
        for name, tag, value in (
            ("sides", Tag.KEYWORD, defaults.sides),
            ("print-color-mode", Tag.KEYWORD, defaults.print_color_mode),
            ("orientation-requested", Tag.ENUM, defaults.orientation_requested),
        )
        if value and name not in given
    ]
    attributes, note = _limit_copies(template, defaults.max_copies)
    return Applied(attributes + added, note)


def _limit_copies(template: list[Attribute], limit: int) -> tuple[list[Attribute], str]:
    copies = next((a for a in template if a.name == "copies"), None)
    if not limit or copies is None or not isinstance(copies.value, int) or copies.value <= limit:
        return list(template), ""
    kept = [a for a in template if a.name != "copies"]
    note = f"copies limited to {limit} (asked for {copies.value}) by the user's preferences"
    return [*kept, Attribute.of("copies", Tag.INTEGER, limit)], note
