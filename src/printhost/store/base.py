"""The store port: everything printhost persists, behind one small async interface.

Two implementations share it: SQLite + a local spool directory (embedded default) and,
later, PostgreSQL (cluster). Both pass the same contract suite (tests/store/).

Rules every implementation keeps:
- Every method that writes commits durably before it returns (SQLite: WAL with
  synchronous=FULL), so an acknowledged job survives kill -9 (DESIGN invariant 1).
- State changes are compare-and-set on the old state: ``transition_job`` changes nothing and
  returns None when the job is no longer in ``expected``.
- Every job state change appends an event in the same transaction. An event appended by a
  job method carries the job's id, and the job's queue when the event names none.
- Claims are exclusive: two callers of ``claim_pending`` never get the same job while its
  lease is live.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from printhost.accounting.ledger import (
    Account,
    Balance,
    NewTransaction,
    Refused,
    Reservation,
    ReservationState,
    Transaction,
)
from printhost.accounting.money import Money
from printhost.ipp.constants import JobState
from printhost.jobs.model import DocumentRecord, JobId, JobRecord


@dataclass(frozen=True, slots=True)
class NewJob:
    uuid: str
    queue: str
    owner: str
    owner_authenticated: bool
    originating_host: str
    name: str
    state: JobState
    state_reasons: tuple[str, ...]
    state_message: str
    priority: int
    hold_until: str | None
    template: bytes
    created_at: float
    open_for_documents: bool
    password_hash: str | None = None


@dataclass(frozen=True, slots=True)
class NewDocument:
    path: str  # relative to the spool root, already written and fsync'd
    format: str
    declared_format: str
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    seq: int
    time: float
    kind: str  # "job-created", "job-state-changed", "printer-state-changed", ...
    job_id: JobId | None
    queue: str | None
    printer: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewEvent:
    kind: str
    time: float
    queue: str | None = None
    printer: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobFilter:
    queue: str | None = None  # None = all queues
    states: Collection[JobState] | None = None  # None = any state
    owner: str | None = None
    limit: int | None = None
    #: newest first (completed jobs listings) instead of queue order (priority, id).
    newest_first: bool = False
    job_ids: Collection[int] | None = None
    #: Only jobs still taking documents (True) or closed ones (False); None = either.
    open_for_documents: bool | None = None
    #: Only jobs in one of these queues (with ``queue``, in both).
    queues: Collection[str] | None = None


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    password_hash: str
    role: str  # "user" | "operator" | "admin"


@dataclass(frozen=True, slots=True)
class QueueState:
    name: str
    is_accepting_jobs: bool = True
    paused: bool = False  # Pause-Printer: jobs queue but nothing is dispatched
    hold_new_jobs: bool = False  # Hold-New-Jobs (RFC 3998)
    state_message: str = ""
    state_change_time: float = 0.0


@dataclass(frozen=True, slots=True)
class PrinterRecord:
    name: str
    is_up: bool = True
    state_reasons: tuple[str, ...] = ()
    state_message: str = ""
    state_change_time: float = 0.0


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    id: int
    owner: str
    queue: str | None
    job_id: JobId | None
    events: tuple[str, ...]
    pull_method: str
    lease_duration: int
    expires_at: float | None  # None = never
    time_interval: int
    user_data: bytes
    created_at: float
    #: Events with seq > start_seq belong to this subscription (sequence numbers shown to
    #: clients are event.seq - start_seq).
    start_seq: int
    #: The subscriber proved its name (HTTP Basic); only a proven identity may then act
    #: on the subscription (invariant 4, as for jobs).
    owner_authenticated: bool = False


@dataclass(frozen=True, slots=True)
class JobDefaults:
    """A user's default job options, applied at intake where a job says nothing else."""

    sides: str = ""  # "" = no default
    print_color_mode: str = ""
    orientation_requested: int = 0  # 0 = no default; else RFC 8011 enum 3-6
    #: Copies above this are cut down to it (0 = no limit).
    max_copies: int = 0


@dataclass(frozen=True, slots=True)
class UserPreferences:
    user: str
    #: A printer or pool name, "desktop" (wherever the user is logged in), or "" (the
    #: configured default).
    destination: str = ""
    defaults: JobDefaults = field(default_factory=JobDefaults)
    #: Banner page: None = as the queue says, False = opted out, True = always.
    banner: bool | None = None
    #: Where the user works, for picking the nearest pool when no destination is set.
    location: str = ""
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """``user`` is logged in at workstation ``host`` until ``expires_at``."""

    user: str
    host: str
    expires_at: float
    updated_at: float
    source: str = ""  # "agent", "badge-reader", ... (free text, for the audit trail)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A workstation's desktop agent: where its ``local-<host>`` jobs are delivered."""

    host: str
    uri: str  # the agent's IPP printer URI
    expires_at: float
    updated_at: float
    location: str = ""


