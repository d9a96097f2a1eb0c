"""Cluster configuration: ``[cluster]``, parsed into a frozen dataclass.

``[cluster]`` (the table may be omitted; every key has a default)::

    heartbeat_seconds = 2         how often a node writes its record (its heartbeat);
                                  more than 0, at most 3600
    dead_after_seconds = 10       a node whose last heartbeat is older than this is shown
                                  as dead; more than heartbeat_seconds (else a live node
                                  would look dead between two beats)
    advertise = ""                the URL other nodes and operators reach this node at,
                                  e.g. "https://node-a.example:8632"; http:// or https://,
                                  no path. "" = derived from the first listen address
                                  (``advertised_url``)

Times are seconds, integers or floats. Nodes compare each other's heartbeats with their
own clocks, so their clocks must agree to well within ``dead_after_seconds`` (NTP).

Every mistake raises ``ConfigError`` naming the key: ``cluster.heartbeat_seconds: must be
more than 0, not -1``.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from printhost.config_base import ConfigError, expect_string, type_name

MAX_HEARTBEAT_SECONDS = 3600.0
_CLUSTER_KEYS = ("heartbeat_seconds", "dead_after_seconds", "advertise")
#: Addresses that mean "every interface": nobody can reach a node there.
_WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    heartbeat_seconds: float = 2.0
    dead_after_seconds: float = 10.0
    #: The URL this node is reached at; "" = derived from the first listen address.
    advertise: str = ""


def parse_cluster(raw: Any) -> ClusterConfig:
    """The TOML value of ``cluster`` (None when absent) as a ``ClusterConfig``."""
    if raw is None:
        return ClusterConfig()
    section = "cluster"
    if not isinstance(raw, dict):
        raise ConfigError(f"{section}: expected a table ([{section}])")
    unknown = set(raw) - set(_CLUSTER_KEYS)
    if unknown:
        raise ConfigError(f"{section}: unknown key(s) {', '.join(sorted(unknown))}")
    defaults = ClusterConfig()
    heartbeat = defaults.heartbeat_seconds
    if "heartbeat_seconds" in raw:
        heartbeat = _seconds(f"{section}.heartbeat_seconds", raw["heartbeat_seconds"])
        if heartbeat > MAX_HEARTBEAT_SECONDS:
            raise ConfigError(
                f"{section}.heartbeat_seconds: at most {MAX_HEARTBEAT_SECONDS:g}, not {heartbeat:g}"
            )
    dead_after = defaults.dead_after_seconds
    key = f"{section}.dead_after_seconds"
    if "dead_after_seconds" in raw:
        dead_after = _seconds(key, raw["dead_after_seconds"])
    if dead_after <= heartbeat:
        raise ConfigError(
            f"{key}: must be more than cluster.heartbeat_seconds ({heartbeat:g}), "
            f"not {dead_after:g}: a live node would look dead between two heartbeats"
        )
    advertise = defaults.advertise
    if "advertise" in raw:
        advertise = _url(f"{section}.advertise", raw["advertise"])
    return ClusterConfig(heartbeat, dead_after, advertise)


def advertised_url(config: ClusterConfig, host: str, port: int, *, tls: bool) -> str:
    """The URL this node advertises: ``config.advertise``, or else one made from the
    address it listens on (``host``, ``port``, ``tls``: the first listener, as bound).
    A wildcard address (0.0.0.0, ::) is replaced by the machine's host name."""
    if config.advertise:
        return config.advertise
    if host in _WILDCARDS:
        host = socket.gethostname()
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a host name
    return f"{'https' if tls else 'http'}://{host}:{port}"


def _seconds(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: expected a number of seconds, got {type_name(value)}")
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{key}: must be more than 0, not {value}")
    return float(value)


def _url(key: str, value: Any) -> str:
    text = expect_string(key, value).strip().rstrip("/")
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"{key}: {text!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: expected http://HOST[:PORT] or https://..., not {text!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{key}: only scheme, host and port, not {text!r}")
    return text
