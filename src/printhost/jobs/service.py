"""Job service: every change to a job goes through here.

Each method follows one shape: load the job, decide with the lifecycle table
(``lifecycle.next_state``), write the new state with a compare-and-set in one transaction
(with its event), then run effects (wake the dispatcher, stop an in-flight delivery).
Authorisation is the caller's (the transports know who asks); the service enforces what
is possible.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from printhost.clock import Clock
from printhost.ipp.constants import JobState
from printhost.jobs.lifecycle import InvalidTransition, JobEvent, is_allowed, next_state
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.pin import PIN_WAIT_REASON, check_pin
from printhost.store.base import JobFilter, NewDocument, NewEvent, NewJob, Store

log = logging.getLogger(__name__)

ACTIVE_STATES = (
    JobState.PENDING,
    JobState.PENDING_HELD,
    JobState.PROCESSING,
    JobState.PROCESSING_STOPPED,
)
TERMINAL_STATES = (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED)

#: The reason each event leaves on the job (RFC 8011 §5.3.8 job-state-reasons).
_REASONS: dict[JobEvent, tuple[str, ...]] = {
    JobEvent.HOLD: ("job-hold-until-specified",),
    JobEvent.RELEASE: ("none",),
    JobEvent.START: ("job-printing",),
    JobEvent.COMPLETE: ("job-completed-successfully",),
    JobEvent.RETRY: ("printer-stopped",),
    JobEvent.STOP: ("job-suspended",),
    JobEvent.RESUME: ("none",),
    JobEvent.CANCEL: ("job-canceled-by-user",),
    JobEvent.ABORT: ("aborted-by-system",),
    JobEvent.RESTART: ("job-restartable",),
}


#: The reason a job held for want of a route carries (RFC 8011 §5.3.8: a resource the
#: job needs is not ready).
ROUTE_HOLD_REASON = "resources-are-not-ready"


class JobNotPossible(Exception):
    """The request is understood but the job's state does not allow it (IPP
    client-error-not-possible)."""


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What intake knows about a new job (already validated by the transport)."""

    queue: str
    owner: str
    owner_authenticated: bool
    originating_host: str
    name: str
    priority: int = 50
    hold_until: str | None = None
    template: bytes = b""
    uuid: str = ""
    #: A salted hash of the job's PIN (jobs/pin.py): the job is held until it is given.
    password_hash: str | None = None


class JobRefused(Exception):
    """Intake refuses the job (e.g. an unmapped user on a foreign system's queue); the
    message says why, for the sender."""


@dataclass(frozen=True, slots=True)
class Placement:
    """The job as intake rules made it (owner mapped, defaults applied)."""

    spec: JobSpec
    #: Hold the job with this message (e.g. waiting for an operator to map its owner).
    hold_message: str = ""
    #: What intake changed against the request, shown as the job's state message.
    note: str = ""


async def _as_is(spec: JobSpec) -> Placement:
    return Placement(spec)


async def _nothing(job: JobRecord) -> None:
    return None


def new_job_uuid() -> str:
    return f"urn:uuid:{uuidlib.uuid4()}"


