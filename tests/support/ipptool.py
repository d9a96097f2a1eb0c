"""Run CUPS' ``ipptool`` and parse its ``-t`` test report.

Theory of operation
-------------------
``ipptool -t`` prints one section per test file and one line per test::

    "ipp-1.1.test":
        RFC 8011 section 4.2.1: Print-Job Operation                          [PASS]
        RFC 8011 section 4.2.4: Create-Job Operation                         [FAIL]
            RECEIVED: 122 bytes in response
            status-code = server-error-busy (Currently printing another job.)
            EXPECTED: STATUS successful-ok (got server-error-busy)
        Print-Job with A4 PDF                                                [0001]

Test names are cut to 68 characters (``%-68.68s``). Lines indented by eight
spaces belong to the test above them: the reasons of a ``[FAIL]`` or the
``DISPLAY`` output of a ``[PASS]``. ``[0001]`` is a progress line printed
while a test repeats (``REPEAT-MATCH``) and is ignored. A ``Summary:`` line
appears only in some runs, so we never rely on it.

ipptool validates the syntax of every value it receives and reports
problems as ``"name": Bad keyword value "" - invalid character (RFC 8011
section 5.1.4).``; CUPS clients since the 2024 cups-browsed fixes reject a
whole printer over one such value, so these *value warnings* are failures
whatever the test's own verdict.

ipptool's exit status is not trustworthy (a failure inside an ``INCLUDE``d
file does not always reach it), so verdicts come only from counting the
``[PASS]``/``[FAIL]``/``[SKIP]`` lines; a run that printed no test line at
all, timed out, or wrote ``ipptool: ...`` errors (unreadable files,
connection refused) is a failed run.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

IPPTOOL = "ipptool"
DEFAULT_TIMEOUT = 600.0
#: user_properties key under which tests record a run's counts for the terminal summary.
COUNTS_PROPERTY = "ipptool-counts"

Verdict = Literal["PASS", "FAIL", "SKIP"]

_SECTION = re.compile(r'^"(?P<file>.+)":\s*$')
_TEST = re.compile(r"^ {4}(?P<name>\S.*?)\s*\[(?P<verdict>PASS|FAIL|SKIP|\d+)\]\s*$")
_DETAIL = re.compile(r"^ {8}(?P<text>.*\S)\s*$")
_SUMMARY = re.compile(
    r"^Summary: (?P<tests>\d+) tests, (?P<passed>\d+) passed, (?P<failed>\d+) failed"
)
#: libcups' ippValidateAttribute() messages: ``"attr": Bad ... (RFC 8011 section 5.1.4).``
_VALUE_WARNING = re.compile(r'^"[^"]*": Bad .*\((?:RFC|PWG) ?[\d.]+ section [\d.]+\)\.?$')
#: Detail lines that only describe the response and are never a reason by themselves.
_INFORMATIONAL = re.compile(
    r"^(?:RECEIVED: \d+ bytes in response|status-code = successful-ok\b.*)$"
)


@dataclass(frozen=True)
class IpptoolResult:
    """One test line of the report and the detail lines under it."""

    suite: str
    name: str
    verdict: Verdict
    details: tuple[str, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the test failed (empty unless it failed)."""
        return self.details if self.verdict == "FAIL" else ()

    @property
    def value_warnings(self) -> tuple[str, ...]:
        """ipptool's value-syntax complaints, whatever the verdict."""
        return tuple(line for line in self.details if is_value_warning(line))

    def significant_reasons(self) -> tuple[str, ...]:
        """Failure reasons without the purely informational response lines."""
        return tuple(line for line in self.reasons if not _INFORMATIONAL.match(line))


@dataclass(frozen=True)
class AllowedFailure:
    """A failure that is known and accepted, matched precisely.

    The test must fail in ``suite`` under exactly ``name`` (as printed, i.e.
    cut to 68 characters), and its significant reasons, after dropping lines
    that start with one of ``tolerated_prefixes``, must equal ``reasons``.
    Any extra reason (another broken expectation in the same test) makes the
    failure count again.
    """

    suite: str
    name: str
    reasons: tuple[str, ...]
    why: str
    tolerated_prefixes: tuple[str, ...] = ()

    def matches(self, result: IpptoolResult) -> bool:
        if result.verdict != "FAIL" or (result.suite, result.name) != (self.suite, self.name):
            return False
        remaining = tuple(
            line
            for line in result.significant_reasons()
            if not line.startswith(self.tolerated_prefixes)
        )
        return remaining == self.reasons


