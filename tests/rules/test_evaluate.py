"""evaluate: every condition, every action, matching, ordering, accumulation, messages."""

from __future__ import annotations

import pytest

from printhost.accounting.money import Money
from printhost.rules import Verdict, evaluate, history_seconds
from printhost.rules.evaluate import MAX_MESSAGE_OCTETS, explain, matches
from printhost.rules.model import (
    ActionKind,
    AllowedFormats,
    Always,
    BalanceBelowCost,
    ColorPages,
    Condition,
    DuplicateWithin,
    JobFacts,
    Match,
    MaxCopies,
    MaxPages,
    RateLimit,
    Recent,
    TimeCondition,
    Watermark,
)
from printhost.rules.windows import parse_window
from rules.factories import at, facts, rule

K = ActionKind
OFFICE = (parse_window("Mon-Fri 08:00-18:00"),)
NOW = facts().submitted_at

# --- conditions: (condition, facts that fire it with the explanation, facts that do not) ---

CASES: list[tuple[Condition, JobFacts, str, JobFacts]] = [
    (MaxPages(200), facts(pages=250), "250 pages > 200", facts(pages=200)),
    (
        MaxPages(200),
        facts(pages=125, copies=2),
        "250 pages (125 x 2 copies) > 200",
        facts(pages=100, copies=2),
    ),
    (MaxCopies(10), facts(copies=12), "12 copies > 10", facts(copies=10)),
    (
        AllowedFormats(("application/pdf", "image/*")),
        facts(document_format="application/postscript"),
        "format application/postscript is not allowed",
        facts(document_format="image/png"),
    ),
    (
        AllowedFormats(("application/pdf",)),
        facts(document_format=""),
        "format unknown is not allowed",
        facts(document_format="APPLICATION/PDF"),
    ),
    (ColorPages(), facts(color_pages=3), "3 colour pages", facts(color_pages=0)),
    (ColorPages(), facts(color_pages=1), "1 colour page", facts(pages=0, color_pages=0)),
    (
        TimeCondition(OFFICE, outside=True),
        facts(submitted_at=at(5, 10)),
        "outside Mon-Fri 08:00-18:00 UTC",
        facts(submitted_at=at(0, 10)),
    ),
    (
        TimeCondition((*OFFICE, parse_window("Sat 09:00-13:00")), outside=True),
        facts(submitted_at=at(5, 14)),
        "outside Mon-Fri 08:00-18:00, Sat 09:00-13:00 UTC",
        facts(submitted_at=at(5, 12)),
    ),
    (
        TimeCondition((parse_window("Sat,Sun"),)),
        facts(submitted_at=at(6, 3)),
        "inside Sat,Sun UTC",
        facts(submitted_at=at(4, 23, 59)),
    ),
    (
        RateLimit(3, 5),
        facts(recent=Recent(submissions=(NOW - 10, NOW - 100, NOW - 299))),
        "3 jobs in the last 5 minutes (limit 3)",
        facts(recent=Recent(submissions=(NOW - 10, NOW - 100, NOW - 300))),
    ),
    (
        RateLimit(1, 0.5),
        facts(recent=Recent(submissions=(NOW - 1,))),
        "1 job in the last 0.5 minutes (limit 1)",
        facts(recent=Recent(submissions=(NOW + 1,))),  # a later job is not history
    ),
    (
        DuplicateWithin(10),
        facts(recent=Recent(same_document_within=150.0)),
        "the same document was printed 2 minutes ago",
        facts(recent=Recent(same_document_within=600.5)),
    ),
    (
        DuplicateWithin(10),
        facts(recent=Recent(same_document_within=0.0)),
        "the same document was printed less than a minute ago",
        facts(recent=Recent(same_document_within=None)),
    ),
    (
        BalanceBelowCost(),
        facts(cost=Money(120), balance_available=Money(40)),
        "balance 0.40 < cost 1.20",
        facts(cost=Money(120), balance_available=Money(120)),
    ),
    (
        BalanceBelowCost(),
        facts(cost=Money(1), balance_available=Money(-250)),
        "balance -2.50 < cost 0.01",
        facts(cost=None, balance_available=Money(-250)),
    ),
    (
        BalanceBelowCost(),
        facts(cost=Money(120), balance_available=Money(0)),
        "balance 0.00 < cost 1.20",
        facts(cost=Money(120), balance_available=None),
    ),
    (Always(), facts(), "", facts()),  # the "does not fire" half is skipped below
]


@pytest.mark.parametrize(("condition", "firing", "why", "quiet"), CASES)
def test_each_condition_explains_why_it_fires(
    condition: Condition, firing: JobFacts, why: str, quiet: JobFacts
) -> None:
    assert explain(condition, firing) == why
    if not isinstance(condition, Always):
        assert explain(condition, quiet) is None


