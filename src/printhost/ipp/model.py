"""The IPP message model (RFC 8010 §3): messages, attribute groups, attributes and the Python
types of their values. Pure data: no encoding, no I/O.

Each value carries its own tag, because RFC 8010 §3.1.5 lets the additional values of a
1setOf use different syntaxes (e.g. ``media-supported`` mixing keyword and name).

Python types by value tag:
- integer, enum: ``int``; boolean: ``bool``
- octetString and unknown tags: ``bytes``; dateTime: ``datetime.datetime`` (aware)
- resolution: ``Resolution``; rangeOfInteger: ``RangeOfInteger``
- textWithLanguage / nameWithLanguage: ``StringWithLanguage``
- text, name, keyword, uri, uriScheme, charset, naturalLanguage, mimeMediaType: ``str``
- begCollection: ``Collection``
- out-of-band (unsupported, unknown, no-value, ...): ``None``
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from printhost.ipp.constants import Tag


@dataclass(frozen=True, slots=True)
class Resolution:
    cross_feed: int
    feed: int
    units: int = 3  # 3 = dots per inch, 4 = dots per centimetre (RFC 8011 §5.1.16)


@dataclass(frozen=True, slots=True)
class RangeOfInteger:
    lower: int
    upper: int


@dataclass(frozen=True, slots=True)
class StringWithLanguage:
    text: str
    language: str


PyValue = Union[  # typing.Union: the forward reference to Collection rules out `|`
    int,
    bool,
    bytes,
    str,
    datetime.datetime,
    Resolution,
    RangeOfInteger,
    StringWithLanguage,
    "Collection",
    None,
]


class Value(NamedTuple):
    tag: int
    value: PyValue


@dataclass(slots=True)
class Attribute:
    """One attribute: a name and one or more tagged values (a 1setOf when more than one)."""

    name: str
    items: list[Value]

    @classmethod
    def of(cls, name: str, tag: int, *values: PyValue) -> Attribute:
        if not values:
            raise ValueError(f"attribute {name!r} needs at least one value")
        return cls(name, [Value(tag, v) for v in values])

    @property
    def tag(self) -> int:
        return self.items[0].tag

    @property
    def value(self) -> PyValue:
        return self.items[0].value

    @property
    def values(self) -> list[PyValue]:
        return [item.value for item in self.items]

    @property
    def is_out_of_band(self) -> bool:
        return all(0x10 <= item.tag < 0x20 for item in self.items)


@dataclass(slots=True)
class Collection:
    """A collection value (RFC 8010 §3.1.6): an ordered list of member attributes."""

    members: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for member in self.members:
            if member.name == name:
                return member
        return None

    def add(self, name: str, tag: int, *values: PyValue) -> Collection:
        self.members.append(Attribute.of(name, tag, *values))
        return self

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)


@dataclass(slots=True)
class AttributeGroup:
    tag: int
    attributes: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None

    def __contains__(self, name: object) -> bool:
        return any(attr.name == name for attr in self.attributes)

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)

    def __len__(self) -> int:
        return len(self.attributes)

    def add(self, name: str, tag: int, *values: PyValue) -> AttributeGroup:
        self.attributes.append(Attribute.of(name, tag, *values))
        return self

    def append(self, attr: Attribute) -> None:
        self.attributes.append(attr)


@dataclass(slots=True)
class Message:
    """An IPP request or response. ``code`` is the operation-id or the status-code."""

    version: tuple[int, int]
    code: int
    request_id: int
    groups: list[AttributeGroup] = field(default_factory=list)

    def group(self, tag: int) -> AttributeGroup | None:
        for group in self.groups:
            if group.tag == tag:
                return group
        return None

    def groups_of(self, tag: int) -> list[AttributeGroup]:
        return [g for g in self.groups if g.tag == tag]

    def add_group(self, tag: int) -> AttributeGroup:
        group = AttributeGroup(tag)
        self.groups.append(group)
        return group

    @property
    def operation_attributes(self) -> AttributeGroup:
        """The operation group, or an empty one when the message has none."""
        return self.group(Tag.OPERATION) or AttributeGroup(Tag.OPERATION)
