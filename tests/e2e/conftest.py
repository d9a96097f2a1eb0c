"""Fixtures for the delivery and recovery end-to-end tests (helpers: delivery_helpers.py).

printhost runs as a subprocess (``make_printhost_server`` from tests/conftest.py) with short
delivery timeouts, retry delays and leases, so failure paths finish in seconds. Printers
are real peers: ippeveprinter, an AppSocket sink, cups-lpd in front of a private cupsd, and
the ``file:`` printer.

Peers that tests only add jobs to (cupsd, cups-lpd) are started once per xdist worker;
printers a test watches or breaks belong to that test. Every fixture stops, by process id,
what it started.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from peers.ippeveprinter import IppEvePrinter


@pytest.fixture
def make_eve(tmp_path: Path) -> Iterator[Callable[..., IppEvePrinter]]:
    """``make_eve(delay=..., fail=...)`` -> a started ippeveprinter owned by this test."""
    printers: list[IppEvePrinter] = []

    def make(**options: Any) -> IppEvePrinter:
        printer = IppEvePrinter(tmp_path / f"eve-{len(printers)}", **options)
        printers.append(printer)
        return printer.start()

    yield make
    for printer in printers:
        printer.stop()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """Where ipptool test files and outputs go."""
    return tmp_path / "ipptool"


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A world-readable directory for documents that cupsd's filters (user lp) must read."""
    path = Path(tempfile.mkdtemp(prefix="printhost-e2e-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)
