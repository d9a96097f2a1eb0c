from __future__ import annotations

from printhost.config import DeliveryConfig
from printhost.dispatch.backends.base import DeliveryResult, Outcome, RemoteLookup, RemoteState
from printhost.dispatch.policy import decide, decide_recovery
from printhost.jobs.lifecycle import JobEvent

CONFIG = DeliveryConfig(max_attempts=5)


def test_completed_records_impressions() -> None:
    result = DeliveryResult(
        Outcome.COMPLETED, "job-completed-successfully", "", impressions_completed=3
    )
    decision = decide(result, 1, CONFIG)
    assert decision.event is JobEvent.COMPLETE
    assert decision.changes == {"impressions_completed": 3}


def test_retry_sends_the_job_back_at_once_and_frees_printer() -> None:
    result = DeliveryResult(Outcome.RETRY, "printer-stopped", "connection refused")
    decision = decide(result, 2, CONFIG)
    assert decision.event is JobEvent.RETRY
    # no delay: the printer is marked down and the job re-routed (dispatch/health.py)
    # the job keeps naming its printer: going back there, that printer is asked first
    assert decision.changes == {"next_attempt_at": None}
    assert "connection refused" in decision.message


def test_retry_gives_up_after_max_attempts() -> None:
    result = DeliveryResult(Outcome.RETRY, "printer-stopped", "timed out")
    decision = decide(result, 5, CONFIG)
    assert decision.event is JobEvent.ABORT
    assert "5 attempts" in decision.message


def test_failed_aborts_with_printer_reason() -> None:
    result = DeliveryResult(Outcome.FAILED, "document-format-error", "unsupported format")
    decision = decide(result, 1, CONFIG)
    assert (decision.event, decision.reasons) == (JobEvent.ABORT, ("document-format-error",))


def test_canceled_at_device() -> None:
    decision = decide(DeliveryResult(Outcome.CANCELED, "", ""), 1, CONFIG)
    assert (decision.event, decision.reasons) == (JobEvent.CANCEL, ("job-canceled-at-device",))


def test_recovery_does_not_resend_what_the_printer_has() -> None:
    assert decide_recovery(RemoteLookup(RemoteState.COMPLETED)).event is JobEvent.COMPLETE
    assert decide_recovery(RemoteLookup(RemoteState.FAILED)).event is JobEvent.ABORT
    for state in (RemoteState.NOT_FOUND, RemoteState.UNKNOWN, RemoteState.ACTIVE):
        assert decide_recovery(RemoteLookup(state)) is None
