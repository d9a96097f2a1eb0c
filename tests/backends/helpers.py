"""Helpers for the backend tests: sample data, requests, a recording Progress."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from peers.cupsd import PrivateCupsd
from peers.procs import wait_until

from printhost.dispatch.backends.base import DeliveryRequest, DocumentFile
from printhost.ipp.model import Attribute

#: A one-page PDF; printers here do not render it, they only have to receive it intact.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass
class RecordingProgress:
    """A ``Progress`` that remembers every report."""

    remote_job_ids: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    async def remote_job_created(self, remote_job_id: int) -> None:
        self.remote_job_ids.append(remote_job_id)

    async def message(self, text: str) -> None:
        self.messages.append(text)


_job_ids = iter(range(1001, 1_000_000))


def make_request(
    uri: str,
    documents: Sequence[DocumentFile],
    *,
    job_id: int | None = None,
    job_uuid: str | None = None,
    job_name: str = "test job",
    user: str = "alice",
    attributes: Sequence[Attribute] = (),
    remote_job_id: int | None = None,
) -> DeliveryRequest:
    job_id = next(_job_ids) if job_id is None else job_id
    return DeliveryRequest(
        printer_uri=uri,
        job_id=job_id,
        job_uuid=job_uuid or uuid.uuid4().urn,
        job_name=job_name,
        user_name=user,
        documents=tuple(documents),
        attributes=tuple(attributes),
        originating_host="client.example",
        remote_job_id=remote_job_id,
    )


def wait_for_cupsd_job(cupsd: PrivateCupsd, job_name: str, timeout: float = 10.0) -> int:
    """The id of the completed cupsd job called ``job_name`` (names are unique per test)."""
    found: list[int] = []

    def completed() -> bool:
        for job, _owner in cupsd.completed_jobs():
            job_id = int(job.rsplit("-", 1)[1])
            if cupsd.job_attributes(job_id).get("job-name") == job_name:
                found.append(job_id)
                return True
        return False

    wait_until(completed, timeout, f"cupsd job {job_name!r}", interval=0.1)
    return found[0]
