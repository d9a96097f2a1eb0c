"""The queues users print to, as configured, with their live state: the source of every
printer attribute a client sees.

The static part of a queue's description is built once per (queue, how the client reached
us) and cached; the dynamic part (state, reasons, counts) is read from the store on each
request, so every node shows the same (invariant 6).
"""

from __future__ import annotations

import datetime
import uuid
from functools import lru_cache

from printhost.clock import Clock
from printhost.config import Config, QueueConfig
from printhost.ipp.constants import JobState, PrinterState
from printhost.ipp.model import Attribute
from printhost.server.icons import SIZES
from printhost.server.printer_attributes import printer_attributes
from printhost.server.queue_description import QueueDescription, QueueStatus
from printhost.server.reply import not_found
from printhost.server.uris import Uris
from printhost.store.base import Store

#: What Set-Job-Attributes changes on a job that has not started (operations/control.py).
JOB_SETTABLE = (
    "job-hold-until", "job-priority", "job-name", "copies", "finishings", "media", "media-col",
    "multiple-document-handling", "number-up", "orientation-requested", "output-bin",
    "page-ranges", "print-color-mode", "print-quality", "print-scaling", "printer-resolution",
    "sides",
)  # fmt: skip
_UUID_NAMESPACE = uuid.UUID("6f1c7d3e-4a0e-4e8a-9a51-7072696e7468")  # printhost's own


class QueueRegistry:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        started_at: float,
        operations: tuple[int, ...],
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._started_at = started_at
        self._operations = operations
        self._describe = lru_cache(maxsize=256)(self._description)
        self._supported: dict[str, dict[str, Attribute]] = {}

    def names(self) -> list[str]:
        return [q.name for q in self._config.queues]

    def resolve(self, name: str | None) -> str:
        """A queue name from a request; None or "" mean the default queue."""
        if not name:
            return (
                self._config.default_queue
                if self._config.queue(self._config.default_queue)
                else self._config.queues[0].name
            )
        if self._config.queue(name) is None:
            raise not_found(f"queue {name!r}")
        return name

    def printer_name(self, queue: str) -> str:
        return self._queue(queue).printer

    def uuid(self, queue: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, queue)}"

    def supported(self, queue: str) -> dict[str, Attribute]:
        """The queue's ``*-supported`` attributes by name, for checking job attributes.
        They depend only on the configuration, so they are built once per queue instead of
        the whole attribute set on every job (measured: most of the CPU of a Print-Job)."""
        cached = self._supported.get(queue)
        if cached is None:
            uris = Uris(host="localhost", plain_port=631, tls_port=None)
            status = _static_status(self._started_at)
            cached = {
                a.name: a
                for a in printer_attributes(self._describe(queue, uris), status)
                if a.name.endswith("-supported") and a.name != "printer-uri-supported"
            }
            self._supported[queue] = cached
        return cached

    async def attributes(self, queue: str, uris: Uris) -> list[Attribute]:
        description = self._describe(queue, uris)
        return printer_attributes(description, await self._status(queue))

    def _queue(self, name: str) -> QueueConfig:
        queue = self._config.queue(name)
        if queue is None:
            raise not_found(f"queue {name!r}")
        return queue

    def _description(self, name: str, uris: Uris) -> QueueDescription:
        queue = self._queue(name)
        printer = self._config.printer(queue.printer)
        assert printer is not None  # checked when the configuration was loaded
        uri_supported = uris.printers_supported(name)
        security = tuple("tls" if u.startswith("ipps:") else "none" for u in uri_supported)
        auth = "requesting-user-name" if self._config.server.allow_anonymous else "basic"
        return QueueDescription(
            name=name,
            more_info_uri=uris.web(f"/printers/{name}"),
            uri_supported=uri_supported,
            uri_security=security,
            uri_authentication=tuple(auth for _ in uri_supported),
            uuid=self.uuid(name),
            operations=self._operations,
            printer_icons=tuple(uris.web(f"/icons/printer-{size}.png") for size in SIZES),
            info=queue.info or printer.info or name,
            location=queue.location or printer.location,
            make_and_model=printer.make_and_model or "printhost queue",
            color=printer.color,
            duplex=printer.duplex,
            multiple_operation_time_out=self._config.jobs.multiple_operation_timeout_seconds,
            job_password_max_length=0,
            job_settable=JOB_SETTABLE,
            job_k_octets_max=self._config.jobs.max_document_bytes // 1024,
            device_uri=None,
        )

    async def _status(self, name: str) -> QueueStatus:
        state = await self._store.get_queue_state(name)
        queued = await self._store.count_jobs(
            name, (JobState.PENDING, JobState.PENDING_HELD, JobState.PROCESSING)
        )
        printing = await self._store.count_jobs(name, (JobState.PROCESSING,))
        now = self._clock.now()
        changed = state.state_change_time or self._started_at
        return QueueStatus(
            state=_printer_state(state.paused, printing),
            up_time=int(now),
            state_change_time=int(changed),
            state_change_datetime=_dt(changed),
            config_change_time=int(self._started_at),
            config_change_datetime=_dt(self._started_at),
            current_time=_dt(now),
            state_reasons=_reasons(state.paused, state.hold_new_jobs, state.is_accepting_jobs),
            state_message=state.state_message,
            message_from_operator=state.state_message,
            is_accepting_jobs=state.is_accepting_jobs,
            queued_job_count=queued,
        )


def _static_status(when: float) -> QueueStatus:
    """A status for building the configuration-only attributes (values unused)."""
    moment = _dt(when)
    return QueueStatus(
        state=PrinterState.IDLE,
        up_time=max(1, int(when)),
        state_change_time=int(when),
        state_change_datetime=moment,
        config_change_time=int(when),
        config_change_datetime=moment,
        current_time=moment,
    )


def _printer_state(paused: bool, printing: int) -> PrinterState:
    if paused:
        return PrinterState.STOPPED
    return PrinterState.PROCESSING if printing else PrinterState.IDLE


def _reasons(paused: bool, hold_new_jobs: bool, accepting: bool) -> tuple[str, ...]:
    reasons = [r for r, on in (("paused", paused), ("hold-new-jobs", hold_new_jobs)) if on]
    return tuple(reasons) or ("none",)


def _dt(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
