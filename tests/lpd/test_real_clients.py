"""The LPD server end to end: printhost as a subprocess, printed to by real LPD clients
(LPRng's lpr, lpq and lprm; CUPS's lpd backend) and by raw sockets sending hostile input.

One server is shared by the module: ``myprinter`` goes to the ``file:`` printer, whose
output the tests read; ``stuck`` goes to an AppSocket printer nobody listens on, so its
jobs stay queued for lpq and lprm. Names and titles are unique per test, so tests sharing
the server do not see each other's jobs.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers.lprng import LprngClient, lprng_program
from peers.procs import LOCALHOST, free_port
from support.server import PrinthostServer

from .wire import control, control_file, data_file, job, receive_job

pytestmark = pytest.mark.peers  # LPRng (extracted by make tools), CUPS's lpd backend

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
CUPS_LPD_BACKEND = "/usr/lib/cups/backend/lpd"
IDLE_TIMEOUT = 1.0
SOCKET_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    lprng_program("lpr")  # fail early, with advice, when `make tools` has not run
    srv = PrinthostServer(
        tmp_path_factory.mktemp("lpd-server"),
        name="lpd",
        tls=False,
        settings={"lpd": {"idle_timeout_seconds": IDLE_TIMEOUT}},
    )
    srv.printers.append({"name": "dead", "uri": f"socket://{LOCALHOST}:{free_port()}"})
    srv.queues.append({"name": "stuck", "printer": "dead"})
    with srv:
        yield srv


@pytest.fixture(autouse=True)
def _server_log(request: pytest.FixtureRequest) -> None:
    if "server" in request.fixturenames:
        request.getfixturevalue("attach_printhost_log")(request.getfixturevalue("server"))


@pytest.fixture
def lprng(server: PrinthostServer, tmp_path: Path) -> LprngClient:
    return LprngClient(server.lpd_port, tmp_path / "lprng-home")


def wait_for_job_named(
    server: PrinthostServer, name: str, timeout: float = 30.0
) -> tuple[dict[str, object], list[Path]]:
    """The file printer's sidecar and documents of the job called ``name``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sidecar in server.output_dir.glob("job-*.json"):
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError):
                continue  # being written
            if meta.get("job-name") == name:
                return server.wait_for_job_output(int(meta["job-id"]))
        time.sleep(0.05)
    raise AssertionError(f"no job {name!r} in {server.output_dir}\n{server.log_tail()}")


def printed_names(server: PrinthostServer) -> set[str]:
    names = set()
    for sidecar in server.output_dir.glob("job-*.json"):
        try:
            names.add(str(json.loads(sidecar.read_text(encoding="utf-8")).get("job-name")))
        except (json.JSONDecodeError, OSError):
            continue
    return names


def raw_exchange(port: int, data: bytes, *, close: bool = True) -> bytes:
    """Send ``data`` over a plain socket, close our side, read every reply."""
    with socket.create_connection((LOCALHOST, port), timeout=SOCKET_TIMEOUT) as sock:
        try:
            sock.sendall(data)
            if close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused before we finished: read what it said
        except OSError as exc:  # ENOTCONN: it closed on us before our shutdown
            if exc.errno != errno.ENOTCONN:
                raise
        replies = b""
        try:
            while chunk := sock.recv(4096):
                replies += chunk
        except ConnectionResetError:
            pass
        return replies


