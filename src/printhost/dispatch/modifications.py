"""Documents changed as the judge decided, made just before delivery: PDF documents of a
job forced to grayscale are converted (printers may ignore print-color-mode), and
watermarks are stamped on PDF documents. The copies live in a private temporary directory
that the caller removes after the delivery; the spooled originals are never touched, so a
retry or a restart starts again from them.

A conversion that fails still leaves the printer the monochrome attribute, so the job is
sent as it is; a watermark that cannot be stamped fails the delivery for good (a rule asked
for it: printing without it would break the rule), with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from printhost.dispatch.backends.base import DocumentFile
from printhost.jobs.model import JobRecord
from printhost.judge.records import Decision
from printhost.modify import (
    ModificationError,
    WatermarkStyle,
    convert_to_grayscale,
    stamp_watermark,
)
from printhost.modify.watermark import Position

log = logging.getLogger(__name__)
PDF = "application/pdf"


class WatermarkFailed(Exception):
    """A watermark a rule asked for could not be stamped; the message says why."""


def needs_changes(decision: Decision | None, documents: Sequence[DocumentFile]) -> bool:
    if decision is None or not (decision.grayscale or decision.watermarks):
        return False
    return any(d.format == PDF for d in documents)


async def modified_documents(
    job: JobRecord, decision: Decision, documents: Sequence[DocumentFile], now: float
) -> tuple[Path, tuple[DocumentFile, ...]]:
    """(the temporary directory to remove afterwards, the documents to send)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"printhost-job-{job.id}-"))
    try:
        changed = []
        for number, document in enumerate(documents, 1):
            if document.format != PDF:
                changed.append(document)
                continue
            path = await _changed(job, decision, document.path, workdir, number, now)
            changed.append(dataclasses.replace(document, path=path))
        return workdir, tuple(changed)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


async def _changed(
    job: JobRecord, decision: Decision, source: Path, workdir: Path, number: int, now: float
) -> Path:
    path = source
    if decision.grayscale:
        gray = workdir / f"{number}-gray.pdf"
        try:
            await asyncio.to_thread(convert_to_grayscale, path, gray)
            path = gray
        except ModificationError as exc:
            log.warning("job %s: grayscale conversion failed (%s); sent as is", job.id, exc)
    for layer, watermark in enumerate(decision.watermarks, 1):
        stamped = workdir / f"{number}-mark{layer}.pdf"
        text = watermark_text(watermark.text, job, decision, now)
        # rules.model.WATERMARK_POSITIONS are Position's values (a test keeps them equal)
        position = cast(Position, watermark.position)
        style = WatermarkStyle(position=position, opacity=watermark.opacity)
        try:
            await asyncio.to_thread(stamp_watermark, path, stamped, text, style)
        except ModificationError as exc:
            raise WatermarkFailed(f"the watermark could not be stamped: {exc.reason}") from None
        path = stamped
    return path


def watermark_text(template: str, job: JobRecord, decision: Decision, now: float) -> str:
    """The rule's template with its placeholders filled (rules.model.WATERMARK_FIELDS)."""
    moment = time.gmtime(now)
    return template.format(
        user=job.owner,
        account=decision.account or job.owner,
        queue=job.queue,
        job_id=job.id,
        time=time.strftime("%H:%M UTC", moment),
        date=time.strftime("%Y-%m-%d", moment),
    )