@dataclass(frozen=True)
class IpptoolReport:
    """The parsed outcome of one ipptool run."""

    command: tuple[str, ...]
    cwd: Path
    returncode: int | None
    stdout: str
    stderr: str
    results: tuple[IpptoolResult, ...]
    output_path: Path | None = None
    timed_out: bool = False
    summary_line: str | None = None
    errors: tuple[str, ...] = field(default=())

    def with_verdict(self, verdict: Verdict) -> list[IpptoolResult]:
        return [result for result in self.results if result.verdict == verdict]

    @property
    def passed(self) -> list[IpptoolResult]:
        return self.with_verdict("PASS")

    @property
    def failed(self) -> list[IpptoolResult]:
        return self.with_verdict("FAIL")

    @property
    def skipped(self) -> list[IpptoolResult]:
        return self.with_verdict("SKIP")

    @property
    def value_warnings(self) -> list[tuple[IpptoolResult, str]]:
        return [(result, line) for result in self.results for line in result.value_warnings]

    def counts(self) -> dict[str, int]:
        return {
            "PASS": len(self.passed),
            "FAIL": len(self.failed),
            "SKIP": len(self.skipped),
            "value-warnings": len(self.value_warnings),
        }

    def counts_line(self) -> str:
        counts = self.counts()
        return (
            f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped, "
            f"{counts['value-warnings']} value warnings"
        )

    def run_errors(self) -> list[str]:
        """Problems with the run itself rather than with a test."""
        problems = list(self.errors)
        if self.timed_out:
            problems.append("ipptool timed out")
        if not self.results:
            problems.append("ipptool printed no test results")
        return problems

    def unexpected_failures(self, allowed: Iterable[AllowedFailure] = ()) -> list[IpptoolResult]:
        allowed = tuple(allowed)
        return [
            result
            for result in self.failed
            if not any(exception.matches(result) for exception in allowed)
        ]

    def problems(self, allowed: Iterable[AllowedFailure] = ()) -> list[str]:
        """Everything that should fail a conformance test, one line each."""
        problems = self.run_errors()
        for result in self.unexpected_failures(allowed):
            problems.append(f"FAIL {result.suite}: {result.name}")
        for result, line in self.value_warnings:
            problems.append(f"value warning in {result.suite}: {result.name}: {line}")
        return problems

    def format(self, allowed: Iterable[AllowedFailure] = (), *, max_chars: int = 20_000) -> str:
        """A readable account for assertion messages: command, counts, problems, details."""
        allowed = tuple(allowed)
        lines = [
            f"$ (cd {self.cwd} && {' '.join(self.command)})",
            f"exit status {self.returncode}; {self.counts_line()}",
        ]
        if self.output_path is not None:
            lines.append(f"full output: {self.output_path}")
        lines.extend(f"run error: {error}" for error in self.run_errors())
        for result in self.failed:
            accepted = any(exception.matches(result) for exception in allowed)
            label = "FAIL (known, allowed)" if accepted else "FAIL"
            lines.append(f"{label} [{result.suite}] {result.name}")
            lines.extend(f"        {detail}" for detail in result.details)
        for result in self.passed + self.skipped:
            lines.extend(
                f"value warning [{result.suite}] {result.name}: {warning}"
                for warning in result.value_warnings
            )
        if self.stderr.strip():
            lines.append("stderr:")
            lines.extend(f"    {line}" for line in self.stderr.strip().splitlines())
        text = "\n".join(lines)
        if len(text) > max_chars:
            text = text[:max_chars] + f"\n... ({len(text) - max_chars} more characters)"
        return text


def is_value_warning(line: str) -> bool:
    """True for ipptool's complaints about a value's syntax."""
    return _VALUE_WARNING.match(line.strip()) is not None


def parse_report(stdout: str) -> tuple[list[IpptoolResult], str | None]:
    """Parse ``ipptool -t`` output into test results (in order) and the summary line."""
    results: list[IpptoolResult] = []
    suite = ""
    current: tuple[str, Verdict] | None = None
    details: list[str] = []
    summary: str | None = None

    def flush() -> None:
        if current is not None:
            results.append(IpptoolResult(suite, current[0], current[1], tuple(details)))
        details.clear()

    for raw in stdout.splitlines():
        if section := _SECTION.match(raw):
            flush()
            current, suite = None, section["file"]
        elif test := _TEST.match(raw):
            if test["verdict"].isdigit():
                continue  # repeat-progress line, the verdict line follows
            flush()
            current = (test["name"], _verdict(test["verdict"]))
        elif (detail := _DETAIL.match(raw)) and current is not None:
            details.append(detail["text"])
        elif _SUMMARY.match(raw):
            summary = raw.strip()
    flush()
    return results, summary


def _verdict(text: str) -> Verdict:
    if text == "PASS":
        return "PASS"
    if text == "FAIL":
        return "FAIL"
    return "SKIP"


