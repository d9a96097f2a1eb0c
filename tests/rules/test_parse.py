"""parse_rules: the documented TOML format, and errors naming the rule and key."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from printhost.config import ConfigError
from printhost.rules import parse
from printhost.rules.model import (
    WATERMARK_POSITIONS,
    Action,
    ActionKind,
    AllowedFormats,
    Always,
    BalanceBelowCost,
    ColorPages,
    DuplicateWithin,
    Match,
    MaxCopies,
    MaxPages,
    RateLimit,
    Rule,
    TimeCondition,
    Watermark,
)
from printhost.rules.parse import parse_rules
from printhost.rules.windows import parse_window

K = ActionKind


def _docstring_example() -> str:
    doc = parse.__doc__ or ""
    example = doc.split("Example::", 1)[1].split("Every mistake", 1)[0]
    return "\n".join(line.removeprefix("    ") for line in example.splitlines())


def test_the_documented_example_parses() -> None:
    rules = parse_rules(tomllib.loads(_docstring_example())["rules"])
    assert rules == (
        Rule(
            "max-pages",
            Action(K.DENY, reason="large jobs go to the print room"),
            Match(),
            MaxPages(200),
        ),
        Rule("students-mono", Action(K.GRAYSCALE), Match(groups=("students",)), ColorPages()),
        Rule("low-balance", Action(K.HOLD), Match(), BalanceBelowCost()),
        Rule(
            "night",
            Action(K.DENY, reason="the printers sleep at night"),
            Match(),
            TimeCondition(
                (parse_window("Mon-Fri 07:00-20:00"), parse_window("Sat 09:00-13:00")),
                outside=True,
            ),
        ),
    )


def test_every_key() -> None:
    text = """
    [[rules]]
    name = "everything"
    action = "watermark"
    watermark = "{user} {account} {queue} {job_id} {time} {date} {{literal}}"
    users = ["alice"]
    groups = ["staff"]
    queues = ["myprinter"]
    destinations = ["office"]
    formats = ["application/pdf", "image/*"]
    when = "Mon-Fri 08:00-18:00"
    rate_limit = { jobs = 10, minutes = 2.5 }
    """
    (rule,) = parse_rules(tomllib.loads(text)["rules"])
    stamp = Watermark("{user} {account} {queue} {job_id} {time} {date} {{literal}}")
    assert rule.action == Action(K.WATERMARK, watermark=stamp)
    assert rule.match == Match(
        users=("alice",),
        groups=("staff",),
        queues=("myprinter",),
        destinations=("office",),
        formats=("application/pdf", "image/*"),
        windows=(parse_window("Mon-Fri 08:00-18:00"),),
    )
    assert rule.condition == RateLimit(10, 2.5)


@pytest.mark.parametrize(
    ("keys", "condition"),
    [
        ({}, Always()),
        ({"max_pages": 0}, MaxPages(0)),
        ({"max_copies": 5}, MaxCopies(5)),
        ({"allowed_formats": ["application/pdf"]}, AllowedFormats(("application/pdf",))),
        ({"color": True}, ColorPages()),
        ({"within": "Sat,Sun"}, TimeCondition((parse_window("Sat,Sun"),))),
        ({"outside": ["22:00-06:00"]}, TimeCondition((parse_window("22:00-06:00"),), True)),
        ({"rate_limit": {"jobs": 3, "minutes": 1}}, RateLimit(3, 1.0)),
        ({"duplicate_within_minutes": 10}, DuplicateWithin(10.0)),
        ({"balance_below_cost": True}, BalanceBelowCost()),
    ],
)
def test_each_condition(keys: dict[str, Any], condition: object) -> None:
    (rule,) = parse_rules([{"name": "r", "action": "hold", **keys}])
    assert rule.condition == condition


@pytest.mark.parametrize("kind", list(K))
def test_each_action(kind: ActionKind) -> None:
    extra = {"watermark": "draft"} if kind is K.WATERMARK else {}
    (rule,) = parse_rules([{"name": "r", "action": kind.value, **extra}])
    assert rule.action.kind is kind


def test_order_is_kept_and_no_rules_is_fine() -> None:
    rules = parse_rules([{"name": n, "action": "allow"} for n in ("c", "a", "b")])
    assert [r.name for r in rules] == ["c", "a", "b"]
    assert parse_rules([]) == ()


R = {"name": "r", "action": "deny"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "r"}, "rules: expected an array of tables ([[rules]])"),
        (["r"], "rules[0]: expected a table"),
        ([R, {"action": "deny"}], "rules[1]: missing name"),
        ([{"name": 3, "action": "deny"}], "rules[0]: name must be letters"),
        ([{"name": "a b", "action": "deny"}], "rules[0]: name must be letters"),
        ([R, R], "rules: duplicate rule name(s) r"),
        ([{"name": "r"}], "rules.r: missing action"),
        ([{**R, "action": "print"}], "rules.r.action: 'print' is not one of allow, hold, deny"),
        ([{**R, "action": 1}], "rules.r.action: expected a string, got int"),
        ([{**R, "colour": True}], "rules.r: unknown key(s) colour"),
        ([{**R, "reason": 5}], "rules.r.reason: expected a string, got int"),
        (
            [{**R, "action": "duplex", "reason": "x"}],
            "rules.r.reason: only a hold or deny rule shows a reason",
        ),
        ([{**R, "watermark": "x"}], 'rules.r.watermark: only for action = "watermark"'),
        ([{**R, "action": "watermark"}], 'rules.r.watermark: needed when action = "watermark"'),
        ([{**R, "action": "watermark", "watermark": " "}], "rules.r.watermark: the watermark"),
        (
            [{**R, "action": "watermark", "watermark": "{user} {password}"}],
            "rules.r.watermark: unknown placeholder(s) 'password'; use {account}",
        ),
        (
            [{**R, "action": "watermark", "watermark": "{user"}],
            "rules.r.watermark: expected '}' before end of string",
        ),
        ([{**R, "users": "alice"}], "rules.r.users: expected an array of strings"),
        ([{**R, "groups": [1]}], "rules.r.groups: expected an array of strings"),
        ([{**R, "queues": [""]}], "rules.r.queues: an empty name matches nothing"),
        ([{**R, "destinations": {}}], "rules.r.destinations: expected an array of strings"),
        ([{**R, "formats": ["pdf"]}], "rules.r.formats: 'pdf' is not a MIME type"),
        ([{**R, "formats": ["*/*"]}], "rules.r.formats: '*/*' is not a MIME type"),
        ([{**R, "when": []}], "rules.r.when: expected a time window or a non-empty array"),
        ([{**R, "when": "Mon 9-5"}], "rules.r.when: 'Mon 9-5': '9-5' is not a time range"),
        (
            [{**R, "max_pages": 10, "color": True}],
            "rules.r: one condition per rule, not max_pages, color",
        ),
        ([{**R, "max_pages": "10"}], "rules.r.max_pages: expected an integer, got str"),
        ([{**R, "max_pages": True}], "rules.r.max_pages: expected an integer, got bool"),
        ([{**R, "max_pages": -1}], "rules.r.max_pages: must be at least 0, not -1"),
        ([{**R, "max_copies": 0}], "rules.r.max_copies: must be at least 1, not 0"),
        ([{**R, "allowed_formats": []}], "rules.r.allowed_formats: name at least one format"),
        ([{**R, "allowed_formats": "a/b"}], "rules.r.allowed_formats: expected an array"),
        ([{**R, "color": False}], "rules.r.color: the only meaningful value is true"),
        ([{**R, "balance_below_cost": 1}], "rules.r.balance_below_cost: the only meaningful"),
        ([{**R, "within": "Xmas"}], "rules.r.within: 'Xmas' is not a day"),
        ([{**R, "outside": ["08:00-08:00"]}], "rules.r.outside: '08:00-08:00': the window"),
        ([{**R, "rate_limit": 5}], "rules.r.rate_limit: expected a table like"),
        ([{**R, "rate_limit": {"jobs": 5}}], "rules.r.rate_limit: missing minutes"),
        (
            [{**R, "rate_limit": {"jobs": 5, "minutes": 1, "per": "user"}}],
            "rules.r.rate_limit: unknown key(s) per",
        ),
        (
            [{**R, "rate_limit": {"jobs": 0, "minutes": 1}}],
            "rules.r.rate_limit.jobs: must be at least 1, not 0",
        ),
        (
            [{**R, "rate_limit": {"jobs": 1, "minutes": "1"}}],
            "rules.r.rate_limit.minutes: expected a number of minutes, got str",
        ),
        (
            [{**R, "duplicate_within_minutes": 0}],
            "rules.r.duplicate_within_minutes: must be more than 0 and at most 44640 minutes",
        ),
        (
            [{**R, "duplicate_within_minutes": float("nan")}],
            "rules.r.duplicate_within_minutes: must be more than 0",
        ),
    ],
)
def test_errors_name_the_rule_and_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_rules(raw)
    assert str(raised.value).startswith(message), str(raised.value)


def test_watermark_position_and_opacity() -> None:
    raw = {"name": "w", "action": "watermark", "watermark": "{user}"}
    (rule,) = parse_rules([{**raw, "watermark_position": "top", "watermark_opacity": 0.5}])
    assert rule.action.watermark == Watermark("{user}", "top", 0.5)
    (default,) = parse_rules([raw])
    assert default.action.watermark == Watermark("{user}", "diagonal", 0.3)
    errors = [
        ({"watermark_position": "left"}, "rules.w.watermark_position: 'left' is not one of"),
        ({"watermark_opacity": 0}, "rules.w.watermark_opacity: must be from 0.05 to 1, not 0"),
        ({"watermark_opacity": "x"}, "rules.w.watermark_opacity: expected a number, got str"),
    ]
    for extra, message in errors:
        with pytest.raises(ConfigError, match=message):
            parse_rules([{**raw, **extra}])
    with pytest.raises(
        ConfigError, match=r'rules\.d\.watermark_opacity: only for action = "watermark"'
    ):
        parse_rules([{"name": "d", "action": "deny", "watermark_opacity": 0.5}])


def test_watermark_positions_are_the_stampers() -> None:
    from printhost.modify.watermark import POSITIONS

    assert set(WATERMARK_POSITIONS) == set(POSITIONS)
