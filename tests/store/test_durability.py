"""DESIGN invariant 1: acknowledged means durable — kill -9 at any moment loses no job.

A child process spools a document and creates a job in a loop, printing each job only
after ``create_job`` returned (the moment intake would acknowledge it). The parent kills it
with SIGKILL at a random moment — sometimes after a random number of jobs, sometimes
after a random delay that may land in start-up or the first migration — five times over
the same database and spool, then checks that every job the child reported is there with
its document intact.

SIGKILL does not drop the OS page cache, so this proves the ordering and transaction
logic (nothing acknowledged before its commit, no torn writes, recovery on reopen), not
the fsyncs themselves; ``test_spool`` checks that those are made.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from printhost.jobs.model import JobId
from printhost.store.spool import Spool
from printhost.store.sqlite import SqliteStore

CHILD = r"""
import asyncio, os, sys, time, uuid
from pathlib import Path
from printhost.ipp.constants import JobState
from printhost.store.base import NewDocument, NewEvent, NewJob
from printhost.store.sqlite import SqliteStore
from printhost.store.spool import Spool

async def main(db: str, root: str) -> None:
    store = await SqliteStore.open(db)
    spool = Spool(Path(root))
    n = 0
    while True:
        n += 1
        writer = spool.writer("pdf")
        for _ in range(1 + n % 4):
            writer.write(os.urandom(1024 + n % 3000))
        done = await writer.commit()
        job_uuid = f"urn:uuid:{uuid.uuid4()}"
        job = await store.create_job(
            NewJob(uuid=job_uuid, queue="q", owner="u", owner_authenticated=False,
                   originating_host="h", name=f"job{n}", state=JobState.PENDING,
                   state_reasons=("none",), state_message="", priority=50, hold_until=None,
                   template=b"", created_at=time.time(), open_for_documents=False),
            [NewDocument(path=done.path, format="application/pdf",
                         declared_format="application/pdf", name="d", size=done.size,
                         sha256=done.sha256)],
            NewEvent("job-created", time.time()),
        )
        sys.stdout.write(f"{job.id} {job_uuid} {done.path} {done.sha256}\n")
        sys.stdout.flush()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

ROUNDS = 5


def run_and_kill(db: str, root: Path, rng: random.Random, timed: bool) -> list[list[str]]:
    """Start the child, SIGKILL it at a random moment; return the jobs it acknowledged.
    ``timed``: kill after a random delay instead of after a random number of jobs."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    output = b""
    try:
        if timed:
            time.sleep(rng.uniform(0.0, 1.0))  # may land in start-up or migration
        else:
            for _ in range(rng.randint(1, 150)):
                line = child.stdout.readline()
                output += line
                if not line:
                    break
        child.send_signal(signal.SIGKILL)
        output += child.stdout.read()  # whatever was acknowledged before the kill
        child.wait(10)
        errors = child.stderr.read().decode(errors="replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors
    # A line cut off by the kill has no newline: that job was never acknowledged.
    return [line.split() for line in output.decode().splitlines(keepends=True) if "\n" in line]


async def check(db: str, root: Path, acknowledged: list[list[str]], seed: int) -> None:
    store = await SqliteStore.open(db)
    spool = Spool(root)
    try:
        for job_id, job_uuid, path, sha256 in acknowledged:
            job = await store.get_job(JobId(int(job_id)))
            assert job is not None, f"acknowledged job {job_id} lost (seed {seed})"
            assert job.uuid == job_uuid
            assert [(d.path, d.sha256) for d in job.documents] == [(path, sha256)]
            data = spool.path(path).read_bytes()
            assert hashlib.sha256(data).hexdigest() == sha256, f"document {path} damaged"
    finally:
        await store.close()


def test_acknowledged_jobs_survive_sigkill(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    root = tmp_path / "spool"
    acknowledged: list[list[str]] = []
    for round_ in range(ROUNDS):
        timed = round_ < ROUNDS - 1 and rng.random() < 0.3  # the last round always acks
        acknowledged += run_and_kill(db, root, rng, timed)
        asyncio.run(check(db, root, acknowledged, seed))
    assert acknowledged, f"the child never acknowledged a job (seed {seed})"
    assert len({job_id for job_id, *_ in acknowledged}) == len(acknowledged)
