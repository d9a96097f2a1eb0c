"""Rules from configuration: a ``[[rules]]`` array of TOML tables, parsed into ``Rule``s.

Each table is one rule, tried in file order. Keys::

    name        required; letters, digits, '_', '.', '-'; unique
    action      required: allow | hold | deny | grayscale | duplex | require-account | watermark
    reason      hold and deny only: shown to the user before the rule's explanation
    watermark   watermark only (and required there): text template; placeholders
                {user} {account} {queue} {job_id} {time} {date}
    watermark_position   diagonal (default) | top | bottom | center
    watermark_opacity    0.05 to 1 (default 0.3)

    # match: which jobs the rule applies to; omitted = every job
    users, groups, queues, destinations   arrays of names (any of them matches)
    formats     array of MIME types; "image/*" matches every image type
    when        a time window or an array of them, UTC ("Mon-Fri 08:00-18:00")

    # condition: at most one; none = the rule fires on every job it matches
    max_pages = 200                       pages x copies above 200
    max_copies = 10                       more than 10 copies
    allowed_formats = ["application/pdf"] any other format
    color = true                          at least one colour page
    within = "Sat,Sun"                    submitted inside the window(s)
    outside = "Mon-Fri 08:00-18:00"       submitted outside every window
    rate_limit = { jobs = 10, minutes = 5 }   10 earlier jobs in the last 5 minutes
    duplicate_within_minutes = 10         same document (sha256) printed in the last 10 min
    balance_below_cost = true             cost > the account's available balance

Time windows: ``[DAYS ][HH:MM-HH:MM]`` with days like ``Mon-Fri`` or ``Sat,Sun``; a range
whose end is not after its start crosses midnight (see ``rules.windows``).

Example::

    [[rules]]
    name = "max-pages"
    action = "deny"
    reason = "large jobs go to the print room"
    max_pages = 200

    [[rules]]
    name = "students-mono"
    groups = ["students"]
    action = "grayscale"
    color = true

    [[rules]]
    name = "low-balance"
    action = "hold"
    balance_below_cost = true

    [[rules]]
    name = "night"
    action = "deny"
    reason = "the printers sleep at night"
    outside = ["Mon-Fri 07:00-20:00", "Sat 09:00-13:00"]

Every mistake raises ``ConfigError`` naming the rule and key: ``rules.max-pages.max_pages:
expected an integer, got str``; before the name is known, ``rules[3]``.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping
from typing import Any

from printhost.config_base import (
    NAME_RE,
    ConfigError,
    expect_integer,
    expect_names,
    expect_string,
    type_name,
)
from printhost.rules.model import (
    MAX_MINUTES,
    WATERMARK_FIELDS,
    WATERMARK_POSITIONS,
    Action,
    ActionKind,
    AllowedFormats,
    Always,
    BalanceBelowCost,
    ColorPages,
    Condition,
    DuplicateWithin,
    Match,
    MaxCopies,
    MaxPages,
    RateLimit,
    Rule,
    TimeCondition,
    Watermark,
)
from printhost.rules.windows import TimeWindow, parse_window

_MATCH_KEYS = ("users", "groups", "queues", "destinations", "formats", "when")
_WATERMARK_KEYS = ("watermark", "watermark_position", "watermark_opacity")
_ACTION_KEYS = ("name", "action", "reason", *_WATERMARK_KEYS)


def parse_rules(raw: Any, section: str = "rules") -> tuple[Rule, ...]:
    """``raw`` is the TOML value of ``rules`` (a list of tables)."""
    if not isinstance(raw, list):
        raise ConfigError(f"{section}: expected an array of tables ([[{section}]])")
    rules = tuple(parse_rule(item, f"{section}[{i}]", section) for i, item in enumerate(raw))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{section}: duplicate rule name(s) {', '.join(duplicates)}")
    return rules


def parse_rule(raw: Any, where: str, section: str = "rules") -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problem = "missing name" if name is None else "name must be letters, digits, '_', '.', '-'"
        raise ConfigError(f"{where}: {problem}")
    prefix = f"{section}.{name}"
    unknown = set(raw) - set(_ACTION_KEYS) - set(_MATCH_KEYS) - set(_CONDITIONS)
    if unknown:
        raise ConfigError(f"{prefix}: unknown key(s) {', '.join(sorted(unknown))}")
    return Rule(
        name=name,
        action=_action(prefix, raw),
        match=_match(prefix, raw),
        condition=_condition(prefix, raw),
    )


# --- actions ------------------------------------------------------------------------------------


def _action(prefix: str, raw: Mapping[str, Any]) -> Action:
    if "action" not in raw:
        raise ConfigError(f"{prefix}: missing action")
    text = expect_string(f"{prefix}.action", raw["action"])
    try:
        kind = ActionKind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in ActionKind)
        raise ConfigError(f"{prefix}.action: {text!r} is not one of {kinds}") from None
    reason = expect_string(f"{prefix}.reason", raw.get("reason", ""))
    if reason and kind not in (ActionKind.HOLD, ActionKind.DENY):
        raise ConfigError(f"{prefix}.reason: only a hold or deny rule shows a reason")
    return Action(kind, reason=reason, watermark=_watermark(prefix, kind, raw))


def _watermark(prefix: str, kind: ActionKind, raw: Mapping[str, Any]) -> Watermark | None:
    key = f"{prefix}.watermark"
    if kind is not ActionKind.WATERMARK:
        for name in _WATERMARK_KEYS:
            if name in raw:
                raise ConfigError(f'{prefix}.{name}: only for action = "watermark"')
        return None
    if "watermark" not in raw:
        raise ConfigError(f'{key}: needed when action = "watermark"')
    text = expect_string(key, raw["watermark"])
    if not text.strip():
        raise ConfigError(f"{key}: the watermark text is empty")
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc} (write {{{{ and }}}} for literal braces)") from None
    unknown = fields - WATERMARK_FIELDS
    if unknown:
        allowed = " ".join(f"{{{f}}}" for f in sorted(WATERMARK_FIELDS))
        bad = ", ".join(repr(f) for f in sorted(unknown))
        raise ConfigError(f"{key}: unknown placeholder(s) {bad}; use {allowed}")
    return Watermark(text, _position(prefix, raw), _opacity(prefix, raw))


def _position(prefix: str, raw: Mapping[str, Any]) -> str:
    key = f"{prefix}.watermark_position"
    position = expect_string(key, raw.get("watermark_position", "diagonal"))
    if position not in WATERMARK_POSITIONS:
        raise ConfigError(f"{key}: {position!r} is not one of {', '.join(WATERMARK_POSITIONS)}")
    return position


def _opacity(prefix: str, raw: Mapping[str, Any]) -> float:
    key = f"{prefix}.watermark_opacity"
    value = raw.get("watermark_opacity", 0.3)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number, got {type_name(value)}")
    if not (math.isfinite(value) and 0.05 <= value <= 1):
        raise ConfigError(f"{key}: must be from 0.05 to 1, not {value}")
    return float(value)


# --- match --------------------------------------------------------------------------------------


def _match(prefix: str, raw: Mapping[str, Any]) -> Match:
    return Match(
        users=expect_names(f"{prefix}.users", raw.get("users", [])),
        groups=expect_names(f"{prefix}.groups", raw.get("groups", [])),
        queues=expect_names(f"{prefix}.queues", raw.get("queues", [])),
        destinations=expect_names(f"{prefix}.destinations", raw.get("destinations", [])),
        formats=_formats(f"{prefix}.formats", raw.get("formats", [])),
        windows=_windows(f"{prefix}.when", raw["when"]) if "when" in raw else (),
    )


# --- conditions ---------------------------------------------------------------------------------


def _condition(prefix: str, raw: Mapping[str, Any]) -> Condition:
    given = [key for key in _CONDITIONS if key in raw]
    if len(given) > 1:
        raise ConfigError(f"{prefix}: one condition per rule, not {', '.join(given)}")
    if not given:
        return Always()
    key = given[0]
    return _CONDITIONS[key](f"{prefix}.{key}", raw[key])


def _max_pages(key: str, value: Any) -> Condition:
    return MaxPages(expect_integer(key, value, least=0))


def _max_copies(key: str, value: Any) -> Condition:
    return MaxCopies(expect_integer(key, value, least=1))


def _allowed_formats(key: str, value: Any) -> Condition:
    formats = _formats(key, value)
    if not formats:
        raise ConfigError(f"{key}: name at least one format")
    return AllowedFormats(formats)


def _color(key: str, value: Any) -> Condition:
    _true(key, value)
    return ColorPages()


def _within(key: str, value: Any) -> Condition:
    return TimeCondition(_windows(key, value), outside=False)


def _outside(key: str, value: Any) -> Condition:
    return TimeCondition(_windows(key, value), outside=True)


def _rate_limit(key: str, value: Any) -> Condition:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table like {{ jobs = 10, minutes = 5 }}")
    unknown = set(value) - {"jobs", "minutes"}
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {', '.join(sorted(unknown))}")
    for needed in ("jobs", "minutes"):
        if needed not in value:
            raise ConfigError(f"{key}: missing {needed}")
    jobs = expect_integer(f"{key}.jobs", value["jobs"], least=1)
    return RateLimit(jobs, _minutes(f"{key}.minutes", value["minutes"]))


def _duplicate(key: str, value: Any) -> Condition:
    return DuplicateWithin(_minutes(key, value))


def _balance_below_cost(key: str, value: Any) -> Condition:
    _true(key, value)
    return BalanceBelowCost()


_CONDITIONS: dict[str, Callable[[str, Any], Condition]] = {
    "max_pages": _max_pages,
    "max_copies": _max_copies,
    "allowed_formats": _allowed_formats,
    "color": _color,
    "within": _within,
    "outside": _outside,
    "rate_limit": _rate_limit,
    "duplicate_within_minutes": _duplicate,
    "balance_below_cost": _balance_below_cost,
}


# --- values -------------------------------------------------------------------------------------


def _formats(key: str, value: Any) -> tuple[str, ...]:
    formats = expect_names(key, value)
    for mime in formats:
        kind, slash, sub = mime.partition("/")
        if not slash or not kind or not sub or kind == "*":
            raise ConfigError(f"{key}: {mime!r} is not a MIME type like application/pdf")
    return formats


def _windows(key: str, value: Any) -> tuple[TimeWindow, ...]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ConfigError(f"{key}: expected a time window or a non-empty array of them")
    try:
        return tuple(parse_window(text) for text in texts)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _minutes(key: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected a number of minutes, got {type_name(value)}")
    if not (math.isfinite(value) and 0 < value <= MAX_MINUTES):
        raise ConfigError(f"{key}: must be more than 0 and at most {MAX_MINUTES} minutes")
    return float(value)


def _true(key: str, value: Any) -> None:
    if value is not True:
        raise ConfigError(f"{key}: the only meaningful value is true (omit the key instead)")
