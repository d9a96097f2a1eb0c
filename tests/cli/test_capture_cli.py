"""``printhost capture`` as a real process between a terminal stream and a real printhost
server: the stream passes through without the printer-controller data, each capture
becomes a job printed byte for byte, and a dead server loses nothing."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import PrinthostServer

PRINTHOST = [sys.executable, "-m", "printhost"]
START, STOP = b"\x1b[5i", b"\x1b[4i"

FIRST = b"INVOICE 42\r\n  total 12.50 \xe2\x82\xac\r\n\x0c"
SECOND = b"second page\n\tindented \x1b[1mbold\x1b[0m\n"
STREAM = (
    b"login: carol\r\n\x1b[2J\x1b[HMain menu\r\n"
    + START
    + FIRST
    + STOP
    + b"\x1b[7mprinted\x1b[0m\r\n"
    + START
    + SECOND
    + STOP
    + b"$ "
)
TEXT = b"login: carol\r\n\x1b[2J\x1b[HMain menu\r\n\x1b[7mprinted\x1b[0m\r\n$ "


@pytest.fixture
def dead_server() -> Iterator[str]:
    """A printer URI on a port that is bound but not listening: connections are refused,
    and no other test's server can take the port while this one runs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"ipp://127.0.0.1:{sock.getsockname()[1]}/printers/myprinter"


def capture(
    *args: str, stream: bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*PRINTHOST, "capture", *args],
        input=stream,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_captures_become_jobs_and_the_stream_passes(
    printhost_server: PrinthostServer, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    result = capture(
        "--server",
        printhost_server.ipp_uri(),
        "--user",
        "carol",
        "--title",
        "from the mainframe",
        "--spool-dir",
        str(spool),
        "--verbose",
        stream=STREAM,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert result.stdout == TEXT
    job_ids = [int(n) for n in re.findall(r"submitted as job (\d+)", stderr)]
    assert len(job_ids) == 2, stderr
    for job_id, expected in zip(job_ids, [FIRST, SECOND], strict=True):
        metadata, files = printhost_server.wait_for_job_output(job_id)
        assert [path.read_bytes() for path in files] == [expected]
        assert metadata["job-originating-user-name"] == "carol"
        assert metadata["job-name"] == "from the mainframe"
    assert not spool.exists()


def test_server_down_keeps_the_stream_and_saves_the_captures(
    dead_server: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    unterminated = b"cut off at end of session"
    result = capture(
        "--server", dead_server, "--spool-dir", str(spool), stream=STREAM + START + unterminated
    )
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert result.stdout == TEXT
    saved = sorted(spool.iterdir(), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
    assert [path.read_bytes() for path in saved] == [FIRST, SECOND, unterminated]
    assert all(path.suffix == ".txt" and path.stat().st_mode & 0o077 == 0 for path in saved)
    assert all(f"saved as {path}" in stderr for path in saved)
    assert "capture 3 ended without ESC [ 4 i" in stderr
    assert "3 capture(s) not submitted" in stderr


def test_over_long_capture_is_cut_and_saved_in_the_default_directory(
    dead_server: str, tmp_path: Path
) -> None:
    spool = tmp_path / "state" / "printhost" / "capture"
    result = capture(
        "--server",
        dead_server,
        "--max-capture-bytes",
        "8",
        stream=b"a" + START + b"0123456789ABCDEF" + STOP + b"b",
        env={"XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert result.stdout == b"ab"
    assert "capture 1 cut at 8 bytes (8 more bytes dropped)" in result.stderr.decode()
    [saved] = spool.iterdir()
    assert saved.read_bytes() == b"01234567"
