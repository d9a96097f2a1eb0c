"""The job lifecycle: the only place that decides a job's next state.

States are IPP's job-state values (RFC 8011 §5.3.7). ``TRANSITIONS`` maps
(state, event) to the new state; ``next_state`` applies it and raises
``InvalidTransition`` for any pair not in the table, so a move that is not allowed changes
nothing. Services call ``next_state`` and then write the result with a compare-and-set on
the old state, so two nodes racing on one job cannot both win.

Diagram (generated from the table by ``diagram()``)::

    pending ──hold──► pending-held ──release──► pending
    pending ──start──► processing ──complete──► completed
    processing ──retry──► pending           (printer unreachable: try again later)
    processing ──stop──► processing-stopped ──resume──► pending   (Suspend/Resume-Job)
    any non-terminal ──cancel──► canceled;  ──abort──► aborted
"""

from __future__ import annotations

import enum

from printhost.ipp.constants import JobState

S = JobState


class JobEvent(enum.Enum):
    HOLD = "hold"  # Hold-Job, job-hold-until, hold-new-jobs
    RELEASE = "release"  # Release-Job, job-hold-until=no-hold
    START = "start"  # a dispatcher claimed the job and begins delivery
    COMPLETE = "complete"  # the printer confirmed the job printed
    RETRY = "retry"  # delivery failed transiently: back to the queue
    STOP = "stop"  # Suspend-Current-Job: delivery stopped by an operator
    RESUME = "resume"  # Resume-Job: back in the queue
    CANCEL = "cancel"  # Cancel-Job and friends
    ABORT = "abort"  # the system gave up (permanent printer error, too many attempts)
    RESTART = "restart"  # Restart-Job / Reprocess-Job of a retained terminal job


_ACTIVE = (S.PENDING, S.PENDING_HELD, S.PROCESSING, S.PROCESSING_STOPPED)

TRANSITIONS: dict[tuple[JobState, JobEvent], JobState] = {
    (S.PENDING, JobEvent.HOLD): S.PENDING_HELD,
    (S.PENDING_HELD, JobEvent.HOLD): S.PENDING_HELD,
    (S.PENDING_HELD, JobEvent.RELEASE): S.PENDING,
    (S.PENDING, JobEvent.RELEASE): S.PENDING,
    (S.PENDING, JobEvent.START): S.PROCESSING,
    (S.PROCESSING, JobEvent.START): S.PROCESSING,  # recovery re-claims an orphaned job
    (S.PROCESSING, JobEvent.COMPLETE): S.COMPLETED,
    (S.PROCESSING, JobEvent.RETRY): S.PENDING,
    (S.PROCESSING, JobEvent.STOP): S.PROCESSING_STOPPED,
    (S.PROCESSING_STOPPED, JobEvent.RESUME): S.PENDING,
    (S.PROCESSING, JobEvent.ABORT): S.ABORTED,
    (S.PENDING, JobEvent.ABORT): S.ABORTED,
    (S.PENDING_HELD, JobEvent.ABORT): S.ABORTED,
    **{(state, JobEvent.CANCEL): S.CANCELED for state in _ACTIVE},
    **{(state, JobEvent.RESTART): S.PENDING for state in (S.CANCELED, S.ABORTED, S.COMPLETED)},
}


class InvalidTransition(Exception):
    """The event is not allowed in the job's current state (nothing was changed)."""

    def __init__(self, state: JobState, event: JobEvent) -> None:
        super().__init__(f"a {state.keyword} job cannot {event.value}")
        self.state = state
        self.event = event


def next_state(state: JobState, event: JobEvent) -> JobState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def is_allowed(state: JobState, event: JobEvent) -> bool:
    return (state, event) in TRANSITIONS


def diagram() -> str:
    """One line per transition, for the docs: ``pending --hold--> pending-held``."""
    return "\n".join(
        f"{old.keyword} --{event.value}--> {new.keyword}"
        for (old, event), new in sorted(
            TRANSITIONS.items(), key=lambda kv: (kv[0][0], kv[0][1].value)
        )
    )
