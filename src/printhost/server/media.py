"""Media of a printhost queue: PWG 5101.1 self-describing size names and the media / media-col
printer attributes built from them (RFC 8011 §5.2.11, PWG 5100.7 §6, PWG 5100.14 §5.2).

Theory of operation: a queue is configured with a list of PWG self-describing media names
("iso_a4_210x297mm", "na_letter_8.5x11in"). The names carry their own dimensions, so every
media-col value (media-size in hundredths of millimetres, PWG 5100.7 §6.3) is *derived* from
the name and can never disagree with media-supported.

Margins. A printhost queue is virtual: the paper is handled by whatever printer a job is finally
forwarded to, which the client cannot know. We therefore advertise 423 (4.23 mm = 1/6 in) on all
four sides, a margin nearly every office printer can honour, so clients that rasterise (iOS,
Android, CUPS with image/urf or image/pwg-raster) never place content where a destination would
clip it. Borderless (0) variants are added only when the queue is configured ``borderless``,
because advertising 0 promises edge-to-edge output that most destinations cannot produce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute, Collection

#: Sizes a queue offers unless configured otherwise: the ISO and North-American office sizes,
#: the common envelopes and the 4x6 photo card that phones print to.
DEFAULT_MEDIA: tuple[str, ...] = (
    "iso_a4_210x297mm",
    "na_letter_8.5x11in",
    "na_legal_8.5x14in",
    "iso_a5_148x210mm",
    "iso_a3_297x420mm",
    "na_ledger_11x17in",
    "iso_b5_176x250mm",
    "na_executive_7.25x10.5in",
    "na_number-10_4.125x9.5in",
    "iso_dl_110x220mm",
    "iso_c5_162x229mm",
    "na_index-4x6_4x6in",
)

#: 1/6 inch in hundredths of millimetres; see the module docstring.
BORDERED_MARGIN = 423
BORDERLESS_MARGIN = 0

MEDIA_SOURCE = "auto"
MEDIA_TYPE = "stationery"

#: The media-col members a queue accepts (PWG 5100.7 §6.3); each has a ...-supported attribute.
MEDIA_COL_MEMBERS: tuple[str, ...] = (
    "media-bottom-margin",
    "media-left-margin",
    "media-right-margin",
    "media-size",
    "media-source",
    "media-top-margin",
    "media-type",
)

_MARGIN_MEMBERS = ("media-bottom-margin", "media-left-margin", "media-right-margin")

# PWG 5101.1 §5: class_name_WIDTHxHEIGHTunit. The same grammar as MEDIA_REGEX in CUPS's
# ipp-2.0.test (without the "choice_" form, which is not a size a queue can advertise).
_DIMENSION = r"(?:[1-9][0-9]*(?:\.[0-9]*[1-9])?|0\.[0-9]*[1-9])"
_MEDIA_NAME = re.compile(
    rf"^(?:(?P<in_class>custom|na|asme|roc|oe|roll)_[a-z0-9][-a-z0-9]*_"
    rf"(?P<in_w>{_DIMENSION})x(?P<in_h>{_DIMENSION})in"
    rf"|(?P<mm_class>custom|iso|jis|jpn|prc|om|roll)_[a-z0-9][-a-z0-9]*_"
    rf"(?P<mm_w>{_DIMENSION})x(?P<mm_h>{_DIMENSION})mm)$"
)

_HUNDREDTHS_PER_INCH = Decimal(2540)
_HUNDREDTHS_PER_MM = Decimal(100)


@dataclass(frozen=True, slots=True)
class MediaSize:
    """A PWG media size; dimensions in hundredths of millimetres (PWG 5100.7 §6.3.1)."""

    name: str
    x_dimension: int
    y_dimension: int


def is_media_name(name: str) -> bool:
    return _MEDIA_NAME.match(name) is not None


def parse_media_size(name: str) -> MediaSize:
    """``iso_a4_210x297mm`` -> MediaSize(21000, 29700). Inches are truncated like CUPS's
    ``_PWG_FROMIN`` so that ``pwgMediaForSize`` on the client finds the same size."""
    match = _MEDIA_NAME.match(name)
    if match is None:
        raise ValueError(f"not a PWG 5101.1 self-describing media name: {name!r}")
    if match["in_w"] is not None:
        width, height, scale = match["in_w"], match["in_h"], _HUNDREDTHS_PER_INCH
    else:
        width, height, scale = match["mm_w"], match["mm_h"], _HUNDREDTHS_PER_MM
    return MediaSize(name, int(Decimal(width) * scale), int(Decimal(height) * scale))


def media_size_collection(size: MediaSize) -> Collection:
    return (
        Collection()
        .add("x-dimension", Tag.INTEGER, size.x_dimension)
        .add("y-dimension", Tag.INTEGER, size.y_dimension)
    )


def media_col(size: MediaSize, margin: int, *, with_source_and_type: bool = True) -> Collection:
    """One media-col value: size, four equal margins and (optionally) source and type."""
    col = Collection()
    for member in _MARGIN_MEMBERS:
        col.add(member, Tag.INTEGER, margin)
    col.add("media-size", Tag.BEGIN_COLLECTION, media_size_collection(size))
    if with_source_and_type:
        col.add("media-source", Tag.KEYWORD, MEDIA_SOURCE)
    col.add("media-top-margin", Tag.INTEGER, margin)
    if with_source_and_type:
        col.add("media-type", Tag.KEYWORD, MEDIA_TYPE)
    return col


def margins_supported(borderless: bool) -> tuple[int, ...]:
    return (BORDERLESS_MARGIN, BORDERED_MARGIN) if borderless else (BORDERED_MARGIN,)


def media_col_database(sizes: list[MediaSize], borderless: bool) -> list[Collection]:
    """PWG 5100.7 §6.4.1: one entry per supported combination of size and margins."""
    return [
        media_col(size, margin, with_source_and_type=False)
        for size in sizes
        for margin in sorted(margins_supported(borderless), reverse=True)
    ]


def media_attributes(
    media: tuple[str, ...], default: str, ready: tuple[str, ...], *, borderless: bool
) -> list[Attribute]:
    """Every media-related printer attribute of a queue (names must be valid and include the
    default and the ready media; QueueDescription checks that)."""
    sizes = [parse_media_size(name) for name in media]
    ready_sizes = [parse_media_size(name) for name in ready]
    margins = margins_supported(borderless)
    attrs = [
        Attribute.of("media-default", Tag.KEYWORD, default),
        Attribute.of("media-supported", Tag.KEYWORD, *media),
        Attribute.of("media-ready", Tag.KEYWORD, *ready),
        Attribute.of(
            "media-col-default",
            Tag.BEGIN_COLLECTION,
            media_col(parse_media_size(default), BORDERED_MARGIN),
        ),
        Attribute.of(
            "media-col-ready",
            Tag.BEGIN_COLLECTION,
            *(media_col(size, BORDERED_MARGIN) for size in ready_sizes),
        ),
        Attribute.of(
            "media-col-database", Tag.BEGIN_COLLECTION, *media_col_database(sizes, borderless)
        ),
        Attribute.of("media-col-supported", Tag.KEYWORD, *MEDIA_COL_MEMBERS),
        Attribute.of(
            "media-size-supported", Tag.BEGIN_COLLECTION, *(media_size_collection(s) for s in sizes)
        ),
        Attribute.of("media-source-supported", Tag.KEYWORD, MEDIA_SOURCE),
        Attribute.of("media-type-supported", Tag.KEYWORD, MEDIA_TYPE),
    ]
    attrs += [
        Attribute.of(f"{member}-supported", Tag.INTEGER, *margins)
        for member in (*_MARGIN_MEMBERS, "media-top-margin")
    ]
    return attrs
