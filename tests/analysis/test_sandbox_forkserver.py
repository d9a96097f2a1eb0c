"""The pre-started worker (forkserver.py): bounds per child, crashes, and stopping it."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from printhost.analysis import AnalysisError, Limits, analyze_file
from printhost.analysis.forkserver import ForkServer
from printhost.analysis.sandbox import analyze_in_fresh_process, analyze_with

from .corpus import RED, PdfPage, make_pdf


@pytest.fixture
def server() -> Iterator[ForkServer]:
    with ForkServer() as owned:
        yield owned
    assert owned.pid is None


def _doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.pdf"
    path.write_bytes(make_pdf([PdfPage(RED)]))
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_same_answer_as_a_fresh_worker(server: ForkServer, tmp_path: Path) -> None:
    path = _doc(tmp_path)
    assert analyze_with(server, path) == analyze_in_fresh_process(path) == analyze_file(path)


def test_close_stops_the_server(tmp_path: Path) -> None:
    server = ForkServer()
    analyze_with(server, _doc(tmp_path))
    pid = server.pid
    assert pid is not None and _alive(pid)
    server.close()
    assert server.pid is None
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    with pytest.raises(AnalysisError, match="closed"):
        analyze_with(server, _doc(tmp_path))


def test_a_child_killed_by_its_limit_is_a_reason_and_the_server_lives_on(
    server: ForkServer, tmp_path: Path
) -> None:
    path = _doc(tmp_path)
    analyze_with(server, path)
    pid = server.pid
    limits = Limits(memory_bytes=1 << 30, cpu_seconds=1, wall_seconds=30)
    loop = tmp_path / "loop.ps"
    loop.write_bytes(b"%!PS\n{} loop\n")
    with pytest.raises(AnalysisError, match="CPU time limit"):
        analyze_with(server, loop, limits)
    assert server.pid == pid
    assert analyze_with(server, path).color_pages == (1,)


def test_a_dead_server_is_replaced(server: ForkServer, tmp_path: Path) -> None:
    path = _doc(tmp_path)
    analyze_with(server, path)
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.pid is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert analyze_with(server, path).color_pages == (1,)
    assert server.pid not in (None, pid)


def test_the_wall_clock_limit_kills_the_child(server: ForkServer, tmp_path: Path) -> None:
    loop = tmp_path / "loop.ps"
    loop.write_bytes(b"%!PS\n{} loop\n")
    started = time.monotonic()
    with pytest.raises(AnalysisError, match="took longer than 1 s"):
        analyze_with(server, loop, Limits(cpu_seconds=60, wall_seconds=1))
    assert time.monotonic() - started < 10
    assert analyze_with(server, _doc(tmp_path)).pages == 1


def test_the_memory_limit_holds_in_the_child(server: ForkServer, tmp_path: Path) -> None:
    """A 3000 x 3000 image needs tens of MiB decoded: more than a 64 MiB address space
    (already mostly taken by the interpreter and its libraries) leaves."""
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000), (1, 2, 3)).save(path)
    with pytest.raises(AnalysisError, match=r"memory|killed"):
        analyze_with(server, path, Limits(memory_bytes=64 << 20, wall_seconds=30))
    assert analyze_with(server, path).color_pages == (1,)


def test_children_get_their_own_session_and_no_files(server: ForkServer, tmp_path: Path) -> None:
    result = server.run(_doc(tmp_path), tmp_path, 1 << 30, 30, 30.0)
    assert result.returncode == 0 and not result.timed_out
    assert b'"pages": 1' in result.stdout
