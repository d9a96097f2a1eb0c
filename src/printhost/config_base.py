"""What every configuration parser shares (config.py and the parsers of its sections, e.g.
rules/parse.py and accounting/settings.py, which config.py imports): the error type and
the rule for names. Kept apart so those parsers need not import config.py itself."""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$")


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the problem."""
