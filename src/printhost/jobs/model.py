"""Job records as the store keeps them. Plain data; behaviour lives in services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

from printhost.ipp.constants import JobState

JobId = NewType("JobId", int)


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    job_id: JobId
    number: int  # 1-based document-number
    path: str  # relative to the spool root
    format: str  # detected MIME type
    declared_format: str  # what the client said (document-format)
    name: str
    size: int
    sha256: str
    created_at: float


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: JobId
    uuid: str  # "urn:uuid:..."
    queue: str
    owner: str
    #: True when `owner` was proven (HTTP authentication), False when it is only the
    #: requesting-user-name the client claimed.
    owner_authenticated: bool
    originating_host: str
    name: str
    state: JobState
    state_reasons: tuple[str, ...]
    state_message: str
    priority: int
    #: job-hold-until keyword or name ("indefinite", "night", "23:00"...); None = no-hold.
    hold_until: str | None
    #: Job template attributes, IPP-encoded (an encoded job attribute group), so tags survive.
    template: bytes
    created_at: float
    processing_at: float | None
    completed_at: float | None
    #: Still accepting Send-Document (Create-Job without last-document yet).
    open_for_documents: bool
    document_count: int
    size: int  # bytes over all documents
    printer: str | None  # the physical printer chosen at dispatch (late binding)
    remote_job_id: int | None
    impressions_completed: int
    delivery_attempts: int
    next_attempt_at: float | None
    lease_owner: str | None
    lease_expires: float | None
    documents: tuple[DocumentRecord, ...] = field(default=())
    #: PIN printing (PWG 5100.11 job-password): a salted hash of what the client sent;
    #: the job waits until its owner gives the same PIN (jobs/pin.py). None = no PIN.
    password_hash: str | None = None
    #: Document analysis as JSON (judge/records.py): per document, or the reason it failed.
    #: None until analysed.
    analysis: str | None = None
    #: The judge's decision as JSON (judge/records.py); None until judged.
    judgement: str | None = None
    #: The account chosen for the job at release (else its job-account-id, else personal).
    account: str | None = None
    #: The printer its owner chose when releasing it ("release at any printer of pool X").
    release_printer: str | None = None

    @property
    def k_octets(self) -> int:
        return (self.size + 1023) // 1024
