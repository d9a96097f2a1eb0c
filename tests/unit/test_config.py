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


# --- routing: pools, routing, mappings, queue destinations ------------------------------------

_PRINTERS = [
    {"name": "laser", "uri": "ipp://laser/ipp/print", "color": False},
    {"name": "colour", "uri": "ipp://colour/ipp/print", "media": ["iso_a4_210x297mm"]},
]


def _routing(**sections: object) -> dict[str, object]:
    """Queues are configured (so none are derived from the pools) unless given."""
    return {"printers": _PRINTERS, "queues": [{"name": "myprinter", "printer": "laser"}],
            **sections}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _routing(pools=[{"name": "office", "members": ["laser", "nope"]}]),
            "pools.office: no printer named 'nope'",
        ),
        (
            _routing(pools=[{"name": "office", "members": ["laser"], "standby": ["gone"]}]),
            "pools.office: no printer named 'gone'",
        ),
        (
            _routing(pools=[{"name": "office", "members": ["laser"], "policy": "random"}]),
            "pools.office.policy: must be one of first-available, least-loaded, round-robin, "
            "priority",
        ),
        (
            _routing(pools=[{"name": "office", "members": []}]),
            "pools.office.members: a pool needs at least one member",
        ),
        (_routing(pools=[{"name": "office"}]), "pools[0]: missing members"),
        (
            _routing(pools=[{"name": "office", "members": "laser"}]),
            "pools[0].members: expected an array of strings",
        ),
        (
            _routing(pools=[{"name": "bad/name", "members": ["laser"]}]),
            "pools.bad/name: name must be",
        ),
        (
            _routing(pools=[{"name": "laser", "members": ["colour"]}]),
            "printers and pools: duplicate name(s) laser",
        ),
        (
            _routing(
                pools=[{"name": "p", "members": ["laser"]}, {"name": "p", "members": ["colour"]}]
            ),
            "printers and pools: duplicate name(s) p",
        ),
        (
            _routing(pools=[{"name": "office", "members": ["laser"], "colour": True}]),
            "pools[0]: unknown key(s) colour",
        ),
        (
            _routing(routing={"default_destination": "nowhere"}),
            "routing.default_destination: no printer or pool named 'nowhere'",
        ),
        (
            _routing(routing={"desktop_absent": "queue"}),
            "routing.desktop_absent: must be one of hold, default",
        ),
        (_routing(routing={"desktop": "hold"}), "routing: unknown key(s) desktop"),
        (_routing(routing={"agent_tokens": "secret"}), "routing.agent_tokens: expected an array"),
        (
            _routing(mappings=[{"queue": "from-vm", "unknown": "drop"}]),
            "mappings.from-vm.unknown: must be one of hold, reject, default",
        ),
        (
            _routing(mappings=[{"queue": "from-vm", "unknown": "default"}]),
            'mappings.from-vm.default_user: needed when unknown = "default"',
        ),
        (
            _routing(mappings=[{"queue": "from-vm", "users": {"A": 1}}]),
            "mappings[0].users: expected a table of strings",
        ),
        (
            _routing(mappings=[{"queue": "from-vm", "users": ["a"]}]),
            "mappings[0].users: expected a table of strings",
        ),
        (
            _routing(mappings=[{"queue": "from-vm", "hosts": "vm1"}]),
            "mappings[0].hosts: expected an array of strings",
        ),
        (_routing(mappings=[{"users": {}}]), "mappings[0]: missing queue"),
        (_routing(mappings=[{"queue": "from vm"}]), "mappings.from vm: name must be"),
        (
            _routing(mappings=[{"queue": "from-vm"}, {"queue": "from-vm"}]),
            "mappings: duplicate name(s) from-vm",
        ),
        (
            _routing(
                printers=[{"name": "p", "uri": "ipp://p/", "banner_format": "escp"}], queues=[]
            ),
            "printers.p.banner_format: must be pdf, postscript or pcl",
        ),
        (
            _routing(
                printers=[{"name": "p", "uri": "ipp://p/", "media": "iso_a4_210x297mm"}], queues=[]
            ),
            "printers[0].media: expected an array of strings",
        ),
        (
            _routing(queues=[{"name": "q", "printer": "laser", "destination": "laser"}]),
            "queues[0]: unknown key(s) printer",
        ),
        (_routing(queues=[{"name": "q"}]), "queues[0]: missing destination"),
        (
            _routing(queues=[{"name": "q", "destination": "nowhere"}]),
            "queues.q.destination: no printer or pool named 'nowhere'",
        ),
    ],
)
def test_routing_errors_name_the_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(data, Path("/tmp"))
    assert message in str(raised.value)


def test_pools_parse_with_their_defaults() -> None:
    config = parse_config(
        _routing(
            pools=[
                {"name": "office", "members": ["laser", "colour"]},
                {"name": "hall", "members": ["colour"], "standby": ["laser"],
                 "policy": "priority", "info": "Hall", "location": "lobby"},
            ]
        ),
        Path("/tmp"),
    )  # fmt: skip
    office, hall = config.pools
    assert (office.members, office.policy, office.standby) == (
        ("laser", "colour"), "first-available", ()
    )  # fmt: skip
    assert (hall.standby, hall.policy, hall.info, hall.location) == (
        ("laser",), "priority", "Hall", "lobby"
    )  # fmt: skip
    assert config.pool("hall") is hall and config.pool("laser") is None
    assert config.is_destination("hall") and config.is_destination("laser")
    assert not config.is_destination("nowhere")


