"""Requests through a load balancer, in process: the real HTTP app over httpx's ASGI
transport with the connecting address chosen by the test, a real SQLite store.

From an address in ``trusted_proxies``: X-Forwarded-For is the client's address,
X-Forwarded-Proto its scheme (so Basic over the proxy's TLS is accepted, and the URIs
handed out are the proxy's), and the proxy's user header is the job's proven owner. From any
other address the same headers change nothing: a spoofed header is ignored.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printhost.app import wire
from printhost.auth import hash_password
from printhost.clock import FakeClock
from printhost.config import ConfigError, parse_config
from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Message
from printhost.ipp_client import new_request
from printhost.server.http import create_app
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import JobFilter, UserRecord
from printhost.store.spool import Spool

PROXY = ("10.0.0.5", 50000)
STRANGER = ("10.9.9.9", 50000)
CLIENT = "192.0.2.7"  # the address the proxy says the client has


@contextlib.asynccontextmanager
async def _world(tmp_path: Path, peer: tuple[str, int]) -> AsyncIterator[tuple[Services, Any]]:
    out = tmp_path / "out"
    config = parse_config(
        {
            "storage": {"state_dir": str(tmp_path / "var")},
            "server": {
                "trusted_proxies": ["10.0.0.5"],
                "proxy_user_header": "X-Forwarded-User",
            },
            "printers": [{"name": "p", "uri": out.as_uri()}],
            "queues": [{"name": "myprinter", "destination": "p"}],
        },
        base=tmp_path,
    )
    store = await open_store(config.storage.effective_database_url)
    await store.put_user(UserRecord("olga", hash_password("olga-pw"), "operator"))
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), FakeClock())
    transport = httpx.ASGITransport(app=create_app(services, 8631, 8632), client=peer)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://lb.test") as http:
            yield services, http
    finally:
        await dispatcher.aclose()
        await store.close()


async def _print(http: httpx.AsyncClient, headers: dict[str, str]) -> Message:
    request = new_request(Operation.PRINT_JOB, "ipp://lb.test/printers/myprinter", 1, "mallory")
    request.operation_attributes.add("document-format", Tag.MIME_MEDIA_TYPE, "text/plain")
    body = encode_message(request) + b"hello\n"
    response = await http.post(
        "/printers/myprinter",
        content=body,
        headers={"Content-Type": "application/ipp", **headers},
    )
    assert response.status_code == 200, response.text
    message, _ = decode_message(response.content)
    return message


FORWARDED = {
    "X-Forwarded-For": f"{CLIENT}",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-User": "alice",
    "Host": "lb.test:8443",
}


async def _only_job(services: Services) -> Any:
    [job] = await services.store.list_jobs(JobFilter())
    return job


async def test_a_trusted_proxy_names_the_owner_address_and_scheme(tmp_path: Path) -> None:
    async with _world(tmp_path, PROXY) as (services, http):
        response = await _print(http, FORWARDED)
        assert response.code == Status.SUCCESSFUL_OK
        job = await _only_job(services)
        assert (job.owner, job.owner_authenticated) == ("alice", True)  # not "mallory"
        assert job.originating_host == CLIENT
        job_uri = response.group(Tag.JOB).get("job-uri")  # type: ignore[union-attr]
        assert job_uri is not None and str(job_uri.value).startswith("ipps://lb.test:8443/")


async def test_an_ipv4_proxy_on_a_dual_stack_listener_is_the_same_proxy(tmp_path: Path) -> None:
    async with _world(tmp_path, ("::ffff:10.0.0.5", 50000)) as (services, http):
        response = await _print(http, FORWARDED)
        assert response.code == Status.SUCCESSFUL_OK
        job = await _only_job(services)
        assert (job.owner, job.originating_host) == ("alice", CLIENT)
        job_uri = response.group(Tag.JOB).get("job-uri")  # type: ignore[union-attr]
        assert job_uri is not None and str(job_uri.value).startswith("ipps://lb.test:8443/")


async def test_the_same_headers_from_anyone_else_are_ignored(tmp_path: Path) -> None:
    async with _world(tmp_path, STRANGER) as (services, http):
        response = await _print(http, FORWARDED)
        assert response.code == Status.SUCCESSFUL_OK
        job = await _only_job(services)
        assert (job.owner, job.owner_authenticated) == ("mallory", False)
        assert job.originating_host == STRANGER[0]
        job_uri = response.group(Tag.JOB).get("job-uri")  # type: ignore[union-attr]
        assert job_uri is not None and str(job_uri.value).startswith("ipp://lb.test:8631/")


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_basic_over_the_proxys_tls_is_accepted_and_spoofed_tls_is_not(
    tmp_path: Path,
) -> None:
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT}
    url = "/api/v1/users/olga/preferences"
    async with _world(tmp_path, PROXY) as (_, http):
        response = await http.get(url, headers={**tls, **_basic("olga", "olga-pw")})
        assert response.status_code == 200, response.text
    async with _world(tmp_path / "2", STRANGER) as (_, http):
        response = await http.get(url, headers={**tls, **_basic("olga", "olga-pw")})
        assert response.status_code == 403, response.text
        assert "plain HTTP" in response.json()["error"]


async def test_the_proxys_user_is_the_rest_callers_identity(tmp_path: Path) -> None:
    async with _world(tmp_path, PROXY) as (_, http):
        mine = await http.get("/api/v1/users/alice/preferences", headers=FORWARDED)
        assert mine.status_code == 200, mine.text
        theirs = await http.get("/api/v1/users/olga/preferences", headers=FORWARDED)
        assert theirs.status_code == 403, theirs.text
    async with _world(tmp_path / "2", STRANGER) as (_, http):
        spoofed = await http.get("/api/v1/users/alice/preferences", headers=FORWARDED)
        assert spoofed.status_code == 401, spoofed.text


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"trusted_proxies": ["not-an-address"]}, "is not an address or network"),
        ({"trusted_proxies": ["10.0.0.1"], "proxy_user_header": "X User"}, "not a header"),
        ({"proxy_user_header": "X-Forwarded-User"}, "needs trusted_proxies"),
        (
            {"trusted_proxies": ["10.0.0.0/24"], "proxy_user_header": "X-Forwarded-User"},
            "is a network; with proxy_user_header list each balancer's own address",
        ),
        ({"drain_grace_seconds": float("inf")}, "drain_grace_seconds: must be from 0 to 300"),
        ({"drain_grace_seconds": -1}, "drain_grace_seconds: must be from 0 to 300"),
    ],
)
def test_proxy_settings_are_checked(tmp_path: Path, server: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"server": server}, base=tmp_path)
