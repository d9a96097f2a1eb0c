"""The pure decisions of the IPP backend: every status, job state and lookup case."""

from __future__ import annotations

from pathlib import Path

import pytest

from printhost.dispatch.backends.base import DocumentFile, Outcome, RemoteState
from printhost.dispatch.backends.ipp_rules import (
    FAILURE_REASONS,
    RETRY_STATUSES,
    JobStatus,
    Plan,
    PrinterInfo,
    RemoteJob,
    add_document_attributes,
    add_job_attributes,
    choose_format,
    created_job_id,
    final_result,
    match_job,
    not_ready,
    plan_submission,
    read_job_status,
    read_jobs,
    read_printer_info,
    refused_result,
    should_retry_without_uuid,
)
from printhost.ipp.constants import JobState, Operation, PrinterState, Status, Tag
from printhost.ipp.model import Attribute, Message, StringWithLanguage
from printhost.ipp_client import new_request

from .helpers import make_request

PDF_DOC = DocumentFile(Path("/spool/1"), "application/pdf", "a.pdf")


def response(status: int, *groups: tuple[int, list[Attribute]]) -> Message:
    message = Message((2, 0), status, 1)
    op = message.add_group(Tag.OPERATION)
    op.add("attributes-charset", Tag.CHARSET, "utf-8")
    for tag, attributes in groups:
        group = message.add_group(tag)
        for attribute in attributes:
            group.append(attribute)
    return message


# -- printer attributes ------------------------------------------------------------------


def test_read_printer_info() -> None:
    answer = response(
        Status.SUCCESSFUL_OK,
        (
            Tag.PRINTER,
            [
                Attribute.of(
                    "operations-supported", Tag.ENUM, Operation.PRINT_JOB, Operation.CREATE_JOB
                ),
                Attribute.of(
                    "document-format-supported", Tag.MIME_MEDIA_TYPE, "application/pdf", "image/urf"
                ),
                Attribute.of("printer-is-accepting-jobs", Tag.BOOLEAN, False),
                Attribute.of("printer-state", Tag.ENUM, PrinterState.STOPPED),
                Attribute.of("printer-state-reasons", Tag.KEYWORD, "media-empty-error"),
                Attribute.of(
                    "printer-state-message", Tag.TEXT_WITH_LANGUAGE, StringWithLanguage("Jam", "en")
                ),
                Attribute.of("multiple-document-jobs-supported", Tag.BOOLEAN, True),
            ],
        ),
    )

    info = read_printer_info(answer)

    assert info == PrinterInfo(
        operations=frozenset({Operation.PRINT_JOB, Operation.CREATE_JOB}),
        formats=("application/pdf", "image/urf"),
        accepting=False,
        state=PrinterState.STOPPED,
        state_reasons=("media-empty-error",),
        state_message="Jam",
        multiple_document_jobs=True,
    )


def test_hostile_printer_values_are_ignored() -> None:
    answer = response(
        Status.SUCCESSFUL_OK,
        (
            Tag.PRINTER,
            [
                Attribute.of("operations-supported", Tag.KEYWORD, "print-job"),
                Attribute.of("printer-state", Tag.KEYWORD, "idle"),
                Attribute.of("printer-is-accepting-jobs", Tag.INTEGER, 0),
            ],
        ),
    )

    info = read_printer_info(answer)

    assert info.operations == frozenset()
    assert info.state == PrinterState.IDLE
    assert info.accepting  # only an explicit boolean false stops us


def test_not_ready() -> None:
    assert not_ready(PrinterInfo()) is None
    stopped = not_ready(PrinterInfo(state=PrinterState.STOPPED, state_reasons=("media-jam",)))
    assert stopped is not None
    assert (stopped.outcome, stopped.reason) == (Outcome.RETRY, "printer-stopped")
    assert "media-jam" in stopped.message
    refusing = not_ready(PrinterInfo(accepting=False))
    assert refusing is not None and "not accepting" in refusing.message


# -- what to send --------------------------------------------------------------------------


def test_plan_submission() -> None:
    both = frozenset({Operation.PRINT_JOB, Operation.CREATE_JOB, Operation.SEND_DOCUMENT})
    multi = PrinterInfo(operations=both, multiple_document_jobs=True)
    assert plan_submission(multi, 1) is Plan.PRINT_JOB
    assert plan_submission(multi, 2) is Plan.CREATE_JOB
    assert plan_submission(PrinterInfo(operations=both), 2) is Plan.SPLIT
    no_send = PrinterInfo(operations=frozenset({Operation.CREATE_JOB}), multiple_document_jobs=True)
    assert plan_submission(no_send, 2) is Plan.SPLIT


