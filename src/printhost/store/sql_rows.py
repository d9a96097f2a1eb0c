"""Rows <-> records for the SQL stores: the column values a record is written as, and the
record a row is read back as. Shared by SQLite and PostgreSQL (tuples are JSON text and
booleans come back as ``bool`` or ``int`` depending on the database, hence the ``bool()``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row

from printhost.ipp.constants import JobState
from printhost.jobs.model import DocumentRecord, JobId, JobRecord
from printhost.store.base import (
    EventRecord,
    NewDocument,
    PrinterRecord,
    QueueState,
    SubscriptionRecord,
)
from printhost.store.schema import jobs, subscriptions

#: JobRecord fields that changes= / update_job may not set.
NOT_CHANGEABLE = frozenset({"id", "state", "documents"})
JOB_COLUMNS = frozenset(jobs.c.keys())
SUBSCRIPTION_COLUMNS = frozenset(subscriptions.c.keys()) - {"id"}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def job_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """JobRecord field names and values → column values; refuses fields that are not ours."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name in NOT_CHANGEABLE or name not in JOB_COLUMNS:
            raise ValueError(f"job field {name!r} cannot be changed this way")
        if name == "state_reasons":
            value = dumps(tuple(value))
        values[name] = value
    return values


def subscription_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in SUBSCRIPTION_COLUMNS:
            raise ValueError(f"subscription field {name!r} cannot be changed")
        values[name] = dumps(tuple(value)) if name == "events" else value
    return values


def new_document(job_id: JobId, number: int, doc: NewDocument, created_at: float) -> DocumentRecord:
    return DocumentRecord(
        job_id=job_id,
        number=number,
        path=doc.path,
        format=doc.format,
        declared_format=doc.declared_format,
        name=doc.name,
        size=doc.size,
        sha256=doc.sha256,
        created_at=created_at,
    )


def document_values(doc: DocumentRecord) -> dict[str, Any]:
    return {
        "job_id": doc.job_id,
        "number": doc.number,
        "path": doc.path,
        "format": doc.format,
        "declared_format": doc.declared_format,
        "name": doc.name,
        "size": doc.size,
        "sha256": doc.sha256,
        "created_at": doc.created_at,
    }


def document_record(row: Row[Any]) -> DocumentRecord:
    return DocumentRecord(
        job_id=JobId(row.job_id),
        number=row.number,
        path=row.path,
        format=row.format,
        declared_format=row.declared_format,
        name=row.name,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
    )


def job_record(row: Row[Any], docs: tuple[DocumentRecord, ...]) -> JobRecord:
    return JobRecord(
        id=JobId(row.id),
        uuid=row.uuid,
        queue=row.queue,
        owner=row.owner,
        owner_authenticated=bool(row.owner_authenticated),
        originating_host=row.originating_host,
        name=row.name,
        state=JobState(row.state),
        state_reasons=tuple(json.loads(row.state_reasons)),
        state_message=row.state_message,
        priority=row.priority,
        hold_until=row.hold_until,
        template=bytes(row.template),
        created_at=row.created_at,
        processing_at=row.processing_at,
        completed_at=row.completed_at,
        open_for_documents=bool(row.open_for_documents),
        document_count=row.document_count,
        size=row.size,
        printer=row.printer,
        remote_job_id=row.remote_job_id,
        impressions_completed=row.impressions_completed,
        delivery_attempts=row.delivery_attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        documents=docs,
        password_hash=row.password_hash,
        analysis=row.analysis,
        judgement=row.judgement,
        account=row.account,
        release_printer=row.release_printer,
    )


def event_record(row: Row[Any]) -> EventRecord:
    return EventRecord(
        seq=row.seq,
        time=row.time,
        kind=row.kind,
        job_id=None if row.job_id is None else JobId(row.job_id),
        queue=row.queue,
        printer=row.printer,
        data=json.loads(row.data),
    )


def subscription_record(row: Row[Any]) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        owner=row.owner,
        queue=row.queue,
        job_id=None if row.job_id is None else JobId(row.job_id),
        events=tuple(json.loads(row.events)),
        pull_method=row.pull_method,
        lease_duration=row.lease_duration,
        expires_at=row.expires_at,
        time_interval=row.time_interval,
        user_data=bytes(row.user_data),
        created_at=row.created_at,
        start_seq=row.start_seq,
        owner_authenticated=bool(row.owner_authenticated),
    )


def queue_state_record(row: Row[Any]) -> QueueState:
    return QueueState(
        name=row.name,
        is_accepting_jobs=bool(row.is_accepting_jobs),
        paused=bool(row.paused),
        hold_new_jobs=bool(row.hold_new_jobs),
        state_message=row.state_message,
        state_change_time=row.state_change_time,
    )


def printer_record(row: Row[Any]) -> PrinterRecord:
    return PrinterRecord(
        name=row.name,
        is_up=bool(row.is_up),
        state_reasons=tuple(json.loads(row.state_reasons)),
        state_message=row.state_message,
        state_change_time=row.state_change_time,
    )
