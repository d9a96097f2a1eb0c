"""The ``[lpd]`` configuration table: defaults, limits, and what is refused at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from printhost.config import ConfigError, LpdConfig, parse_config


def _lpd(tmp_path: Path, **values: Any) -> LpdConfig:
    return parse_config({"lpd": values}, base=tmp_path).lpd


def test_defaults(tmp_path: Path) -> None:
    lpd = _lpd(tmp_path)
    assert lpd.listen == ("127.0.0.1:8515",)
    assert lpd.allow == ("127.0.0.0/8", "::1/128")
    assert (lpd.max_connections, lpd.max_connections_per_host) == (64, 8)
    assert (lpd.max_control_file_bytes, lpd.max_data_files) == (65536, 100)
    assert lpd.idle_timeout_seconds == 60.0


def test_values_and_empty_listen(tmp_path: Path) -> None:
    lpd = _lpd(
        tmp_path,
        listen=[],
        allow=["10.0.0.0/8", "192.168.1.7", "fe80::/10"],
        idle_timeout_seconds=5,
        max_data_files=10,
    )
    assert lpd.listen == ()  # no LPD server
    assert lpd.idle_timeout_seconds == 5.0
    assert lpd.max_data_files == 10


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"listen": ["515"]}, "lpd.listen: address '515' is not HOST:PORT"),
        ({"allow": ["10.0.0.0/33"]}, "lpd.allow: '10.0.0.0/33' is not"),
        ({"allow": ["everyone"]}, "lpd.allow"),
        ({"max_connections": 0}, "lpd.max_connections: must be greater than 0"),
        ({"max_connections_per_host": -1}, "lpd.max_connections_per_host"),
        ({"idle_timeout_seconds": 0}, "lpd.idle_timeout_seconds"),
        ({"max_control_file_bytes": 0}, "lpd.max_control_file_bytes"),
        ({"max_data_files": 0}, "lpd.max_data_files"),
        ({"max_data_files": "many"}, "lpd.max_data_files: expected int"),
        ({"port": 515}, "lpd: unknown key(s) port"),
    ],
)
def test_bad_values_stop_the_server(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _lpd(tmp_path, **values)
