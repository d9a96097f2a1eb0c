"""Configuration: one TOML file parsed once, at start, into frozen dataclasses.

Every key is checked; an unknown key, a wrong type or an impossible value stops the server
with a message naming the key (``ConfigError``). With no file at all printhost runs the
embedded demo: one ``file:`` printer writing to ``var/output`` behind queue ``myprinter``.

Paths in the file are relative to the file's own directory; without a file, to the
current directory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from printhost import banner
from printhost.accounting.settings import AccountingConfig, parse_accounting
from printhost.cluster.settings import ClusterConfig, parse_cluster
from printhost.config_base import NAME_RE, ConfigError
from printhost.rules.model import Rule
from printhost.rules.parse import parse_rules

BACKEND_SCHEMES = ("ipp", "ipps", "socket", "lpd", "file")
ROLES = ("user", "operator", "admin")
NODE_ROLES = ("intake", "dispatch", "web")
MAX_DRAIN_GRACE_SECONDS = 300.0
__all__ = ["NAME_RE", "ConfigError"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[str, ...] = ("127.0.0.1:8631",)
    tls_listen: tuple[str, ...] = ("127.0.0.1:8632",)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    allow_anonymous: bool = True
    #: Allow HTTP Basic over plain HTTP from non-loopback clients (off: credentials must
    #: travel over TLS, as IPP-CLIENTS.md §8 advises).
    basic_over_plain_http: bool = False
    #: Load balancers whose X-Forwarded-For/-Proto (and proxy_user_header) are believed:
    #: addresses or networks ("10.0.0.5", "10.0.0.0/24"). Empty: no proxy is trusted.
    trusted_proxies: tuple[str, ...] = ()
    #: The header a trusted proxy sets after it authenticated the user (e.g.
    #: "X-Forwarded-User"); that user owns the job. Empty: none.
    proxy_user_header: str = ""
    #: On SIGTERM, how long readiness says "draining" before connections close (behind a
    #: load balancer: longer than its health-check interval). 0: close at once.
    drain_grace_seconds: float = 0.0
    #: What this node does (a cluster may split them): intake (IPP and LPD job intake),
    #: dispatch (routing, delivery, housekeeping), web (status page, REST API). Health
    #: endpoints answer on every node.
    roles: tuple[str, ...] = NODE_ROLES
    max_request_bytes: int = 1 << 30
    #: Seconds a client may leave a connection idle or stall mid-request.
    request_timeout_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class StorageConfig:
    state_dir: Path = Path("var")
    database_url: str = ""  # empty: sqlite in state_dir
    #: Where documents are spooled; empty: <state_dir>/spool. Several nodes on one
    #: database must share it (a shared file system every node mounts at this path), so
    #: every node can deliver every job.
    spool: Path | None = None
    #: PostgreSQL connections (and threads) per node; a node's writes and reads run on
    #: them concurrently. SQLite has one writer and a few readers of its own.
    pool_size: int = 4

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'printhost.sqlite3'}"

    @property
    def spool_dir(self) -> Path:
        return self.spool or self.state_dir / "spool"


@dataclass(frozen=True, slots=True)
class JobsConfig:
    history_seconds: float = 86400.0
    max_document_bytes: int = 1 << 30
    multiple_operation_timeout_seconds: int = 300
    max_jobs_per_listing: int = 1000


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    timeout_seconds: float = 60.0
    max_attempts: int = 50
    lease_seconds: float = 30.0
    workers: int = 8


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    name: str
    uri: str
    info: str = ""
    location: str = ""
    make_and_model: str = ""
    color: bool = True
    duplex: bool = True
    #: PWG media size names this printer can take; empty = the standard office set
    #: (server/media.py). A job asking for another size is never routed here.
    media: tuple[str, ...] = ()
    #: The banner page's language for this printer: "pdf", "postscript" or "pcl".
    banner_format: str = "pdf"
    #: Input tray the banner page is taken from (coloured paper), e.g. "tray-2"; "" = auto.
    banner_tray: str = ""


POOL_POLICIES = ("first-available", "least-loaded", "round-robin", "priority")


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Printers behind one name. ``priority``: members in order, ``standby`` members only
    when every member is down; other policies pick among members and standby alike."""

    name: str
    members: tuple[str, ...]
    policy: str = "first-available"
    standby: tuple[str, ...] = ()
    info: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    #: A printer or pool name. (The TOML key ``printer`` is accepted for it too.)
    destination: str
    info: str = ""
    location: str = ""
    #: Print a banner (cover) page before each job of this queue (users may opt out).
    banner: bool = False


