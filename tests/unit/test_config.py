from __future__ import annotations

from pathlib import Path

import pytest

from printhost.config import ConfigError, load_config, parse_config


def test_demo_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None)
    assert [q.name for q in config.queues] == ["myprinter", "virtual"]
    assert config.printers[0].uri == (tmp_path / "var" / "output").as_uri()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bogus": 1}, "unknown key(s) bogus"),
        ({"server": {"listen": ["nope"]}}, "not HOST:PORT"),
        ({"server": {"allow_anonymous": "yes"}}, "server.allow_anonymous: expected bool"),
        ({"server": {"tls_cert": "a.pem"}}, "tls_cert and tls_key go together"),
        ({"printers": [{"name": "p", "uri": "http://x/"}]}, "scheme 'http'"),
        ({"printers": [{"name": "p", "uri": "ipp:///x"}]}, "has no host"),
        ({"printers": [{"uri": "ipp://h/x"}]}, "printers[0]: missing name"),
        ({"printers": [{"name": "p", "uri": "ipp://h/x", "color": "no"}]}, "color: expected bool"),
        (
            {"printers": [{"name": "p", "uri": "ipp://h/x"}, {"name": "p", "uri": "ipp://h/y"}]},
            "duplicate name(s) p",
        ),
        (
            {
                "printers": [{"name": "p", "uri": "ipp://h/x"}],
                "queues": [{"name": "q", "printer": "z"}],
            },
            "no printer or pool named 'z'",
        ),
        ({"users": [{"name": "u", "role": "root", "password": "x"}]}, "role: must be one of"),
        ({"users": [{"name": "u"}]}, "needs password or password_hash"),
        ({"printers": [{"name": "../x", "uri": "ipp://h/x"}]}, "name must be"),
        ({"delivery": {"timeout_seconds": "5"}}, "delivery.timeout_seconds: expected float"),
    ],
)
def test_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, Path("/tmp"))
    assert message in str(raised.value)


def test_file_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "printhost.toml"
    path.write_text('[storage]\nstate_dir = "state"\n[server]\ntls_cert = ""\ntls_key = ""\n')
    config = load_config(path)
    assert config.storage.state_dir == tmp_path / "state"
    assert config.server.tls_cert is None


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
