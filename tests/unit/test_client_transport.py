"""Clients try every address a name resolves to (client_transport.py), on real loopback
sockets: a tiny HTTP server on 127.0.0.1, and 127.0.0.3 where nothing listens (connection
refused). The resolver is injected for the in-process tests; the last test runs the real
``printhost submit`` in a private mount namespace whose /etc/hosts gives one name both
addresses (the system resolver, as in production)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from printhost.client_transport import RoundRobinSyncTransport, RoundRobinTransport

DEAD = "127.0.0.3"
ALIVE = "127.0.0.1"


class TinyServer:
    """Answers every request 200 with the Host header it got; or closes without answering
    (``answer=False``), to show a sent request is never sent again."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TinyServer:
        self._server = await asyncio.start_server(self._serve, ALIVE, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        if self.answer:
            host = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"host:")
            )
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(host), host))
            await writer.drain()
        writer.close()


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.fixture
async def server() -> AsyncIterator[TinyServer]:
    async with TinyServer() as tiny:
        yield tiny


async def test_a_dead_first_address_is_skipped(server: TinyServer) -> None:
    transport = RoundRobinTransport(resolver(DEAD, ALIVE))
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://printhost.test:{server.port}/")
    assert (response.status_code, response.text) == (200, f"printhost.test:{server.port}")
    assert len(server.requests) == 1


async def test_no_address_answering_is_one_clear_error(server: TinyServer) -> None:
    transport = RoundRobinTransport(resolver(DEAD, "127.0.0.4"))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match=r"no address of printhost\.test answered"):
            await client.get(f"http://printhost.test:{server.port}/")


async def test_a_request_sent_is_never_sent_again() -> None:
    async with TinyServer(answer=False) as silent:
        transport = RoundRobinTransport(resolver(ALIVE, ALIVE))
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post(f"http://printhost.test:{silent.port}/", content=b"job")
        assert len(silent.requests) == 1  # the second address was not tried


def test_the_sync_transport_skips_a_dead_address() -> None:
    async def main() -> None:
        async with TinyServer() as tiny:

            def call() -> httpx.Response:
                transport = RoundRobinSyncTransport(lambda host, port: [DEAD, ALIVE])
                with httpx.Client(transport=transport) as client:
                    return client.get(f"http://printhost.test:{tiny.port}/")

            response = await asyncio.to_thread(call)
            assert response.text == f"printhost.test:{tiny.port}"

    asyncio.run(main())


def test_printhost_submit_with_the_system_resolver(tmp_path: Path) -> None:
    """The real resolver: /etc/hosts (in a private mount namespace) names both addresses,
    the dead one first; ``printhost submit`` still reaches the server."""
    from support.server import PrinthostServer

    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed")
    server = PrinthostServer(tmp_path / "srv", tls=False)
    server.start()
    try:
        hosts = tmp_path / "hosts"
        hosts.write_text(
            f"127.0.0.1 localhost\n{DEAD} printhost-rr.test\n{ALIVE} printhost-rr.test\n"
        )
        document = tmp_path / "doc.txt"
        document.write_text("round robin\n")
        uri = f"ipp://printhost-rr.test:{server.port}/printers/myprinter"
        script = (
            f"mount --bind {hosts} /etc/hosts && "
            f"exec {sys.executable} -m printhost submit {document} --server {uri}"
        )
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PRINTHOST_USER": "alice"},
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "submitted" in done.stdout
        job_id = int(done.stdout.split()[1])
        data, _ = server.wait_for_job_output(job_id)
        assert data["job-name"] == "doc.txt"
    finally:
        server.stop()