DESKTOP = "desktop"  # the destination meaning "where the user is logged in now"
ABSENT_ACTIONS = ("hold", "default")
UNKNOWN_USER_ACTIONS = ("hold", "reject", "default")


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    #: Where a user's jobs go when they set no preference: a printer or pool name;
    #: "" = the first printer. A pool or printer whose ``location`` equals the user's
    #: location (preferences, else their workstation's) wins over it.
    default_destination: str = ""
    #: A "desktop" job while its user is logged in nowhere: "hold" it until they log in,
    #: or send it to the default destination.
    desktop_absent: str = "hold"
    #: Bearer tokens that may post presence (agents, login scripts, badge readers).
    agent_tokens: tuple[str, ...] = ()
    #: Longest presence a report may claim; agents renew well before it ends.
    max_presence_seconds: float = 86400.0
    #: How often a printer marked down is probed to bring it back.
    probe_interval_seconds: float = 2.0


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """Username mapping for jobs from a foreign system, arriving on queue ``queue``
    (conventionally ``from-<system>``), optionally only from ``hosts``. It maps the names
    such systems claim; a user who authenticated keeps their own name."""

    queue: str
    users: dict[str, str] = field(default_factory=dict)  # foreign name -> our user
    hosts: tuple[str, ...] = ()
    #: A name not in ``users``: "hold" the job with a reason, "reject" it, or give it to
    #: ``default_user`` (whose account is charged).
    unknown: str = "hold"
    default_user: str = ""
    #: Match foreign names case-insensitively (legacy systems shout).
    ignore_case: bool = True


@dataclass(frozen=True, slots=True)
class LpdConfig:
    """The RFC 1179 server. Unprivileged port by default; 515 in production."""

    #: Addresses to listen on; empty disables the LPD server.
    listen: tuple[str, ...] = ("127.0.0.1:8515",)
    #: Networks allowed to connect (CIDR); others are closed on without a word.
    allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    #: Connections served at once, over all clients; more are closed at once.
    max_connections: int = 64
    #: Connections served at once from one client address.
    max_connections_per_host: int = 8
    #: Seconds a client may stay silent, or take over one command line or control file
    #: (slowloris); then the connection is closed.
    idle_timeout_seconds: float = 60.0
    #: A control file larger than this is refused (ordinary ones are a few hundred bytes).
    max_control_file_bytes: int = 65536
    #: Data files (documents) per job, as cups-lpd allows. Bytes per job are bounded by
    #: ``jobs.max_document_bytes``.
    max_data_files: int = 100


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    role: str = "user"
    password: str = ""  # plain (tests, demos); hashed at start
    password_hash: str = ""


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """A group of users, for rules, shared accounts and allocations."""

    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    printers: tuple[PrinterConfig, ...] = ()
    queues: tuple[QueueConfig, ...] = ()
    users: tuple[UserConfig, ...] = ()
    #: The queue every client prints to; its jobs follow their owner (user-<name>).
    default_queue: str = "myprinter"
    pools: tuple[PoolConfig, ...] = ()
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    mappings: tuple[MappingConfig, ...] = ()
    lpd: LpdConfig = field(default_factory=LpdConfig)
    groups: tuple[GroupConfig, ...] = ()
    #: Print policy, tried in order (rules/parse.py); applied when accounting is enabled.
    rules: tuple[Rule, ...] = ()
    accounting: AccountingConfig = field(default_factory=AccountingConfig)
    #: Several nodes on one database: heartbeats and when a silent node counts as dead.
    cluster: ClusterConfig = field(default_factory=ClusterConfig)

    def groups_by_user(self) -> dict[str, tuple[str, ...]]:
        """Each user named in a group, with the groups they are in."""
        found: dict[str, list[str]] = {}
        for group in self.groups:
            for user in group.members:
                found.setdefault(user, []).append(group.name)
        return {user: tuple(groups) for user, groups in found.items()}

    def members_by_group(self) -> dict[str, tuple[str, ...]]:
        return {group.name: group.members for group in self.groups}

    def printer(self, name: str) -> PrinterConfig | None:
        return next((p for p in self.printers if p.name == name), None)

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)

    def pool(self, name: str) -> PoolConfig | None:
        return next((p for p in self.pools if p.name == name), None)

    def mapping(self, queue: str) -> MappingConfig | None:
        return next((m for m in self.mappings if m.queue == queue), None)

    def is_destination(self, name: str) -> bool:
        return self.printer(name) is not None or self.pool(name) is not None


