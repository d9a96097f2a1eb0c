"""Who may do what, over real sockets (invariant 4; IPP-CLIENTS.md §8.3).

Every operation in ``ipp_service.OPERATIONS`` is sent by six principals:

==============  ================================================================
anon-owner      no credentials, requesting-user-name = the job owner's name
anon-other      no credentials, requesting-user-name = "mallory"
owner           alice, HTTP Basic, role user (claims "mallory": ignored)
other           bob, HTTP Basic, role user
operator        olga, HTTP Basic, role operator
admin           ada, HTTP Basic, role admin
==============  ================================================================

Operations on a job run twice: on a job alice submitted authenticated ("auth") and on
one submitted anonymously claiming "alice" ("anon"). ``TABLE`` gives each operation's
access rule and the status an allowed principal gets; ``expected`` turns that into the
status of every cell. "401" means HTTP 401 with a Basic challenge and the IPP status
client-error-not-authenticated.

The queue "myprinter" is paused for the whole module, so jobs stay where the tests put
them; printer-wide operator operations act on a second queue "ops" that holds no jobs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import PrinthostServer, user

from printhost.ipp.constants import JobState, Operation, Status, Tag
from printhost.ipp.model import Message
from printhost.server.ipp_service import OPERATIONS

from .ipp_http import IppHttp, Reply, add_group, ipp_request

Op, S = Operation, Status
OK = S.SUCCESSFUL_OK
NOT_POSSIBLE = S.CLIENT_ERROR_NOT_POSSIBLE
DENIED = S.CLIENT_ERROR_NOT_AUTHORIZED
CHALLENGE = "401"
Outcome = Status | str

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "olga": "olga-pw", "ada": "ada-pw"}
USERS = [
    user("alice", PASSWORDS["alice"]),
    user("bob", PASSWORDS["bob"]),
    user("olga", PASSWORDS["olga"], "operator"),
    user("ada", PASSWORDS["ada"], "admin"),
]
OWNER = "alice"
CLAIMED = "mallory"  # what every authenticated request claims as requesting-user-name
JOB_NAME = "salary-review"
DOCUMENT_NAME = "salaries.txt"
DOCUMENT = b"confidential\n"


@dataclass(frozen=True)
class Principal:
    key: str
    login: str | None  # HTTP Basic user, None for anonymous
    claims: str  # requesting-user-name

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.login, PASSWORDS[self.login]) if self.login else None


PRINCIPALS = {
    p.key: p
    for p in (
        Principal("anon-owner", None, OWNER),
        Principal("anon-other", None, CLAIMED),
        Principal("owner", "alice", CLAIMED),
        Principal("other", "bob", CLAIMED),
        Principal("operator", "olga", CLAIMED),
        Principal("admin", "ada", CLAIMED),
    )
}
ALICE = PRINCIPALS["owner"]
ANON_ALICE = PRINCIPALS["anon-owner"]
OLGA = PRINCIPALS["operator"]

# --- the rules -------------------------------------------------------------------------

#: Access rules: how each principal fares, for a job owned by an authenticated ("auth")
#: or an anonymous ("anon") alice. ``Y`` (allowed) stands for the operation's success status.
Y: None = None
RULES: dict[str, dict[str, tuple[Outcome | None, ...]]] = {
    #                 anon-owner  anon-other  owner  other   operator admin
    "open": {"-": (Y, Y, Y, Y, Y, Y)},
    "submit": {"-": (Y, Y, Y, Y, Y, Y)},
    "operator": {"-": (CHALLENGE, CHALLENGE, DENIED, DENIED, Y, Y)},
    "operator-job": {
        "auth": (CHALLENGE, CHALLENGE, DENIED, DENIED, Y, Y),
        "anon": (CHALLENGE, CHALLENGE, DENIED, DENIED, Y, Y),
    },
    "read-job": {"auth": (Y, Y, Y, Y, Y, Y), "anon": (Y, Y, Y, Y, Y, Y)},
    "manage": {
        "auth": (CHALLENGE, CHALLENGE, Y, DENIED, Y, Y),
        "anon": (Y, CHALLENGE, Y, DENIED, Y, Y),
    },
    # Cancel-My-Jobs with job-ids: only the requester's own jobs are candidates, so a
    # job of someone else is "not one of yours" - except that a name match without
    # the authentication the job was submitted with must authenticate (invariant 4).
    "my-jobs": {
        "auth": (CHALLENGE, NOT_POSSIBLE, Y, NOT_POSSIBLE, NOT_POSSIBLE, NOT_POSSIBLE),
        "anon": (Y, NOT_POSSIBLE, Y, NOT_POSSIBLE, NOT_POSSIBLE, NOT_POSSIBLE),
    },
}
#: Which reads show job-name / job-originating-user-name: those who may manage the job.
SEES_PRIVATE = {
    "auth": (False, False, True, False, True, True),
    "anon": (True, False, True, False, True, True),
}


@dataclass(frozen=True)
class Row:
    rule: str
    success: Status = OK
    #: which prepared object the request names (see ``World``)
    target: str = "printer"


TABLE: dict[Operation, Row] = {
    # creating jobs and printer subscriptions
    Op.PRINT_JOB: Row("submit"),
    Op.VALIDATE_JOB: Row("submit"),
    Op.CREATE_JOB: Row("submit"),
    Op.CREATE_PRINTER_SUBSCRIPTIONS: Row("submit"),
    # acting on a job
    Op.SEND_DOCUMENT: Row("manage", target="open-job"),
    Op.CLOSE_JOB: Row("manage", target="fresh-open-job"),
    Op.VALIDATE_DOCUMENT: Row("manage", target="open-job"),
    Op.CANCEL_JOB: Row("manage", target="fresh-job"),
    Op.CANCEL_MY_JOBS: Row("my-jobs", target="fresh-job"),
    Op.RESUME_JOB: Row("manage", NOT_POSSIBLE, target="job"),  # not suspended
    Op.HOLD_JOB: Row("manage", target="job-to-hold"),
    Op.RELEASE_JOB: Row("manage", target="fresh-held-job"),
    Op.RESTART_JOB: Row("manage", target="fresh-canceled-job"),
    Op.SET_JOB_ATTRIBUTES: Row("manage", target="job"),
    Op.REPROCESS_JOB: Row("manage", target="canceled-job"),
    Op.RESUBMIT_JOB: Row("manage", target="canceled-job"),
    Op.CANCEL_DOCUMENT: Row("manage", target="fresh-job"),
    Op.SET_DOCUMENT_ATTRIBUTES: Row(
        "manage", S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED, target="job"
    ),
    Op.CREATE_JOB_SUBSCRIPTIONS: Row("manage", target="job"),
    # reading jobs: open to all, private attributes only for those who may manage
    Op.GET_JOB_ATTRIBUTES: Row("read-job", target="job"),
    Op.GET_JOBS: Row("read-job", target="job"),
    Op.GET_DOCUMENTS: Row("read-job", target="job"),
    Op.GET_DOCUMENT_ATTRIBUTES: Row("read-job", target="job"),
    # subscriptions: the subscriber or an operator
    Op.GET_SUBSCRIPTION_ATTRIBUTES: Row("manage", target="subscription"),
    Op.RENEW_SUBSCRIPTION: Row("manage", target="subscription"),
    Op.CANCEL_SUBSCRIPTION: Row("manage", target="fresh-subscription"),
    Op.GET_NOTIFICATIONS: Row("manage", target="subscription"),
    Op.GET_SUBSCRIPTIONS: Row("open"),
    # reading the printer
    Op.GET_PRINTER_ATTRIBUTES: Row("open"),
    Op.GET_PRINTER_SUPPORTED_VALUES: Row("open"),
    Op.IDENTIFY_PRINTER: Row("open"),
    Op.CUPS_GET_DEFAULT: Row("open"),
    Op.CUPS_GET_PRINTERS: Row("open"),
    Op.CUPS_GET_CLASSES: Row("open", target="server"),
    # operator operations
    Op.PROMOTE_JOB: Row("operator-job", target="job"),
    Op.SCHEDULE_JOB_AFTER: Row("operator-job", target="job"),
    Op.CANCEL_JOBS: Row("operator", target="ops"),
    Op.CANCEL_CURRENT_JOB: Row("operator", NOT_POSSIBLE, target="ops"),  # nothing printing
    Op.SUSPEND_CURRENT_JOB: Row("operator", NOT_POSSIBLE, target="ops"),
    Op.SET_PRINTER_ATTRIBUTES: Row("operator", target="ops"),
    Op.PAUSE_PRINTER: Row("operator", target="ops"),
    Op.PAUSE_PRINTER_AFTER_CURRENT_JOB: Row("operator", target="ops"),
    Op.RESUME_PRINTER: Row("operator", target="ops"),
    Op.ENABLE_PRINTER: Row("operator", target="ops"),
    Op.DISABLE_PRINTER: Row("operator", target="ops"),
    Op.HOLD_NEW_JOBS: Row("operator", target="ops"),
    Op.RELEASE_HELD_NEW_JOBS: Row("operator", target="ops"),
    Op.SHUTDOWN_PRINTER: Row("operator", target="ops"),
    Op.STARTUP_PRINTER: Row("operator", target="ops"),
    Op.RESTART_PRINTER: Row("operator", target="ops"),
    Op.PURGE_JOBS: Row("operator", target="ops"),
    Op.CUPS_ACCEPT_JOBS: Row("operator", target="ops"),
    Op.CUPS_REJECT_JOBS: Row("operator", target="ops"),
}


def expected(op: Operation, principal: str, kind: str) -> Outcome:
    row = TABLE[op]
    cell = RULES[row.rule][kind][list(PRINCIPALS).index(principal)]
    return row.success if cell is None else cell


def _cells() -> Iterator[object]:
    for op, row in TABLE.items():
        for kind in RULES[row.rule]:
            for principal in PRINCIPALS:
                yield pytest.param(op, principal, kind, id=f"{op.keyword}-{kind}-{principal}")


# --- the server and the objects the requests name ------------------------------------


class World:
    """One server, a client, and jobs/subscriptions made on demand (reused unless the
    operation consumes them)."""

    def __init__(self, server: PrinthostServer, base_url: str | None = None) -> None:
        self.server = server
        self.http = IppHttp(base_url or server.http_url)

    def uri(self, queue: str = "myprinter") -> str:
        return f"ipp://localhost/printers/{queue}"

    def send(
        self,
        request: Message,
        by: Principal,
        document: bytes = b"",
        path: str = "/printers/myprinter",
    ) -> Reply:
        return self.http.post(request, auth=by.auth, document=document, path=path)

    def must(self, request: Message, by: Principal, document: bytes = b"") -> Reply:
        reply = self.send(request, by, document)
        assert reply.http_status == 200 and reply.status is not None, reply.status_name
        assert reply.status < 0x100, reply.status_name
        return reply

    # -- jobs -------------------------------------------------------------------------

    def submitter(self, kind: str) -> Principal:
        return ALICE if kind == "auth" else ANON_ALICE

    def print_job(self, kind: str, *, hold: bool = False) -> int:
        request = self.job_request(Op.PRINT_JOB, self.submitter(kind).claims)
        if hold:
            add_group(request, Tag.JOB, [("job-hold-until", Tag.KEYWORD, "indefinite")])
        reply = self.must(request, self.submitter(kind), DOCUMENT)
        return reply.group(Tag.JOB).integer("job-id")

    def create_job(self, kind: str) -> int:
        request = self.job_request(Op.CREATE_JOB, self.submitter(kind).claims)
        reply = self.must(request, self.submitter(kind))
        return reply.group(Tag.JOB).integer("job-id")

    def job_request(self, op: Operation, claims: str) -> Message:
        return ipp_request(
            op,
            self.uri(),
            claims,
            job_name=(Tag.NAME, JOB_NAME),
            document_name=(Tag.NAME, DOCUMENT_NAME),
        )

    def cancel(self, job_id: int) -> None:
        self.must(self.on_job(Op.CANCEL_JOB, job_id, OLGA.claims), OLGA)

    def on_job(self, op: Operation, job_id: int, claims: str) -> Message:
        return ipp_request(op, self.uri(), claims, job_id=(Tag.INTEGER, job_id))

    def job_state(self, job_id: int) -> JobState:
        reply = self.must(self.on_job(Op.GET_JOB_ATTRIBUTES, job_id, "x"), OLGA)
        return JobState(reply.group(Tag.JOB).integer("job-state"))

    @functools.cache  # noqa: B019 - one World per module
    def reusable(self, target: str, kind: str) -> int:
        if target == "job":
            return self.print_job(kind)
        if target == "job-to-hold":
            return self.print_job(kind)
        if target == "open-job":
            return self.create_job(kind)
        if target == "canceled-job":
            job_id = self.print_job(kind)
            self.cancel(job_id)
            return job_id
        if target == "subscription":
            return self.subscribe(kind)
        raise AssertionError(target)

    def fresh(self, target: str, kind: str) -> int:
        if target == "fresh-job":
            return self.print_job(kind)
        if target == "fresh-held-job":
            return self.print_job(kind, hold=True)
        if target == "fresh-open-job":
            return self.create_job(kind)
        if target == "fresh-canceled-job":
            job_id = self.print_job(kind)
            self.cancel(job_id)
            return job_id
        if target == "fresh-subscription":
            return self.subscribe(kind)
        raise AssertionError(target)

    def target_id(self, target: str, kind: str) -> int | None:
        if target.startswith("fresh-"):
            return self.fresh(target, kind)
        if target in ("printer", "ops", "server"):
            return None
        return self.reusable(target, kind)

    # -- subscriptions ------------------------------------------------------------------

    def subscribe(self, kind: str) -> int:
        by = self.submitter(kind)
        request = ipp_request(Op.CREATE_PRINTER_SUBSCRIPTIONS, self.uri(), by.claims)
        add_group(request, Tag.SUBSCRIPTION, SUBSCRIPTION)
        reply = self.must(request, by)
        return reply.group(Tag.SUBSCRIPTION).integer("notify-subscription-id")


SUBSCRIPTION = [
    ("notify-pull-method", Tag.KEYWORD, "ippget"),
    ("notify-events", Tag.KEYWORD, "job-completed"),
]


def build(
    world: World, op: Operation, row: Row, by: Principal, kind: str
) -> tuple[Message, bytes, int | None]:
    """The request for one cell, its document, and the id of the job or subscription it
    names."""
    target_id = world.target_id(row.target, kind)
    queue = "ops" if row.target == "ops" else "myprinter"
    uri = "ipp://localhost/" if row.target == "server" else world.uri(queue)
    request = ipp_request(op, uri, by.claims)
    attrs = request.operation_attributes
    if row.target.endswith("subscription"):
        assert target_id is not None
        name = "notify-subscription-ids" if op == Op.GET_NOTIFICATIONS else "notify-subscription-id"
        attrs.add(name, Tag.INTEGER, target_id)
    elif target_id is not None and op != Op.GET_JOBS:
        attrs.add("job-id", Tag.INTEGER, target_id)
    document = DOCUMENT if op in _WITH_DOCUMENT else b""
    return _complete(op, request, target_id), document, target_id


_WITH_DOCUMENT = (Op.PRINT_JOB, Op.SEND_DOCUMENT)
_PRIVATE_NAMES = ["job-id", "job-name", "job-originating-user-name"]


def _complete(op: Operation, request: Message, target_id: int | None) -> Message:
    """Add what each operation needs beyond its target."""
    attrs = request.operation_attributes
    if op in (Op.PRINT_JOB, Op.CREATE_JOB, Op.VALIDATE_JOB):
        attrs.add("job-name", Tag.NAME, JOB_NAME)
    if op == Op.SEND_DOCUMENT:
        attrs.add("last-document", Tag.BOOLEAN, False)
    if op in (Op.CANCEL_DOCUMENT, Op.SET_DOCUMENT_ATTRIBUTES, Op.GET_DOCUMENT_ATTRIBUTES):
        attrs.add("document-number", Tag.INTEGER, 1)
    if op == Op.SET_DOCUMENT_ATTRIBUTES:
        add_group(request, Tag.DOCUMENT, [("document-name", Tag.NAME, "renamed")])
    if op == Op.SET_JOB_ATTRIBUTES:
        add_group(request, Tag.JOB, [("job-priority", Tag.INTEGER, 40)])
    if op == Op.CANCEL_MY_JOBS:
        assert target_id is not None
        attrs.add("job-ids", Tag.INTEGER, target_id)
    if op == Op.GET_JOBS:
        assert target_id is not None
        attrs.add("which-jobs", Tag.KEYWORD, "all")
        attrs.add("job-ids", Tag.INTEGER, target_id)
    if op in (Op.GET_JOBS, Op.GET_JOB_ATTRIBUTES):
        attrs.add("requested-attributes", Tag.KEYWORD, *_PRIVATE_NAMES)
    if op in (Op.GET_DOCUMENTS, Op.GET_DOCUMENT_ATTRIBUTES):
        attrs.add("requested-attributes", Tag.KEYWORD, "all")
    if op == Op.CREATE_PRINTER_SUBSCRIPTIONS:
        add_group(request, Tag.SUBSCRIPTION, SUBSCRIPTION)
    if op == Op.CREATE_JOB_SUBSCRIPTIONS:
        assert target_id is not None
        attrs.add("notify-job-id", Tag.INTEGER, target_id)
        add_group(request, Tag.SUBSCRIPTION, SUBSCRIPTION)
    if op == Op.SET_PRINTER_ATTRIBUTES:
        add_group(
            request,
            Tag.PRINTER,
            [("printer-message-from-operator", Tag.TEXT, "back at noon")],
        )
    return request


# --- fixtures ----------------------------------------------------------------------------


def _start(tmp: Path, **options: object) -> PrinthostServer:
    queues = [
        {"name": "myprinter", "printer": "virtual"},
        {"name": "ops", "printer": "virtual"},
    ]
    server = PrinthostServer(tmp, users=USERS, queues=queues, **options)  # type: ignore[arg-type]
    return server.start()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = _start(tmp_path_factory.mktemp("access"), allow_anonymous=True)
    world = World(server)
    try:
        # nothing prints: jobs stay pending or held where the tests put them
        world.must(ipp_request(Op.PAUSE_PRINTER, world.uri(), OLGA.claims), OLGA)
        yield world
    finally:
        world.http.close()
        server.stop()


@pytest.fixture(scope="module")
def closed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = _start(tmp_path_factory.mktemp("access-closed"), allow_anonymous=False)
    world = World(server)
    try:
        world.must(ipp_request(Op.PAUSE_PRINTER, world.uri(), OLGA.claims), OLGA)
        yield world
    finally:
        world.http.close()
        server.stop()


# --- assertions ----------------------------------------------------------------------


def check_outcome(reply: Reply, want: Outcome) -> None:
    assert reply.message is not None, f"want {want}, got {reply.status_name}"
    if want == CHALLENGE:
        assert reply.http_status == 401, reply.status_name
        assert reply.headers.get("www-authenticate", "").lower().startswith("basic")
        assert reply.status == S.CLIENT_ERROR_NOT_AUTHENTICATED, reply.status_name
        return
    assert isinstance(want, Status)
    assert reply.http_status == 200, reply.status_name
    assert "www-authenticate" not in reply.headers
    assert reply.status == want, f"want {want.keyword}, got {reply.status_name}"


def check_privacy(reply: Reply, op: Operation, sees: bool) -> None:
    if op in (Op.GET_DOCUMENTS, Op.GET_DOCUMENT_ATTRIBUTES):
        [document] = reply.groups(Tag.DOCUMENT)
        assert ("document-name" in document) == sees
        return
    [job] = reply.groups(Tag.JOB)
    for name in ("job-name", "job-originating-user-name"):
        assert (name in job) == sees, f"{name} {'hidden' if sees else 'shown'}: {job.names()}"
    if sees:
        assert job.get("job-name") == JOB_NAME
        assert job.get("job-originating-user-name") == OWNER


# --- tests -------------------------------------------------------------------------------


def test_table_covers_every_operation() -> None:
    assert set(TABLE) == set(OPERATIONS), "add the new operation's access rule to TABLE"


@pytest.mark.parametrize(("op", "principal", "kind"), list(_cells()))
def test_access(world: World, op: Operation, principal: str, kind: str) -> None:
    row, by = TABLE[op], PRINCIPALS[principal]
    request, document, target_id = build(world, op, row, by, kind)
    reply = world.send(request, by, document, path=_path(row))
    want = expected(op, principal, kind)
    check_outcome(reply, want)
    if row.rule == "read-job":
        check_privacy(reply, op, SEES_PRIVATE[kind][list(PRINCIPALS).index(principal)])
    if op in EFFECTS:
        assert target_id is not None
        done = EFFECTS[op](world, target_id)
        assert done == (want == OK), f"{op.keyword} {'did' if done else 'did not'} happen"


def _path(row: Row) -> str:
    return {"ops": "/printers/ops", "server": "/"}.get(row.target, "/printers/myprinter")


def _subscription_gone(world: World, sub_id: int) -> bool:
    request = ipp_request(Op.GET_SUBSCRIPTION_ATTRIBUTES, world.uri(), OLGA.claims)
    request.operation_attributes.add("notify-subscription-id", Tag.INTEGER, sub_id)
    reply = world.send(request, OLGA)
    assert reply.status in (OK, S.CLIENT_ERROR_NOT_FOUND), reply.status_name
    return reply.status == S.CLIENT_ERROR_NOT_FOUND


def _in_state(state: JobState) -> Callable[[World, int], bool]:
    return lambda world, job_id: world.job_state(job_id) == state


#: How to tell that a consuming operation took effect on its target.
EFFECTS: dict[Operation, Callable[[World, int], bool]] = {
    Op.CANCEL_JOB: _in_state(JobState.CANCELED),
    Op.CANCEL_MY_JOBS: _in_state(JobState.CANCELED),
    Op.CANCEL_DOCUMENT: _in_state(JobState.CANCELED),
    Op.RELEASE_JOB: _in_state(JobState.PENDING),
    Op.RESTART_JOB: _in_state(JobState.PENDING),
    Op.CANCEL_SUBSCRIPTION: _subscription_gone,
}


# --- allow_anonymous = false ---------------------------------------------------------------


def _closed_cells() -> Iterator[object]:
    for op, row in TABLE.items():
        if row.rule in ("submit", "open"):
            for principal in PRINCIPALS:
                yield pytest.param(op, principal, id=f"{op.keyword}-{principal}")


@pytest.mark.parametrize(("op", "principal"), list(_closed_cells()))
def test_closed_server(closed_world: World, op: Operation, principal: str) -> None:
    """Without allow_anonymous, creating jobs and subscriptions needs credentials;
    reading the printer (and job listings) stays open."""
    row, by = TABLE[op], PRINCIPALS[principal]
    request, document, _target = build(closed_world, op, row, by, "-")
    reply = closed_world.send(request, by, document, path=_path(row))
    anonymous = by.login is None
    check_outcome(reply, CHALLENGE if row.rule == "submit" and anonymous else row.success)


# --- the authenticated name wins ---------------------------------------------------------


@pytest.mark.parametrize("principal", ["owner", "other", "operator", "admin"])
def test_authenticated_name_owns_the_job(world: World, principal: str) -> None:
    """requesting-user-name "mallory" is ignored once Basic proved who is asking."""
    by = PRINCIPALS[principal]
    for op in (Op.PRINT_JOB, Op.CREATE_JOB):
        reply = world.must(world.job_request(op, CLAIMED), by, DOCUMENT)
        job_id = reply.group(Tag.JOB).integer("job-id")
        request = ipp_request(Op.GET_JOB_ATTRIBUTES, world.uri(), CLAIMED)
        request.operation_attributes.add("job-id", Tag.INTEGER, job_id)
        job = world.must(request, by).group(Tag.JOB)
        assert job.get("job-originating-user-name") == by.login
        assert job_id in _my_job_ids(world, by)
        assert job_id not in _my_job_ids(world, PRINCIPALS["anon-other"])  # the real mallory
    request = ipp_request(Op.CREATE_PRINTER_SUBSCRIPTIONS, world.uri(), CLAIMED)
    add_group(request, Tag.SUBSCRIPTION, SUBSCRIPTION)
    sub_id = world.must(request, by).group(Tag.SUBSCRIPTION).integer("notify-subscription-id")
    request = ipp_request(Op.GET_SUBSCRIPTION_ATTRIBUTES, world.uri(), CLAIMED)
    request.operation_attributes.add("notify-subscription-id", Tag.INTEGER, sub_id)
    sub = world.must(request, by).group(Tag.SUBSCRIPTION)
    assert sub.get("notify-subscriber-user-name") == by.login


def _my_job_ids(world: World, by: Principal) -> set[object]:
    request = ipp_request(
        Op.GET_JOBS,
        world.uri(),
        by.claims,
        my_jobs=(Tag.BOOLEAN, True),
        requested_attributes=(Tag.KEYWORD, "job-id"),
    )
    return {group.get("job-id") for group in world.must(request, by).groups(Tag.JOB)}


@pytest.mark.parametrize(
    ("auth", "why"),
    [
        (("alice", "wrong"), "wrong password"),
        (("nobody", "alice-pw"), "unknown user"),
        (("", "alice-pw"), "empty user"),
    ],
)
def test_bad_credentials_are_challenged(world: World, auth: tuple[str, str], why: str) -> None:
    request = ipp_request(Op.GET_PRINTER_ATTRIBUTES, world.uri(), CLAIMED)
    reply = world.http.post(request, auth=auth)
    assert reply.http_status == 401, why
    assert reply.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("header", ["Basic !!!", "Bearer abc", "Basic " + "YWxpY2U="])
def test_unusable_authorization_header_is_challenged(world: World, header: str) -> None:
    request = ipp_request(Op.GET_PRINTER_ATTRIBUTES, world.uri(), CLAIMED)
    reply = world.http.post(request, headers={"Authorization": header})
    assert reply.http_status == 401
    assert reply.headers["www-authenticate"].startswith("Basic")


# --- HTTP Basic over ipps:// --------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_world(world: World) -> Iterator[World]:
    tls = World(world.server, world.server.https_url)
    yield tls
    tls.http.close()


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_basic_over_ipps(tls_world: World, principal: str) -> None:
    """The same rules over TLS: Print-Job records the proven name, Cancel-Job of an
    authenticated user's job follows the "manage" rule."""
    by = PRINCIPALS[principal]
    reply = tls_world.must(tls_world.job_request(Op.PRINT_JOB, by.claims), by, DOCUMENT)
    job_id = reply.group(Tag.JOB).integer("job-id")
    request = ipp_request(Op.GET_JOB_ATTRIBUTES, tls_world.uri(), CLAIMED)
    request.operation_attributes.add("job-id", Tag.INTEGER, job_id)
    job = tls_world.must(request, OLGA).group(Tag.JOB)
    assert job.get("job-originating-user-name") == (by.login or by.claims)
    victim = tls_world.print_job("auth")
    reply = tls_world.send(tls_world.on_job(Op.CANCEL_JOB, victim, by.claims), by)
    check_outcome(reply, expected(Op.CANCEL_JOB, principal, "auth"))


# --- Basic over plain HTTP: loopback only ------------------------------------------------


@pytest.fixture(scope="module")
def dual_stack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrinthostServer]:
    """Listening on [::] (IPv4 clients arrive as ::ffff:a.b.c.d) without TLS."""
    server = PrinthostServer(
        tmp_path_factory.mktemp("access-dual"), users=USERS, tls=False, allow_anonymous=False
    )
    server.settings["server"] = {"listen": [f"[::]:{server.port}"]}
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
def test_basic_over_loopback_is_allowed(dual_stack_server: PrinthostServer, host: str) -> None:
    client = IppHttp(f"http://{host}:{dual_stack_server.port}")
    try:
        request = ipp_request(Op.PRINT_JOB, "ipp://localhost/printers/myprinter", CLAIMED)
        reply = client.post(request, auth=ALICE.auth, document=DOCUMENT)
    finally:
        client.close()
    assert reply.http_status == 200 and reply.status == OK, reply.status_name
