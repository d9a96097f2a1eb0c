"""Accounting configuration: ``[accounting]``, ``[[costs]]``, ``[[accounts]]`` and
``[[allocations]]``, parsed into frozen dataclasses.

Amounts of money are strings with at most two decimals ("0.05", "10") or integers meaning
whole units (``overdraft = 10`` is 10.00). Floats are refused: ``0.05`` in TOML is a
binary fraction, and a charge must never be rounded silently. No amount here may be
negative.

``[accounting]`` (the table may be omitted; every key has a default)::

    enabled = false               true: analyse and charge jobs
    initial_balance = "0.00"      credited (from funding) to a personal account made on a
                                  user's first job
    overdraft = "0.00"            overdraft limit of newly made personal accounts
    insufficient = "hold"         hold | deny: a job its account cannot pay
    held_job_expiry_hours = 24    held jobs (for release, by rule, for money) are deleted
                                  after this many hours; 0 = never; at most ten years
    currency = ""                 display only ("EUR", "CHF", ...)

``[[costs]]``: cost schedules, one table each::

    destinations = ["colour-room", "pool-a"]   printer and pool names; omitted or [] =
                                               the default schedule (at most one)
    mono = "0.00"                 per mono impression
    color = "0.00"                per colour impression (instead of mono)
    sheet = "0.00"                per sheet
    duplex_discount_percent = 0   0..100, off the impression cost of duplex impressions
    free = false                  true: nothing is charged, whatever the rates

    [costs.media."iso_a3_297x420mm"]   rates for one paper size (PWG media name); a
    mono = "0.10"                      rate left out is the entry's own rate above
    color = "0.40"
    sheet = "0.02"

A destination may be named by one entry only. Which schedule prices a job: see
``AccountingConfig.schedule_for``.

``[[accounts]]``: shared (department, project) accounts::

    name = "physics"              required; letters, digits, '_', '.', '-'; unique; not a
                                  system account name (revenue, funding)
    members = ["alice", "bob"]    users who may charge it
    groups = ["staff"]            ... and every member of these groups
    overdraft = "0.00"            how far below zero its available balance may go
    owner = "carol"               optional; the administrator responsible (may charge it);
                                  omitted: owner is ""

At least one of members, groups and owner is needed: otherwise nobody could charge it.

``[[allocations]]``: periodic allocations (quotas)::

    users = ["alice"]             personal accounts of these users
    groups = ["students"]         ... and of every member of these groups
    accounts = ["physics"]        shared accounts (named in [[accounts]])
    amount = "2.00"               required; more than 0.00 unless mode = "reset"
    period = "weekly"             required: daily | weekly (ISO week, from Monday) | monthly;
                                  periods are in UTC
    mode = "top-up"               required: add: credit amount each period; top-up: credit
                                  up to amount; reset: set the available balance to amount
                                  (credit or debit the difference)
    name = "weekly-add-2.00"      optional; letters, digits, '_', '.', '-'; unique. The
                                  ledger remembers which period of which allocation was
                                  applied by this name, so renaming an allocation applies
                                  it again in the current period. Default:
                                  "<period>-<mode>-<amount>".

At least one of users, groups and accounts must be non-empty.

Every mistake raises ``ConfigError`` naming the section, entry and key:
``costs[1].mono: expected an amount as a string like "0.05" or whole units as an
integer, got float``; ``accounts.physics.overdraft: ...``; ``allocations[0].period: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from printhost.accounting import ledger
from printhost.accounting.costs import FREE, CostSchedule, Rates
from printhost.accounting.money import ZERO, Money
from printhost.config_base import (
    NAME_RE,
    ConfigError,
    expect_boolean,
    expect_integer,
    expect_names,
    expect_string,
    type_name,
)

#: Upper bound of ``held_job_expiry_hours`` (ten years; 0 means never).
MAX_EXPIRY_HOURS = 24 * 366 * 10
E = TypeVar("E", bound=StrEnum)
_MEDIA_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

_ACCOUNTING_KEYS = (
    "enabled",
    "initial_balance",
    "overdraft",
    "insufficient",
    "held_job_expiry_hours",
    "currency",
)
_RATE_KEYS = ("mono", "color", "sheet")
_COST_KEYS = ("destinations", *_RATE_KEYS, "duplex_discount_percent", "free", "media")
_ACCOUNT_KEYS = ("name", "members", "groups", "overdraft", "owner")
_ALLOCATION_KEYS = ("name", "users", "groups", "accounts", "amount", "period", "mode")


class Insufficient(StrEnum):
    """What happens to a job its account cannot pay."""

    HOLD = "hold"
    DENY = "deny"


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"  # ISO week: Monday to Sunday
    MONTHLY = "monthly"


class AllocationMode(StrEnum):
    ADD = "add"  # credit the amount every period
    TOP_UP = "top-up"  # credit up to the amount (nothing when already at or above it)
    RESET = "reset"  # credit or debit the difference to the amount


@dataclass(frozen=True, slots=True)
class CostRule:
    """One ``[[costs]]`` entry: the schedule of the destinations it names."""

    #: Printer and pool names; () = the default schedule.
    destinations: tuple[str, ...]
    schedule: CostSchedule

    @property
    def is_default(self) -> bool:
        return not self.destinations


@dataclass(frozen=True, slots=True)
class SharedAccount:
    name: str
    members: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    overdraft: Money = ZERO
    #: The administrator responsible (who may charge it too); "" = none.
    owner: str = ""

    def admits(self, user: str, groups: Collection[str]) -> bool:
        """May ``user`` (a member of ``groups``) charge this account?"""
        if (self.owner and user == self.owner) or user in self.members:
            return True
        return any(group in groups for group in self.groups)


@dataclass(frozen=True, slots=True)
class Allocation:
    name: str
    amount: Money
    period: Period
    mode: AllocationMode
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()  # shared account names


@dataclass(frozen=True, slots=True)
class AccountingConfig:
    enabled: bool = False
    initial_balance: Money = ZERO
    overdraft: Money = ZERO
    insufficient: Insufficient = Insufficient.HOLD
    #: Held jobs are deleted after this many seconds; 0 = never.
    held_job_expiry_seconds: int = 24 * 3600
    currency: str = ""
    costs: tuple[CostRule, ...] = ()
    accounts: tuple[SharedAccount, ...] = ()
    allocations: tuple[Allocation, ...] = ()

    def schedule_for(self, destination: str, printer: str | None = None) -> CostSchedule:
        """The schedule pricing a job sent to ``destination`` (a printer or pool name)
        and printed on ``printer`` (the pool member chosen; None when not yet known).

        Order: the first entry naming ``printer``; else the first naming
        ``destination``; else the default entry (no destinations); else ``FREE`` (with
        no ``[[costs]]`` at all, nothing is charged).
        """
        for wanted in (printer, destination):
            if wanted is None:
                continue
            for rule in self.costs:
                if wanted in rule.destinations:
                    return rule.schedule
        for rule in self.costs:
            if rule.is_default:
                return rule.schedule
        return FREE

    def accounts_for(self, user: str, groups: tuple[str, ...]) -> tuple[SharedAccount, ...]:
        """The shared accounts ``user`` (a member of ``groups``) may charge, in file order:
        as a member, through a group, or as the owner."""
        return tuple(account for account in self.accounts if account.admits(user, groups))

    def shared_account(self, name: str) -> SharedAccount | None:
        return next((a for a in self.accounts if a.name == name), None)

    def check_destinations(self, known: Collection[str]) -> None:
        """Raise ``ConfigError`` for a ``[[costs]]`` destination that is no printer or pool
        (the caller knows the names; this module does not)."""
        for i, rule in enumerate(self.costs):
            for name in rule.destinations:
                if name not in known:
                    raise ConfigError(f"costs[{i}].destinations: no printer or pool {name!r}")


def parse_accounting(
    raw_accounting: Any, raw_costs: Any, raw_accounts: Any, raw_allocations: Any
) -> AccountingConfig:
    """The TOML values of ``accounting``, ``costs``, ``accounts`` and ``allocations``
    (each None when absent) as one ``AccountingConfig``."""
    settings = _settings(raw_accounting)
    costs = _costs(raw_costs)
    accounts = _accounts(raw_accounts)
    allocations = _allocations(raw_allocations, {a.name for a in accounts})
    return AccountingConfig(**settings, costs=costs, accounts=accounts, allocations=allocations)


# --- [accounting] -------------------------------------------------------------------------------


def _settings(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    section = "accounting"
    if not isinstance(raw, dict):
        raise ConfigError(f"{section}: expected a table ([{section}])")
    _check_keys(section, raw, _ACCOUNTING_KEYS)
    values: dict[str, Any] = {}
    if "enabled" in raw:
        values["enabled"] = expect_boolean(f"{section}.enabled", raw["enabled"])
    for key in ("initial_balance", "overdraft"):
        if key in raw:
            values[key] = _money(f"{section}.{key}", raw[key])
    if "insufficient" in raw:
        values["insufficient"] = _keyword(
            f"{section}.insufficient", raw["insufficient"], Insufficient
        )
    if "held_job_expiry_hours" in raw:
        key = f"{section}.held_job_expiry_hours"
        hours = expect_integer(key, raw["held_job_expiry_hours"], least=0)
        if hours > MAX_EXPIRY_HOURS:
            raise ConfigError(f"{key}: at most {MAX_EXPIRY_HOURS} hours (0 = never)")
        values["held_job_expiry_seconds"] = hours * 3600
    if "currency" in raw:
        values["currency"] = expect_string(f"{section}.currency", raw["currency"]).strip()
    return values


# --- [[costs]] ----------------------------------------------------------------------------------


def _costs(raw: Any) -> tuple[CostRule, ...]:
    rules = tuple(_cost(item, where) for item, where in _entries("costs", raw))
    defaults = [i for i, rule in enumerate(rules) if rule.is_default]
    if len(defaults) > 1:
        raise ConfigError(
            f"costs[{defaults[1]}].destinations: a second default schedule "
            f"(costs[{defaults[0]}] has no destinations either)"
        )
    first: dict[str, int] = {}
    for i, rule in enumerate(rules):
        for name in rule.destinations:
            if name in first:
                raise ConfigError(
                    f"costs[{i}].destinations: {name!r} already has a schedule in "
                    f"costs[{first[name]}]"
                )
            first[name] = i
    return rules


def _cost(raw: Mapping[str, Any], where: str) -> CostRule:
    _check_keys(where, raw, _COST_KEYS)
    destinations = _names(f"{where}.destinations", raw.get("destinations", []))
    rates = _rates(where, raw, Rates())
    percent = expect_integer(
        f"{where}.duplex_discount_percent", raw.get("duplex_discount_percent", 0), least=0
    )
    if percent > 100:
        raise ConfigError(f"{where}.duplex_discount_percent: must be at most 100, not {percent}")
    schedule = CostSchedule(
        rates=rates,
        by_media=_media(f"{where}.media", raw.get("media", {}), rates),
        duplex_discount_percent=percent,
        free=expect_boolean(f"{where}.free", raw.get("free", False)),
    )
    return CostRule(destinations, schedule)


def _rates(where: str, raw: Mapping[str, Any], base: Rates) -> Rates:
    mono, color, sheet = (
        _money(f"{where}.{key}", raw[key]) if key in raw else getattr(base, key)
        for key in _RATE_KEYS
    )
    return Rates(mono=mono, color=color, sheet=sheet)


def _media(key: str, raw: Any, base: Rates) -> dict[str, Rates]:
    if not isinstance(raw, dict):
        raise ConfigError(f'{key}: expected a table of paper sizes ([{key}."iso_a3_297x420mm"])')
    by_media: dict[str, Rates] = {}
    for media, rates in raw.items():
        where = f"{key}.{media}"
        if not _MEDIA_RE.match(media):
            raise ConfigError(f"{where}: not a PWG media name like iso_a3_297x420mm")
        if not isinstance(rates, dict):
            raise ConfigError(f"{where}: expected a table with mono, color, sheet")
        _check_keys(where, rates, _RATE_KEYS)
        by_media[media] = _rates(where, rates, base)
    return by_media


# --- [[accounts]] -------------------------------------------------------------------------------


def _accounts(raw: Any) -> tuple[SharedAccount, ...]:
    accounts = tuple(_account(item, where) for item, where in _entries("accounts", raw))
    _unique("accounts", [a.name for a in accounts], "account")
    return accounts


def _account(raw: Mapping[str, Any], where: str) -> SharedAccount:
    name = _entry_name(where, raw.get("name"))
    if ledger.is_system_account(name):
        raise ConfigError(f"{where}.name: {name!r} is the name of a system account")
    prefix = f"accounts.{name}"
    _check_keys(prefix, raw, _ACCOUNT_KEYS)
    owner = expect_string(f"{prefix}.owner", raw.get("owner", ""))
    if "owner" in raw and not owner:
        raise ConfigError(f"{prefix}.owner: an empty name is nobody (omit the key instead)")
    account = SharedAccount(
        name=name,
        members=_names(f"{prefix}.members", raw.get("members", [])),
        groups=_names(f"{prefix}.groups", raw.get("groups", [])),
        overdraft=_money(f"{prefix}.overdraft", raw.get("overdraft", "0")),
        owner=owner,
    )
    if not (account.members or account.groups or account.owner):
        raise ConfigError(f"{prefix}: name members, groups or an owner (nobody could charge it)")
    return account


# --- [[allocations]] ----------------------------------------------------------------------------


def _allocations(raw: Any, shared: Collection[str]) -> tuple[Allocation, ...]:
    allocations = tuple(
        _allocation(item, where, shared) for item, where in _entries("allocations", raw)
    )
    seen: dict[str, int] = {}
    for i, allocation in enumerate(allocations):
        if allocation.name in seen:
            raise ConfigError(
                f"allocations[{i}].name: {allocation.name!r} is also the name of "
                f"allocations[{seen[allocation.name]}] (unnamed allocations are called "
                f"<period>-<mode>-<amount>; give each a distinct name, or merge them)"
            )
        seen[allocation.name] = i
    return allocations


def _allocation(raw: Mapping[str, Any], where: str, shared: Collection[str]) -> Allocation:
    _check_keys(where, raw, _ALLOCATION_KEYS)
    users = _names(f"{where}.users", raw.get("users", []))
    groups = _names(f"{where}.groups", raw.get("groups", []))
    accounts = _names(f"{where}.accounts", raw.get("accounts", []))
    if not (users or groups or accounts):
        raise ConfigError(f"{where}: name users, groups or accounts to allocate to")
    for name in accounts:
        if name not in shared:
            raise ConfigError(f"{where}.accounts: no shared account {name!r} in [[accounts]]")
    for needed in ("amount", "period", "mode"):
        if needed not in raw:
            raise ConfigError(f"{where}: missing {needed}")
    amount = _money(f"{where}.amount", raw["amount"])
    period = _keyword(f"{where}.period", raw["period"], Period)
    mode = _keyword(f"{where}.mode", raw["mode"], AllocationMode)
    if amount == ZERO and mode is not AllocationMode.RESET:
        raise ConfigError(f"{where}.amount: {mode} of 0.00 never credits anything")
    default_name = f"{period}-{mode}-{amount}"
    name = _entry_name(where, raw["name"]) if "name" in raw else default_name
    return Allocation(
        name=name,
        amount=amount,
        period=period,
        mode=mode,
        users=users,
        groups=groups,
        accounts=accounts,
    )


# --- values -------------------------------------------------------------------------------------


def _entries(section: str, raw: Any) -> list[tuple[Mapping[str, Any], str]]:
    """The tables of an array of tables, each with its ``section[i]`` for messages."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{section}: expected an array of tables ([[{section}]])")
    entries: list[tuple[Mapping[str, Any], str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{section}[{i}]: expected a table")
        entries.append((item, f"{section}[{i}]"))
    return entries


def _entry_name(where: str, value: Any) -> str:
    if value is None:
        raise ConfigError(f"{where}: missing name")
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ConfigError(f"{where}.name: must be letters, digits, '_', '.', '-' (max 127)")
    return value


def _check_keys(prefix: str, raw: Mapping[str, Any], allowed: Collection[str]) -> None:
    unknown = set(raw) - set(allowed)
    if unknown:
        raise ConfigError(f"{prefix}: unknown key(s) {', '.join(sorted(unknown))}")


def _unique(section: str, names: list[str], what: str) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{section}: duplicate {what} name(s) {', '.join(duplicates)}")


def _money(key: str, value: Any) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(
            f'{key}: expected an amount as a string like "0.05" or whole units as an '
            f"integer, got {type_name(value)}"
        )
    if isinstance(value, int):
        amount = Money(value * 100)
    else:
        try:
            amount = Money.parse(value)
        except ValueError:
            raise ConfigError(
                f'{key}: {value!r} is not an amount like "1.20" (at most two decimals)'
            ) from None
    if amount < ZERO:
        raise ConfigError(f"{key}: cannot be negative, not {amount}")
    return amount


def _names(key: str, value: Any) -> tuple[str, ...]:
    expect_names(key, value)
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise ConfigError(f"{key}: {', '.join(duplicates)} named twice")
    return tuple(value)


def _keyword(key: str, value: Any, kind: type[E]) -> E:
    text = expect_string(key, value)
    try:
        return kind(text)
    except ValueError:
        allowed = " | ".join(k.value for k in kind)
        raise ConfigError(f"{key}: {text!r} is not one of {allowed}") from None