# --- actions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "reason", "verdict", "message"),
    [
        (K.ALLOW, "", Verdict.ALLOW, "allowed by rule 'r': 3 colour pages"),
        (K.HOLD, "", Verdict.HOLD, "held by rule 'r': 3 colour pages"),
        (
            K.HOLD,
            "release it at the printer",
            Verdict.HOLD,
            "held by rule 'r': release it at the printer (3 colour pages)",
        ),
        (K.DENY, "", Verdict.DENY, "denied by rule 'r': 3 colour pages"),
        (
            K.DENY,
            "colour is for staff",
            Verdict.DENY,
            "denied by rule 'r': colour is for staff (3 colour pages)",
        ),
        (K.GRAYSCALE, "", Verdict.ALLOW, "printed in grayscale by rule 'r': 3 colour pages"),
        (K.DUPLEX, "", Verdict.ALLOW, "printed two-sided by rule 'r': 3 colour pages"),
        (K.REQUIRE_ACCOUNT, "", Verdict.ALLOW, "account required by rule 'r': 3 colour pages"),
        (K.WATERMARK, "", Verdict.ALLOW, "watermarked by rule 'r': 3 colour pages"),
    ],
)
def test_each_action(kind: ActionKind, reason: str, verdict: Verdict, message: str) -> None:
    text = "{user}" if kind is K.WATERMARK else ""
    judgement = evaluate(
        [rule("r", kind, ColorPages(), reason=reason, text=text)], facts(color_pages=3)
    )
    assert judgement.verdict is verdict
    assert [f.message for f in judgement.fired] == [message]
    assert judgement.message == message
    assert judgement.grayscale is (kind is K.GRAYSCALE)
    assert judgement.duplex is (kind is K.DUPLEX)
    assert judgement.require_account is (kind is K.REQUIRE_ACCOUNT)
    assert judgement.watermarks == ((Watermark(text),) if kind is K.WATERMARK else ())
    assert (judgement.deciding is not None) is (kind in (K.ALLOW, K.HOLD, K.DENY))


def test_messages_without_a_condition() -> None:
    assert evaluate([rule("everyone", K.DUPLEX)], facts()).message == (
        "printed two-sided by rule 'everyone'"
    )
    assert evaluate([rule("closed", K.DENY, reason="closed today")], facts()).message == (
        "denied by rule 'closed': closed today"
    )
    assert evaluate([rule("closed", K.DENY)], facts()).message == "denied by rule 'closed'"


def test_the_issue_examples() -> None:
    rules = [
        rule("max-pages", K.DENY, MaxPages(200)),
        rule("low-balance", K.HOLD, BalanceBelowCost()),
        rule("colour-needs-release", K.HOLD, ColorPages()),
    ]
    too_long = evaluate(rules, facts(pages=250))
    assert too_long.message == "denied by rule 'max-pages': 250 pages > 200"
    poor = evaluate(rules, facts(balance_available=Money(40), cost=Money(120)))
    assert poor.message == "held by rule 'low-balance': balance 0.40 < cost 1.20"
    colour = evaluate(rules, facts(color_pages=3))
    assert colour.message == "held by rule 'colour-needs-release': 3 colour pages"


# --- ordering and accumulation -----------------------------------------------------------


def test_nothing_fires_the_job_is_allowed_by_default() -> None:
    judgement = evaluate([rule("big", K.DENY, MaxPages(1000))], facts())
    assert judgement.verdict is Verdict.ALLOW
    assert judgement.fired == ()
    assert judgement.deciding is None
    assert judgement.message == ""
    assert evaluate([], facts()).verdict is Verdict.ALLOW


def test_the_first_terminal_rule_wins() -> None:
    rules = [
        rule("colour-hold", K.HOLD, ColorPages()),
        rule("colour-deny", K.DENY, ColorPages()),
    ]
    judgement = evaluate(rules, facts(color_pages=1))
    assert judgement.verdict is Verdict.HOLD
    assert [f.rule for f in judgement.fired] == ["colour-hold"]
    assert evaluate(list(reversed(rules)), facts(color_pages=1)).verdict is Verdict.DENY


def test_an_allow_rule_ends_evaluation() -> None:
    rules = [
        rule("admins", K.ALLOW, match=Match(users=("root",))),
        rule("max-pages", K.DENY, MaxPages(10)),
    ]
    assert evaluate(rules, facts(user="root", pages=50)).verdict is Verdict.ALLOW
    assert evaluate(rules, facts(user="alice", pages=50)).verdict is Verdict.DENY