def build_command(
    uri: str,
    test_files: Sequence[str | os.PathLike[str]],
    *,
    version: str | None = "2.0",
    document: str | os.PathLike[str] | None = None,
    defines: Mapping[str, str] | None = None,
    request_timeout: int = 30,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """``ipptool -tI -T 30 [-V 2.0] [-f FILE] [-d k=v]... [extra] URI files...``."""
    command = [IPPTOOL, "-tI", "-T", str(request_timeout)]
    if version is not None:
        command += ["-V", version]
    if document is not None:
        command += ["-f", os.fspath(document)]
    for name, value in (defines or {}).items():
        command += ["-d", f"{name}={value}"]
    command += [*extra_args, uri, *(os.fspath(path) for path in test_files)]
    return command


def run_ipptool(
    uri: str,
    test_files: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    document: str | os.PathLike[str] | None = None,
    defines: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    version: str | None = "2.0",
    request_timeout: int = 30,
    timeout: float = DEFAULT_TIMEOUT,
    output_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> IpptoolReport:
    """Run ipptool with ``cwd`` as working directory and parse its report.

    ``cwd`` should be the suite directory from the ``sample_documents``
    fixture, so that ``INCLUDE``, ``FILE`` and ``-f`` resolve. stdout goes to
    ``output_path`` (a fresh temporary file if None), stderr next to it.
    ipptool runs with a private ``HOME``: it remembers self-signed server
    certificates under ``~/.cups/ssl`` and would refuse a test server that
    generated a new one.
    """
    command = build_command(
        uri,
        test_files,
        version=version,
        document=document,
        defines=defines,
        request_timeout=request_timeout,
        extra_args=extra_args,
    )
    if output_path is None:
        output_path = Path(tempfile.mkdtemp(prefix="ipptool-")) / "ipptool.out"
    output_path.parent.mkdir(parents=True, exist_ok=True)
    stderr_path = output_path.with_name(output_path.name + ".stderr")
    with tempfile.TemporaryDirectory(prefix="ipptool-home-") as home:
        run_env = {**os.environ, "HOME": home, "LC_ALL": "C", **(env or {})}
        returncode, timed_out = _run_to_files(
            command, cwd, run_env, output_path, stderr_path, timeout
        )
    stdout = output_path.read_text(encoding="utf-8", errors="replace")
    stderr = stderr_path.read_text(encoding="utf-8", errors="replace")
    results, summary = parse_report(stdout)
    errors = tuple(line for line in stderr.splitlines() if line.startswith("ipptool:"))
    return IpptoolReport(
        command=tuple(command),
        cwd=cwd,
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        results=tuple(results),
        output_path=output_path,
        timed_out=timed_out,
        summary_line=summary,
        errors=errors,
    )


def _run_to_files(
    command: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    stdout_path: Path,
    stderr_path: Path,
    timeout: float,
) -> tuple[int | None, bool]:
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL
        )
        try:
            return process.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None, True


#: RFC 8011 §5.3.7 job-state enum values.
JOB_STATES = {
    3: "pending",
    4: "pending-held",
    5: "processing",
    6: "processing-stopped",
    7: "canceled",
    8: "aborted",
    9: "completed",
}

_DISPLAYED = re.compile(r"^(?P<name>[a-z0-9._-]+) \((?P<syntax>[^)]*)\) = (?P<value>.*)$")


def _get_job_attributes_test(names: Sequence[str]) -> str:
    display = "\n".join(f"\tDISPLAY {name}" for name in names)
    return f"""{{
\tNAME "Get-Job-Attributes"
\tOPERATION Get-Job-Attributes
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR integer job-id $job_id
\tATTR name requesting-user-name $user
\tATTR keyword requested-attributes {",".join(names)}
\tSTATUS successful-ok
{display}
}}
"""


def get_job_attributes(
    uri: str,
    job_id: int,
    *,
    work_dir: Path,
    names: Sequence[str] = ("job-state", "job-state-reasons"),
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Get-Job-Attributes through ipptool; returns ``{name: value as ipptool prints it}``.

    enum values come back as keywords (``job-state`` -> ``"pending-held"``).
    Raises AssertionError with the report if the request fails.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    test_file = work_dir / "get-job-attributes-display.test"
    test_file.write_text(_get_job_attributes_test(names), encoding="utf-8")
    report = run_ipptool(
        uri,
        [test_file],
        cwd=work_dir,
        defines={"job_id": str(job_id)},
        timeout=60.0,
        output_path=work_dir / f"get-job-{job_id}.out",
        env=env,
    )
    if report.problems() or len(report.passed) != 1:
        raise AssertionError(f"Get-Job-Attributes {job_id} failed:\n{report.format()}")
    values: dict[str, str] = {}
    for line in report.passed[0].details:
        if match := _DISPLAYED.match(line):
            values[match["name"]] = match["value"]
    return values
