"""Where a job prints: pure decisions (STYLE principle 3), made when the job is dispatched
and again if it must be re-routed (late binding), never at intake.

Two steps:
1. ``find_destination(queue, owner, facts)``: what the job's queue means now. ``myprinter``
   (and the queues of foreign systems) follow the owner to ``user-<owner>``; a user's queue
   goes to their preferred printer or pool, to the workstation they are logged in at
   ("desktop" -> ``local-<host>``, the agent there), or to the default for their location;
   a configured queue goes to its printer or pool. ``Unroutable`` says why not (the job is
   held with that message until something changes).
2. ``choose(destination, needs, ...)``: which member prints it. Members that cannot print
   the job (colour, duplex, media) are never chosen; if none can, the job is held with a
   reason. Down members are skipped; busy ones wait (one job per printer). Policies:
   first-available, least-loaded (fewest jobs sent recently), round-robin, priority (members
   in order; standby members only when every member is down).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from printhost.config import DESKTOP, Config, PoolConfig, PrinterConfig
from printhost.ipp.model import Attribute
from printhost.ipp.model import Collection as IppCollection
from printhost.routing import names
from printhost.store.base import AgentRecord, PresenceRecord, UserPreferences


@dataclass(frozen=True, slots=True)
class Target:
    """One printer a job can be sent to (a configured printer or a desktop agent)."""

    name: str
    uri: str
    color: bool = True
    duplex: bool = True
    media: tuple[str, ...] = ()  # empty: no restriction

    def can(self, needs: Needs) -> bool:
        return (
            (self.color or not needs.color)
            and (self.duplex or not needs.duplex)
            and (not self.media or needs.media is None or needs.media in self.media)
        )


@dataclass(frozen=True, slots=True)
class Destination:
    name: str  # printer, pool or local-<host>: what users are told
    members: tuple[Target, ...]
    standby: tuple[Target, ...] = ()
    policy: str = "first-available"


@dataclass(frozen=True, slots=True)
class Unroutable:
    message: str


@dataclass(frozen=True, slots=True)
class Needs:
    color: bool = False
    duplex: bool = False
    media: str | None = None  # a PWG media size name

    def describe(self) -> str:
        parts = [p for p, on in (("colour", self.color), ("two-sided", self.duplex)) if on]
        if self.media:
            parts.append(f"on {self.media}")
        return " ".join(parts) or "this job"


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing depends on besides the configuration, read from the store."""

    preferences: Mapping[str, UserPreferences]
    presence: Mapping[str, Sequence[PresenceRecord]]  # by user, most recent first
    agents: Mapping[str, AgentRecord]  # by host (lower case), unexpired only


# --- step 1: the destination -------------------------------------------------------------


def follows_owner(config: Config, queue: str) -> bool:
    """Jobs on these queues go wherever their owner's jobs go (``user-<owner>``)."""
    return queue == config.default_queue or config.mapping(queue) is not None


def route_key(config: Config, queue: str, owner: str) -> str:
    """Jobs with the same key go to the same destination, in order."""
    return names.user_queue(owner) if follows_owner(config, queue) else queue


def queue_user(queue: str, owner: str) -> str:
    """The user a ``user-`` queue belongs to (names.user_queue is not always reversible)."""
    return owner if names.user_queue(owner) == queue else queue[len(names.USER_PREFIX) :]


def find_destination(
    config: Config, queue: str, owner: str, facts: Facts
) -> Destination | Unroutable:
    if follows_owner(config, queue):
        return _for_user(config, owner, facts)
    if names.is_local_queue(queue) and config.queue(queue) is None:
        return _desktop(queue[len(names.LOCAL_PREFIX) :], facts)
    if names.is_user_queue(queue) and config.queue(queue) is None:
        return _for_user(config, queue_user(queue, owner), facts)
    configured = config.queue(queue)
    if configured is None:
        return Unroutable(f"queue {queue} no longer exists")
    return _named(config, configured.destination)


def _for_user(config: Config, user: str, facts: Facts) -> Destination | Unroutable:
    prefs = facts.preferences.get(user)
    wanted = prefs.destination if prefs else ""
    if wanted == DESKTOP:
        host = next((p.host for p in facts.presence.get(user, ())), None)
        if host is not None:
            return _desktop(host, facts)
        if config.routing.desktop_absent == "hold":
            return Unroutable(
                f"held until {user} logs in at a workstation: their jobs print on the "
                f"printer at the desk they are working at"
            )
    elif wanted and config.is_destination(wanted):
        return _named(config, wanted)
    return _named(config, default_destination(config, _location(user, prefs, facts)))


def _location(user: str, prefs: UserPreferences | None, facts: Facts) -> str:
    if prefs is not None and prefs.location:
        return prefs.location
    for presence in facts.presence.get(user, ()):
        agent = facts.agents.get(presence.host.lower())
        if agent is not None and agent.location:
            return agent.location
    return ""


