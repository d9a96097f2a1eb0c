"""Every (state, event) pair of the job lifecycle table (STYLE: test every pair)."""

from __future__ import annotations

import itertools

import pytest

from printhost.ipp.constants import JobState
from printhost.jobs.lifecycle import (
    TRANSITIONS,
    InvalidTransition,
    JobEvent,
    diagram,
    is_allowed,
    next_state,
)

S = JobState
E = JobEvent

EXPECTED = {
    (S.PENDING, E.HOLD): S.PENDING_HELD,
    (S.PENDING_HELD, E.HOLD): S.PENDING_HELD,
    (S.PENDING_HELD, E.RELEASE): S.PENDING,
    (S.PENDING, E.RELEASE): S.PENDING,
    (S.PENDING, E.START): S.PROCESSING,
    (S.PROCESSING, E.START): S.PROCESSING,
    (S.PROCESSING, E.COMPLETE): S.COMPLETED,
    (S.PROCESSING, E.RETRY): S.PENDING,
    (S.PROCESSING, E.STOP): S.PROCESSING_STOPPED,
    (S.PROCESSING_STOPPED, E.RESUME): S.PENDING,
    (S.PROCESSING, E.ABORT): S.ABORTED,
    (S.PENDING, E.ABORT): S.ABORTED,
    (S.PENDING_HELD, E.ABORT): S.ABORTED,
    (S.PENDING, E.CANCEL): S.CANCELED,
    (S.PENDING_HELD, E.CANCEL): S.CANCELED,
    (S.PROCESSING, E.CANCEL): S.CANCELED,
    (S.PROCESSING_STOPPED, E.CANCEL): S.CANCELED,
    (S.CANCELED, E.RESTART): S.PENDING,
    (S.ABORTED, E.RESTART): S.PENDING,
    (S.COMPLETED, E.RESTART): S.PENDING,
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(JobState, JobEvent)))
def test_every_pair(state: JobState, event: JobEvent) -> None:
    expected = EXPECTED.get((state, event))
    assert is_allowed(state, event) == (expected is not None)
    if expected is None:
        with pytest.raises(InvalidTransition) as raised:
            next_state(state, event)
        assert state.keyword in str(raised.value)
    else:
        assert next_state(state, event) is expected


def test_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_terminal_states_only_restart() -> None:
    for (state, event), _ in TRANSITIONS.items():
        if state.is_terminal:
            assert event is JobEvent.RESTART


def test_diagram_lists_every_transition() -> None:
    lines = diagram().splitlines()
    assert len(lines) == len(TRANSITIONS)
    assert "pending --hold--> pending-held" in lines