def load_config(path: Path | None) -> Config:
    """Read and validate the file at ``path``; ``None`` gives the embedded demo."""
    if path is None:
        return _with_defaults(Config(), Path.cwd())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(data, base=path.resolve().parent)


def parse_config(data: Mapping[str, Any], base: Path) -> Config:
    _check_keys(
        "",
        data,
        {
            "server", "storage", "jobs", "delivery", "printers", "queues", "users",
            "default_queue", "pools", "routing", "mappings", "lpd", "groups", "rules",
            "accounting", "costs", "accounts", "allocations", "cluster",
        },
    )  # fmt: skip
    config = Config(
        server=_section(ServerConfig, "server", data.get("server", {}), base),
        storage=_section(StorageConfig, "storage", data.get("storage", {}), base),
        jobs=_section(JobsConfig, "jobs", data.get("jobs", {}), base),
        delivery=_section(DeliveryConfig, "delivery", data.get("delivery", {}), base),
        printers=tuple(_items(PrinterConfig, "printers", data.get("printers", []), base)),
        queues=tuple(_items(QueueConfig, "queues", _queue_items(data.get("queues", [])), base)),
        users=tuple(_items(UserConfig, "users", data.get("users", []), base)),
        default_queue=_expect(str, "default_queue", data.get("default_queue", "myprinter")),
        pools=tuple(_items(PoolConfig, "pools", data.get("pools", []), base)),
        routing=_section(RoutingConfig, "routing", data.get("routing", {}), base),
        mappings=tuple(_items(MappingConfig, "mappings", data.get("mappings", []), base)),
        lpd=_section(LpdConfig, "lpd", data.get("lpd", {}), base),
        groups=tuple(_items(GroupConfig, "groups", data.get("groups", []), base)),
        rules=parse_rules(data.get("rules", [])),
        accounting=parse_accounting(
            data.get("accounting"), data.get("costs"), data.get("accounts"), data.get("allocations")
        ),
        cluster=parse_cluster(data.get("cluster")),
    )
    return _validated(_with_defaults(config, base))


def _validate_shared_accounts(config: Config) -> None:
    """A personal account is named after its user, so a shared account may not take the
    name of a user the configuration knows (the two would be one ledger account)."""
    users = {u.name for u in config.users} | set(config.groups_by_user())
    for shared in config.accounting.accounts:
        if shared.name in users:
            raise ConfigError(
                f"accounts.{shared.name}: {shared.name!r} is a user's name (their personal "
                "account); give the shared account another name"
            )
    destinations = [p.name for p in config.printers] + [p.name for p in config.pools]
    config.accounting.check_destinations(destinations)


def _with_defaults(config: Config, base: Path) -> Config:
    """Resolve state_dir; give a demo printer and queues when none are configured."""
    state_dir = config.storage.state_dir
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    storage = dataclasses.replace(config.storage, state_dir=state_dir)
    printers = config.printers or (
        PrinterConfig(
            name="virtual",
            uri=(state_dir / "output").as_uri(),
            info="printhost virtual printer",
            make_and_model="printhost virtual printer",
        ),
    )
    destinations = [p.name for p in printers] + [p.name for p in config.pools]
    queues = config.queues or tuple(
        [QueueConfig(name=config.default_queue, destination=printers[0].name)]
        + [QueueConfig(name=d, destination=d) for d in destinations if d != config.default_queue]
    )
    return dataclasses.replace(config, storage=storage, printers=printers, queues=queues)


def _queue_items(raw: Any) -> Any:
    """``printer = "x"`` is the older spelling of ``destination = "x"``."""
    if not isinstance(raw, list):
        return raw
    return [
        {("destination" if k == "printer" else k): v for k, v in item.items()}
        if isinstance(item, dict) and "destination" not in item
        else item
        for item in raw
    ]


