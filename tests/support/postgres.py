"""A private PostgreSQL cluster for tests: no system-wide service, nothing shared.

Theory of operation
-------------------
:func:`start_cluster` makes a throw-away cluster in a new temporary directory::

    root/
      data/          initdb's data directory (trust authentication, superuser "postgres")
      sock/          the server's unix socket (it listens on 127.0.0.1:<free port> too)
      postgres.log   the server's stdout and stderr

``initdb`` and ``postgres`` refuse to run as root, so when the tests run as root both run
as the ``postgres`` system user (Debian's postgresql package creates it), who is given
the directory; otherwise they run as the current user. The server runs with ``fsync``,
``synchronous_commit`` and ``full_page_writes`` off: these databases die with the test
session, so durability across an OS crash buys nothing and costs every commit an fsync.

One cluster per pytest session, i.e. per xdist worker. Each test gets a fresh database
made by ``CREATE DATABASE ... TEMPLATE`` from a database migrated once per cluster
(:meth:`PostgresCluster.create_database`, a file copy, a few tens of milliseconds) and
dropped after it. :meth:`PostgresCluster.stop` stops the server by its PID (fast
shutdown, SIGINT; SIGKILL if it does not exit) and removes the directory. The server
also gets ``PR_SET_PDEATHSIG`` so that a test process killed outright does not leave a
postmaster behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"
#: The one migrated database every test database is copied from.
TEMPLATE = "printhost_template"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0

_PR_SET_PDEATHSIG = 1


class PostgresError(RuntimeError):
    """The cluster could not be created or started; the message has the log tail."""


def find_bin_dir() -> Path:
    """Debian's newest ``/usr/lib/postgresql/<major>/bin``, or ``$PRINTHOST_PG_BIN``."""
    configured = os.environ.get("PRINTHOST_PG_BIN")
    if configured:
        return Path(configured)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresError("no PostgreSQL server found (Debian package: postgresql)")
    return found[-1].parent


class PostgresCluster:
    """One running private server. Build with :func:`start_cluster`."""

    def __init__(self, root: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.root = root
        self.port = port
        self.process = process
        self._names = itertools.count(1)
        self._has_template = False

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` over TCP on 127.0.0.1."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        )

    def create_database(self, *, migrated: bool = True) -> str:
        """A new empty database, or (``migrated``) a copy of the migrated template; its name."""
        if migrated and not self._has_template:
            self._make_template()
        name = f"test_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            if migrated:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(TEMPLATE)
                    )
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection still open on it."""
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), SIGKILL after STOP_TIMEOUT; remove the directory."""
        self._halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server (fast shutdown, by PID), stay down ``down_seconds``, start it
        again on the same data directory and port (clients reconnect by themselves)."""
        self._halt()
        time.sleep(down_seconds)
        bin_dir = find_bin_dir()
        restarted = _start(bin_dir, self.root, _unprivileged_user(), port=self.port)
        self.process = restarted.process

    def _halt(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def _make_template(self) -> None:
        # Imported here: the helper itself needs only psycopg.
        from printhost.store import migrate

        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
        migrate.upgrade(self.url(TEMPLATE))  # disposes its engine: no session is left open
        self._has_template = True


def start_cluster() -> PostgresCluster:
    """initdb a new cluster in a temporary directory and start it (bounded wait)."""
    bin_dir = find_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="printhost-pg-"))
    try:
        as_user = _unprivileged_user()
        for sub in ("data", "sock"):
            (root / sub).mkdir(mode=0o700)
        if as_user is not None:
            for path in (root, root / "data", root / "sock"):
                shutil.chown(path, user=as_user, group=as_user)
        _initdb(bin_dir, root, as_user)
        last: PostgresError | None = None
        for _ in range(3):  # another process may take the free port before the server does
            try:
                return _start(bin_dir, root, as_user)
            except PostgresError as exc:
                last = exc
        assert last is not None
        raise last
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _unprivileged_user() -> str | None:
    """Whom to run the server as: ``postgres`` when we are root, else ourselves (None)."""
    return SUPERUSER if os.geteuid() == 0 else None


def _initdb(bin_dir: Path, root: Path, as_user: str | None) -> None:
    command = [
        str(bin_dir / "initdb"),
        "--pgdata",
        str(root / "data"),
        "--auth=trust",
        f"--username={SUPERUSER}",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]
    result = subprocess.run(
        command, capture_output=True, cwd=root, check=False, **_run_as(as_user), timeout=120
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        raise PostgresError(f"initdb failed ({result.returncode}):\n{output[-4000:]}")


def _start(
    bin_dir: Path, root: Path, as_user: str | None, *, port: int | None = None
) -> PostgresCluster:
    port = port or _free_port()
    command = [
        str(bin_dir / "postgres"),
        "-D",
        str(root / "data"),
        "-p",
        str(port),
        "-k",
        str(root / "sock"),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "shared_buffers=32MB",
        "-c",
        "max_connections=200",
        "-c",
        "log_min_messages=warning",
    ]
    with open(root / "postgres.log", "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            **_run_as(as_user),
            # preexec_fn (not thread-safe in general) is the only way to PR_SET_PDEATHSIG
            preexec_fn=_die_with_parent,
        )
    cluster = PostgresCluster(root, port, process)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise PostgresError(f"postgres exited ({process.returncode}):\n{_tail(root)}")
        try:
            cluster.admin().close()
            return cluster
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                cluster.stop()
                raise PostgresError(f"postgres did not start in time:\n{_tail(root)}") from None
            time.sleep(0.05)


def _run_as(user: str | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def _die_with_parent() -> None:
    """In the child, after it has taken the unprivileged user (a credential change clears
    the parent-death signal): quit at once when the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(root: Path) -> str:
    try:
        return (root / "postgres.log").read_text(errors="replace")[-4000:]
    except OSError:
        return "(no log)"
