"""The AppSocket backend against a real TCP peer (``peers.sink``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from peers.sink import RawSink, closed_port

from printhost.dispatch.backends.base import DocumentFile, Outcome, RemoteState
from printhost.dispatch.backends.socket import SocketBackend, address_from_uri

from .helpers import PDF, RecordingProgress, make_request

WriteDocument = Callable[..., DocumentFile]


def test_uri_parsing() -> None:
    assert address_from_uri("socket://printer.example") == ("printer.example", 9100)
    assert address_from_uri("socket://10.0.0.5:9101") == ("10.0.0.5", 9101)
    assert address_from_uri("socket://[::1]:9100") == ("::1", 9100)
    assert address_from_uri("socket://host:notaport") is None
    assert address_from_uri("socket:///nohost") is None


async def test_bytes_arrive_exactly(
    sink: RawSink, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    binary = bytes(range(256)) * 4096  # 1 MiB: many chunks, every byte value
    request = make_request(sink.uri, [write_document(PDF), write_document(binary)])

    result = await SocketBackend(timeout=5).deliver(request, progress)

    assert result.outcome is Outcome.COMPLETED
    assert result.reason == "job-completed-successfully"
    assert sink.wait_for(1) == [PDF + binary]  # one connection, documents back to back
    assert sink.connections == 1


async def test_refused_connection_is_retried(
    write_document: WriteDocument, progress: RecordingProgress
) -> None:
    request = make_request(f"socket://127.0.0.1:{closed_port()}", [write_document(PDF)])

    result = await SocketBackend(timeout=5).deliver(request, progress)

    assert result.outcome is Outcome.RETRY
    assert result.reason == "printer-stopped"
    assert "refused" in result.message.lower()


async def test_hanging_printer_is_retried_within_the_timeout(
    hanging_sink: RawSink, write_document: WriteDocument, progress: RecordingProgress
) -> None:
    # Larger than the socket buffers on both sides, so writes stall once they are full.
    request = make_request(hanging_sink.uri, [write_document(b"x" * (16 << 20))])
    started = time.monotonic()

    result = await SocketBackend(timeout=1.0).deliver(request, progress)

    assert result.outcome is Outcome.RETRY
    assert result.reason == "submission-interrupted"
    assert "stopped taking data" in result.message
    assert time.monotonic() - started < 5.0


async def test_missing_spool_file_fails_without_connecting(
    sink: RawSink, tmp_path: Path, progress: RecordingProgress
) -> None:
    missing = DocumentFile(tmp_path / "gone", "application/pdf")
    result = await SocketBackend(timeout=5).deliver(make_request(sink.uri, [missing]), progress)

    assert (result.outcome, result.reason) == (Outcome.FAILED, "document-access-error")
    assert sink.connections == 0


async def test_probe(sink: RawSink) -> None:
    backend = SocketBackend(timeout=2)
    assert await backend.probe(sink.uri)
    assert not await backend.probe(f"socket://127.0.0.1:{closed_port()}")
    assert not await backend.probe("socket://")


async def test_lookup_cannot_tell(sink: RawSink, write_document: WriteDocument) -> None:
    lookup = await SocketBackend().lookup(make_request(sink.uri, [write_document(PDF)]))
    assert lookup.state is RemoteState.UNKNOWN