def test_choose_format() -> None:
    assert choose_format("application/pdf", ["application/pdf"]) == "application/pdf"
    assert choose_format("image/png", ["application/pdf"]) == "application/octet-stream"
    assert choose_format("image/png", []) == "image/png"


def test_job_and_document_attributes() -> None:
    request = make_request(
        "ipp://p/ipp/print",
        [PDF_DOC],
        job_name="report",
        attributes=[Attribute.of("copies", Tag.INTEGER, 3)],
    )
    message = new_request(Operation.PRINT_JOB, request.printer_uri, 1, "alice")

    add_job_attributes(message, request, with_uuid=True)
    add_document_attributes(message, PDF_DOC, ["image/urf"])

    op = message.operation_attributes
    assert op.get("job-name") == Attribute.of("job-name", Tag.NAME, "report")
    assert op.get("document-name") == Attribute.of("document-name", Tag.NAME, "a.pdf")
    assert op.get("document-format") == Attribute.of(
        "document-format", Tag.MIME_MEDIA_TYPE, "application/octet-stream"
    )
    job = message.group(Tag.JOB)
    assert job is not None
    assert [a.name for a in job] == ["job-uuid", "copies"]
    assert job.get("job-uuid") == Attribute.of("job-uuid", Tag.URI, request.job_uuid)

    without = new_request(Operation.PRINT_JOB, request.printer_uri, 2, "alice")
    add_job_attributes(without, request, with_uuid=False)
    assert "job-uuid" not in (without.group(Tag.JOB) or [])


# -- answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_transient_statuses_are_retried(status: Status) -> None:
    result = refused_result(response(status), "Print-Job")
    assert (result.outcome, result.reason) == (Outcome.RETRY, "printer-stopped")
    assert status.keyword in result.message


@pytest.mark.parametrize("status", sorted(FAILURE_REASONS))
def test_permanent_statuses_fail_with_a_reason(status: Status) -> None:
    result = refused_result(response(status), "Print-Job")
    assert (result.outcome, result.reason) == (Outcome.FAILED, FAILURE_REASONS[status])


def test_other_errors_fail() -> None:
    answer = response(Status.CLIENT_ERROR_BAD_REQUEST)
    answer.operation_attributes.add("status-message", Tag.TEXT, "no way")
    result = refused_result(answer, "Print-Job")
    assert (result.outcome, result.reason) == (Outcome.FAILED, "aborted-by-system")
    assert result.message == ("Print-Job: printer answered client-error-bad-request (no way)")
    assert "0x0bad" in refused_result(response(0x0BAD), "Print-Job").message


def test_unsupported_document_format_reason() -> None:
    answer = response(
        Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
        (Tag.UNSUPPORTED_GROUP, [Attribute.of("document-format", Tag.MIME_MEDIA_TYPE, "x/y")]),
    )
    result = refused_result(answer, "Print-Job")
    assert (result.outcome, result.reason) == (Outcome.FAILED, "unsupported-document-format")


def test_retry_without_uuid_only_when_it_may_be_the_culprit() -> None:
    not_supported = Status.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED
    assert should_retry_without_uuid(response(not_supported))
    uuid_refused = (Tag.UNSUPPORTED_GROUP, [Attribute.of("job-uuid", Tag.URI, "urn:uuid:1")])
    assert should_retry_without_uuid(response(not_supported, uuid_refused))
    format_refused = (Tag.UNSUPPORTED_GROUP, [Attribute.of("sides", Tag.KEYWORD, "x")])
    assert not should_retry_without_uuid(response(not_supported, format_refused))
    assert not should_retry_without_uuid(response(Status.CLIENT_ERROR_BAD_REQUEST))


def test_created_job_id() -> None:
    ok = response(Status.SUCCESSFUL_OK, (Tag.JOB, [Attribute.of("job-id", Tag.INTEGER, 42)]))
    assert created_job_id(ok) == 42
    assert created_job_id(response(Status.SUCCESSFUL_OK)) is None


