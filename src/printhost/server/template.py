"""Checking job template attributes against what the queue supports (RFC 8011 §4.2.1.2,
§5.2) and deciding between "ignore and say so" and "refuse".

With ``ipp-attribute-fidelity`` false (the default) an unsupported value is dropped and
listed in the unsupported-attributes group with successful-ok-ignored-or-substituted-
attributes; CUPS's backend cancels jobs on needless errors (IPP-CLIENTS.md §4.2). With
fidelity true the request fails with client-error-attributes-or-values-not-supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute, Collection, PyValue, RangeOfInteger, Value

#: Job attributes a client may supply that are not template attributes with a -supported.
_FREE_FORM = {
    "job-uuid": (Tag.URI,),
    "job-account-id": (Tag.NAME,),
    "job-accounting-user-id": (Tag.NAME,),
    "job-name": (Tag.NAME,),
    "job-pages-per-set": (Tag.INTEGER,),
    "job-message-to-operator": (Tag.TEXT,),
}
_HOLD_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_NAME_TAGS = (Tag.NAME, Tag.NAME_WITH_LANGUAGE, Tag.KEYWORD)


@dataclass(slots=True)
class TemplateCheck:
    accepted: list[Attribute] = field(default_factory=list)
    unsupported: list[Attribute] = field(default_factory=list)


def check_template(
    attributes: Iterable[Attribute], supported: Mapping[str, Attribute]
) -> TemplateCheck:
    """Split the job group into accepted and unsupported attributes. ``supported`` maps a
    printer attribute name (``sides-supported``...) to the queue's attribute."""
    result = TemplateCheck()
    seen: set[str] = set()
    for attr in attributes:
        if attr.name in seen:
            # RFC 8011 §4.1.3: an attribute must not appear twice in a group
            result.unsupported.append(attr)
            continue
        seen.add(attr.name)
        target = result.accepted if _is_supported(attr, supported) else result.unsupported
        target.append(attr)
    return result


def _is_supported(attr: Attribute, supported: Mapping[str, Attribute]) -> bool:
    if attr.name in _FREE_FORM:
        return all(
            item.tag in _FREE_FORM[attr.name] or item.tag == Tag.KEYWORD for item in attr.items
        ) and _free_form_ok(attr)
    if attr.name == "job-hold-until":
        return _hold_until_ok(attr, supported.get("job-hold-until-supported"))
    if attr.name == "job-priority":
        # job-priority-supported is a number of levels, not a value: every priority
        # 1-100 is valid and maps onto those levels (RFC 8011 §5.2.2)
        value = attr.value
        return len(attr.items) == 1 and type(value) is int and 1 <= value <= 100
    allowed = supported.get(f"{attr.name}-supported")
    if allowed is None:
        return False
    if len(attr.items) > 1 and attr.name not in _MULTI_VALUED:
        return False
    return all(_value_ok(attr.name, item, allowed, supported) for item in attr.items)


_MULTI_VALUED = {
    "finishings",
    "page-ranges",
    "job-sheets",
    "finishings-col",
    "overrides",
    "force-front-side",
    "job-error-sheet",
}


def _free_form_ok(attr: Attribute) -> bool:
    if attr.name == "job-uuid":
        value = attr.value
        return isinstance(value, str) and value.startswith("urn:uuid:") and len(value) == 45
    if attr.name == "job-pages-per-set":
        return isinstance(attr.value, int) and attr.value > 0
    return True


def _hold_until_ok(attr: Attribute, allowed: Attribute | None) -> bool:
    value = attr.value
    if not isinstance(value, str) or len(attr.items) != 1:
        return False
    if allowed is not None and value in allowed.values:
        return True
    # CUPS clients send a time of day as a name ("23:00" or "00:30:00", set-attrs-hold.test)
    return attr.tag in _NAME_TAGS and bool(_HOLD_TIME_RE.match(value))


def _value_ok(
    name: str, item: Value, allowed: Attribute, supported: Mapping[str, Attribute]
) -> bool:
    value = item.value
    if isinstance(value, Collection):
        return _collection_ok(name, value, allowed, supported)
    if isinstance(value, RangeOfInteger):
        return name == "page-ranges" and 1 <= value.lower <= value.upper
    if name == "page-ranges":
        return False
    return any(_matches(value, item.tag, candidate.value) for candidate in allowed.items)


def _matches(value: PyValue, tag: int, candidate: PyValue) -> bool:
    if isinstance(candidate, RangeOfInteger):
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and candidate.lower <= value <= candidate.upper
        )
    if isinstance(candidate, bool):
        return (candidate is True and tag == Tag.BOOLEAN) or value == candidate
    return value == candidate


def _collection_ok(
    name: str, value: Collection, allowed: Attribute, supported: Mapping[str, Attribute]
) -> bool:
    """Collections (media-col, finishings-col...) are accepted when every member is a
    member the queue lists in ``<name>-supported``; media-size must be a size we know."""
    members = {str(v) for v in allowed.values}
    if not all(member.name in members for member in value.members):
        return False
    size = value.get("media-size")
    if name == "media-col" and size is not None and isinstance(size.value, Collection):
        return _media_size_ok(size.value, supported.get("media-size-supported"))
    return True


def _media_size_ok(size: Collection, allowed: Attribute | None) -> bool:
    x, y = size.get("x-dimension"), size.get("y-dimension")
    if x is None or y is None or allowed is None:
        return False
    for candidate in allowed.values:
        if not isinstance(candidate, Collection):
            continue
        cx, cy = candidate.get("x-dimension"), candidate.get("y-dimension")
        if (
            cx is not None
            and cy is not None
            and _dim_ok(x.value, cx.value)
            and _dim_ok(y.value, cy.value)
        ):
            return True
    return False


def _dim_ok(value: PyValue, candidate: PyValue) -> bool:
    if isinstance(candidate, RangeOfInteger):
        return isinstance(value, int) and candidate.lower <= value <= candidate.upper
    return value == candidate
