"""Username mapping for jobs from foreign systems (pure).

A legacy host prints as ``JSMITH7`` on queue ``from-vm``; the mapping table of that queue
says it is ``jsmith``. A name the table does not know is held for an operator, refused,
or given to a default user, as configured. Hosts outside the queue's host list are
refused: a mapping vouches for names from those systems only.
"""

from __future__ import annotations

from dataclasses import dataclass

from printhost.config import MappingConfig


@dataclass(frozen=True, slots=True)
class Mapped:
    user: str
    #: Set when the job must wait for an operator (unknown name, unknown = "hold").
    hold_message: str = ""


class MappingRefused(Exception):
    """The mapping refuses this job; the message says why, for the sender."""


def check_host(mapping: MappingConfig, host: str) -> None:
    if mapping.hosts and not _host_allowed(mapping.hosts, host):
        raise MappingRefused(f"host {host!r} may not print to {mapping.queue}")


def map_user(mapping: MappingConfig, user: str, host: str) -> Mapped:
    check_host(mapping, host)
    mapped = _lookup(mapping, user)
    if mapped is not None:
        return Mapped(mapped)
    if mapping.unknown == "default":
        return Mapped(mapping.default_user)
    if mapping.unknown == "reject":
        raise MappingRefused(f"user {user!r} from {host or 'unknown host'} is not mapped")
    return Mapped(
        user,
        hold_message=(
            f"held: user {user!r} from {host or 'unknown host'} has no mapping on "
            f"{mapping.queue}; an operator must map or release it"
        ),
    )


def _lookup(mapping: MappingConfig, user: str) -> str | None:
    if user in mapping.users:
        return mapping.users[user]
    if mapping.ignore_case:
        folded = user.casefold()
        return next((v for k, v in mapping.users.items() if k.casefold() == folded), None)
    return None


def _host_allowed(hosts: tuple[str, ...], host: str) -> bool:
    return host.casefold() in {h.casefold() for h in hosts}
