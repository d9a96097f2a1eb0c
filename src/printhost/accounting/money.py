"""Amounts of money as integer minor units (cents). Never floats: 0.1 + 0.2 != 0.3.

``Money`` is a tiny value type rather than a bare ``int`` so that the type checker keeps
cents apart from page counts and ids, and so that a float cannot sneak in (the
constructor refuses anything but a true ``int``). Text is always two decimals: "1.20",
"-0.05"; ``parse`` accepts "1", "1.2", "1.20", "+1.20", "-1.20" and nothing looser
(no thousands separators, no exponents, no third decimal — a third decimal would have
to be rounded, and the ledger never rounds silently).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_TEXT = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]{1,2}))?")


@dataclass(frozen=True, slots=True, order=True)
class Money:
    cents: int

    def __post_init__(self) -> None:
        if type(self.cents) is not int:  # bool is an int subclass; floats are out too
            raise TypeError(f"Money needs integer cents, not {self.cents!r}")

    @classmethod
    def parse(cls, text: str) -> Money:
        """ "1.20" → Money(120). ValueError for anything that is not plain decimal money."""
        match = _TEXT.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not an amount of money: {text!r}")
        sign, units, fraction = match.groups()
        cents = int(units) * 100 + int((fraction or "0").ljust(2, "0"))
        return cls(-cents if sign == "-" else cents)

    def __str__(self) -> str:
        units, cents = divmod(abs(self.cents), 100)
        return f"{'-' if self.cents < 0 else ''}{units}.{cents:02d}"

    def __add__(self, other: Money) -> Money:
        return Money(self.cents + other.cents)

    def __sub__(self, other: Money) -> Money:
        return Money(self.cents - other.cents)

    def __neg__(self) -> Money:
        return Money(-self.cents)

    def __mul__(self, count: int) -> Money:
        if type(count) is not int:
            raise TypeError(f"Money can only be multiplied by an int, not {count!r}")
        return Money(self.cents * count)

    __rmul__ = __mul__


ZERO = Money(0)


def total(amounts: Iterable[Money]) -> Money:
    """The sum of ``amounts`` (the builtin ``sum`` would start from the int 0)."""
    result = ZERO
    for amount in amounts:
        result = result + amount
    return result
