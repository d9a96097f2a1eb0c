"""Session fixtures for printer-side peers shared by several test packages (registered in
tests/conftest.py through ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from peers.cupsd import PrivateCupsd
from peers.lpdserver import CupsLpdServer


@pytest.fixture(scope="session")
def cupsd() -> Iterator[PrivateCupsd]:
    """A private cupsd per worker with a shared raw queue ``Q`` (the LPD target), in its
    own temp dir (see PrivateCupsd)."""
    with PrivateCupsd() as server:
        server.add_raw_queue("Q")
        yield server


@pytest.fixture(scope="session")
def lpd_server(cupsd: PrivateCupsd) -> Iterator[CupsLpdServer]:
    with CupsLpdServer(cupsd) as server:
        yield server