class NodeState(StrEnum):
    """What a node says it is doing (stored), or ``DEAD``: what the others conclude when
    its heartbeat stops (computed by ``printhost.cluster.nodes.node_state``, never stored)."""

    UP = "up"
    DRAINING = "draining"  # finishing its work after SIGTERM; takes no new work
    STOPPED = "stopped"  # shut down in order
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One printhost process sharing the store, as it last reported itself (its
    heartbeat, ``printhost.cluster.nodes.Heartbeat``)."""

    name: str  # the dispatcher's node name: also the owner of the leases it holds
    address: str  # the URL other nodes and operators reach it at ("" = unknown)
    roles: tuple[str, ...]
    version: str
    started_at: float
    heartbeat_at: float
    state: NodeState  # never DEAD
    #: What it is busy with, e.g. {"deliveries": 3, "workers": 8}.
    load: Mapping[str, int] = field(default_factory=dict)


class Store(Protocol):
    async def close(self) -> None: ...

    # --- jobs -------------------------------------------------------------------------
    async def create_job(
        self, job: NewJob, documents: Sequence[NewDocument], event: NewEvent
    ) -> JobRecord:
        """Insert a job, its documents and its job-created event in one transaction."""
        ...

    async def add_document(
        self, job_id: JobId, document: NewDocument, *, last: bool, event: NewEvent
    ) -> JobRecord | None:
        """Append a document to a job that is open for documents; ``last`` closes it.
        Returns None when the job does not exist or is no longer open."""
        ...

    async def close_job(self, job_id: JobId, event: NewEvent) -> JobRecord | None:
        """Close-Job / last-document without data: no more documents. None if not open."""
        ...

    async def get_job(self, job_id: JobId) -> JobRecord | None: ...

    async def list_jobs(self, where: JobFilter) -> list[JobRecord]: ...

    async def count_jobs(self, queue: str | None, states: Collection[JobState]) -> int: ...

    async def transition_job(
        self,
        job_id: JobId,
        expected: Collection[JobState],
        new_state: JobState,
        *,
        reasons: tuple[str, ...],
        message: str,
        event: NewEvent,
        changes: Mapping[str, Any] | None = None,
    ) -> JobRecord | None:
        """Compare-and-set the state (and any other columns in ``changes``, named as the
        JobRecord fields), stamping processing_at/completed_at as the state implies, and
        append the event. None when the job is missing or not in ``expected``.

        Stamps use ``event.time``: processing_at when entering processing (first time
        only), completed_at when entering a terminal state (cleared when leaving one);
        entering a terminal state also clears the lease. ``changes`` naming ``id``,
        ``state``, ``documents`` or no JobRecord field raises ValueError."""
        ...

    async def update_job(self, job_id: JobId, changes: Mapping[str, Any]) -> JobRecord | None:
        """Change non-state fields (priority, hold_until, template, name, remote_job_id,
        impressions_completed, state_message...). Never the state (ValueError, as for
        unknown fields). Appends no event."""
        ...

    async def claim_pending(
        self, node: str, now: float, lease_until: float, queues: Collection[str] | None = None
    ) -> JobRecord | None:
        """Atomically lease the next dispatchable job: state pending, not open for
        documents, next_attempt_at null or <= now, lease free or expired, queue not paused;
        ordered by priority (high first) then id. The job stays pending; the caller moves
        it to processing with transition_job."""
        ...

    async def peek_pending(
        self, now: float, exclude: Collection[tuple[str, str | None]], limit: int
    ) -> list[JobRecord]:
        """Read only: the first ``limit`` jobs in dispatch order (priority high first, then
        id) that are pending, closed, not leased and not in a paused queue, with their
        documents. ``exclude`` leaves out (queue, None): the whole queue, and (queue,
        owner): that owner's jobs in it. Jobs whose next attempt is not due yet are
        included, so the caller can keep each route in order behind them."""
        ...

    async def watch(self, changed: Callable[[], None]) -> None:
        """Until cancelled, call ``changed`` whenever another node appends an event (a job
        became ready, a printer came back): nodes wake instead of polling. Returns at once
        where there is no other node to hear from (SQLite)."""
        ...

    async def list_unanalysed(self, limit: int) -> list[JobRecord]:
        """Pending and held jobs with all their documents and no analysis yet, in queue
        order (the judge stage analyses them)."""
        ...

    async def claim_job(
        self, job_id: JobId, node: str, now: float, lease_until: float
    ) -> JobRecord | None:
        """Lease this job if it is still pending, closed and not leased; else None."""
        ...

    async def claim_orphaned(
        self, node: str, now: float, lease_until: float, dead: Collection[str] = ()
    ) -> JobRecord | None:
        """Lease a processing job whose lease expired (its node died). Suspended
        (processing-stopped) jobs are not orphans: they wait for Resume-Job.

        A lease is expired when ``lease_expires <= now``; a job with no lease at all counts
        as orphaned too, and so does one leased by a node in ``dead`` (its heartbeat
        stopped: cluster/nodes.py), without waiting for the lease to run out. Paused queues
        are not skipped (delivery had already begun)."""
        ...

    async def renew_lease(self, job_id: JobId, node: str, lease_until: float) -> bool:
        """Extend the lease; False when ``node`` does not hold it (any more)."""
        ...

    async def release_lease(self, job_id: JobId, node: str) -> None:
        """Drop the lease if ``node`` holds it; otherwise nothing changes."""
        ...

    async def expired_history(self, before: float, limit: int) -> list[JobRecord]:
        """Terminal jobs completed before ``before`` (with their documents)."""
        ...

    async def delete_jobs(self, job_ids: Collection[JobId]) -> None: ...

    async def forget_documents(self, job_id: JobId) -> list[DocumentRecord]:
        """Mark a terminal job's documents deleted (rows kept with path ''); return the old
        records so the caller can remove the files. A job that is not terminal, or whose
        documents are already forgotten, gives [] and nothing changes."""
        ...

    async def document_paths(self) -> set[str]:
        """Every spool path a document row still refers to (for the orphan sweep)."""
        ...

    # --- queues and printers -------------------------------------------------------------
    async def get_queue_state(self, name: str) -> QueueState:
        """The stored state, or ``QueueState(name)`` (the defaults) when never set."""
        ...

    async def set_queue_state(self, state: QueueState, event: NewEvent) -> None:
        """Upsert and append ``event`` (its queue defaults to ``state.name``)."""
        ...

    async def list_queue_states(self) -> list[QueueState]:
        """Every queue with a stored state (made on first use or changed), by name."""
        ...

    async def list_printers(self) -> list[PrinterRecord]:
        """Every printer with a stored record, by name."""
        ...

    async def get_printer(self, name: str) -> PrinterRecord:
        """The stored record, or ``PrinterRecord(name)`` when never set."""
        ...

    async def set_printer(self, printer: PrinterRecord, event: NewEvent) -> None:
        """Upsert and append ``event`` (its printer defaults to ``printer.name``)."""
        ...

    # --- events --------------------------------------------------------------------------
    async def append_event(self, event: NewEvent, job_id: JobId | None = None) -> int: ...

    async def events_after(self, seq: int, limit: int) -> list[EventRecord]: ...

    async def last_event_seq(self) -> int: ...

    # --- users ---------------------------------------------------------------------------
    async def get_user(self, name: str) -> UserRecord | None: ...

    async def put_user(self, user: UserRecord) -> None: ...

    async def list_users(self) -> list[UserRecord]: ...

    # --- routing: preferences, presence, agents -------------------------------------------
    async def get_preferences(self, user: str) -> UserPreferences | None: ...

    async def put_preferences(self, prefs: UserPreferences, event: NewEvent) -> None:
        """Upsert and append ``event`` (a preferences change is audited)."""
        ...

    async def put_presence(self, presence: PresenceRecord) -> None:
        """Upsert by (user, host)."""
        ...

    async def delete_presence(self, user: str, host: str) -> None: ...

    async def list_presence(self, now: float, user: str | None = None) -> list[PresenceRecord]:
        """Unexpired presence (of ``user``, or everyone), most recently reported first."""
        ...

    async def put_agent(self, agent: AgentRecord) -> None:
        """Upsert by host."""
        ...

    async def get_agent(self, host: str) -> AgentRecord | None: ...

    # --- cluster nodes --------------------------------------------------------------------
    async def put_node(self, node: NodeRecord) -> None:
        """Upsert by name. ValueError for state ``DEAD`` (that is concluded, not said)."""
        ...

    async def list_nodes(self) -> list[NodeRecord]:
        """Every node with a stored record, by name (dead and stopped ones too)."""
        ...

    async def delete_nodes_before(self, time: float) -> int:
        """Forget the nodes whose last heartbeat is older than ``time`` (stopped or dead
        long ago); returns how many were forgotten."""
        ...

    # --- subscriptions (RFC 3995) ----------------------------------------------------------
    async def create_subscription(self, sub: SubscriptionRecord) -> SubscriptionRecord:
        """Insert; the id field of the argument is ignored and a new one assigned."""
        ...

    async def get_subscription(self, sub_id: int) -> SubscriptionRecord | None: ...

    async def list_subscriptions(
        self, queue: str | None, job_id: JobId | None, owner: str | None, limit: int | None
    ) -> list[SubscriptionRecord]:
        """Subscriptions in id order; each None argument means "any"."""
        ...

    async def update_subscription(self, sub_id: int, changes: Mapping[str, Any]) -> None: ...

    async def delete_subscription(self, sub_id: int) -> None: ...

    # --- ledger: accounts, balances, reservations (DESIGN invariant 3) ----------------------
    # Double-entry and append-only (printhost.accounting.ledger). Balances are sums of
    # postings, never stored. Each method that writes is one transaction.
    async def put_account(self, account: Account) -> None:
        """Upsert the account and replace its members. ValueError for a system name
        (``revenue``, ``funding``, ``reserved:*``)."""
        ...

    async def open_account(self, account: Account, opening: NewTransaction | None) -> bool:
        """Create the account with its opening credit, atomically, unless an account of
        that name exists (then nothing is written). True when it was created."""
        ...

    async def get_account(self, name: str) -> Account | None: ...

    async def list_accounts(self, user: str | None = None) -> list[Account]:
        """Every account by name, or those ``user`` owns or is a member of."""
        ...

    async def get_balance(self, account: str) -> Balance:
        """Available and reserved balances (zero for an account never posted to)."""
        ...

    async def ledger_sum(self) -> Money:
        """The sum over all accounts' postings: always zero."""
        ...

    async def post_transaction(self, transaction: NewTransaction) -> Transaction:
        """Append a credit, debit or allocation. ValueError for reservation kinds and for
        postings to ``reserved:*`` accounts (only reservation steps move those)."""
        ...

    async def allocate(
        self,
        account: str,
        plan: Callable[[Money, list[Transaction]], NewTransaction | None],
    ) -> Transaction | None:
        """In one write transaction: call ``plan`` with the account's available balance and
        its allocation transactions, and post the allocation it returns (if any). Two nodes
        allocating one period at once cannot both post (accounting/allocations.py)."""
        ...

    async def list_transactions(
        self, account: str | None = None, job_id: JobId | None = None, limit: int | None = None
    ) -> list[Transaction]:
        """Transactions in id order, touching ``account`` / about ``job_id`` when given."""
        ...

    async def reserve(
        self, job_id: JobId, account: str, amount: Money, *, time: float, reason: str = ""
    ) -> Reservation | Refused:
        """Check the available balance against the overdraft limit and reserve, atomically.
        Refused (with the user-visible reason) for a missing account or too little money.
        Repeating the same reserve returns the open reservation; a different one for the
        same job raises ReservationError. A job whose reservation was resolved (it printed
        or ended, then was restarted) gets a new one in its place."""
        ...

    async def commit_reservation(
        self, job_id: JobId, *, time: float, reason: str = "", charged: Money | None = None
    ) -> Reservation | None:
        """Move the reserved amount to revenue; when ``charged`` is less, refund the rest in
        the same transaction. None without a reservation; a resolved one is returned as it
        is and nothing is posted (idempotent after a crash)."""
        ...

    async def release_reservation(
        self, job_id: JobId, *, time: float, reason: str = ""
    ) -> Reservation | None:
        """Give the reserved amount back; None / idempotent as ``commit_reservation``."""
        ...

    async def refund_reservation(
        self, job_id: JobId, amount: Money, *, time: float, reason: str = ""
    ) -> Reservation | None:
        """Refund part of a committed charge; ReservationError beyond what is refundable."""
        ...

    async def get_reservation(self, job_id: JobId) -> Reservation | None: ...

    async def list_reservations(self, state: ReservationState | None = None) -> list[Reservation]:
        """By job id; ``list_reservations(RESERVED)`` finds what to resolve after a restart."""
        ...