def _validated(config: Config) -> Config:
    # Printers and pools first: with no queues configured the queues are made from them,
    # and a mistake must be reported against what the file says.
    _unique("printers", [p.name for p in config.printers])
    for p in config.printers:
        _check_name(f"printers.{p.name}", p.name)
        _check_uri(f"printers.{p.name}.uri", p.uri)
    pool_names = [p.name for p in config.pools]
    _unique("printers and pools", [p.name for p in config.printers] + pool_names)
    for pool in config.pools:
        _check_name(f"pools.{pool.name}", pool.name)
    _unique("queues", [q.name for q in config.queues])
    _unique("users", [u.name for u in config.users])
    for q in config.queues:
        _check_name(f"queues.{q.name}", q.name)
        if not config.is_destination(q.destination):
            raise ConfigError(
                f"queues.{q.name}.destination: no printer or pool named {q.destination!r}"
            )
    _validate_routing(config)
    _validate_lpd(config.lpd)
    _unique("groups", [g.name for g in config.groups])
    for g in config.groups:
        _check_name(f"groups.{g.name}", g.name)
    _validate_shared_accounts(config)
    for u in config.users:
        if u.role not in ROLES:
            raise ConfigError(f"users.{u.name}.role: must be one of {', '.join(ROLES)}")
        if not (u.password or u.password_hash):
            raise ConfigError(f"users.{u.name}: needs password or password_hash")
    if not config.server.listen and not config.server.tls_listen:
        raise ConfigError("server: listen and tls_listen are both empty")
    for addr in config.server.listen + config.server.tls_listen:
        parse_listen(addr)
    if (config.server.tls_cert is None) != (config.server.tls_key is None):
        raise ConfigError("server: tls_cert and tls_key go together")
    _validate_proxies(config.server)
    if not 1 <= config.storage.pool_size <= 100:
        raise ConfigError(
            f"storage.pool_size: must be from 1 to 100, not {config.storage.pool_size}"
        )
    unknown = sorted(set(config.server.roles) - set(NODE_ROLES))
    if unknown or not config.server.roles:
        raise ConfigError(
            f"server.roles: {', '.join(unknown) or 'empty'}; choose from {', '.join(NODE_ROLES)}"
        )
    return config


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")  # RFC 9110 §5.6.2 token


def _validate_proxies(server: ServerConfig) -> None:
    for proxy in server.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"server.trusted_proxies: {proxy!r} is not an address or network"
            ) from None
    header = server.proxy_user_header
    if header and not _HEADER_NAME.match(header):
        raise ConfigError(f"server.proxy_user_header: {header!r} is not a header name")
    if header and not server.trusted_proxies:
        raise ConfigError("server.proxy_user_header: needs trusted_proxies (who may set it)")
    if header:
        # Whoever may set the header proves any identity: name the balancers one by one,
        # so no other host of their network can (invariant 4).
        for proxy in server.trusted_proxies:
            network = ipaddress.ip_network(proxy, strict=False)
            if network.num_addresses > 1:
                raise ConfigError(
                    f"server.trusted_proxies: {proxy!r} is a network; with proxy_user_header "
                    "list each balancer's own address"
                )
    grace = server.drain_grace_seconds
    if not (math.isfinite(grace) and 0 <= grace <= MAX_DRAIN_GRACE_SECONDS):
        raise ConfigError(
            f"server.drain_grace_seconds: must be from 0 to {MAX_DRAIN_GRACE_SECONDS:g}, "
            f"not {grace}"
        )


def _validate_routing(config: Config) -> None:
    for pool in config.pools:
        if pool.policy not in POOL_POLICIES:
            policies = ", ".join(POOL_POLICIES)
            raise ConfigError(f"pools.{pool.name}.policy: must be one of {policies}")
        if not pool.members:
            raise ConfigError(f"pools.{pool.name}.members: a pool needs at least one member")
        for member in (*pool.members, *pool.standby):
            if config.printer(member) is None:
                raise ConfigError(f"pools.{pool.name}: no printer named {member!r}")
    for p in config.printers:
        if p.banner_format not in banner.FORMATS:
            raise ConfigError(f"printers.{p.name}.banner_format: must be pdf, postscript or pcl")
        if p.banner_tray:
            try:
                banner.tray_keyword(p.banner_tray)
            except ValueError as exc:
                raise ConfigError(f"printers.{p.name}.banner_tray: {exc}") from None
    routing = config.routing
    if routing.default_destination and not config.is_destination(routing.default_destination):
        raise ConfigError(
            f"routing.default_destination: no printer or pool named {routing.default_destination!r}"
        )
    if routing.desktop_absent not in ABSENT_ACTIONS:
        raise ConfigError(f"routing.desktop_absent: must be one of {', '.join(ABSENT_ACTIONS)}")
    for m in config.mappings:
        key = f"mappings.{m.queue}"
        _check_name(key, m.queue)
        if m.unknown not in UNKNOWN_USER_ACTIONS:
            raise ConfigError(f"{key}.unknown: must be one of {', '.join(UNKNOWN_USER_ACTIONS)}")
        if m.unknown == "default" and not m.default_user:
            raise ConfigError(f'{key}.default_user: needed when unknown = "default"')
    _unique("mappings", [m.queue for m in config.mappings])
    for m in config.mappings:
        if config.queue(m.queue) is not None or m.queue == config.default_queue:
            raise ConfigError(f"mappings.{m.queue}: a configured queue has that name")
    for key in ("probe_interval_seconds", "max_presence_seconds"):
        if getattr(routing, key) <= 0:
            raise ConfigError(f"routing.{key}: must be more than 0")