@pytest.mark.parametrize("policy", ["first-available", "least-loaded", "round-robin", "priority"])
def test_every_pool_policy_is_accepted(policy: str) -> None:
    pools = [{"name": "office", "members": ["laser"], "policy": policy}]
    assert parse_config(_routing(pools=pools), Path("/tmp")).pools[0].policy == policy


def test_routing_section() -> None:
    default = parse_config(_routing(), Path("/tmp")).routing
    assert (default.default_destination, default.desktop_absent) == ("", "hold")
    config = parse_config(
        _routing(
            pools=[{"name": "office", "members": ["laser"]}],
            routing={"default_destination": "office", "desktop_absent": "default",
                     "agent_tokens": ["t1"], "max_presence_seconds": 600,
                     "probe_interval_seconds": 1},
        ),
        Path("/tmp"),
    )  # fmt: skip
    routing = config.routing
    assert (routing.default_destination, routing.desktop_absent) == ("office", "default")
    assert routing.agent_tokens == ("t1",)
    assert (routing.max_presence_seconds, routing.probe_interval_seconds) == (600.0, 1.0)
    printer_default = parse_config(_routing(routing={"default_destination": "colour"}), Path("/"))
    assert printer_default.routing.default_destination == "colour"


def test_mappings() -> None:
    config = parse_config(
        _routing(
            mappings=[
                {"queue": "from-vm", "users": {"JSMITH7": "jsmith", "BOB": "bob"},
                 "hosts": ["vm1", "vm2"], "unknown": "reject", "ignore_case": False},
                {"queue": "from-mainframe", "unknown": "default", "default_user": "guest"},
                {"queue": "from-as400"},
            ]
        ),
        Path("/tmp"),
    )  # fmt: skip
    vm, mainframe, as400 = config.mappings
    assert vm.users == {"JSMITH7": "jsmith", "BOB": "bob"}
    assert (vm.hosts, vm.unknown, vm.ignore_case) == (("vm1", "vm2"), "reject", False)
    assert (mainframe.unknown, mainframe.default_user) == ("default", "guest")
    assert (as400.users, as400.hosts, as400.unknown, as400.ignore_case) == ({}, (), "hold", True)
    assert config.mapping("from-vm") is vm and config.mapping("myprinter") is None


def test_printer_is_the_older_spelling_of_a_queues_destination() -> None:
    config = parse_config(
        _routing(
            pools=[{"name": "office", "members": ["laser", "colour"]}],
            queues=[{"name": "old", "printer": "laser"}, {"name": "new", "destination": "office"},
                    {"name": "pooled", "printer": "office"}],
        ),
        Path("/tmp"),
    )  # fmt: skip
    assert [(q.name, q.destination) for q in config.queues] == [
        ("old", "laser"), ("new", "office"), ("pooled", "office"),
    ]  # fmt: skip


def test_without_queues_every_printer_and_pool_gets_one() -> None:
    config = parse_config(
        _routing(queues=[], pools=[{"name": "office", "members": ["laser", "colour"]}]),
        Path("/tmp"),
    )
    assert [(q.name, q.destination) for q in config.queues] == [
        ("myprinter", "laser"), ("laser", "laser"), ("colour", "colour"), ("office", "office"),
    ]  # fmt: skip


def test_without_queues_a_default_queue_named_like_a_destination_is_not_doubled() -> None:
    config = parse_config(
        _routing(
            queues=[], default_queue="office", pools=[{"name": "office", "members": ["colour"]}]
        ),
        Path("/tmp"),
    )
    assert [(q.name, q.destination) for q in config.queues] == [
        ("office", "laser"), ("laser", "laser"), ("colour", "colour"),
    ]  # fmt: skip


def test_printer_media_and_banner_settings() -> None:
    config = parse_config(
        _routing(
            printers=[{"name": "p", "uri": "ipp://p/", "banner_format": "pcl",
                       "media": ["iso_a4_210x297mm", "iso_a3_297x420mm"], "banner_tray": "tray-2"}],
            queues=[],
        ),
        Path("/tmp"),
    )  # fmt: skip
    (printer,) = config.printers
    assert printer.media == ("iso_a4_210x297mm", "iso_a3_297x420mm")
    assert (printer.banner_format, printer.banner_tray) == ("pcl", "tray-2")
    defaults = parse_config(_routing(), Path("/tmp")).printers[0]
    assert (defaults.media, defaults.banner_format, defaults.banner_tray) == ((), "pdf", "")


@pytest.mark.parametrize(
    ("pools", "message"),
    [
        ([{"name": "laser", "members": ["colour"]}], "printers and pools: duplicate name(s) laser"),
        ([{"name": "bad/name", "members": ["laser"]}], "pools.bad/name: name must be"),
    ],
    ids=["duplicate", "bad-name"],
)
def test_without_queues_pool_errors_still_name_the_pools(
    pools: list[dict[str, object]], message: str
) -> None:
    """With no queues configured, one is derived per pool; a mistake in a pool must be
    reported as the pool's, not as one of queues the file does not have."""
    with pytest.raises(ConfigError) as raised:
        parse_config({"printers": _PRINTERS, "pools": pools}, Path("/tmp"))
    assert message in str(raised.value)
