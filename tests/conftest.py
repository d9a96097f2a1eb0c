"""Shared fixtures: sample documents, printhost servers, CUPS clients.

Fixtures
--------
``sample_documents`` (session)
    The ipptool suite directory: copies of every ``.test`` file from
    cups-ipp-utils plus every document they print. Built once per machine
    and shared by all xdist workers (see ``support.documents``). Run ipptool
    with ``cwd`` set to it.
``make_printhost_server`` (function)
    Factory: ``make_printhost_server(**options) -> PrinthostServer``, started
    and healthy; options as for ``PrinthostServer`` (printers, queues,
    users, settings, extra_toml, tls, allow_anonymous, env). Stopped at the
    end of the test.
``printhost_server`` (function)
    A fresh default server (queue "myprinter" -> file printer in
    ``server.output_dir``) for tests that change state.
``shared_printhost_server`` (function access to a per-worker session server)
    For tests that only read (printer attributes, lpstat -p). Do not print,
    cancel or reconfigure through it.
``cups_client`` (function)
    ``CupsClient`` for ``printhost_server`` with a private HOME.
``attach_printhost_log`` (function)
    ``attach_printhost_log(server)`` adds a server the test did not get from
    these fixtures (e.g. a module-scoped one) to the failure-log mechanism.

The ipptool suites record per-suite counts; the terminal summary lists them
under "ipptool conformance counts" and writes them to ``--ipptool-counts-file``
(``make test`` uses ``var/conformance-counts.txt``) or else to
``conformance-counts.txt`` in the run's temporary directory.

When a test fails, the part of each server's log written during that test
is attached to the report as a section "printhost log (...)".

``tests/`` deliberately has no ``__init__.py``: pytest puts this directory on
``sys.path``, which is what makes ``import support`` work.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.cups_clients import CupsClient
from support.documents import ensure_sample_documents
from support.ipptool import COUNTS_PROPERTY
from support.server import PrinthostServer, ServerStartError

pytest_plugins = ["peers.fixtures"]

_SERVERS = pytest.StashKey[list[tuple[PrinthostServer, int]]]()
#: Per-process (in the xdist controller: from all workers) ipptool count lines.
_COLLECTED_COUNTS: list[str] = []

ServerFactory = Callable[..., PrinthostServer]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ipptool-counts-file",
        metavar="PATH",
        default=None,
        help="write the per-suite ipptool PASS/FAIL counts to PATH "
        "(default: conformance-counts.txt in the run's temporary directory)",
    )


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory shared by all workers of this run.

    Under pytest-xdist each worker's base temp is ``<run root>/popen-gwN``.
    """
    base = tmp_path_factory.getbasetemp()
    return base.parent if base.name.startswith("popen-gw") else base


def _track(item: pytest.Item, server: PrinthostServer) -> None:
    item.stash.setdefault(_SERVERS, []).append((server, server.log_offset()))


@pytest.fixture(scope="session")
def sample_documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The cache lives next to the numbered base temps (/tmp/pytest-of-USER/)
    # so that later runs reuse it; its name carries a content hash.
    cache_root = run_root(tmp_path_factory).parent
    return ensure_sample_documents(cache_root)


@pytest.fixture
def make_printhost_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    servers: list[PrinthostServer] = []

    def make(**options: Any) -> PrinthostServer:
        base_dir = tmp_path_factory.mktemp("printhost")
        server = PrinthostServer(base_dir, **options)
        servers.append(server)
        _track(request.node, server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def printhost_server(make_printhost_server: ServerFactory) -> PrinthostServer:
    return make_printhost_server()


@pytest.fixture(scope="session")
def _shared_printhost_server_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PrinthostServer]:
    server = PrinthostServer(tmp_path_factory.mktemp("printhost-shared"), name="shared")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def shared_printhost_server(
    request: pytest.FixtureRequest, _shared_printhost_server_session: PrinthostServer
) -> PrinthostServer:
    _track(request.node, _shared_printhost_server_session)
    return _shared_printhost_server_session


@pytest.fixture
def attach_printhost_log(
    request: pytest.FixtureRequest,
) -> Callable[[PrinthostServer], PrinthostServer]:
    """For servers a test module starts itself (e.g. module-scoped): call
    ``attach_printhost_log(server)`` in the test (or an autouse fixture) and
    the log written from then on is shown if the test fails."""

    def attach(server: PrinthostServer) -> PrinthostServer:
        _track(request.node, server)
        return server

    return attach


@pytest.fixture
def cups_client(printhost_server: PrinthostServer, tmp_path: Path) -> CupsClient:
    return CupsClient(printhost_server.address, tmp_path / "cups-client")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # A failed start-up already carries the log in its message.
    if report.failed and not (call.excinfo and call.excinfo.errisinstance(ServerStartError)):
        for server, offset in item.stash.get(_SERVERS, []):
            report.sections.append(
                (f"printhost log ({server.name}, {report.when})", server.log_tail(offset))
            )
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs in the xdist controller too, which receives the workers' reports
    # with their user_properties: collect the ipptool counts for the summary.
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == COUNTS_PROPERTY:
            _COLLECTED_COUNTS.append(str(value))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if not _COLLECTED_COUNTS:
        return
    lines = sorted(_COLLECTED_COUNTS)
    terminalreporter.section("ipptool conformance counts")
    for line in lines:
        terminalreporter.write_line(line)
    path = _counts_path(config)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"(also written to {path})")


def _counts_path(config: pytest.Config) -> Path | None:
    option: str | None = config.getoption("--ipptool-counts-file")
    if option:
        return Path(option).resolve()
    # pytest's own tmp_path plugin keeps its factory here; the controller's
    # base temp is the run root.
    factory: pytest.TempPathFactory | None = getattr(config, "_tmp_path_factory", None)
    return run_root(factory) / "conformance-counts.txt" if factory is not None else None
