"""Node roles (a cluster may split intake, dispatch and web over nodes), in process: the
HTTP app of a node serves only its roles' endpoints, and health on every node; and the
command line's --db / --role override the file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from printhost.app import wire
from printhost.cli import with_node_options
from printhost.clock import FakeClock
from printhost.config import ConfigError, parse_config
from printhost.ipp.constants import Operation, Status
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp_client import new_request
from printhost.server.http import create_app
from printhost.store import open_store
from printhost.store.spool import Spool


@contextlib.asynccontextmanager
async def _node(tmp_path: Path, *roles: str) -> AsyncIterator[httpx.AsyncClient]:
    data = {"storage": {"state_dir": str(tmp_path / "var")}, "server": {"roles": list(roles)}}
    config = parse_config(data, base=tmp_path)
    store = await open_store(config.storage.effective_database_url)
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), FakeClock())
    transport = httpx.ASGITransport(app=create_app(services, 8631, None))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            yield http
    finally:
        await dispatcher.aclose()
        await store.close()


async def _get_printer(http: httpx.AsyncClient) -> httpx.Response:
    request = new_request(
        Operation.GET_PRINTER_ATTRIBUTES, "ipp://node/printers/myprinter", 1, "alice"
    )
    return await http.post(
        "/printers/myprinter",
        content=encode_message(request),
        headers={"Content-Type": "application/ipp"},
    )


async def test_an_intake_node_takes_ipp_and_serves_no_web(tmp_path: Path) -> None:
    async with _node(tmp_path, "intake", "dispatch") as http:
        response = await _get_printer(http)
        assert response.status_code == 200
        assert decode_message(response.content)[0].code == Status.SUCCESSFUL_OK
        assert (await http.get("/")).status_code == 405  # only POST (IPP) here
        assert (await http.get("/api/v1/destinations")).status_code == 405
        assert (await http.get("/readyz")).status_code == 200


async def test_a_web_node_serves_the_web_and_takes_no_jobs(tmp_path: Path) -> None:
    async with _node(tmp_path, "web") as http:
        assert (await _get_printer(http)).status_code in (404, 405)
        assert (await http.get("/")).status_code == 200
        destinations = await http.get("/api/v1/destinations")
        assert destinations.status_code == 200
        assert destinations.json()[0]["kind"] == "printer"
        assert (await http.get("/livez")).status_code == 200


def test_db_and_role_options_override_the_file(tmp_path: Path) -> None:
    config = parse_config({}, base=tmp_path)
    assert config.server.roles == ("intake", "dispatch", "web")
    changed = with_node_options(config, "postgresql://db/printhost", "intake, web")
    assert changed.storage.database_url == "postgresql://db/printhost"
    assert changed.server.roles == ("intake", "web")
    assert with_node_options(config, None, None) == config
    with pytest.raises(ConfigError, match="--role: print; choose from intake, dispatch, web"):
        with_node_options(config, None, "print")
    with pytest.raises(ConfigError, match=r"server\.roles: spool"):
        parse_config({"server": {"roles": ["spool"]}}, base=tmp_path)
    with pytest.raises(ConfigError, match=r"server\.roles: empty"):
        parse_config({"server": {"roles": []}}, base=tmp_path)


def test_a_shared_spool_directory_may_be_configured(tmp_path: Path) -> None:
    shared = parse_config({"storage": {"spool": "/mnt/shared/spool"}}, base=tmp_path)
    assert shared.storage.spool_dir == Path("/mnt/shared/spool")
    relative = parse_config({"storage": {"spool": "spool-here"}}, base=tmp_path)
    assert relative.storage.spool_dir == tmp_path / "spool-here"
    default = parse_config({}, base=tmp_path)
    assert default.storage.spool_dir == tmp_path / "var" / "spool"


def test_the_postgresql_pool_size_is_configurable_and_bounded(tmp_path: Path) -> None:
    assert parse_config({}, base=tmp_path).storage.pool_size == 4
    assert parse_config({"storage": {"pool_size": 16}}, base=tmp_path).storage.pool_size == 16
    with pytest.raises(ConfigError, match=r"storage\.pool_size: must be from 1 to 100, not 0"):
        parse_config({"storage": {"pool_size": 0}}, base=tmp_path)
