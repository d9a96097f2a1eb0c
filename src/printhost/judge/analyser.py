"""The analyse stage: every complete job's documents are analysed once, before the judge
sees the job, and the result is stored on the job (judge/records.py ``JobAnalysis``).

Analysis of untrusted documents runs in bounded worker subprocesses
(analysis/sandbox.py), at most ``workers`` at a time, off the event loop. A document that
cannot be analysed (hostile, truncated, unknown format) gives the job an analysis with the
reason, which the judge turns into a denial the user can read. Analysing is idempotent: two
nodes that analyse one job write the same result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from printhost.analysis import AnalysisError, Limits, analyze_bounded
from printhost.analysis.model import Analysis
from printhost.jobs.model import JobId, JobRecord
from printhost.judge.records import JobAnalysis
from printhost.store.base import Store
from printhost.store.spool import Spool

log = logging.getLogger(__name__)
IDLE_POLL_SECONDS = 1.0
BATCH = 16


class Analyser:
    def __init__(
        self,
        store: Store,
        spool: Spool,
        *,
        analysed: Callable[[], None],
        limits: Limits | None = None,
        workers: int = 2,
    ) -> None:
        self._store = store
        self._spool = spool
        self._analysed = analysed
        self._limits = limits or Limits()
        self._workers = asyncio.Semaphore(workers)
        self._wake = asyncio.Event()
        self._running: set[JobId] = set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while True:
                for job in await self._store.list_unanalysed(BATCH):
                    if job.id not in self._running:
                        self._running.add(job.id)
                        group.create_task(self._analyse(job))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_SECONDS):
                        await self._wake.wait()

    async def _analyse(self, job: JobRecord) -> None:
        try:
            async with self._workers:
                result = await self.analyse(job)
            await self._store.update_job(job.id, {"analysis": result.to_json()})
            self._analysed()
        finally:
            self._running.discard(job.id)

    async def analyse(self, job: JobRecord) -> JobAnalysis:
        """The analysis of every document of ``job``, or the first reason one fails."""
        results: list[Analysis] = []
        for document in job.documents:
            if not document.path:
                return JobAnalysis(error="its documents are no longer kept")
            path = self._spool.path(document.path)
            try:
                results.append(await asyncio.to_thread(analyze_bounded, path, self._limits))
            except AnalysisError as exc:
                where = f"document {document.number}: " if len(job.documents) > 1 else ""
                log.info("job %s: analysis refused %s: %s", job.id, path, exc.reason)
                return JobAnalysis(error=where + exc.reason)
        return JobAnalysis(tuple(results))
