"""The ipptool report parser, on output captured from real ipptool 2.4 runs.

The files in ``data/`` were produced by CUPS 2.4.2's ipptool against
ippeveprinter (see each test); they are real output, not hand-written.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance.test_ipptool_suites import KNOWN_TEST_FILE_BUGS

from support.ipptool import (
    AllowedFailure,
    IpptoolReport,
    IpptoolResult,
    build_command,
    is_value_warning,
    parse_report,
    run_ipptool,
)

DATA = Path(__file__).parent / "data"


def report_from(name: str, stderr: str = "") -> IpptoolReport:
    stdout = (DATA / name).read_text(encoding="utf-8")
    results, summary = parse_report(stdout)
    errors = tuple(line for line in stderr.splitlines() if line.startswith("ipptool:"))
    return IpptoolReport(
        command=("ipptool",),
        cwd=DATA,
        returncode=0,
        stdout=stdout,
        stderr=stderr,
        results=tuple(results),
        summary_line=summary,
        errors=errors,
    )


def test_ipp_2_0_against_ippeveprinter() -> None:
    # ipptool -tI -T 30 -V 2.0 -f testfile.pdf ipp://127.0.0.1:P/ipp/print ipp-2.0.test;
    # ipptool exited 0 although a test failed.
    report = report_from("ipptool-ipp-2.0-ippeveprinter.out")

    assert report.counts() == {"PASS": 39, "FAIL": 1, "SKIP": 27, "value-warnings": 0}
    assert {result.suite for result in report.results} == {"ipp-1.1.test", "ipp-2.0.test"}
    [failure] = report.failed
    assert failure.name == "RFC 8011 section 4.2.4: Create-Job Operation"
    assert failure.reasons[:3] == (
        "RECEIVED: 122 bytes in response",
        "status-code = server-error-busy (Currently printing another job.)",
        "EXPECTED: STATUS successful-ok (got server-error-busy)",
    )
    assert "EXPECTED: job-id" in failure.significant_reasons()
    assert report.problems() == ["FAIL ipp-1.1.test: RFC 8011 section 4.2.4: Create-Job Operation"]


def test_names_are_cut_at_68_characters_and_progress_lines_ignored() -> None:
    report = report_from("ipptool-ipp-2.0-ippeveprinter.out")
    names = [result.name for result in report.results]

    assert "RFC 8011 section 4.2.6: Get-Jobs Operation (which-jobs=not-completed" in names
    # "[0001]" repeat lines precede the real verdict and are not results.
    assert names.count("Print-Job with A4 PDF") == 1
    assert all(len(name) <= 68 for name in names)


def test_display_output_belongs_to_the_passing_test() -> None:
    report = report_from("ipptool-ipp-2.0-ippeveprinter.out")
    [default_attrs] = [
        result
        for result in report.results
        if result.name == "RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (default)"
    ]

    assert default_attrs.verdict == "PASS"
    assert default_attrs.reasons == ()
    assert "pages-per-minute (integer) = 10" in default_attrs.details


def test_value_warnings_are_failures_even_when_the_test_would_pass() -> None:
    # ippeveprinter -a with `ATTR keyword printer-kind "Bad Value+("` and
    # `ATTR keyword print-scaling-supported ""`, then get-printer-attributes.test.
    report = report_from("ipptool-value-warnings.out")

    assert [line for _, line in report.value_warnings] == [
        '"printer-kind": Bad keyword value "Bad Value+(" - invalid character '
        "(RFC 8011 section 5.1.4).",
        '"print-scaling-supported": Bad keyword value "" - invalid character '
        "(RFC 8011 section 5.1.4).",
    ]
    passing = IpptoolResult("x.test", "t", "PASS", report.results[0].details)
    assert passing.reasons == ()
    assert len(passing.value_warnings) == 2
    assert len(report.problems()) == 3  # the FAIL plus both warnings


@pytest.mark.parametrize(
    "line",
    [
        '"media-supported": Bad keyword value "" - invalid character (RFC 8011 section 5.1.4).',
        '"printer-name": Bad name value "x" - bad length 300 (RFC 8011 section 5.1.3).',
        '"x": Bad dateTime UTC hours 25 (RFC 8011 section 5.1.15).',
    ],
)
def test_value_warning_pattern(line: str) -> None:
    assert is_value_warning(line)


@pytest.mark.parametrize(
    "line",
    [
        "status-code = client-error-bad-request (Bad keyword value)",
        "EXPECTED: media-col-default",
        "media-supported (1setOf keyword) = iso_a4_210x297mm",
    ],
)
def test_not_a_value_warning(line: str) -> None:
    assert not is_value_warning(line)


def test_known_document_number_bug_is_allowed_exactly() -> None:
    # ipp-everywhere.test's first test, against ippeveprinter -a with
    # overrides-supported = document-numbers,pages.
    report = report_from("ipptool-document-number.out")

    assert len(report.failed) == 1
    assert report.problems() != []
    assert report.problems(KNOWN_TEST_FILE_BUGS) == []
    assert "FAIL (known, allowed)" in report.format(KNOWN_TEST_FILE_BUGS)


def test_reference_printer_hits_the_same_test_file_bug() -> None:
    # The same excerpt against a default ippeveprinter, which also advertises
    # the PWG 5100.6 spelling "document-numbers".
    report = report_from("ipptool-document-number-ippeveprinter.out")

    assert report.problems(KNOWN_TEST_FILE_BUGS) == []


def test_known_bug_does_not_hide_other_failures_in_the_same_test() -> None:
    [failure] = report_from("ipptool-document-number.out").failed
    worse = IpptoolResult(
        failure.suite, failure.name, "FAIL", (*failure.details, "EXPECTED: printer-icons")
    )
    other_suite = IpptoolResult("ipp-2.2.test", failure.name, "FAIL", failure.details)
    [allowed] = KNOWN_TEST_FILE_BUGS

    assert allowed.matches(failure)
    assert not allowed.matches(worse)
    assert not allowed.matches(other_suite)
    assert not allowed.matches(IpptoolResult(failure.suite, failure.name, "PASS", failure.details))


def test_missing_document_is_a_run_error() -> None:
    # ipp-1.1.test copied alone (without document-a4.pdf next to it): ipptool
    # stops at the first unreadable FILE and prints a Summary.
    stderr = (DATA / "ipptool-missing-file.stderr").read_text(encoding="utf-8")
    report = report_from("ipptool-missing-file.out", stderr)

    assert report.summary_line == "Summary: 37 tests, 27 passed, 2 failed, 8 skipped"
    assert any("cannot be read" in error for error in report.run_errors())
    assert any("cannot be read" in problem for problem in report.problems())


def test_allowed_failure_needs_the_exact_name() -> None:
    allowed = AllowedFailure("a.test", "name", ("EXPECTED: x",), why="test")

    assert allowed.matches(IpptoolResult("a.test", "name", "FAIL", ("EXPECTED: x",)))
    assert not allowed.matches(IpptoolResult("a.test", "name 2", "FAIL", ("EXPECTED: x",)))


def test_command_line() -> None:
    assert build_command(
        "ipp://h/p",
        ["ipp-2.0.test"],
        document="testfile.pdf",
        defines={"NOPRINT": "1"},
        extra_args=["-L"],
    ) == [
        "ipptool",
        "-tI",
        "-T",
        "30",
        "-V",
        "2.0",
        "-f",
        "testfile.pdf",
        "-d",
        "NOPRINT=1",
        "-L",
        "ipp://h/p",
        "ipp-2.0.test",
    ]
    assert build_command("ipp://h/p", ["a.test"], version=None)[:4] == [
        "ipptool",
        "-tI",
        "-T",
        "30",
    ]


@pytest.mark.peers
def test_unreachable_server_is_a_run_error(sample_documents: Path, tmp_path: Path) -> None:
    report = run_ipptool(
        "ipp://127.0.0.1:1/printers/none",
        ["get-printer-attributes.test"],
        cwd=sample_documents,
        request_timeout=5,
        timeout=60,
        output_path=tmp_path / "out",
    )

    assert report.results == ()
    assert "ipptool printed no test results" in report.run_errors()
    assert report.problems()
