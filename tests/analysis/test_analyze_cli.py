"""``printhost analyze`` as a real process: one JSON object, costs with job options, and a
rejected document exits non-zero with the reason on standard error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .corpus import GRAY_FILL, RED, PdfPage, make_pdf

PRINTHOST = [sys.executable, "-m", "printhost"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRINTHOST, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "doc.pdf"
    pages = [PdfPage(GRAY_FILL), PdfPage(RED), PdfPage(GRAY_FILL, rotate=90)]
    path.write_bytes(make_pdf(pages))
    return path


def test_analyze_prints_one_json_object(pdf: Path) -> None:
    done = _run("analyze", str(pdf))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "format": "application/pdf",
        "pages": 3,
        "color_pages": [2],
        "page_sizes": [[612.0, 792.0], [612.0, 792.0], [792.0, 612.0]],
        "embedded_copies": 1,
    }


def test_analyze_with_job_options_adds_the_cost(pdf: Path) -> None:
    done = _run(
        "analyze",
        str(pdf),
        "--copies",
        "2",
        "--sides",
        "two-sided-long-edge",
        "--number-up",
        "2",
        "--page-ranges",
        "1-3",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # per copy: sides [1,2] (colour) and [3]; one sheet; every copy on a new sheet
    assert (result["impressions"], result["sheets"], result["color_impressions"]) == (4, 2, 2)


def test_rejected_document_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "lie.pdf"
    path.write_bytes(make_pdf([PdfPage(GRAY_FILL)], count=1_000_000_000))
    done = _run("analyze", str(path))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "declares 1000000000 pages" in done.stderr


@pytest.mark.parametrize(
    "args", [["--copies", "0"], ["--sides", "both"], ["--page-ranges", "3-1"], ["--number-up", "x"]]
)
def test_invalid_options_are_usage_errors(pdf: Path, args: list[str]) -> None:
    done = _run("analyze", str(pdf), *args)
    assert done.returncode == 2
    assert "usage:" in done.stderr
