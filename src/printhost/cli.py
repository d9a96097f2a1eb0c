"""The ``printhost`` command: ``serve`` runs the server; ``submit``, ``jobs``, ``cancel``
and ``printers`` are IPP clients built on our own codec; ``user add`` manages local users.

Client commands talk to ``--server`` (default ``$PRINTHOST_SERVER`` or
ipp://127.0.0.1:8631/printers/myprinter) and accept ``--user``/``--password``
(``$PRINTHOST_PASSWORD``) for HTTP Basic.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx

from printhost.cli_accounts import register as register_accounts
from printhost.cli_analysis import register as register_analysis
from printhost.cli_capture import register as register_capture
from printhost.cli_nodes import register as register_nodes
from printhost.cli_routing import register as register_routing
from printhost.client_transport import RoundRobinTransport
from printhost.config import NODE_ROLES, Config, ConfigError, load_config
from printhost.ipp.constants import JobState, Operation, Status, Tag
from printhost.ipp.model import Message
from printhost.ipp_client import IppClientError, new_request, send_ipp

DEFAULT_SERVER = "ipp://127.0.0.1:8631/printers/myprinter"
CHUNK = 64 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as exc:
        print(f"printhost: configuration error: {exc}", file=sys.stderr)
        return 2
    except (IppClientError, httpx.HTTPError, OSError) as exc:
        print(f"printhost: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="printhost", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the print server")
    _config_option(serve)
    serve.add_argument(
        "--db", help="database URL (sqlite:///path, postgresql://...): overrides [storage]"
    )
    serve.add_argument(
        "--role", help="this node's roles, comma-separated: intake,dispatch,web (default all)"
    )
    serve.set_defaults(run=_serve)
    submit = commands.add_parser("submit", help="print a file")
    submit.add_argument("file", type=Path)
    submit.add_argument("--queue", "-q", help="queue name (default: the server URI's)")
    submit.add_argument("--title", "-t", help="job name (default: the file name)")
    submit.add_argument("--hold", action="store_true", help="hold the job until released")
    submit.add_argument("--copies", "-n", type=int)
    _client_options(submit)
    submit.set_defaults(run=_submit)
    jobs = commands.add_parser("jobs", help="list jobs")
    jobs.add_argument(
        "--which", default="not-completed", choices=["not-completed", "completed", "all"]
    )
    jobs.add_argument("--mine", action="store_true", help="only my jobs")
    _client_options(jobs)
    jobs.set_defaults(run=_jobs)
    cancel = commands.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id", type=int)
    _client_options(cancel)
    cancel.set_defaults(run=_cancel)
    printers = commands.add_parser("printers", help="list queues and their state")
    _client_options(printers)
    printers.set_defaults(run=_printers)
    user = commands.add_parser("user", help="manage local users")
    user_commands = user.add_subparsers(required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="add or update a user")
    add.add_argument("name")
    add.add_argument("--role", default="user", choices=["user", "operator", "admin"])
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    _config_option(add)
    add.set_defaults(run=_user_add)
    register_capture(commands)
    register_routing(commands)
    register_accounts(commands)
    register_analysis(commands)
    register_nodes(commands)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=os.environ.get("PRINTHOST_CONFIG") or None,
        help="TOML configuration file (default: $PRINTHOST_CONFIG, else the "
        "embedded demo configuration)",
    )


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        "-s",
        default=os.environ.get("PRINTHOST_SERVER", DEFAULT_SERVER),
        help="printer URI (default: $PRINTHOST_SERVER or %(default)s)",
    )
    parser.add_argument(
        "--user", "-u", default=os.environ.get("PRINTHOST_USER") or getpass.getuser()
    )
    parser.add_argument(
        "--password",
        action="store_true",
        help="authenticate (password from $PRINTHOST_PASSWORD or a prompt)",
    )


# --- serve -------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from printhost.app import serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = with_node_options(load_config(args.config), args.db, args.role)
    asyncio.run(serve(config))
    return 0


def with_node_options(config: Config, db: str | None, roles: str | None) -> Config:
    """``--db`` and ``--role`` override the file (one file can serve every node)."""
    if db:
        config = dataclasses.replace(
            config, storage=dataclasses.replace(config.storage, database_url=db)
        )
    if roles:
        chosen = tuple(r.strip() for r in roles.split(",") if r.strip())
        unknown = sorted(set(chosen) - set(NODE_ROLES))
        if unknown or not chosen:
            raise ConfigError(
                f"--role: {', '.join(unknown) or 'empty'}; choose from {', '.join(NODE_ROLES)}"
            )
        config = dataclasses.replace(
            config, server=dataclasses.replace(config.server, roles=chosen)
        )
    return config


def _user_add(args: argparse.Namespace) -> int:
    from printhost.auth import hash_password
    from printhost.store import open_store
    from printhost.store.base import UserRecord

    config = load_config(args.config)
    password = (
        sys.stdin.readline().rstrip("\n")
        if args.password_stdin
        else getpass.getpass(f"password for {args.name}: ")
    )
    if not password:
        print("printhost: empty password refused", file=sys.stderr)
        return 2

    async def add() -> None:
        config.storage.state_dir.mkdir(parents=True, exist_ok=True)
        store = await open_store(config.storage.effective_database_url)
        try:
            await store.put_user(UserRecord(args.name, hash_password(password), args.role))
        finally:
            await store.close()

    asyncio.run(add())
    print(f"user {args.name} ({args.role}) saved")
    return 0


# --- IPP client commands --------------------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    return asyncio.run(_submit_async(args))


async def _submit_async(args: argparse.Namespace) -> int:
    uri = _queue_uri(args.server, args.queue)
    request = new_request(Operation.PRINT_JOB, uri, 1, args.user)
    op = request.operation_attributes
    op.add("job-name", Tag.NAME, args.title or args.file.name)
    op.add("document-name", Tag.NAME, args.file.name)
    op.add("document-format", Tag.MIME_MEDIA_TYPE, "application/octet-stream")
    job = request.add_group(Tag.JOB)
    if args.hold:
        job.add("job-hold-until", Tag.KEYWORD, "indefinite")
    if args.copies:
        job.add("copies", Tag.INTEGER, args.copies)
    size = args.file.stat().st_size
    response = await _call(args, uri, request, _read_with_progress(args.file, size))
    job_group = response.group(Tag.JOB)
    job_id = job_group.get("job-id") if job_group else None
    print(f"job {_show(job_id.value) if job_id else '?'} submitted to {uri}")
    return 0


async def _read_with_progress(path: Path, size: int) -> AsyncIterator[bytes]:
    """File chunks, with a progress line on stderr when it is a terminal."""
    sent = 0
    show = sys.stderr.isatty() and size > 4 * CHUNK
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            sent += len(chunk)
            if show:
                print(
                    f"\rsending {sent * 100 // max(size, 1):3d}% of {size} bytes",
                    end="",
                    file=sys.stderr,
                )
            yield chunk
    if show:
        print(file=sys.stderr)


def _jobs(args: argparse.Namespace) -> int:
    request = new_request(Operation.GET_JOBS, args.server, 1, args.user)
    op = request.operation_attributes
    op.add("which-jobs", Tag.KEYWORD, args.which)
    op.add("my-jobs", Tag.BOOLEAN, bool(args.mine))
    op.add(
        "requested-attributes",
        Tag.KEYWORD,
        "job-id",
        "job-name",
        "job-state",
        "job-originating-user-name",
        "job-k-octets",
        "job-state-message",
        "job-printer-uri",
    )
    response = asyncio.run(_call(args, args.server, request))
    print(f"{'ID':>6}  {'STATE':<19} {'OWNER':<12} {'KB':>6}  NAME / MESSAGE")
    for group in response.groups_of(Tag.JOB):
        values = {a.name: _show(a.value) for a in group}
        state = JobState(int(values.get("job-state", "3"))).keyword
        message = values.get("job-state-message") or ""
        print(
            f"{values.get('job-id', ''):>6}  {state:<19} "
            f"{values.get('job-originating-user-name', '-')!s:<12} "
            f"{values.get('job-k-octets', '0'):>6}  {values.get('job-name', '-')}"
            + (f"  ({message})" if message else "")
        )
    return 0


def _cancel(args: argparse.Namespace) -> int:
    request = new_request(Operation.CANCEL_JOB, args.server, 1, args.user)
    request.operation_attributes.add("job-id", Tag.INTEGER, args.job_id)
    asyncio.run(_call(args, args.server, request))
    print(f"job {args.job_id} canceled")
    return 0


def _printers(args: argparse.Namespace) -> int:
    request = new_request(Operation.CUPS_GET_PRINTERS, args.server, 1, args.user)
    request.operation_attributes.add(
        "requested-attributes",
        Tag.KEYWORD,
        "printer-name",
        "printer-state",
        "printer-is-accepting-jobs",
        "queued-job-count",
        "printer-uri-supported",
        "printer-info",
    )
    response = asyncio.run(_call(args, args.server, request))
    for group in response.groups_of(Tag.PRINTER):
        values = {a.name: _show(a.value) for a in group}
        state = {"3": "idle", "4": "printing", "5": "stopped"}.get(
            values.get("printer-state", ""), "?"
        )
        accepting = (
            "accepting" if values.get("printer-is-accepting-jobs") == "True" else "rejecting"
        )
        print(
            f"{values.get('printer-name')}: {state}, {accepting}, "
            f"{values.get('queued-job-count', '0')} job(s) - {values.get('printer-uri-supported')}"
        )
    return 0


async def _call(
    args: argparse.Namespace,
    uri: str,
    request: Message,
    document: AsyncIterator[bytes] | None = None,
) -> Message:
    auth = None
    if args.password:
        auth = (args.user, os.environ.get("PRINTHOST_PASSWORD") or getpass.getpass())
    # printhost's own certificate is self-signed by default (trust on first use)
    # every address the server's name has is tried in turn (client_transport.py)
    async with httpx.AsyncClient(transport=RoundRobinTransport(verify=False)) as client:
        response = await send_ipp(client, uri, request, document, auth=auth, timeout=60.0)
    status = Status(response.code) if response.code in Status._value2member_map_ else None
    if status is None or not status.is_success:
        message = response.operation_attributes.get("status-message")
        keyword = status.keyword if status else f"0x{response.code:04x}"
        raise IppClientError(f"{keyword}: {_show(message.value) if message else ''}")
    return response


def _show(value: object) -> str:
    """An attribute value as text for a terminal (octetStrings decoded leniently)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _queue_uri(server: str, queue: str | None) -> str:
    if not queue:
        return server
    base = server.split("/printers/")[0].rstrip("/")
    return f"{base}/printers/{queue}"
