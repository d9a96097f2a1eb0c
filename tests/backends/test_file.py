"""The ``file:`` backend (the built-in virtual printer): content, sidecar, durability,
idempotent re-delivery, lookup."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from printhost.dispatch.backends.base import DocumentFile, Outcome, RemoteState
from printhost.dispatch.backends.file import FileBackend, attributes_to_json, directory_from_uri
from printhost.ipp.constants import Tag
from printhost.ipp.model import (
    Attribute,
    Collection,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
)

from .helpers import PDF, RecordingProgress, make_request

WriteDocument = Callable[..., DocumentFile]


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out dir"  # a space, to check the URI is unquoted
    path.mkdir()
    return path


def test_uri_to_directory() -> None:
    assert directory_from_uri("file:///var/out%20dir") == Path("/var/out dir")
    assert directory_from_uri("file://localhost/var/out") == Path("/var/out")
    assert directory_from_uri("file://otherhost/var/out") is None
    assert directory_from_uri("file:relative") is None


async def test_writes_documents_and_sidecar(
    out_dir: Path, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    text = "héllo\n".encode()
    docs = [write_document(PDF, "application/pdf", "a.pdf"), write_document(text, "text/plain")]
    copies = Attribute.of("copies", Tag.INTEGER, 2)
    request = make_request(out_dir.as_uri(), docs, job_id=7, attributes=[copies])

    result = await FileBackend().deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED
    assert result.reason == "job-completed-successfully"
    assert (out_dir / "job-7-1.pdf").read_bytes() == PDF
    assert (out_dir / "job-7-2.txt").read_bytes() == text
    sidecar = json.loads((out_dir / "job-7.json").read_text())
    assert sidecar["job-id"] == 7
    assert sidecar["job-uuid"] == request.job_uuid
    assert sidecar["job-name"] == "test job"
    assert sidecar["job-originating-user-name"] == "alice"
    assert sidecar["attributes"] == {"copies": 2}
    assert sidecar["documents"] == [
        {
            "file": "job-7-1.pdf",
            "document-format": "application/pdf",
            "document-name": "a.pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
        },
        {
            "file": "job-7-2.txt",
            "document-format": "text/plain",
            "document-name": "",
            "size": len(text),
            "sha256": hashlib.sha256(text).hexdigest(),
        },
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == ["job-7-1.pdf", "job-7-2.txt", "job-7.json"]


async def test_every_file_and_the_directory_are_fsynced(
    out_dir: Path,
    write_document: WriteDocument,
    progress: RecordingProgress,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    request = make_request(out_dir.as_uri(), [write_document(PDF)], job_id=8)

    await FileBackend().deliver(request, progress)

    # Temp names are fsync'd before the rename; the directory after it.
    assert any(".job-8-1.pdf." in path for path in synced)
    assert any(".job-8.json." in path for path in synced)
    assert synced[-1] == str(out_dir)
    assert synced.count(str(out_dir)) == 2  # documents, then the sidecar marker


async def test_redelivery_overwrites_and_removes_stale_documents(
    out_dir: Path, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    first = make_request(
        out_dir.as_uri(), [write_document(b"old 1", "text/plain"), write_document(PDF)], job_id=9
    )
    await FileBackend().deliver(first, progress)
    again = make_request(out_dir.as_uri(), [write_document(b"new 1", "text/plain")], job_id=9)

    result = await FileBackend().deliver(again, progress)

    assert result.outcome is Outcome.COMPLETED
    assert sorted(p.name for p in out_dir.iterdir()) == ["job-9-1.txt", "job-9.json"]
    assert (out_dir / "job-9-1.txt").read_bytes() == b"new 1"
    assert json.loads((out_dir / "job-9.json").read_text())["job-uuid"] == again.job_uuid


async def test_other_jobs_are_untouched(
    out_dir: Path, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    (out_dir / "job-10-1.pdf").write_bytes(b"job ten")
    request = make_request(out_dir.as_uri(), [write_document(PDF)], job_id=1)

    await FileBackend().deliver(request, progress)

    assert (out_dir / "job-10-1.pdf").read_bytes() == b"job ten"


async def test_lookup_follows_the_sidecar(
    out_dir: Path, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    backend = FileBackend()
    request = make_request(out_dir.as_uri(), [write_document(PDF)], job_id=11)
    assert (await backend.lookup(request)).state is RemoteState.NOT_FOUND

    await backend.deliver(request, progress)

    assert (await backend.lookup(request)).state is RemoteState.COMPLETED
    other_job_same_id = make_request(out_dir.as_uri(), request.documents, job_id=11)
    assert (await backend.lookup(other_job_same_id)).state is RemoteState.NOT_FOUND


async def test_missing_directory_is_retried(
    tmp_path: Path, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    request = make_request((tmp_path / "absent").as_uri(), [write_document(PDF)])

    result = await FileBackend().deliver(request, progress)

    assert result.outcome is Outcome.RETRY
    assert result.reason == "printer-stopped"
    assert "absent" in result.message


async def test_unreadable_spool_file_fails(
    out_dir: Path, tmp_path: Path, progress: RecordingProgress
) -> None:
    missing = DocumentFile(tmp_path / "gone.pdf", "application/pdf")
    request = make_request(out_dir.as_uri(), [missing])

    result = await FileBackend().deliver(request, progress)

    assert result.outcome is Outcome.FAILED
    assert result.reason == "document-access-error"
    assert list(out_dir.iterdir()) == []  # no temp file left behind


async def test_bad_uri_is_retried(
    write_document: WriteDocument, progress: RecordingProgress
) -> None:
    request = make_request("file://printer.example/out", [write_document(PDF)])

    result = await FileBackend().deliver(request, progress)

    assert (result.outcome, result.reason) == (Outcome.RETRY, "printer-stopped")


async def test_probe(out_dir: Path, tmp_path: Path) -> None:
    backend = FileBackend()
    assert await backend.probe(out_dir.as_uri())
    assert not await backend.probe((tmp_path / "absent").as_uri())
    assert not await backend.probe("file://otherhost/x")


def test_attribute_values_become_json() -> None:
    media_col = Collection().add("media-type", Tag.KEYWORD, "stationery")
    media_col.add(
        "media-size",
        Tag.BEGIN_COLLECTION,
        Collection().add("x-dimension", Tag.INTEGER, 21000).add("y-dimension", Tag.INTEGER, 29700),
    )
    attributes = [
        Attribute.of("media-col", Tag.BEGIN_COLLECTION, media_col),
        Attribute.of(
            "page-ranges", Tag.RANGE_OF_INTEGER, RangeOfInteger(1, 3), RangeOfInteger(5, 5)
        ),
        Attribute.of("printer-resolution", Tag.RESOLUTION, Resolution(600, 600)),
        Attribute.of("job-hold-until", Tag.NO_VALUE, None),
        Attribute.of("job-password", Tag.OCTET_STRING, b"\x01\x02"),
        Attribute.of("job-message", Tag.TEXT_WITH_LANGUAGE, StringWithLanguage("hi", "en")),
        Attribute.of(
            "job-hold-until-time",
            Tag.DATE_TIME,
            datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        ),
        Attribute.of("print-color-mode", Tag.KEYWORD, "monochrome"),
        Attribute.of("fit", Tag.BOOLEAN, True),
    ]

    converted = attributes_to_json(attributes)

    assert converted == {
        "media-col": {
            "media-type": "stationery",
            "media-size": {"x-dimension": 21000, "y-dimension": 29700},
        },
        "page-ranges": [{"lower": 1, "upper": 3}, {"lower": 5, "upper": 5}],
        "printer-resolution": {"cross-feed": 600, "feed": 600, "units": "dpi"},
        "job-hold-until": None,
        "job-password": {"octets-base64": "AQI="},
        "job-message": {"text": "hi", "language": "en"},
        "job-hold-until-time": "2030-01-02T03:04:05+00:00",
        "print-color-mode": "monochrome",
        "fit": True,
    }
    json.dumps(converted)  # really JSON-ready
