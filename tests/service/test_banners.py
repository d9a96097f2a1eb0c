"""Banner pages in delivery, in process (real SQLite store and spool, fake clock): a queue
with banners sends the page as the job's first document, rendered for the printer; a
user's preference opts out, or in."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.dispatch.dispatcher import Dispatcher
from printhost.ipp.constants import JobState
from printhost.jobs.service import JobSpec
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import NewDocument, NewEvent, UserPreferences
from printhost.store.spool import Spool

PDF = b"%PDF-1.4\n%the document\n"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Services, Dispatcher, Path]]:
    out = tmp_path / "out"
    out.mkdir()
    config = parse_config(
        {
            "storage": {"state_dir": str(tmp_path / "var")},
            "printers": [
                {"name": "laser", "uri": out.as_uri(), "banner_format": "postscript",
                 "banner_tray": "tray-2"},
            ],
            "queues": [
                {"name": "myprinter", "destination": "laser", "banner": True},
                {"name": "plain", "destination": "laser"},
            ],
        },
        base=tmp_path,
    )  # fmt: skip
    store = await open_store(config.storage.effective_database_url)
    spool = Spool(config.storage.spool_dir)
    services, dispatcher = wire(config, store, spool, FakeClock(), "test-node")
    runner = asyncio.create_task(dispatcher.run())
    yield services, dispatcher, out
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await store.close()


async def _print(services: Services, queue: str, owner: str) -> int:
    writer = services.spool.writer("t")
    writer.write(PDF)
    stored = await writer.commit()
    doc = NewDocument(stored.path, "application/pdf", "application/pdf", "d.pdf", stored.size,
                      stored.sha256)  # fmt: skip
    spec = JobSpec(queue, owner, False, "ws7", "quarterly report")
    job = await services.jobs.submit(spec, [doc])
    for _ in range(500):
        done = await services.store.get_job(job.id)
        if done is not None and done.state == JobState.COMPLETED:
            return job.id
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job.id} not completed")


def _text(path: Path) -> str:
    done = subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite", "-sOutputFile=-", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


async def test_queue_banner_comes_first_rendered_for_the_printer(
    world: tuple[Services, Dispatcher, Path],
) -> None:
    services, _, out = world
    job_id = await _print(services, "myprinter", "alice")
    banner, document = sorted(out.glob(f"job-{job_id}-*"))[:2]
    assert banner.read_bytes().startswith(b"%!PS")
    assert b"MediaPosition" in banner.read_bytes()  # tray-2: coloured paper
    text = _text(banner)
    assert "alice" in text and "quarterly report" in text and str(job_id) in text
    assert document.read_bytes() == PDF
    spooled = services.config.storage.spool_dir.rglob("*banner*")
    assert not list(spooled), "the banner file is deleted after delivery"


async def test_user_opts_out_and_in(world: tuple[Services, Dispatcher, Path]) -> None:
    services, _, out = world
    now = services.clock.now()
    event = NewEvent("user-preferences-changed", now)
    await services.store.put_preferences(UserPreferences("bob", banner=False), event)
    await services.store.put_preferences(UserPreferences("carol", banner=True), event)
    no_banner = await _print(services, "myprinter", "bob")
    assert [p.read_bytes() for p in out.glob(f"job-{no_banner}-*.pdf")] == [PDF]
    assert not list(out.glob(f"job-{no_banner}-*.ps"))
    on_plain = await _print(services, "plain", "carol")
    assert len(list(out.glob(f"job-{on_plain}-*.ps"))) == 1
    untouched = await _print(services, "plain", "dave")
    assert not list(out.glob(f"job-{untouched}-*.ps"))
