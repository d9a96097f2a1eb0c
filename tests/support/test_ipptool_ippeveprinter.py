"""End-to-end check of the conformance harness against a reference printer.

CUPS' own ippeveprinter should pass ipp-2.0.test with our generated
documents; if it does not, the harness (documents, working directory,
parser) is broken rather than printhost. The one failure ippeveprinter is
known to produce is ``server-error-busy``: it prints one job at a time and
ipptool's Create-Job tests do not retry on busy (its Print-Job tests do).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from peers.ippeveprinter import IppEvePrinter

from support.ipptool import run_ipptool

pytestmark = pytest.mark.peers


def test_ippeveprinter_passes_ipp_2_0(sample_documents: Path, tmp_path: Path) -> None:
    with IppEvePrinter(tmp_path / "printer") as printer:
        # ipp-1.1.test expects printer-up-time > 0, and ippeveprinter counts
        # whole seconds since it started.
        time.sleep(1.1)
        report = run_ipptool(
            printer.uri,
            ["ipp-2.0.test"],
            cwd=sample_documents,
            document="testfile.pdf",
            version="2.0",
            timeout=300,
            output_path=tmp_path / "ipp-2.0.out",
        )

    assert report.run_errors() == [], report.format()
    assert report.value_warnings == [], report.format()
    assert len(report.passed) >= 30, report.format()
    for failure in report.failed:
        assert any("server-error-busy" in reason for reason in failure.reasons), report.format()
    # Every document the suite prints was found and sent.
    printed = {result.name for result in report.passed}
    assert {"Print-Job with A4 PDF", "Print-Job with Grayscale JPEG on A4"} <= printed