class JobService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        wake_dispatcher: Callable[[], None] = lambda: None,
        stop_delivery: Callable[[JobId], None] = lambda job_id: None,
        events_appended: Callable[[], None] = lambda: None,
        place: Callable[[JobSpec], Awaitable[Placement]] = _as_is,
        job_ended: Callable[[JobRecord], Awaitable[None]] = _nothing,
        job_changed: Callable[[JobRecord], Awaitable[None]] = _nothing,
    ) -> None:
        self._place = place
        self._job_ended = job_ended
        self._job_changed = job_changed
        self._store = store
        self._clock = clock
        self._wake_dispatcher = wake_dispatcher
        self._stop_delivery = stop_delivery
        self._events_appended = events_appended

    # --- intake -----------------------------------------------------------------------
    async def submit(
        self,
        spec: JobSpec,
        documents: Sequence[NewDocument],
        *,
        open_for_documents: bool = False,
        hold_new_jobs: bool = False,
    ) -> JobRecord:
        """Create a job durably. Returns only after job, documents and event are committed
        (the caller has already fsync'd the documents): invariant 1. Raises JobRefused
        when intake rules refuse it."""
        placement = await self._place(spec)
        spec = placement.spec
        if placement.hold_message and spec.hold_until is None:
            spec = dataclasses.replace(spec, hold_until="indefinite")
        if spec.password_hash is not None and spec.hold_until is None:
            spec = dataclasses.replace(spec, hold_until="indefinite")
        held = spec.hold_until is not None or hold_new_jobs
        reasons = self._intake_reasons(spec, open_for_documents, hold_new_jobs)
        now = self._clock.now()
        job = NewJob(
            uuid=spec.uuid or new_job_uuid(),
            queue=spec.queue,
            owner=spec.owner,
            owner_authenticated=spec.owner_authenticated,
            originating_host=spec.originating_host,
            name=spec.name,
            state=JobState.PENDING_HELD if held else JobState.PENDING,
            state_reasons=reasons,
            state_message=placement.hold_message
            or placement.note
            or ("held until its owner releases it with the PIN" if spec.password_hash else ""),
            priority=spec.priority,
            hold_until=spec.hold_until,
            template=spec.template,
            created_at=now,
            open_for_documents=open_for_documents,
            password_hash=spec.password_hash,
        )
        event = NewEvent("job-created", now, queue=spec.queue, data={"state": job.state.keyword})
        record = await self._store.create_job(job, documents, event)
        self._events_appended()
        if record.state == JobState.PENDING and not open_for_documents:
            self._wake_dispatcher()
        return record

    @staticmethod
    def _intake_reasons(spec: JobSpec, incoming: bool, hold_new_jobs: bool) -> tuple[str, ...]:
        reasons = []
        if incoming:
            reasons.append("job-incoming")
        if spec.password_hash is not None:
            reasons.append(PIN_WAIT_REASON)
        elif spec.hold_until is not None:
            reasons.append("job-hold-until-specified")
        elif hold_new_jobs:
            reasons.append("job-held-for-review")
        return tuple(reasons) or ("none",)

    async def add_document(self, job: JobRecord, document: NewDocument, *, last: bool) -> JobRecord:
        event = NewEvent(
            "job-state-changed" if last else "job-progress",
            self._clock.now(),
            queue=job.queue,
            data={"document": job.document_count + 1},
        )
        updated = await self._store.add_document(job.id, document, last=last, event=event)
        if updated is None:
            raise JobNotPossible(f"job {job.id} is not accepting documents")
        self._events_appended()
        if last:
            updated = await self._settle_reasons(updated)
        return updated

    async def close(self, job: JobRecord) -> JobRecord:
        """Close-Job, or Send-Document with last-document and no data."""
        event = NewEvent("job-state-changed", self._clock.now(), queue=job.queue)
        updated = await self._store.close_job(job.id, event)
        if updated is None:
            raise JobNotPossible(f"job {job.id} is not accepting documents")
        self._events_appended()
        return await self._settle_reasons(updated)

    async def _settle_reasons(self, job: JobRecord) -> JobRecord:
        """Drop job-incoming once the job is complete; wake the dispatcher for it."""
        reasons = tuple(r for r in job.state_reasons if r != "job-incoming") or ("none",)
        updated = await self._store.update_job(job.id, {"state_reasons": reasons}) or job
        if updated.state == JobState.PENDING:
            self._wake_dispatcher()
        return updated

    # --- user and operator actions ------------------------------------------------------
    async def cancel(
        self, job: JobRecord, *, reason: str = "job-canceled-by-user", message: str = ""
    ) -> JobRecord:
        if job.state.is_terminal:
            raise JobNotPossible(f"job {job.id} is already {job.state.keyword}")
        updated = await self._move(
            job,
            JobEvent.CANCEL,
            reasons=(reason,),
            message=message,
            changes={"open_for_documents": False},
        )
        self._stop_delivery(job.id)
        return updated

    async def hold(self, job: JobRecord, until: str = "indefinite") -> JobRecord:
        if job.state not in (JobState.PENDING, JobState.PENDING_HELD):
            raise JobNotPossible(f"a {job.state.keyword} job cannot be held")
        reasons = _REASONS[JobEvent.HOLD]
        if job.password_hash is not None:
            reasons = (*reasons, PIN_WAIT_REASON)  # a time does not replace the PIN
        return await self._move(job, JobEvent.HOLD, reasons=reasons, changes={"hold_until": until})

    async def release(
        self, job: JobRecord, *, pin: str | None = None, operator: bool = False
    ) -> JobRecord:
        """Release a held job. A job sent with a PIN needs that PIN, except from an
        operator (PinRefused otherwise)."""
        if job.state != JobState.PENDING_HELD:
            raise JobNotPossible(f"job {job.id} is not held")
        if job.password_hash is not None and not operator:
            await check_pin(job.id, job.password_hash, pin)
        reasons = ("job-incoming",) if job.open_for_documents else ("none",)
        updated = await self._move(
            job,
            JobEvent.RELEASE,
            reasons=reasons,
            changes={"hold_until": None, "next_attempt_at": None},
        )
        self._wake_dispatcher()
        return updated

    # --- holds made by the system (routing, the judge) ------------------------------------
    async def hold_for_route(self, job: JobRecord, message: str) -> JobRecord | None:
        """No printer can take the job now (its user is logged in nowhere, no pool member
        can print colour...): hold it, saying why, until ``release_route_holds``."""
        return await self.hold_because(job, ROUTE_HOLD_REASON, message)

    async def hold_because(
        self,
        job: JobRecord,
        reason: str,
        message: str,
        changes: Mapping[str, Any] | None = None,
    ) -> JobRecord | None:
        """Hold the job with ``reason`` (a job-state-reasons keyword) and a message saying
        why; ``release_holds`` with that reason gives it another try."""
        return await self.move(
            job,
            JobEvent.HOLD,
            reasons=(reason,),
            message=message,
            changes={"hold_until": "indefinite", **(changes or {})},
        )

    async def deny(self, job: JobRecord, message: str) -> JobRecord | None:
        """The judge refused the job: it ends aborted, with the reason for its owner."""
        return await self.move(
            job,
            JobEvent.ABORT,
            reasons=("aborted-by-system",),
            message=message,
            changes={"open_for_documents": False},
        )

    async def release_route_holds(self, owner: str | None = None) -> int:
        """Something that routing depends on changed (presence, preferences, a printer
        came back): give the jobs held for want of a route another try. The dispatcher
        holds them again if nothing changed for them. Returns how many were released."""
        return await self.release_holds(frozenset({ROUTE_HOLD_REASON}), owner=owner)

    async def release_holds(
        self,
        reasons: frozenset[str],
        *,
        owner: str | None = None,
        where: Callable[[JobRecord], bool] = lambda job: True,
    ) -> int:
        """Release the held jobs (of ``owner``, and ``where`` says so) whose hold has one of
        ``reasons``; returns how many."""
        held = await self._store.list_jobs(JobFilter(states=(JobState.PENDING_HELD,), owner=owner))
        released = 0
        for job in held:
            if not reasons.intersection(job.state_reasons):
                continue
            if not where(job):
                continue
            moved = await self.move(
                job, JobEvent.RELEASE, reasons=("none",), changes={"hold_until": None}
            )
            released += moved is not None
        if released:
            self._wake_dispatcher()
        return released

    async def restart(self, job: JobRecord) -> JobRecord:
        """Restart-Job / Reprocess-Job of a retained job whose documents are still kept."""
        if not job.state.is_terminal or not all(d.path for d in job.documents):
            raise JobNotPossible(f"job {job.id} cannot be restarted (documents not retained)")
        await self._settle(job)  # its first printing is charged (or released) before a reprint
        updated = await self._move(
            job,
            JobEvent.RESTART,
            reasons=("none",),
            changes={
                "delivery_attempts": 0,
                "next_attempt_at": None,
                "remote_job_id": None,
                "impressions_completed": 0,
                "printer": None,
                "judgement": None,  # a reprint is judged, and charged, again
            },
        )
        self._wake_dispatcher()
        return updated

    async def suspend(self, job: JobRecord) -> JobRecord:
        """Suspend-Current-Job (RFC 3998 §4.3.1): stop the delivery, keep the job."""
        updated = await self._move(
            job, JobEvent.STOP, changes={"lease_owner": None, "lease_expires": None}
        )
        self._stop_delivery(job.id)
        return updated

    async def resume(self, job: JobRecord) -> JobRecord:
        """Resume-Job: a suspended job goes back in the queue; the dispatcher's recovery
        check asks the printer before sending it again (invariant 2)."""
        updated = await self._move(job, JobEvent.RESUME)
        self._wake_dispatcher()
        return updated

    async def update(self, job: JobRecord, changes: Mapping[str, Any]) -> JobRecord:
        """Set-Job-Attributes and priority changes on a job that has not started."""
        if job.state not in (JobState.PENDING, JobState.PENDING_HELD):
            raise JobNotPossible(f"a {job.state.keyword} job cannot be changed")
        template = changes.get("template", job.template)
        repriced = job.judgement is not None and template != job.template
        if repriced:
            # copies, sides, media... changed: the price and the rules' verdict were for
            # the job as it was; it is judged (and its cost reserved) again
            changes = {**changes, "judgement": None}
        updated = await self._store.update_job(job.id, changes)
        if updated is None:
            raise JobNotPossible(f"job {job.id} is gone")
        if repriced:
            await self._job_changed(updated)
        await self._store.append_event(
            NewEvent("job-config-changed", self._clock.now(), queue=job.queue), job.id
        )
        self._events_appended()
        self._wake_dispatcher()
        return updated

    # --- queries ------------------------------------------------------------------------
    async def get(self, job_id: int) -> JobRecord | None:
        return await self._store.get_job(JobId(job_id))

    async def list(self, where: JobFilter) -> list[JobRecord]:
        return await self._store.list_jobs(where)

    # --- moves made by the dispatcher ---------------------------------------------------
    async def move(
        self,
        job: JobRecord,
        event: JobEvent,
        *,
        reasons: tuple[str, ...] | None = None,
        message: str = "",
        changes: Mapping[str, Any] | None = None,
    ) -> JobRecord | None:
        """Like ``_move`` but returns None when the job changed under us (e.g. canceled
        while it was being delivered) instead of raising."""
        try:
            return await self._move(job, event, reasons=reasons, message=message, changes=changes)
        except JobNotPossible:
            return None

    async def _move(
        self,
        job: JobRecord,
        event: JobEvent,
        *,
        reasons: tuple[str, ...] | None = None,
        message: str = "",
        changes: Mapping[str, Any] | None = None,
    ) -> JobRecord:
        try:
            new_state = next_state(job.state, event)
        except InvalidTransition as exc:
            raise JobNotPossible(str(exc)) from None
        kind = "job-completed" if new_state.is_terminal else "job-state-changed"
        record = await self._store.transition_job(
            job.id,
            (job.state,),
            new_state,
            reasons=reasons or _REASONS[event],
            message=message,
            event=NewEvent(
                kind,
                self._clock.now(),
                queue=job.queue,
                printer=job.printer,
                data={"state": new_state.keyword, "event": event.value},
            ),
            changes=changes,
        )
        if record is None:
            raise JobNotPossible(f"job {job.id} changed state meanwhile; try again")
        self._events_appended()
        if new_state.is_terminal:
            await self._settle(record)
        return record

    async def _settle(self, job: JobRecord) -> None:
        """Charges follow the job's end (commit or release). A failure here must not undo
        the move: the open reservation is found and settled by the next sweep."""
        try:
            await self._job_ended(job)
        except Exception:
            log.exception("job %s: settling its charge failed; the next sweep retries", job.id)


def can(job: JobRecord, event: JobEvent) -> bool:
    return is_allowed(job.state, event)
