"""Hypothesis strategies for IPP messages holding every value syntax the codec knows,
nested collections, 1setOf with mixed syntaxes, out-of-band, extension and unknown tags."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st

from printhost.ipp.constants import Tag
from printhost.ipp.model import (
    Attribute,
    AttributeGroup,
    Collection,
    Message,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
    Value,
)

int32 = st.integers(-(2**31), 2**31 - 1)
printable_ascii = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16)
unicode_text = st.text(st.characters(codec="utf-8"), max_size=16)  # no lone surrogates
names = st.from_regex(r"[a-z][a-z0-9._-]{0,15}", fullmatch=True)


def _date_time(naive: datetime.datetime, deci: int, offset_minutes: int) -> datetime.datetime:
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    return naive.replace(microsecond=deci * 100_000, tzinfo=tz)


date_times = st.builds(
    _date_time, st.datetimes(), st.integers(0, 9), st.integers(-(24 * 60 - 1), 24 * 60 - 1)
)

SCALARS: dict[int, st.SearchStrategy[object]] = {
    Tag.INTEGER: int32,
    Tag.ENUM: int32,
    Tag.BOOLEAN: st.booleans(),
    Tag.OCTET_STRING: st.binary(max_size=16),
    Tag.DATE_TIME: date_times,
    Tag.RESOLUTION: st.builds(Resolution, int32, int32, st.integers(-128, 127)),
    Tag.RANGE_OF_INTEGER: st.builds(RangeOfInteger, int32, int32),
    Tag.TEXT_WITH_LANGUAGE: st.builds(StringWithLanguage, unicode_text, printable_ascii),
    Tag.NAME_WITH_LANGUAGE: st.builds(StringWithLanguage, unicode_text, printable_ascii),
    Tag.TEXT: unicode_text,
    Tag.NAME: unicode_text,
    Tag.KEYWORD: printable_ascii,
    Tag.URI: printable_ascii,
    Tag.URI_SCHEME: printable_ascii,
    Tag.CHARSET: printable_ascii,
    Tag.NATURAL_LANGUAGE: printable_ascii,
    Tag.MIME_MEDIA_TYPE: printable_ascii,
    Tag.EXTENSION: st.binary(min_size=4, max_size=12),
}
UNKNOWN_TAGS = [t for t in range(0x20, 0x100) if t not in set(Tag)]


def _scalar(tag: int) -> st.SearchStrategy[Value]:
    return SCALARS[tag].map(lambda value: Value(tag, value))  # type: ignore[arg-type]


scalar_values = st.one_of(
    st.sampled_from(sorted(SCALARS)).flatmap(_scalar),
    st.integers(0x10, 0x1F).map(lambda tag: Value(tag, None)),  # out-of-band
    st.builds(Value, st.sampled_from(UNKNOWN_TAGS), st.binary(max_size=8)),
)


def values(depth: int) -> st.SearchStrategy[Value]:
    """A value of any syntax; collections nest at most ``depth`` deep."""
    if depth == 0:
        return scalar_values
    collection = st.lists(attributes(depth - 1), max_size=3).map(Collection)
    return st.one_of(scalar_values, collection.map(lambda c: Value(Tag.BEGIN_COLLECTION, c)))


def attributes(depth: int = 2) -> st.SearchStrategy[Attribute]:
    return st.builds(Attribute, names, st.lists(values(depth), min_size=1, max_size=3))


group_tags = st.sampled_from([t for t in range(0x01, 0x10) if t != Tag.END])
groups = st.builds(AttributeGroup, group_tags, st.lists(attributes(), max_size=4))
messages = st.builds(
    Message,
    st.tuples(st.integers(0, 255), st.integers(0, 255)),
    st.integers(0, 0xFFFF),
    int32,
    st.lists(groups, max_size=3),
)
