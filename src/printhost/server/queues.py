"""The queues users print to, as configured, with their live state: the source of every
printer attribute a client sees.

The static part of a queue's description is built once per (queue, how the client reached
us) and cached; the dynamic part (state, reasons, counts) is read from the store on each
request, so every node shows the same (invariant 6).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Collection
from functools import lru_cache

from printhost.clock import Clock
from printhost.config import Config, PrinterConfig, QueueConfig
from printhost.ipp.constants import JobState, PrinterState
from printhost.ipp.model import Attribute
from printhost.jobs.pin import MAX_PIN_DIGITS
from printhost.routing import names as names_
from printhost.routing.router import default_destination
from printhost.server.icons import SIZES
from printhost.server.printer_attributes import printer_attributes
from printhost.server.queue_description import QueueDescription, QueueStatus
from printhost.server.reply import not_found
from printhost.server.uris import Uris
from printhost.store.base import JobFilter, Store

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
        """The configured queues (and the mapping queues of foreign systems)."""
        configured = [q.name for q in self._config.queues]
        return configured + [m.queue for m in self._config.mappings if m.queue not in configured]

    async def all_names(self) -> list[str]:
        """The configured queues, then those made on first use (``user-``, ``local-``)."""
        names = self.names()
        made = [s.name for s in await self._store.list_queue_states()]
        return names + [n for n in made if n not in names and names_.is_made_on_first_use(n)]

    def resolve(self, name: str | None) -> str:
        """A queue name from a request; None or "" mean the default queue. Names of queues
        made on first use (``user-<name>``, ``local-<host>``) resolve with no set-up."""
        if not name:
            return (
                self._config.default_queue
                if self._config.queue(self._config.default_queue)
                else self._config.queues[0].name
            )
        self._queue(name)  # raises not_found
        return name

    def printer_name(self, queue: str) -> str:
        """What the queue sends to, for people: a printer or pool name, or how it routes."""
        return self._queue(queue).destination

    def jobs_filter(
        self, queue: str, *, states: Collection[JobState] | None, owner: str | None = None
    ) -> JobFilter:
        """The jobs a listing of ``queue`` shows. A user's queue also shows the jobs that
        user sent to the queues that follow their owner (myprinter, from-<system>)."""
        if names_.is_user_queue(queue):
            following = [self._config.default_queue, *(m.queue for m in self._config.mappings)]
            return JobFilter(queues=(queue, *following), states=states, owner=owner)
        return JobFilter(queue=queue, states=states, owner=owner)

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

    async def _offline_message(self, name: str) -> str:
        """Users are told when every printer behind a queue is down (marked so after a
        failed delivery; the prober brings them back): "" otherwise."""
        printers = _configured_printers(self._config, self._queue(name))
        if not printers:
            return ""
        down = {p.name: p for p in await self._store.list_printers() if not p.is_up}
        if not all(p in down for p in printers):
            return ""
        first = down[printers[0]]
        what = printers[0] if len(printers) == 1 else f"all {len(printers)} printers"
        return f"{what} down: {first.state_message}"[:1023]

    def _queue(self, name: str) -> QueueConfig:
        queue = self._config.queue(name) or _made_on_demand(self._config, name)
        if queue is None:
            raise not_found(f"queue {name!r}")
        return queue

    def _description(self, name: str, uris: Uris) -> QueueDescription:
        queue = self._queue(name)
        printers = _reachable_printers(self._config, queue)
        printer = printers[0]
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
            make_and_model=(printer.make_and_model if len(printers) == 1 else "")
            or "printhost queue",
            color=any(p.color for p in printers),
            duplex=any(p.duplex for p in printers),
            multiple_operation_time_out=self._config.jobs.multiple_operation_timeout_seconds,
            job_password_max_length=MAX_PIN_DIGITS,
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
        offline = await self._offline_message(name)
        reasons = _reasons(state.paused, state.hold_new_jobs, state.is_accepting_jobs)
        if offline:
            reasons = (*(r for r in reasons if r != "none"), "offline-report")
        return QueueStatus(
            state=_printer_state(state.paused, printing),
            up_time=int(now),
            state_change_time=int(changed),
            state_change_datetime=_dt(changed),
            config_change_time=int(self._started_at),
            config_change_datetime=_dt(self._started_at),
            current_time=_dt(now),
            state_reasons=reasons,
            state_message=state.state_message or offline,
            message_from_operator=state.state_message,
            is_accepting_jobs=state.is_accepting_jobs,
            queued_job_count=queued,
        )


#: The destination shown for queues whose printer is chosen per job.
FOLLOWS_OWNER = "(follows the job's owner)"


def _made_on_demand(config: Config, name: str) -> QueueConfig | None:
    """User and workstation queues, and the queues of foreign systems, exist without
    configuration; they describe themselves as able to do what any printer can."""
    if config.mapping(name) is not None:
        return QueueConfig(name=name, destination=FOLLOWS_OWNER, info=f"jobs from {name}")
    if names_.is_user_queue(name):
        return QueueConfig(name=name, destination=FOLLOWS_OWNER, info=f"{name[5:]}'s printer")
    if names_.is_local_queue(name):
        return QueueConfig(name=name, destination=name, info=f"desktop printer of {name[6:]}")
    return None


def _reachable_printers(
    config: Config, queue: QueueConfig, *, follows: bool | None = None
) -> tuple[PrinterConfig, ...]:
    """The printers a queue's jobs can reach (its capabilities are theirs together)."""
    if follows is None:
        follows = queue.name == config.default_queue
    printer = config.printer(queue.destination)
    if printer is not None and not follows:
        return (printer,)
    pool = config.pool(queue.destination)
    if pool is not None and not follows:
        return tuple(p for m in (*pool.members, *pool.standby) if (p := config.printer(m)))
    return config.printers  # follows its owner, or a desktop: could be any


def _configured_printers(config: Config, queue: QueueConfig) -> tuple[str, ...]:
    """The printers a configured queue sends to (for the default queue: those of users
    with no preference); () for queues whose printers change per job (user, desktop)."""
    if queue.name == config.default_queue:
        queue = QueueConfig(queue.name, default_destination(config, ""))
        return tuple(p.name for p in _reachable_printers(config, queue, follows=False))
    if not config.is_destination(queue.destination):
        return ()
    return tuple(p.name for p in _reachable_printers(config, queue))


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