def test_modifying_actions_accumulate_until_a_terminal_one() -> None:
    rules = [
        rule("mono", K.GRAYSCALE, ColorPages()),
        rule("skipped", K.DUPLEX, MaxPages(1000)),  # does not fire
        rule("stamp", K.WATERMARK, text="{user} {date}"),
        rule("account", K.REQUIRE_ACCOUNT),
        rule("stamp-2", K.WATERMARK, text="job {job_id}"),
        rule("low-balance", K.HOLD, BalanceBelowCost()),
        rule("after", K.DUPLEX),  # after the terminal rule: never tried
    ]
    judgement = evaluate(rules, facts(color_pages=2, balance_available=Money(40)))
    assert judgement.verdict is Verdict.HOLD
    assert [f.rule for f in judgement.fired] == [
        "mono", "stamp", "account", "stamp-2", "low-balance",
    ]  # fmt: skip
    assert judgement.grayscale and judgement.require_account and not judgement.duplex
    assert judgement.watermarks == (Watermark("{user} {date}"), Watermark("job {job_id}"))
    assert judgement.deciding is not None and judgement.deciding.rule == "low-balance"
    assert judgement.message == (
        "held by rule 'low-balance': balance 0.40 < cost 1.20; "
        "printed in grayscale by rule 'mono': 2 colour pages; "
        "watermarked by rule 'stamp'; account required by rule 'account'; "
        "watermarked by rule 'stamp-2'"
    )


def test_without_a_terminal_rule_the_modifications_still_apply() -> None:
    judgement = evaluate([rule("d", K.DUPLEX, MaxPages(5))], facts(pages=6))
    assert judgement.verdict is Verdict.ALLOW and judgement.duplex
    assert judgement.deciding is None
    assert judgement.message == "printed two-sided by rule 'd': 6 pages > 5"


def test_the_firing_records_action_and_why() -> None:
    (firing,) = evaluate([rule("big", K.DENY, MaxCopies(2))], facts(copies=3)).fired
    assert (firing.rule, firing.action, firing.why) == ("big", K.DENY, "3 copies > 2")


def test_a_long_message_is_cut_to_text_max() -> None:
    rules = [rule(f"stamp-{i}", K.WATERMARK, text="é") for i in range(100)]
    message = evaluate(rules, facts()).message
    assert len(message.encode("utf-8")) <= MAX_MESSAGE_OCTETS
    assert message.endswith("…")
    assert message.startswith("watermarked by rule 'stamp-0'; ")


# --- matching --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "applies"),
    [
        (Match(), True),
        (Match(users=("alice", "bob")), True),
        (Match(users=("bob",)), False),
        (Match(groups=("students", "staff")), True),
        (Match(groups=("students",)), False),
        (Match(queues=("myprinter",)), True),
        (Match(queues=("other",)), False),
        (Match(destinations=("office",)), True),
        (Match(destinations=("colour-pool",)), False),
        (Match(formats=("application/*",)), True),
        (Match(formats=("image/*",)), False),
        (Match(windows=OFFICE), True),  # Monday 10:00
        (Match(windows=(parse_window("Sat,Sun"),)), False),
        (Match(users=("alice",), groups=("staff",), queues=("myprinter",)), True),
        (Match(users=("alice",), groups=("students",)), False),  # every field must match
    ],
)
def test_match(match: Match, applies: bool) -> None:
    assert matches(match, facts()) is applies
    fired = evaluate([rule("r", K.HOLD, match=match)], facts()).verdict is Verdict.HOLD
    assert fired is applies


def test_a_destination_match_needs_a_known_destination() -> None:
    assert not matches(Match(destinations=("office",)), facts(destination=""))


def test_a_user_without_groups_matches_no_group_rule() -> None:
    assert not matches(Match(groups=("staff",)), facts(groups=()))


def test_a_rule_limited_to_office_hours() -> None:
    rules = [rule("daytime-colour", K.HOLD, ColorPages(), match=Match(windows=OFFICE))]
    assert evaluate(rules, facts(color_pages=1, submitted_at=at(2, 9))).verdict is Verdict.HOLD
    assert evaluate(rules, facts(color_pages=1, submitted_at=at(2, 19))).verdict is Verdict.ALLOW


# --- history -----------------------------------------------------------------------------------


def test_history_seconds_covers_the_longest_look_back() -> None:
    assert history_seconds([]) == 0
    assert history_seconds([rule("a", K.DENY, MaxPages(1))]) == 0
    rules = [rule("a", K.HOLD, RateLimit(5, 10)), rule("b", K.HOLD, DuplicateWithin(30))]
    assert history_seconds(rules) == 1800


# --- invalid facts and rules are refused at construction ---------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"pages": -1}, "pages cannot be negative"),
        ({"color_pages": 11}, "color_pages .11. exceed pages .10."),
        ({"copies": 0}, "copies must be at least 1"),
        ({"submitted_at": float("nan")}, "submitted_at must be a finite time"),
        ({"recent": Recent(same_document_within=-1.0)}, "same_document_within must be >= 0"),
    ],
)
def test_invalid_facts(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        facts(**changes)


@pytest.mark.parametrize(
    "build",
    [
        lambda: MaxPages(-1),
        lambda: MaxCopies(0),
        lambda: RateLimit(0, 5),
        lambda: RateLimit(1, 0),
        lambda: DuplicateWithin(float("inf")),
        lambda: DuplicateWithin(31 * 24 * 60 + 1),
    ],
)
def test_invalid_conditions(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
