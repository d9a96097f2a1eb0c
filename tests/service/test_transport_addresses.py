"""HTTP Basic over plain HTTP is refused from non-loopback clients (IPP-CLIENTS.md §8).

Tested in process through the ASGI interface with a simulated client address: a test
must not send traffic to a non-loopback address of this machine, and no network peer is
needed to show what the transport decides from the client's address.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from printhost.app import wire
from printhost.auth import hash_password
from printhost.clock import SystemClock
from printhost.config import parse_config
from printhost.ipp.constants import Operation, Status
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp_client import new_request
from printhost.server.http import create_app
from printhost.store import open_store
from printhost.store.base import UserRecord
from printhost.store.spool import Spool

BASIC = "Basic " + base64.b64encode(b"alice:secret").decode()
URI = "ipp://printhost.example:8631/printers/myprinter"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[object]:
    config = parse_config({"storage": {"state_dir": str(tmp_path / "var")}}, base=tmp_path)
    store = await open_store(config.storage.effective_database_url)
    await store.put_user(UserRecord("alice", hash_password("secret"), "user"))
    services, _ = wire(config, store, Spool(config.storage.spool_dir), SystemClock())
    yield create_app(services, 8631, 8632)
    await store.close()


async def _get_jobs(app: object, client_ip: str, authorization: str | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))  # type: ignore[arg-type]
    headers = {"Content-Type": "application/ipp"}
    if authorization:
        headers["Authorization"] = authorization
    body = encode_message(new_request(Operation.GET_JOBS, URI, 1, "alice"))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://printhost.example:8631"
    ) as c:
        return await c.post("/printers/myprinter", content=body, headers=headers)


@pytest.mark.parametrize("client_ip", ["192.0.2.2", "2001:db8::2", "::ffff:192.0.2.2"])
async def test_basic_from_the_network_over_plain_http_is_refused(
    app: object,
    client_ip: str,
) -> None:
    refused = await _get_jobs(app, client_ip, BASIC)
    assert refused.status_code == 403
    assert "ipps://" in refused.text
    anonymous = await _get_jobs(app, client_ip, None)
    assert anonymous.status_code == 200
    assert decode_message(anonymous.content)[0].code == Status.SUCCESSFUL_OK


@pytest.mark.parametrize("client_ip", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
async def test_basic_from_loopback_is_accepted(app: object, client_ip: str) -> None:
    response = await _get_jobs(app, client_ip, BASIC)
    assert response.status_code == 200
    assert decode_message(response.content)[0].code == Status.SUCCESSFUL_OK
