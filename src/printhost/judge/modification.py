"""Carrying out what the judge decided, at delivery: forced grayscale and duplex are sent
to the printer as job attributes (and the printer is chosen for them: a job forced to
grayscale no longer needs a colour printer); PDF documents are converted to grayscale and
stamped with watermarks by printhost.modify, because some printers ignore the attributes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from printhost.accounting.money import Money
from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute
from printhost.jobs.model import JobRecord
from printhost.judge.records import Decision, RecordError, decision_of
from printhost.modify.attributes import forced_attributes
from printhost.routing.router import Needs

log = logging.getLogger(__name__)


def forced_needs(needs: Needs, decision: Decision) -> Needs:
    if decision.grayscale:
        needs = dataclasses.replace(needs, color=False)
    if decision.duplex:
        needs = dataclasses.replace(needs, duplex=True)
    return needs


def with_forced_attributes(
    attributes: Sequence[Attribute], decision: Decision
) -> tuple[Attribute, ...]:
    """The job's template with the forced print-color-mode and sides in place."""
    sides = next((a.value for a in attributes if a.name == "sides"), None)
    forced = forced_attributes(
        decision.grayscale, decision.duplex, sides if isinstance(sides, str) else None
    )
    kept = [a for a in attributes if a.name not in forced]
    return (*kept, *(Attribute.of(name, Tag.KEYWORD, value) for name, value in forced.items()))


def judged(job: JobRecord) -> Decision | None:
    """The job's stored decision; None when it was not judged (accounting off), or when
    what is stored does not decode (it is then judged again)."""
    try:
        return decision_of(job)
    except RecordError as exc:
        log.warning("job %s: %s; judging it again", job.id, exc)
        return None


def note(decision: Decision | None) -> str:
    """What the job's owner is told while it prints and once it has: why it prints as it
    does, and what it costs ("cost 1.20 to alice")."""
    if decision is None:
        return ""
    parts = [decision.message] if decision.message else []
    if decision.cost_cents:
        parts.append(f"cost {Money(decision.cost_cents)} to {decision.account}")
    return "; ".join(parts)
