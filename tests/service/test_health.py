"""Printer health in process, on a real SQLite store and real sockets: a printer marked
down stays down while nothing answers and comes back when its port answers again, also
when its name cannot be turned back into an address (a workstation spelt with a hash)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.dispatch.backends.socket import SocketBackend
from printhost.dispatch.health import PrinterHealth
from printhost.routing import names
from printhost.routing.router import Target
from printhost.store import open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _nobody(target: str) -> Target | None:
    return None  # neither a configured printer nor a known agent


async def test_a_desktop_with_a_spelt_name_is_probed_back(tmp_path: Path) -> None:
    config = parse_config({"storage": {"state_dir": str(tmp_path)}}, base=tmp_path)
    store = await open_store(config.storage.effective_database_url)
    backs: list[str] = []
    health = PrinterHealth(
        config,
        store,
        FakeClock(),
        backend_for=lambda uri: SocketBackend(timeout=2.0),
        target_named=_nobody,
        printer_back=lambda: backs.append("back"),
    )
    name = names.local_queue("WS 7.example")  # not a safe name: spelt with a hash
    assert name.startswith("local-ws_7.example-")
    port = _free_port()
    try:
        await health.mark_down(Target(name, f"socket://127.0.0.1:{port}"), "refused")
        await health.probe_down_printers()
        assert not (await store.get_printer(name)).is_up and backs == []

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(accept, "127.0.0.1", port)
        async with server:
            await health.probe_down_printers()
        record = await store.get_printer(name)
        assert record.is_up and record.state_reasons == ("none",) and backs == ["back"]
    finally:
        await store.close()
