"""What every configuration parser shares (config.py and the parsers of its sections, e.g.
rules/parse.py and accounting/settings.py, which config.py imports): the error type and
the rule for names. Kept apart so those parsers need not import config.py itself."""

from __future__ import annotations

import re
from typing import Any

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$")


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the problem."""


# --- validators shared by the section parsers (each error names the key) -------------------


def type_name(value: Any) -> str:
    return type(value).__name__


def expect_string(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {type_name(value)}")
    return value


def expect_names(key: str, value: Any) -> tuple[str, ...]:
    """An array of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected an array of strings")
    if any(not v for v in value):
        raise ConfigError(f"{key}: an empty name matches nothing")
    return tuple(value)


def expect_integer(key: str, value: Any, *, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{key}: expected an integer, got {type_name(value)}")
    if value < least:
        raise ConfigError(f"{key}: must be at least {least}, not {value}")
    return value


def expect_boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false, got {type_name(value)}")
    return value