def cups_backend(uri: str, user: str, title: str, document: Path) -> None:
    """CUPS's lpd backend run by hand, as cupsd would run it (IPP-CLIENTS.md §6.1)."""
    result = subprocess.run(
        [CUPS_LPD_BACKEND, "42", user, title, "1", "", str(document)],
        env={"DEVICE_URI": uri, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")


# -- printing -----------------------------------------------------------------------------


def test_lpr_pdf_reaches_the_printer(
    server: PrinthostServer, lprng: LprngClient, tmp_path: Path
) -> None:
    document = tmp_path / "report.pdf"
    document.write_bytes(PDF)

    result = lprng.lpr("myprinter", document, user="alice", title="lprng pdf", literal=True)

    assert result.returncode == 0, result.stderr
    meta, files = wait_for_job_named(server, "lprng pdf")
    assert meta["job-originating-user-name"] == "alice"
    assert meta["job-originating-host-name"] == "127.0.0.1"
    assert meta["documents"][0]["document-format"] == "application/pdf"  # type: ignore[index]
    assert files[0].read_bytes() == PDF


def test_lpr_text_reaches_the_printer(
    server: PrinthostServer, lprng: LprngClient, tmp_path: Path
) -> None:
    document = tmp_path / "notes.txt"
    document.write_bytes(b"line one\nline two\n")

    result = lprng.lpr("myprinter", document, user="bob", title="lprng text")

    assert result.returncode == 0, result.stderr
    meta, files = wait_for_job_named(server, "lprng text")
    assert meta["job-originating-user-name"] == "bob"
    [entry] = meta["documents"]  # type: ignore[misc]
    assert entry["document-format"] == "text/plain"
    assert str(entry["document-name"]).endswith("notes.txt")
    assert files[0].read_bytes() == b"line one\nline two\n"


def test_lpr_streams_standard_input(server: PrinthostServer, lprng: LprngClient) -> None:
    """``lpr -k`` sends the data file with count 0: it runs to the end of the connection."""
    result = lprng.lpr(
        "myprinter", user="carol", title="lprng stream", stdin=b"piped text\n", stream=True
    )

    assert result.returncode == 0, result.stderr
    meta, files = wait_for_job_named(server, "lprng stream")
    assert meta["job-originating-user-name"] == "carol"
    assert files[0].read_bytes() == b"piped text\n"


@pytest.mark.parametrize(
    ("options", "title"),
    [
        ("order=data,control", "cups data first"),  # the data file before the control file
        ("mode=stream", "cups stream"),  # closes after the data, no zero octet
        ("format=o&banner=on", "cups postscript"),
    ],
)
def test_cups_lpd_backend(
    server: PrinthostServer, tmp_path: Path, options: str, title: str
) -> None:
    document = tmp_path / "doc.pdf"
    document.write_bytes(PDF)
    uri = f"lpd://{LOCALHOST}:{server.lpd_port}/myprinter?{options}&reserve=none"

    cups_backend(uri, "dave", title, document)

    meta, files = wait_for_job_named(server, title)
    assert meta["job-originating-user-name"] == "dave"
    assert files[0].read_bytes() == PDF


# -- lpq and lprm ------------------------------------------------------------------------------

_LONG_ENTRY = re.compile(r"^(\S+): (\S+)\s+\[job (\d+) (\S+)\]$", re.MULTILINE)


def queued(lprng: LprngClient, queue: str = "stuck") -> dict[int, str]:
    """Job id -> owner, from the long listing."""
    listing = lprng.lpq(queue)
    assert listing.returncode == 0, listing.stderr
    return {int(m[3]): m[1] for m in _LONG_ENTRY.finditer(listing.stdout)}


def lpr_stuck(lprng: LprngClient, tmp_path: Path, user: str) -> int:
    """Queue a job on ``stuck`` as ``user``; its id."""
    before = set(queued(lprng))
    document = tmp_path / f"{user}.txt"
    document.write_text(f"{user}'s job\n")
    result = lprng.lpr("stuck", document, user=user, title=f"{user} waits")
    assert result.returncode == 0, result.stderr
    [new] = [i for i, owner in queued(lprng).items() if i not in before and owner == user]
    return new


def test_lpq_short_and_long(lprng: LprngClient, tmp_path: Path) -> None:
    first = lpr_stuck(lprng, tmp_path, "erin")
    second = lpr_stuck(lprng, tmp_path, "erin")

    short = lprng.lpq("stuck", short=True)
    long = lprng.lpq("stuck", "erin")

    assert short.returncode == long.returncode == 0
    assert "Rank   Owner      Job  Files" in short.stdout
    assert re.search(rf"^\S+\s+erin\s+{first}\s+erin\.txt\s+11 bytes$", short.stdout, re.M)
    assert re.search(rf"^erin: \S+\s+\[job {second} 127\.0\.0\.1\]$", long.stdout, re.M)
    assert "        erin.txt" in long.stdout


def test_lprm_removes_own_job_and_refuses_anothers(lprng: LprngClient, tmp_path: Path) -> None:
    own = lpr_stuck(lprng, tmp_path, "frank")
    other = lpr_stuck(lprng, tmp_path, "grace")

    refused = lprng.lprm("stuck", str(other), user="frank")
    removed = lprng.lprm("stuck", str(own), user="frank")

    assert "permission denied" in refused.stdout + refused.stderr
    assert "removed" in removed.stdout + removed.stderr
    remaining = queued(lprng)
    assert own not in remaining
    assert remaining[other] == "grace"


# -- who may connect, hostile input ---------------------------------------------------------


def test_host_not_in_the_allow_list_is_refused(make_printhost_server: object) -> None:
    srv: PrinthostServer = make_printhost_server(  # type: ignore[operator]
        tls=False, settings={"lpd": {"allow": ["10.0.0.0/8"]}}
    )
    lprng = LprngClient(srv.lpd_port, srv.base_dir / "lprng-home")

    assert raw_exchange(srv.lpd_port, job()) == b""
    listing = lprng.lpq("myprinter")

    assert "myprinter is" not in listing.stdout
    assert "connection refused: address not in lpd.allow" in srv.log_text()
    assert srv.is_running()


def _hostile_job(
    name: str, *, prints: tuple[str, ...] = ("ldfA001client",), extra: str = ""
) -> bytes:
    lines = [f"Jhostile {name}", "Pmallory"] + ([extra] if extra else [])
    return control_file(control(*lines, prints=prints))


HOSTILE = {
    "path traversal data file": receive_job() + b"\x035 ../../../etc/passwd\n12345\x00",
    "absolute control file": receive_job() + b"\x0210 /etc/passwd\n",
    "NUL in a name": receive_job() + b"\x035 dfA\x00/../x\n",
    "unlink /etc/passwd": receive_job()
    + data_file(b"hostile")
    + _hostile_job("unlink", extra="U/etc/passwd"),
    "print a system file": receive_job() + _hostile_job("print", prints=("l/etc/shadow",)),
    "huge count": receive_job() + b"\x0399999999999999999999 dfA001h\n",
    "negative count": receive_job() + b"\x03-1 dfA001h\n",
    "count not a number": receive_job() + b"\x03lots dfA001h\n",
    "overlong command line": b"\x02" + b"q" * 100_000 + b"\n",
    "overlong control line": receive_job() + _hostile_job("long", extra="J" + "x" * 5000),
    "too many data files": receive_job()
    + b"".join(data_file(b"x", f"dfA{i:03d}h") for i in range(101)),
    "unknown command": b"\x09anything\n",
    "garbage": bytes(range(256)) * 4,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_refused_and_the_server_keeps_serving(
    server: PrinthostServer, case: str
) -> None:
    reply = raw_exchange(server.lpd_port, HOSTILE[case])

    # a refusal: a non-zero octet last, or (for commands without acknowledgement) nothing
    assert reply == b"" or reply[-1] != 0, reply
    assert reply.strip(b"\x00") in (b"", b"\x01", b"\x03")
    good = f"good job after {case}"
    assert raw_exchange(server.lpd_port, job(lines=["Pvictor", f"J{good}"])) == b"\x00" * 5
    wait_for_job_named(server, good)
    assert not any(name.startswith("hostile") for name in printed_names(server))


def test_slow_clients_are_closed(server: PrinthostServer) -> None:
    """Slowloris: half a command line, or a data file that stops, then silence. The server
    closes (after lpd.idle_timeout_seconds) rather than wait for ever."""
    stalled_line = raw_exchange(server.lpd_port, b"\x02myprin", close=False)
    stalled_data = raw_exchange(
        server.lpd_port, receive_job() + b"\x03100 dfA001h\nonly a little", close=False
    )

    assert stalled_line == b""
    assert stalled_data == b"\x00\x00"  # job and data file accepted, then closed
    assert raw_exchange(server.lpd_port, job(lines=["Pvictor", "Jafter slowloris"])) == b"\x00" * 5
    assert "stalled for" in server.log_text()
