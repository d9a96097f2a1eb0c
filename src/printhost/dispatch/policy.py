"""What a delivery result means for the job: pure decisions, no I/O (STYLE principle 3).

A printer that cannot be reached sends the job back to pending, to be re-routed (the
printer is marked down; see dispatch/health.py), up to ``max_attempts`` deliveries; a
printer that refuses the job for good aborts it with the printer's reason; a printer that
printed it completes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from printhost.config import DeliveryConfig
from printhost.dispatch.backends.base import DeliveryResult, Outcome, RemoteLookup, RemoteState
from printhost.jobs.lifecycle import JobEvent


@dataclass(frozen=True, slots=True)
class Decision:
    event: JobEvent
    reasons: tuple[str, ...]
    message: str
    changes: dict[str, Any] = field(default_factory=dict)


def decide(result: DeliveryResult, attempts: int, config: DeliveryConfig) -> Decision:
    if result.outcome is Outcome.COMPLETED:
        changes: dict[str, Any] = {}
        if result.impressions_completed is not None:
            changes["impressions_completed"] = result.impressions_completed
        return Decision(JobEvent.COMPLETE, ("job-completed-successfully",), result.message, changes)
    if result.outcome is Outcome.CANCELED:
        return Decision(
            JobEvent.CANCEL,
            ("job-canceled-at-device",),
            result.message or "canceled at the printer",
        )
    if result.outcome is Outcome.FAILED:
        return Decision(
            JobEvent.ABORT,
            (result.reason or "aborted-by-system",),
            result.message or "the printer refused the job",
        )
    return _retry(result, attempts, config)


def _retry(result: DeliveryResult, attempts: int, config: DeliveryConfig) -> Decision:
    if config.max_attempts and attempts >= config.max_attempts:
        return Decision(
            JobEvent.ABORT,
            ("aborted-by-system",),
            f"gave up after {attempts} attempts: {result.message}",
        )
    # No delay: the printer has been marked down (dispatch/health.py), so the job is
    # re-routed at once to another printer of its destination, or waits, in order, until
    # the prober sees the printer back. The job keeps naming the printer it was sent to:
    # if it goes back there, that printer is asked first whether it has it already.
    message = f"{result.message or 'printer unavailable'}; waiting for a printer"
    return Decision(
        JobEvent.RETRY,
        (result.reason or "printer-stopped",),
        message,
        {"next_attempt_at": None},
    )


def decide_recovery(lookup: RemoteLookup) -> Decision | None:
    """After a crash, before sending again (invariant 2): None means "send it"."""
    if lookup.state is RemoteState.COMPLETED:
        return Decision(
            JobEvent.COMPLETE,
            ("job-completed-successfully",),
            "the printer had already printed this job",
        )
    if lookup.state is RemoteState.FAILED:
        return Decision(
            JobEvent.ABORT,
            ("aborted-by-system",),
            lookup.message or "the printer had canceled this job",
        )
    return None
