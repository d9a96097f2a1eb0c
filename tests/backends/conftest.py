"""Fixtures for the delivery backend tests: real peers (ippeveprinter, a private cupsd with
cups-lpd, an AppSocket sink), sample documents and a recording ``Progress``.

Peers that tests only read from (the healthy printer, cupsd, the LPD server) are started
once per pytest-xdist worker; peers a test breaks (a printer it kills) belong to that test.
Every fixture stops what it started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from peers.ippeveprinter import IppEvePrinter
from peers.sink import RawSink

from printhost.dispatch.backends.base import DocumentFile

from .helpers import RecordingProgress


@pytest.fixture
def progress() -> RecordingProgress:
    return RecordingProgress()


@pytest.fixture
def write_document(tmp_path: Path) -> Callable[..., DocumentFile]:
    """``write_document(data, format, name)`` -> a DocumentFile in the test's spool dir."""
    counter = iter(range(1, 1_000_000))

    def write(data: bytes, fmt: str = "application/pdf", name: str = "") -> DocumentFile:
        path = tmp_path / "spool" / f"doc-{next(counter)}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return DocumentFile(path=path, format=fmt, name=name)

    return write


# -- IPP printers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    """A healthy ippeveprinter shared by the tests of one worker (tests only add jobs)."""
    with IppEvePrinter(tmp_path_factory.mktemp("eve")) as eve:
        yield eve


@pytest.fixture(scope="session")
def slow_printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    """Each job stays processing for 1 s, so the backend has to poll."""
    with IppEvePrinter(tmp_path_factory.mktemp("eve-slow"), delay=1.0) as eve:
        yield eve


@pytest.fixture(scope="session")
def failing_printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    """Every job ends aborted (the print command exits 1)."""
    with IppEvePrinter(tmp_path_factory.mktemp("eve-fail"), fail=True) as eve:
        yield eve


@pytest.fixture
def doomed_printer(tmp_path: Path) -> Iterator[IppEvePrinter]:
    """A printer of this test's own, which the test may kill."""
    with IppEvePrinter(tmp_path / "eve-doomed", delay=3.0) as eve:
        yield eve


# -- AppSocket ----------------------------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[RawSink]:
    with RawSink("read") as raw:
        yield raw


@pytest.fixture
def hanging_sink() -> Iterator[RawSink]:
    with RawSink("hang") as raw:
        yield raw


# -- LPD ----------------------------------------------------------------------------------