def default_destination(config: Config, location: str) -> str:
    """The pool (else printer) at the user's location; else the configured default; else
    what the default queue was configured with; else the first printer."""
    if location:
        near = [p.name for p in config.pools if p.location == location] + [
            p.name for p in config.printers if p.location == location
        ]
        if near:
            return near[0]
    if config.routing.default_destination:
        return config.routing.default_destination
    default_queue = config.queue(config.default_queue)
    if default_queue is not None and config.is_destination(default_queue.destination):
        return default_queue.destination
    return config.printers[0].name


def _desktop(host: str, facts: Facts) -> Destination | Unroutable:
    agent = facts.agents.get(host.lower())
    queue = names.local_queue(host)
    if agent is None:
        return Unroutable(f"no printhost agent is running on workstation {host}")
    return Destination(queue, (Target(queue, agent.uri),))


def _named(config: Config, name: str) -> Destination | Unroutable:
    printer = config.printer(name)
    if printer is not None:
        return Destination(name, (target(printer),))
    pool = config.pool(name)
    if pool is not None:
        return _pool(config, pool)
    return Unroutable(f"no printer or pool named {name}")


def _pool(config: Config, pool: PoolConfig) -> Destination:
    def targets(names_: tuple[str, ...]) -> tuple[Target, ...]:
        return tuple(target(p) for n in names_ if (p := config.printer(n)) is not None)

    return Destination(pool.name, targets(pool.members), targets(pool.standby), pool.policy)


def target(printer: PrinterConfig) -> Target:
    return Target(printer.name, printer.uri, printer.color, printer.duplex, printer.media)


# --- what the job needs -----------------------------------------------------------------


def needs_of(template: Sequence[Attribute]) -> Needs:
    by_name = {a.name: a.value for a in template}
    return Needs(
        color=by_name.get("print-color-mode") == "color",
        duplex=str(by_name.get("sides", "")).startswith("two-sided"),
        media=_media(by_name),
    )


def _media(by_name: Mapping[str, object]) -> str | None:
    media = by_name.get("media")
    if isinstance(media, str):
        return media
    col = by_name.get("media-col")
    if isinstance(col, IppCollection):
        size_name = col.get("media-size-name")
        if size_name is not None and isinstance(size_name.value, str):
            return size_name.value
    return None


# --- step 2: the member -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deliver:
    target: Target


@dataclass(frozen=True, slots=True)
class Wait:
    """Capable members exist, but all are busy or down: keep the job (and those behind it
    on the same route) pending."""

    message: str


@dataclass(frozen=True, slots=True)
class Hold:
    """No member could ever print this job as things are: hold it, saying why."""

    message: str


def narrowed(destination: Destination, printer: str | None) -> Destination:
    """Only ``printer`` of the destination: the one its owner chose when releasing the job
    ("release at any printer of pool X"). A printer that is no longer a member (the
    configuration changed meanwhile) narrows nothing."""
    chosen = [t for t in (*destination.members, *destination.standby) if t.name == printer]
    if not chosen:
        return destination
    return Destination(destination.name, (chosen[0],), (), destination.policy)


def choose(
    destination: Destination,
    needs: Needs,
    *,
    busy: Collection[str],
    down: Collection[str],
    recent: Mapping[str, int],
    after: str | None = None,
) -> Deliver | Wait | Hold:
    """``recent``: jobs sent to each printer lately (least-loaded); ``after``: the member
    chosen last time (round-robin)."""
    members = [t for t in destination.members if t.can(needs)]
    standby = [t for t in destination.standby if t.can(needs)]
    if not members and not standby:
        return Hold(f"no printer in {destination.name} can print {needs.describe()}")
    if destination.policy == "priority":
        up = [t for t in members if t.name not in down] or [
            t for t in standby if t.name not in down
        ]
    else:
        up = [t for t in (*members, *standby) if t.name not in down]
    if not up:
        return Wait(f"{destination.name}: every printer that can print this job is down")
    free = [t for t in up if t.name not in busy]
    if not free:
        return Wait(f"{destination.name}: every printer is busy")
    order = [t.name for t in (*destination.members, *destination.standby)]
    return Deliver(_pick(destination.policy, free, order, recent, after))


def _pick(
    policy: str,
    free: list[Target],
    order: list[str],
    recent: Mapping[str, int],
    after: str | None,
) -> Target:
    if policy == "least-loaded":
        return min(free, key=lambda t: recent.get(t.name, 0))  # min is stable: ties in order
    if policy == "round-robin" and after in order:
        # Rotate over every member, not only those free now: a member left out this time
        # (busy, down, cannot print the job) keeps its place, so no one gets a double share.
        start = order.index(after) + 1
        rotation = order[start:] + order[:start]
        by_name = {t.name: t for t in free}
        return next(by_name[name] for name in rotation if name in by_name)
    return free[0]