def test_read_job_status() -> None:
    answer = response(
        Status.SUCCESSFUL_OK,
        (
            Tag.JOB,
            [
                Attribute.of("job-state", Tag.ENUM, JobState.PROCESSING_STOPPED),
                Attribute.of("job-state-reasons", Tag.KEYWORD, "job-printing", "media-empty"),
                Attribute.of("job-state-message", Tag.TEXT, "Out of paper"),
                Attribute.of("job-impressions-completed", Tag.INTEGER, 3),
            ],
        ),
    )

    status = read_job_status(answer)

    assert status == JobStatus(
        JobState.PROCESSING_STOPPED, ("job-printing", "media-empty"), "Out of paper", 3
    )
    assert not status.is_terminal
    assert status.describe() == "processing-stopped (job-printing, media-empty): Out of paper"
    assert read_job_status(response(Status.SUCCESSFUL_OK)) is None


@pytest.mark.parametrize(
    ("state", "reasons", "outcome", "reason"),
    [
        (JobState.COMPLETED, (), Outcome.COMPLETED, "job-completed-successfully"),
        (JobState.CANCELED, (), Outcome.CANCELED, "job-canceled-at-device"),
        (JobState.ABORTED, (), Outcome.FAILED, "aborted-by-system"),
        (JobState.ABORTED, ("document-format-error",), Outcome.FAILED, "document-format-error"),
    ],
)
def test_final_result(
    state: JobState, reasons: tuple[str, ...], outcome: Outcome, reason: str
) -> None:
    result = final_result(7, JobStatus(state, reasons, impressions=2))
    assert (result.outcome, result.reason) == (outcome, reason)
    assert (result.remote_job_id, result.impressions_completed) == (7, 2)


# -- lookup -------------------------------------------------------------------------------


def test_read_jobs_keeps_every_uuid_and_deduplicates() -> None:
    job = [
        Attribute.of("job-id", Tag.INTEGER, 3),
        Attribute.of("job-uuid", Tag.URI, "urn:uuid:ours"),
        Attribute.of("job-uuid", Tag.URI, "urn:uuid:printers-own"),
        Attribute.of("job-state", Tag.ENUM, JobState.COMPLETED),
        Attribute.of("job-name", Tag.NAME, "report"),
        Attribute.of("job-originating-user-name", Tag.NAME, "alice"),
    ]
    all_jobs = response(Status.SUCCESSFUL_OK, (Tag.JOB, job))
    not_completed = response(Status.SUCCESSFUL_OK)

    jobs = read_jobs([all_jobs, not_completed, all_jobs])

    assert jobs == [
        RemoteJob(
            3, JobState.COMPLETED, ("urn:uuid:ours", "urn:uuid:printers-own"), "report", "alice"
        )
    ]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (JobState.PENDING, RemoteState.ACTIVE),
        (JobState.PROCESSING_STOPPED, RemoteState.ACTIVE),
        (JobState.COMPLETED, RemoteState.COMPLETED),
        (JobState.ABORTED, RemoteState.FAILED),
        (JobState.CANCELED, RemoteState.FAILED),
    ],
)
def test_match_by_uuid(state: JobState, expected: RemoteState) -> None:
    jobs = [
        RemoteJob(1, JobState.COMPLETED, ("urn:uuid:other",)),
        RemoteJob(2, state, ("urn:uuid:ours",)),
    ]
    found = match_job(jobs, make_request("ipp://p", [PDF_DOC], job_uuid="urn:uuid:ours"))
    assert (found.state, found.remote_job_id) == (expected, 2)


def test_match_by_remote_job_id_when_the_name_agrees() -> None:
    request = make_request("ipp://p", [PDF_DOC], job_name="report", remote_job_id=5)
    same = [RemoteJob(5, JobState.PROCESSING, ("urn:uuid:printer-made",), "report")]
    assert match_job(same, request).state is RemoteState.ACTIVE
    reused_id = [RemoteJob(5, JobState.COMPLETED, ("urn:uuid:printer-made",), "other job")]
    assert match_job(reused_id, request).state is RemoteState.NOT_FOUND


def test_name_and_user_only_on_printers_without_job_uuid() -> None:
    request = make_request("ipp://p", [PDF_DOC], job_name="report", user="alice")
    one = [RemoteJob(8, JobState.COMPLETED, (), "report", "alice"), RemoteJob(9, 9, (), "x", "bob")]
    assert match_job(one, request).remote_job_id == 8
    two = [*one, RemoteJob(10, JobState.COMPLETED, (), "report", "alice")]
    assert match_job(two, request).state is RemoteState.UNKNOWN  # ambiguous
    with_uuids = [RemoteJob(8, JobState.COMPLETED, ("urn:uuid:x",), "report", "alice")]
    assert match_job(with_uuids, request).state is RemoteState.NOT_FOUND
    assert match_job([], request).state is RemoteState.NOT_FOUND
