"""Our ``lpd://`` delivery backend (dispatch/backends/lpd.py) against LPRng's real ``lpd``,
started by the test on a free port in its own directory (peers.lprng.LprngDaemon). The
same backend is tested against CUPS's cups-lpd in tests/backends/test_lpd.py."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers.lprng import LprngDaemon
from peers.procs import wait_until

from printhost.dispatch.backends.base import DeliveryRequest, DocumentFile, Outcome
from printhost.dispatch.backends.lpd import LpdBackend

pytestmark = pytest.mark.peers  # LPRng's lpd (extracted by make tools), unshare

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


class _Progress:
    async def remote_job_created(self, remote_job_id: int) -> None:
        raise AssertionError("LPD has no remote job ids")

    async def message(self, text: str) -> None:
        pass


@pytest.fixture(scope="module")
def lprng_lpd() -> Iterator[LprngDaemon]:
    # lpd runs as user daemon, who cannot enter pytest's private (0700) temp dirs
    root = Path(tempfile.mkdtemp(prefix="printhost-lprng-lpd-"))
    root.chmod(0o755)
    try:
        with LprngDaemon(root) as daemon:
            yield daemon
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _request(uri: str, job_id: int, documents: list[DocumentFile], name: str) -> DeliveryRequest:
    return DeliveryRequest(
        printer_uri=uri,
        job_id=job_id,
        job_uuid=uuid.uuid4().urn,
        job_name=name,
        user_name="carol",
        documents=documents,
        originating_host="client.example",
    )


def _printed_job(daemon: LprngDaemon, name: str) -> dict[str, str]:
    """LPRng's record of the job called ``name`` once printed (``done_time`` set). lpd
    rewrites the record as the job moves on, so a read may catch it half written."""
    found: list[dict[str, str]] = []

    def printed() -> bool:
        found[:] = [j for j in daemon.jobs() if j.get("J") == name and "done_time" in j]
        return bool(found)

    wait_until(printed, 20.0, f"LPRng printing {name!r}")
    return found[0]


def _document(tmp_path: Path, data: bytes, name: str) -> DocumentFile:
    path = tmp_path / name
    path.write_bytes(data)
    return DocumentFile(path, "application/pdf", name)


async def test_a_job_reaches_lprng_lpd(lprng_lpd: LprngDaemon, tmp_path: Path) -> None:
    data = PDF + bytes(range(256)) * 64  # binary data must arrive untouched
    request = _request(lprng_lpd.uri(), 41, [_document(tmp_path, data, "report.pdf")], "to lprng")
    printed_before = lprng_lpd.output.read_bytes()

    result = await LpdBackend(timeout=10).deliver(request, _Progress())

    assert result.outcome is Outcome.COMPLETED, result.message
    wait_until(
        lambda: lprng_lpd.output.read_bytes() == printed_before + data, 20.0, "LPRng printing"
    )
    job = _printed_job(lprng_lpd, "to lprng")
    assert (job["P"], job["H"], job["filenames"].strip()) == (
        "carol",
        "client.example",
        "report.pdf",
    )


async def test_two_documents_make_one_lprng_job(lprng_lpd: LprngDaemon, tmp_path: Path) -> None:
    documents = [_document(tmp_path, b"first\n", "a.txt"), _document(tmp_path, PDF, "b.pdf")]
    request = _request(lprng_lpd.uri(), 42, documents, "two to lprng")
    printed_before = lprng_lpd.output.read_bytes()

    result = await LpdBackend(timeout=10).deliver(request, _Progress())

    assert result.outcome is Outcome.COMPLETED, result.message
    expected = printed_before + b"first\n" + PDF  # printed in order, as one job
    wait_until(lambda: lprng_lpd.output.read_bytes() == expected, 20.0, "LPRng printing")
    job = _printed_job(lprng_lpd, "two to lprng")
    assert job["datafile_count"] == "2"
    assert job["filenames"] == "a.txt,b.pdf"


async def test_unknown_queue_is_a_failure(lprng_lpd: LprngDaemon, tmp_path: Path) -> None:
    uri = lprng_lpd.uri().rsplit("/", 1)[0] + "/no-such-queue"
    request = _request(uri, 43, [_document(tmp_path, PDF, "x.pdf")], "nowhere")

    result = await LpdBackend(timeout=10).deliver(request, _Progress())

    assert result.outcome is Outcome.FAILED
    assert "refused the queue" in result.message
