"""Properties of evaluate over arbitrary facts and rule lists: it never raises, a denial
always says why, and the fired list explains the verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.accounting.money import Money
from printhost.rules import Judgement, Verdict, evaluate
from printhost.rules.model import (
    MAX_MINUTES,
    TERMINAL_ACTIONS,
    Action,
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
    Rule,
    TimeCondition,
    Watermark,
)
from printhost.rules.windows import TimeWindow

NAMES = st.sampled_from(["alice", "bob", "staff", "students", "myprinter", "office", ""])
FORMATS = st.sampled_from(["application/pdf", "image/png", "image/*", "text/plain", ""])
TIMES = st.floats(allow_nan=False, allow_infinity=False)
MINUTES = st.floats(min_value=0.001, max_value=MAX_MINUTES, allow_nan=False)
MONEY = st.none() | st.builds(Money, st.integers(-(10**9), 10**9))


@st.composite
def job_facts(draw: st.DrawFn) -> JobFacts:
    pages = draw(st.integers(0, 10**7))
    impressions = draw(st.integers(0, 10**8))
    return JobFacts(
        user=draw(NAMES),
        groups=tuple(draw(st.lists(NAMES, max_size=3))),
        queue=draw(NAMES),
        destination=draw(NAMES),
        document_format=draw(FORMATS | st.text(max_size=20)),
        pages=pages,
        color_pages=draw(st.integers(0, pages)),
        impressions=impressions,
        color_impressions=draw(st.integers(0, impressions)),
        sheets=draw(st.integers(0, 10**8)),
        copies=draw(st.integers(1, 10**6)),
        sides=draw(st.sampled_from(["one-sided", "two-sided-long-edge"])),
        print_color_mode=draw(st.sampled_from(["auto", "color", "monochrome"])),
        document_sha256=draw(st.text(alphabet="0123456789abcdef", max_size=64)),
        submitted_at=draw(TIMES),
        cost=draw(MONEY),
        balance_available=draw(MONEY),
        account=draw(st.none() | NAMES),
        recent=Recent(
            submissions=tuple(draw(st.lists(TIMES, max_size=20))),
            same_document_within=draw(
                st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False)
            ),
        ),
    )


WINDOWS = st.builds(
    TimeWindow,
    st.text(max_size=10),
    st.frozensets(st.integers(0, 6)),
    st.integers(0, 1439),
    st.integers(1, 1440),
)

CONDITIONS: st.SearchStrategy[Condition] = st.one_of(
    st.just(Always()),
    st.builds(MaxPages, st.integers(0, 10**6)),
    st.builds(MaxCopies, st.integers(1, 1000)),
    st.builds(AllowedFormats, st.tuples(FORMATS)),
    st.just(ColorPages()),
    st.builds(TimeCondition, st.tuples(WINDOWS), st.booleans()),
    st.builds(RateLimit, st.integers(1, 50), MINUTES),
    st.builds(DuplicateWithin, MINUTES),
    st.just(BalanceBelowCost()),
)

ACTIONS = st.builds(
    Action,
    st.sampled_from(list(ActionKind)),
    st.text(max_size=30),
    st.builds(Watermark, st.sampled_from(["{user}", "draft", "job {job_id} {date}"])),
)

MATCHES = st.builds(
    Match,
    users=st.tuples() | st.tuples(NAMES),
    groups=st.tuples() | st.tuples(NAMES),
    queues=st.tuples() | st.tuples(NAMES),
    destinations=st.tuples() | st.tuples(NAMES),
    formats=st.tuples() | st.tuples(FORMATS),
    windows=st.tuples() | st.tuples(WINDOWS),
)

RULES = st.lists(
    st.builds(Rule, st.text(min_size=1, max_size=20), ACTIONS, MATCHES, CONDITIONS),
    max_size=8,
)

_VERDICT_OF = {ActionKind.ALLOW: Verdict.ALLOW, ActionKind.HOLD: Verdict.HOLD,
               ActionKind.DENY: Verdict.DENY}  # fmt: skip


@settings(max_examples=500)
@given(RULES, job_facts())
def test_evaluate_never_raises_and_the_fired_list_explains_the_verdict(
    rules: list[Rule], facts: JobFacts
) -> None:
    judgement = evaluate(rules, facts)
    _check_explained(judgement, rules)


@given(RULES, job_facts())
def test_a_denial_always_carries_a_reason(rules: list[Rule], facts: JobFacts) -> None:
    judgement = evaluate(rules, facts)
    if judgement.verdict is not Verdict.ALLOW:
        assert judgement.deciding is not None
        assert judgement.message.startswith(judgement.deciding.message[:900])
        assert f"by rule '{judgement.deciding.rule}'" in judgement.message


@given(RULES, job_facts())
def test_evaluate_is_pure(rules: list[Rule], facts: JobFacts) -> None:
    assert evaluate(rules, facts) == evaluate(tuple(rules), facts)


def _check_explained(judgement: Judgement, rules: list[Rule]) -> None:
    fired = judgement.fired
    names = [rule.name for rule in rules]
    # Fired rules appear in rule order, and only modifying ones before the last.
    positions = [names.index(f.rule) for f in fired]
    assert positions == sorted(positions) or len(set(names)) != len(names)
    assert all(f.action not in TERMINAL_ACTIONS for f in fired[:-1])
    if fired and fired[-1].action in TERMINAL_ACTIONS:
        assert judgement.deciding == fired[-1]
        assert judgement.verdict is _VERDICT_OF[fired[-1].action]
    else:
        assert judgement.deciding is None
        assert judgement.verdict is Verdict.ALLOW
    # Each modification is there exactly when a firing asked for it.
    kinds = {f.action for f in fired}
    assert judgement.grayscale is (ActionKind.GRAYSCALE in kinds)
    assert judgement.duplex is (ActionKind.DUPLEX in kinds)
    assert judgement.require_account is (ActionKind.REQUIRE_ACCOUNT in kinds)
    assert len(judgement.watermarks) == sum(f.action is ActionKind.WATERMARK for f in fired)
    for firing in fired:
        assert firing.message and f"by rule '{firing.rule}'" in firing.message
        assert firing.why in firing.message
    assert bool(judgement.message) is bool(fired)
    assert len(judgement.message.encode("utf-8")) <= 1023