def _validate_lpd(lpd: LpdConfig) -> None:
    for address in lpd.listen:
        try:
            parse_listen(address)
        except ConfigError:
            raise ConfigError(f"lpd.listen: address {address!r} is not HOST:PORT") from None
    for network in lpd.allow:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"lpd.allow: {network!r} is not an address or CIDR network") from None
    for key in ("max_connections", "max_connections_per_host", "max_control_file_bytes",
                "max_data_files", "idle_timeout_seconds"):  # fmt: skip
        if getattr(lpd, key) <= 0:
            raise ConfigError(f"lpd.{key}: must be greater than 0")


def parse_listen(addr: str) -> tuple[str, int]:
    """``"127.0.0.1:8631"`` or ``"[::1]:8631"`` -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise ConfigError(f"server: listen address {addr!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def _check_uri(key: str, uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in BACKEND_SCHEMES:
        raise ConfigError(
            f"{key}: scheme {parts.scheme!r} is not one of {', '.join(BACKEND_SCHEMES)}"
        )
    if parts.scheme != "file" and not parts.hostname:
        raise ConfigError(f"{key}: {uri!r} has no host")
    if parts.scheme == "file" and not parts.path.startswith("/"):
        raise ConfigError(f"{key}: file URI needs an absolute path (file:///dir)")


def _check_name(key: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise ConfigError(f"{key}: name must be letters, digits, '_', '.', '-' (max 127)")


def _unique(key: str, names: list[str]) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ConfigError(f"{key}: duplicate name(s) {', '.join(sorted(seen))}")


def _check_keys(prefix: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        where = f"{prefix}: " if prefix else ""
        raise ConfigError(f"{where}unknown key(s) {', '.join(sorted(unknown))}")


def _expect(kind: type, key: str, value: Any) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _section(cls: Any, name: str, raw: Any, base: Path) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a table")
    fields = cls.__dataclass_fields__
    _check_keys(name, raw, set(fields))
    defaults = cls() if name != "item" else None
    values = {k: _convert(f"{name}.{k}", getattr(defaults, k, None), raw[k], base) for k in raw}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{name}: {exc}") from exc


def _items(cls: Any, name: str, raw: Any, base: Path) -> list[Any]:
    if not isinstance(raw, list):
        raise ConfigError(f"{name}: expected an array of tables ([[{name}]])")
    items = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{name}[{i}]: expected a table")
        _check_keys(f"{name}[{i}]", item, set(cls.__dataclass_fields__))
        missing = [
            k
            for k, f in cls.__dataclass_fields__.items()
            if f.default is f.default_factory and k not in item
        ]
        if missing:
            raise ConfigError(f"{name}[{i}]: missing {', '.join(missing)}")
        fields = cls.__dataclass_fields__
        items.append(
            cls(**{k: _field(fields[k].type, f"{name}[{i}].{k}", v) for k, v in item.items()})
        )
    return items


#: Field annotations (strings, under ``from __future__ import annotations``) to types.
_SCALARS: dict[str, type] = {"str": str, "bool": bool, "int": int, "float": float}


def _field(annotation: str, key: str, value: Any) -> Any:
    if annotation == "tuple[str, ...]":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected an array of strings")
        return tuple(value)
    if annotation == "dict[str, str]":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{key}: expected a table of strings")
        return dict(value)
    return _expect(_SCALARS[annotation], key, value)


def _convert(key: str, default: Any, value: Any, base: Path) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected an array of strings")
        return tuple(value)
    if isinstance(default, Path) or key.endswith(("tls_cert", "tls_key", "storage.spool")):
        text = _expect(str, key, value)
        if not text and default is None:
            return None  # "" means unset (generate a self-signed certificate)
        path = Path(text)
        return path if path.is_absolute() else base / path
    if default is None:
        return value
    return _expect(type(default), key, value)
