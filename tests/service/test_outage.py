"""A node cut off from its store mid-delivery (in process, real SQLite store, a real socket
printer that takes the connection and never reads, the system clock): it may go on only
while its lease holds. Past the lease (or the heartbeat silence after which other nodes
take its jobs) it stops delivering, so no other node's recovery finds the job still being
sent (invariant 2); the job stays processing for recovery to follow at the printer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from peers.sink import RawSink

from printhost.app import wire
from printhost.clock import SystemClock
from printhost.config import parse_config
from printhost.ipp.constants import JobState
from printhost.jobs.service import JobSpec
from printhost.store import open_store
from printhost.store.base import NewDocument
from printhost.store.spool import Spool


async def test_a_delivery_stops_once_its_lease_cannot_be_renewed(tmp_path: Path) -> None:
    with RawSink("hang") as sink:
        config = parse_config(
            {
                "storage": {"state_dir": str(tmp_path / "var")},
                "delivery": {"timeout_seconds": 60, "lease_seconds": 1.5},
                "printers": [{"name": "wedged", "uri": sink.uri}],
                "queues": [{"name": "myprinter", "destination": "wedged"}],
            },
            base=tmp_path,
        )
        store = await open_store(config.storage.effective_database_url)
        services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), SystemClock())
        writer = services.spool.writer("t")
        writer.write(b"%PDF-1.4\n" + b"x" * (8 << 20))  # more than the socket buffers hold
        stored = await writer.commit()
        document = NewDocument(
            stored.path, "application/pdf", "application/pdf", "d", stored.size, stored.sha256
        )
        spec = JobSpec("myprinter", "alice", True, "h", "doc")
        job = await services.jobs.submit(spec, [document])
        runner = asyncio.create_task(dispatcher.run())
        try:
            await _wait(lambda: dispatcher.in_flight == 1)
            renewals = 0

            async def unreachable(*args: Any) -> bool:
                nonlocal renewals
                renewals += 1
                raise sqlalchemy.exc.OperationalError("renew", {}, OSError("unreachable"))

            store.renew_lease = unreachable  # type: ignore[method-assign]
            await _wait(lambda: dispatcher.in_flight == 0, timeout=10)
            assert renewals >= 1
            current = await store.get_job(job.id)
            assert current is not None and current.state == JobState.PROCESSING
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await dispatcher.aclose()
            await store.close()


async def _wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
