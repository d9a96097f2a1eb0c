"""cluster/settings.py: ``[cluster]`` parsing (every error names its key) and the
advertised URL."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from printhost.cluster.settings import ClusterConfig, advertised_url, parse_cluster
from printhost.config_base import ConfigError


def test_absent_or_empty_section_is_the_defaults() -> None:
    assert parse_cluster(None) == ClusterConfig(2.0, 10.0, "")
    assert parse_cluster({}) == ClusterConfig()


def test_every_key() -> None:
    parsed = parse_cluster(
        {"heartbeat_seconds": 1, "dead_after_seconds": 4.5, "advertise": "https://a.example:8632/"}
    )
    assert parsed == ClusterConfig(1.0, 4.5, "https://a.example:8632")
    assert isinstance(parsed.heartbeat_seconds, float)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "cluster: expected a table"),
        ({"heartbeat": 2}, "cluster: unknown key(s) heartbeat"),
        ({"heartbeat_seconds": "2"}, "cluster.heartbeat_seconds: expected a number"),
        ({"heartbeat_seconds": True}, "cluster.heartbeat_seconds: expected a number"),
        ({"heartbeat_seconds": 0}, "cluster.heartbeat_seconds: must be more than 0"),
        ({"heartbeat_seconds": float("nan")}, "cluster.heartbeat_seconds: must be more than 0"),
        ({"heartbeat_seconds": 7200}, "cluster.heartbeat_seconds: at most 3600"),
        ({"dead_after_seconds": -1}, "cluster.dead_after_seconds: must be more than 0"),
        ({"dead_after_seconds": 2}, "cluster.dead_after_seconds: must be more than cluster."),
        (
            {"heartbeat_seconds": 20},
            "cluster.dead_after_seconds: must be more than cluster.heartbeat_seconds (20)",
        ),
        ({"advertise": 8631}, "cluster.advertise: expected a string"),
        ({"advertise": "ipp://a:631"}, "cluster.advertise: expected http://"),
        ({"advertise": "a.example:8631"}, "cluster.advertise: expected http://"),
        ({"advertise": "http://:8631"}, "cluster.advertise: expected http://"),
        ({"advertise": "http://a:port"}, "cluster.advertise: 'http://a:port' is not a URL"),
        ({"advertise": "http://a:8631/api"}, "cluster.advertise: only scheme, host and port"),
        ({"advertise": "http://u:p@a:8631"}, "cluster.advertise: only scheme, host and port"),
    ],
)
def test_errors_name_the_key(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cluster(raw)
    assert str(caught.value).startswith(message), str(caught.value)


def test_empty_advertise_means_derived() -> None:
    assert parse_cluster({"advertise": "  "}).advertise == ""


def test_advertised_url() -> None:
    configured = ClusterConfig(advertise="https://lb.example")
    assert advertised_url(configured, "127.0.0.1", 8631, tls=False) == "https://lb.example"
    derived = ClusterConfig()
    assert advertised_url(derived, "127.0.0.1", 8631, tls=False) == "http://127.0.0.1:8631"
    assert advertised_url(derived, "10.0.0.5", 8632, tls=True) == "https://10.0.0.5:8632"
    assert advertised_url(derived, "::1", 8631, tls=False) == "http://[::1]:8631"
    assert advertised_url(derived, "print.example", 80, tls=False) == "http://print.example:80"
    host = socket.gethostname()
    assert advertised_url(derived, "0.0.0.0", 8631, tls=False) == f"http://{host}:8631"
    assert advertised_url(derived, "::", 8631, tls=True) == f"https://{host}:8631"
