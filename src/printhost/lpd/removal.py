"""Which queued jobs a remove-jobs request names (RFC 1179 §5.5), decided purely.

The list holds job numbers and user names. ``-`` (BSD) and ``all`` (LPRng's ``lprm all``)
and the agent's own name mean every job of the agent; no list means the agent's first
job (BSD and LPRng ``lprm`` without arguments). Whether the agent may remove a selected
job is the application's decision: the agent is a claim, not a proof.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

ALL_OF_AGENT = ("-", "all")


class QueuedJob(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def owner(self) -> str: ...


J = TypeVar("J", bound=QueuedJob)


@dataclass(frozen=True, slots=True)
class Selection(Generic[J]):
    jobs: list[J] = field(default_factory=list)
    #: Job numbers the list names that are not among the jobs.
    missing: list[int] = field(default_factory=list)


def job_numbers(items: Sequence[str]) -> list[int]:
    """The items that are job numbers (§5.3, §5.5: "job number" items)."""
    return [int(item) for item in items if item.isdigit() and len(item) < 10]


def select_for_removal(jobs: Sequence[J], agent: str, items: Sequence[str]) -> Selection[J]:
    """``jobs`` in queue order; the selection keeps that order, each job once."""
    if not items:
        return Selection([j for j in jobs if j.owner == agent][:1])
    named = set(job_numbers(items))
    owners = {agent if item in ALL_OF_AGENT else item for item in items if not item.isdigit()}
    chosen = [j for j in jobs if j.id in named or j.owner in owners]
    present = {j.id for j in jobs}
    return Selection(chosen, sorted(n for n in named if n not in present))
