"""A minimal TOML writer for test configurations.

The standard library reads TOML (``tomllib``) but cannot write it, and the
server's configuration needs only strings, numbers, booleans, arrays of
those, tables and arrays of tables, so a few lines suffice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

TomlScalar = str | int | float | bool
TomlValue = TomlScalar | Sequence[TomlScalar]
TomlTable = Mapping[str, TomlValue]


def format_value(value: TomlValue) -> str:
    """Render one value; strings use TOML basic-string escaping (a subset of JSON's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value!r} here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "[" + ", ".join(format_value(item) for item in value) + "]"


def format_key(key: str) -> str:
    bare = key.replace("-", "").replace("_", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key)


def format_table(header: str, table: TomlTable) -> str:
    lines = [header]
    lines.extend(f"{format_key(key)} = {format_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


def dumps(
    tables: Mapping[str, TomlTable],
    arrays: Mapping[str, Sequence[TomlTable]] | None = None,
) -> str:
    """Render ``[name]`` tables, then ``[[name]]`` arrays of tables."""
    parts = [format_table(f"[{format_key(name)}]", table) for name, table in tables.items()]
    for name, items in (arrays or {}).items():
        parts.extend(format_table(f"[[{format_key(name)}]]", item) for item in items)
    return "\n".join(parts)
