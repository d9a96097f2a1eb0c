"""parse_accounting: the documented TOML keys, defaults, errors naming section/entry/key,
and the lookups schedule_for and accounts_for."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from printhost.accounting.costs import FREE, CostSchedule, Rates
from printhost.accounting.money import ZERO, Money
from printhost.accounting.settings import (
    AccountingConfig,
    Allocation,
    AllocationMode,
    CostRule,
    Insufficient,
    Period,
    SharedAccount,
    parse_accounting,
)
from printhost.config import ConfigError

EXAMPLE = """
[accounting]
enabled = true
initial_balance = "5.00"
overdraft = "0.50"
insufficient = "deny"
held_job_expiry_hours = 48
currency = "EUR"

[[costs]]
destinations = ["colour-room", "pool-a"]
mono = "0.05"
color = "0.20"
sheet = "0.01"
duplex_discount_percent = 10
free = false
[costs.media."iso_a3_297x420mm"]
mono = "0.10"
color = "0.40"
sheet = "0.02"

[[costs]]
mono = "0.03"

[[accounts]]
name = "physics"
members = ["alice", "bob"]
groups = ["staff"]
overdraft = "10.00"
owner = "carol"

[[allocations]]
users = ["alice"]
groups = ["students"]
accounts = ["physics"]
amount = "2.00"
period = "daily"
mode = "top-up"
"""


def _parse(text: str) -> AccountingConfig:
    data = tomllib.loads(text)
    return parse_accounting(
        data.get("accounting"), data.get("costs"), data.get("accounts"), data.get("allocations")
    )


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        _parse(text)
    return str(info.value)


def _assert_message(found: str, expected: str) -> None:
    """``expected`` is the whole message, or just the key when it ends with ": " (the
    wording of value errors is tested once, in the money tests)."""
    if expected.endswith(": "):
        assert found.startswith(expected), found
    else:
        assert found == expected


# --- the whole example and the defaults -----------------------------------------------------


def test_the_documented_example() -> None:
    config = _parse(EXAMPLE)
    assert config.enabled is True
    assert config.initial_balance == Money(500)
    assert config.overdraft == Money(50)
    assert config.insufficient is Insufficient.DENY
    assert config.held_job_expiry_seconds == 48 * 3600
    assert config.currency == "EUR"
    base = Rates(Money(5), Money(20), Money(1))
    assert config.costs == (
        CostRule(
            ("colour-room", "pool-a"),
            CostSchedule(
                base,
                by_media={"iso_a3_297x420mm": Rates(Money(10), Money(40), Money(2))},
                duplex_discount_percent=10,
            ),
        ),
        CostRule((), CostSchedule(Rates(mono=Money(3)))),
    )
    assert config.accounts == (
        SharedAccount("physics", ("alice", "bob"), ("staff",), Money(1000), "carol"),
    )
    assert config.allocations == (
        Allocation(
            name="daily-top-up-2.00",
            amount=Money(200),
            period=Period.DAILY,
            mode=AllocationMode.TOP_UP,
            users=("alice",),
            groups=("students",),
            accounts=("physics",),
        ),
    )


def test_every_section_absent_gives_the_defaults() -> None:
    config = parse_accounting(None, None, None, None)
    assert config == AccountingConfig()
    assert config.enabled is False
    assert config.initial_balance == ZERO
    assert config.overdraft == ZERO
    assert config.insufficient is Insufficient.HOLD
    assert config.held_job_expiry_seconds == 24 * 3600
    assert config.currency == ""
    assert (config.costs, config.accounts, config.allocations) == ((), (), ())


def test_an_empty_accounting_table_gives_the_defaults() -> None:
    assert _parse("[accounting]\n") == AccountingConfig()


def test_cost_entry_defaults() -> None:
    config = _parse('[[costs]]\ndestinations = ["p"]\n')
    assert config.costs == (CostRule(("p",), CostSchedule()),)


def test_allocation_name_may_be_given() -> None:
    config = _parse(
        '[[allocations]]\nname = "quota"\nusers = ["a"]\namount = 1\n'
        'period = "weekly"\nmode = "add"\n'
    )
    assert config.allocations[0].name == "quota"
    assert config.allocations[0].amount == Money(100)
    assert config.allocations[0].period is Period.WEEKLY
    assert config.allocations[0].mode is AllocationMode.ADD


def test_reset_to_zero_is_allowed() -> None:
    config = _parse(
        '[[allocations]]\nusers = ["a"]\namount = "0"\nperiod = "monthly"\nmode = "reset"\n'
    )
    assert config.allocations[0].amount == ZERO
    assert config.allocations[0].name == "monthly-reset-0.00"


def test_held_job_expiry_zero_means_never() -> None:
    assert _parse("[accounting]\nheld_job_expiry_hours = 0\n").held_job_expiry_seconds == 0


# --- money values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cents"),
    [('"1.20"', 120), ('"1.2"', 120), ('"0.05"', 5), ('"7"', 700), ("3", 300), ("0", 0)],
)
def test_money_as_string_or_whole_units(value: str, cents: int) -> None:
    assert _parse(f"[accounting]\noverdraft = {value}\n").overdraft == Money(cents)


def test_money_as_float_is_refused() -> None:
    message = _error("[accounting]\noverdraft = 0.05\n")
    assert message.startswith("accounting.overdraft: expected an amount as a string")
    assert message.endswith("got float")


@pytest.mark.parametrize("value", ['"1.234"', '"1,20"', '"abc"', '""', '"1e3"'])
def test_money_that_is_no_amount(value: str) -> None:
    assert _error(f"[accounting]\ninitial_balance = {value}\n").startswith(
        "accounting.initial_balance: "
    )


@pytest.mark.parametrize("value", ['"-1.00"', "-1"])
def test_negative_money_is_refused(value: str) -> None:
    assert _error(f"[accounting]\noverdraft = {value}\n") == (
        "accounting.overdraft: cannot be negative, not -1.00"
    )


def test_money_as_boolean_is_refused() -> None:
    assert _error("[accounting]\noverdraft = true\n").endswith("got bool")


# --- [accounting] errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounting = 1", "accounting: expected a table ([accounting])"),
        ("[accounting]\nbogus = 1", "accounting: unknown key(s) bogus"),
        ("[accounting]\nenabled = 1", "accounting.enabled: expected true or false, got int"),
        (
            '[accounting]\ninsufficient = "queue"',
            "accounting.insufficient: 'queue' is not one of hold | deny",
        ),
        ("[accounting]\ninsufficient = 1", "accounting.insufficient: expected a string, got int"),
        (
            "[accounting]\nheld_job_expiry_hours = 1.5",
            "accounting.held_job_expiry_hours: expected an integer, got float",
        ),
        (
            "[accounting]\nheld_job_expiry_hours = -1",
            "accounting.held_job_expiry_hours: must be at least 0, not -1",
        ),
        (
            "[accounting]\nheld_job_expiry_hours = 1000000",
            "accounting.held_job_expiry_hours: at most 87840 hours (0 = never)",
        ),
        ("[accounting]\ncurrency = 1", "accounting.currency: expected a string, got int"),
    ],
)
def test_accounting_errors(text: str, message: str) -> None:
    assert _error(text) == message


# --- [[costs]] errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("costs = 1", "costs: expected an array of tables ([[costs]])"),
        ("costs = [1]", "costs[0]: expected a table"),
        ("[[costs]]\nprice = 1", "costs[0]: unknown key(s) price"),
        ('[[costs]]\ndestinations = "p"', "costs[0].destinations: expected an array of strings"),
        ('[[costs]]\ndestinations = [""]', "costs[0].destinations: an empty name matches nothing"),
        ('[[costs]]\ndestinations = ["p", "p"]', "costs[0].destinations: p named twice"),
        ("[[costs]]\nmono = 0.05", "costs[0].mono: "),
        ('[[costs]]\ncolor = "x"', "costs[0].color: "),
        ('[[costs]]\nsheet = "-0.01"', "costs[0].sheet: cannot be negative, not -0.01"),
        (
            "[[costs]]\nduplex_discount_percent = 101",
            "costs[0].duplex_discount_percent: must be at most 100, not 101",
        ),
        (
            "[[costs]]\nduplex_discount_percent = -1",
            "costs[0].duplex_discount_percent: must be at least 0, not -1",
        ),
        (
            '[[costs]]\nduplex_discount_percent = "10"',
            "costs[0].duplex_discount_percent: expected an integer, got str",
        ),
        ("[[costs]]\nfree = 1", "costs[0].free: expected true or false, got int"),
        ("[[costs]]\nmedia = 1", "costs[0].media: "),
        ('[[costs]]\n[costs.media."A4 paper"]\nmono = "1"', "costs[0].media.A4 paper: "),
        ("[[costs]]\n[costs.media]\niso_a4_210x297mm = 1", "costs[0].media.iso_a4_210x297mm: "),
        (
            "[[costs]]\n[costs.media.iso_a4_210x297mm]\ndpi = 1",
            "costs[0].media.iso_a4_210x297mm: unknown key(s) dpi",
        ),
        (
            "[[costs]]\n[costs.media.iso_a4_210x297mm]\nmono = 0.5",
            "costs[0].media.iso_a4_210x297mm.mono: ",
        ),
    ],
)
def test_cost_errors(text: str, message: str) -> None:
    _assert_message(_error(text), message)


def test_a_second_default_cost_entry_is_refused() -> None:
    message = _error('[[costs]]\nmono = "1"\n[[costs]]\ndestinations = []\nmono = "2"\n')
    assert message == (
        "costs[1].destinations: a second default schedule (costs[0] has no destinations either)"
    )


def test_a_destination_in_two_cost_entries_is_refused() -> None:
    message = _error('[[costs]]\ndestinations = ["a", "b"]\n[[costs]]\ndestinations = ["b"]\n')
    assert message == "costs[1].destinations: 'b' already has a schedule in costs[0]"


def test_media_rates_left_out_are_the_entry_rates() -> None:
    config = _parse(
        '[[costs]]\nmono = "0.05"\ncolor = "0.20"\nsheet = "0.01"\n'
        '[costs.media.iso_a3_297x420mm]\nmono = "0.10"\n'
    )
    assert config.costs[0].schedule.by_media == {
        "iso_a3_297x420mm": Rates(Money(10), Money(20), Money(1))
    }


def test_check_destinations() -> None:
    config = _parse('[[costs]]\ndestinations = ["p1", "pool"]\n')
    config.check_destinations({"p1", "pool", "p2"})
    with pytest.raises(ConfigError, match=r"^costs\[0\]\.destinations: no printer or pool 'pool'"):
        config.check_destinations({"p1"})


# --- [[accounts]] errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounts = {}", "accounts: expected an array of tables ([[accounts]])"),
        ("accounts = [1]", "accounts[0]: expected a table"),
        ('[[accounts]]\nmembers = ["a"]', "accounts[0]: missing name"),
        (
            '[[accounts]]\nname = "a b"\nmembers = ["a"]',
            "accounts[0].name: must be letters, digits, '_', '.', '-' (max 127)",
        ),
        (
            '[[accounts]]\nname = 1\nmembers = ["a"]',
            "accounts[0].name: must be letters, digits, '_', '.', '-' (max 127)",
        ),
        (
            '[[accounts]]\nname = "revenue"\nmembers = ["a"]',
            "accounts[0].name: 'revenue' is the name of a system account",
        ),
        (
            '[[accounts]]\nname = "funding"\nmembers = ["a"]',
            "accounts[0].name: 'funding' is the name of a system account",
        ),
        (
            '[[accounts]]\nname = "x"\nmembers = ["a"]\nbudget = 1',
            "accounts.x: unknown key(s) budget",
        ),
        (
            '[[accounts]]\nname = "x"\nmembers = "a"',
            "accounts.x.members: expected an array of strings",
        ),
        (
            '[[accounts]]\nname = "x"\ngroups = [1]',
            "accounts.x.groups: expected an array of strings",
        ),
        ('[[accounts]]\nname = "x"\nmembers = ["a"]\noverdraft = 1.5', "accounts.x.overdraft: "),
        ('[[accounts]]\nname = "x"\nowner = 1', "accounts.x.owner: expected a string, got int"),
        (
            '[[accounts]]\nname = "x"\nowner = ""',
            "accounts.x.owner: an empty name is nobody (omit the key instead)",
        ),
        (
            '[[accounts]]\nname = "x"',
            "accounts.x: name members, groups or an owner (nobody could charge it)",
        ),
        (
            '[[accounts]]\nname = "x"\nowner = "c"\n[[accounts]]\nname = "x"\nowner = "d"',
            "accounts: duplicate account name(s) x",
        ),
    ],
)
def test_account_errors(text: str, message: str) -> None:
    _assert_message(_error(text), message)


def test_an_account_with_only_an_owner_or_only_groups() -> None:
    config = _parse(
        '[[accounts]]\nname = "a"\nowner = "c"\n[[accounts]]\nname = "b"\ngroups = ["g"]'
    )
    assert config.accounts == (
        SharedAccount("a", owner="c"),
        SharedAccount("b", groups=("g",)),
    )


# --- [[allocations]] errors -----------------------------------------------------------------

_ALLOC = '[[allocations]]\nusers = ["a"]\namount = "1"\nperiod = "daily"\nmode = "add"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("allocations = 1", "allocations: expected an array of tables ([[allocations]])"),
        ("allocations = [[]]", "allocations[0]: expected a table"),
        (_ALLOC + "every = 1", "allocations[0]: unknown key(s) every"),
        (
            '[[allocations]]\namount = "1"\nperiod = "daily"\nmode = "add"',
            "allocations[0]: name users, groups or accounts to allocate to",
        ),
        (
            '[[allocations]]\nusers = []\ngroups = []\naccounts = []\namount = "1"\n'
            'period = "daily"\nmode = "add"',
            "allocations[0]: name users, groups or accounts to allocate to",
        ),
        (
            '[[allocations]]\nusers = ["a"]\nperiod = "daily"\nmode = "add"',
            "allocations[0]: missing amount",
        ),
        (
            '[[allocations]]\nusers = ["a"]\namount = "1"\nmode = "add"',
            "allocations[0]: missing period",
        ),
        (
            '[[allocations]]\nusers = ["a"]\namount = "1"\nperiod = "daily"',
            "allocations[0]: missing mode",
        ),
        (
            _ALLOC.replace('"daily"', '"hourly"'),
            "allocations[0].period: 'hourly' is not one of daily | weekly | monthly",
        ),
        (
            _ALLOC.replace('"add"', '"set"'),
            "allocations[0].mode: 'set' is not one of add | top-up | reset",
        ),
        (_ALLOC.replace('"1"', "1.5"), "allocations[0].amount: "),
        (_ALLOC.replace('"1"', '"-1"'), "allocations[0].amount: cannot be negative, not -1.00"),
        (_ALLOC.replace('"1"', '"0"'), "allocations[0].amount: add of 0.00 never credits anything"),
        (
            _ALLOC.replace('"1"', '"0"').replace('"add"', '"top-up"'),
            "allocations[0].amount: top-up of 0.00 never credits anything",
        ),
        (_ALLOC.replace('["a"]', '"a"'), "allocations[0].users: expected an array of strings"),
        (_ALLOC + 'groups = [""]', "allocations[0].groups: an empty name matches nothing"),
        (
            _ALLOC + 'accounts = ["chem"]',
            "allocations[0].accounts: no shared account 'chem' in [[accounts]]",
        ),
        (
            _ALLOC + 'name = "bad name"',
            "allocations[0].name: must be letters, digits, '_', '.', '-' (max 127)",
        ),
        (
            _ALLOC + _ALLOC.replace('["a"]', '["b"]'),
            "allocations[1].name: 'daily-add-1.00' is also the name of allocations[0] "
            "(unnamed allocations are called <period>-<mode>-<amount>; give each a distinct "
            "name, or merge them)",
        ),
    ],
)
def test_allocation_errors(text: str, message: str) -> None:
    _assert_message(_error(text), message)


def test_allocations_may_name_shared_accounts_defined_after_them() -> None:
    text = (
        '[[allocations]]\naccounts = ["physics"]\namount = "1"\nperiod = "daily"\n'
        'mode = "add"\n[[accounts]]\nname = "physics"\nowner = "c"\n'
    )
    assert _parse(text).allocations[0].accounts == ("physics",)


def test_named_allocations_may_otherwise_be_alike() -> None:
    text = _ALLOC + 'name = "one"\n' + _ALLOC.replace('["a"]', '["b"]') + 'name = "two"\n'
    assert [a.name for a in _parse(text).allocations] == ["one", "two"]


# --- schedule_for ---------------------------------------------------------------------------

ORDERED = """
[[costs]]
destinations = ["pool-a"]
mono = "0.02"
[[costs]]
mono = "0.01"
[[costs]]
destinations = ["p1"]
mono = "0.03"
"""


def _mono(schedule: CostSchedule) -> Money:
    return schedule.rates.mono


def test_schedule_for_prefers_the_printer() -> None:
    config = _parse(ORDERED)
    assert _mono(config.schedule_for("pool-a", printer="p1")) == Money(3)


def test_schedule_for_then_the_destination() -> None:
    config = _parse(ORDERED)
    assert _mono(config.schedule_for("pool-a", printer="p2")) == Money(2)
    assert _mono(config.schedule_for("pool-a")) == Money(2)
    assert _mono(config.schedule_for("p1")) == Money(3)


def test_schedule_for_then_the_default() -> None:
    config = _parse(ORDERED)
    assert _mono(config.schedule_for("elsewhere", printer="p9")) == Money(1)


def test_schedule_for_without_a_default_is_free() -> None:
    config = _parse('[[costs]]\ndestinations = ["p1"]\nmono = "0.03"\n')
    assert config.schedule_for("p2") is FREE
    assert parse_accounting(None, None, None, None).schedule_for("p1") is FREE


def test_schedule_for_a_free_entry() -> None:
    config = _parse('[[costs]]\ndestinations = ["p1"]\nmono = "0.03"\nfree = true\n')
    assert config.schedule_for("p1").free is True


# --- accounts_for ---------------------------------------------------------------------------

ACCOUNTS = """
[[accounts]]
name = "physics"
members = ["alice"]
[[accounts]]
name = "staff-pool"
groups = ["staff", "admins"]
[[accounts]]
name = "chemistry"
owner = "carol"
members = ["bob"]
"""


def test_accounts_for_by_member() -> None:
    config = _parse(ACCOUNTS)
    assert [a.name for a in config.accounts_for("alice", ())] == ["physics"]
    assert [a.name for a in config.accounts_for("bob", ("students",))] == ["chemistry"]


def test_accounts_for_by_group() -> None:
    config = _parse(ACCOUNTS)
    assert [a.name for a in config.accounts_for("dave", ("admins",))] == ["staff-pool"]
    assert [a.name for a in config.accounts_for("alice", ("staff",))] == [
        "physics",
        "staff-pool",
    ]


def test_accounts_for_the_owner() -> None:
    config = _parse(ACCOUNTS)
    assert [a.name for a in config.accounts_for("carol", ())] == ["chemistry"]


def test_accounts_for_nobody() -> None:
    config = _parse(ACCOUNTS)
    assert config.accounts_for("eve", ("students",)) == ()
    assert config.accounts_for("", ()) == ()


def test_shared_account_lookup() -> None:
    config = _parse(ACCOUNTS)
    found = config.shared_account("chemistry")
    assert found is not None and found.owner == "carol"
    assert config.shared_account("biology") is None


def test_parse_accepts_plain_python_values() -> None:
    raw: dict[str, Any] = {"enabled": True, "overdraft": 2}
    config = parse_accounting(raw, [], [], [])
    assert config.enabled and config.overdraft == Money(200)
