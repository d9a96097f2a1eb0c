"""What the dispatcher hands a backend and hears back: the delivery request built from a
job (its spooled documents, its template with what the judge forced), the progress a
backend reports (made durable on the job at once), and this process's node name (the
lease owner, and the name in the nodes table)."""

from __future__ import annotations

import os
import socket
import uuid

from printhost.dispatch.backends.base import DeliveryRequest, DocumentFile
from printhost.jobs.model import JobId, JobRecord
from printhost.judge.modification import judged, with_forced_attributes
from printhost.server.job_attributes import decode_template
from printhost.store.base import Store
from printhost.store.spool import Spool


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobProgress:
    """Makes a backend's reports durable on the job (remote job id first: recovery needs
    it to find the job on the printer)."""

    def __init__(self, store: Store, job_id: JobId) -> None:
        self._store = store
        self._job_id = job_id

    async def remote_job_created(self, remote_job_id: int) -> None:
        await self._store.update_job(self._job_id, {"remote_job_id": remote_job_id})

    async def message(self, text: str) -> None:
        await self._store.update_job(self._job_id, {"state_message": text[:1023]})


def delivery_request(job: JobRecord, uri: str, spool: Spool) -> DeliveryRequest:
    """The job as its printer is sent it: its kept documents, and its template with the
    print-color-mode and sides a rule forced."""
    documents = tuple(
        DocumentFile(spool.path(d.path), d.format, d.name) for d in job.documents if d.path
    )
    attributes = tuple(decode_template(job.template))
    decision = judged(job)
    if decision is not None:
        attributes = with_forced_attributes(attributes, decision)
    return DeliveryRequest(
        printer_uri=uri,
        job_id=job.id,
        job_uuid=job.uuid,
        job_name=job.name,
        user_name=job.owner,
        documents=documents,
        attributes=attributes,
        originating_host=job.originating_host,
        remote_job_id=job.remote_job_id,
    )
