"""What a delivery result means for the job: pure decisions, no I/O (STYLE principle 3).

A printer that cannot be reached is retried with exponential backoff up to
``max_attempts``; a printer that refuses the job for good aborts it with the printer's
reason; a printer that printed it completes it.
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


def retry_delay(attempts: int, config: DeliveryConfig) -> float:
    """Seconds before attempt ``attempts + 1``: initial, 2x, 4x ... capped at the maximum."""
    exponent = max(0, attempts - 1)
    return float(
        min(config.retry_max_seconds, config.retry_initial_seconds * 2 ** min(exponent, 30))
    )


def decide(result: DeliveryResult, attempts: int, config: DeliveryConfig, now: float) -> Decision:
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
    return _retry(result, attempts, config, now)


def _retry(result: DeliveryResult, attempts: int, config: DeliveryConfig, now: float) -> Decision:
    if config.max_attempts and attempts >= config.max_attempts:
        return Decision(
            JobEvent.ABORT,
            ("aborted-by-system",),
            f"gave up after {attempts} attempts: {result.message}",
        )
    delay = retry_delay(attempts, config)
    message = f"{result.message or 'printer unavailable'}; next attempt in {delay:g} s"
    return Decision(
        JobEvent.RETRY,
        (result.reason or "printer-stopped",),
        message,
        {"next_attempt_at": now + delay, "printer": None},
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
