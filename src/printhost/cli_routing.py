"""``printhost prefs``, ``printhost presence`` and ``printhost agent``: clients of the REST
API v1 (server/rest.py) and the workstation agent (agent.py).

The API lives on the same port as IPP, so its base URL comes from ``--server``:
``ipp://host:port/...`` -> ``http://host:port/api/v1``, ``ipps://`` -> ``https://``.
HTTPS certificates are verified; printhost's own certificate is self-signed by default, so
pass it with ``--cafile`` (the server's ``<state_dir>/tls/printhost.crt``) or skip the check
with ``--insecure``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import socket
import ssl
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from printhost.client_transport import RoundRobinSyncTransport
from printhost.config import DESKTOP
from printhost.routing.defaults import COLOR_MODES, SIDES

ORIENTATIONS = {
    "none": 0,
    "portrait": 3,
    "landscape": 4,
    "reverse-landscape": 5,
    "reverse-portrait": 6,
}
BANNER = {"on": True, "off": False, "default": None}
TIMEOUT = 30.0


class ApiClientError(Exception):
    """The API refused the request or could not be reached; the message says why."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported here, not at the top: printhost.cli imports this module.
    from printhost.cli import _client_options

    prefs = commands.add_parser(
        "prefs",
        help="show or change your routing preferences",
        description="Always authenticates (--password is implied): the password comes "
        "from $PRINTHOST_PASSWORD or a prompt.",
    )
    actions = prefs.add_subparsers(required=True, metavar="ACTION")
    show = actions.add_parser("show", help="show preferences")
    show.add_argument("--json", action="store_true", help="print the API's JSON")
    change = actions.add_parser("set", help="change preferences (only the options given)")
    _set_options(change)
    for parser, run in ((show, _prefs_show), (change, _prefs_set)):
        _client_options(parser)
        parser.add_argument(
            "--for", dest="for_user", metavar="USER", help="another user's preferences (admins)"
        )
        _tls_options(parser)
        parser.set_defaults(run=_reporting_errors(run))
    presence = commands.add_parser("presence", help="report a login or logout (agents, scripts)")
    actions = presence.add_subparsers(required=True, metavar="ACTION")
    login = actions.add_parser("login", help="report that USER is logged in at HOST")
    login.add_argument("--ttl", type=float, default=3600.0, help="seconds (default %(default)g)")
    login.add_argument("--location", default="")
    login.add_argument("--agent-uri", default="", help="the desktop agent's ipp:// printer")
    logout = actions.add_parser("logout", help="report that USER logged out of HOST")
    for parser, run in ((login, _presence_login), (logout, _presence_logout)):
        _presence_options(parser)
        parser.set_defaults(run=_reporting_errors(run))
    agent = commands.add_parser(
        "agent", help="run a workstation's desktop printer and report who is logged in"
    )
    _agent_options(agent)
    agent.set_defaults(run=_agent)


def _set_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--destination",
        metavar="NAME",
        help=f'a printer or pool, "{DESKTOP}" (where you are logged in) or "" (the default)',
    )
    parser.add_argument("--sides", choices=[*SIDES, "none"])
    parser.add_argument("--color-mode", choices=[*COLOR_MODES, "none"])
    parser.add_argument("--orientation", choices=list(ORIENTATIONS))
    parser.add_argument("--max-copies", type=int, metavar="N", help="0 = no limit")
    parser.add_argument("--banner", choices=list(BANNER))
    parser.add_argument("--location", metavar="WHERE")


def _tls_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cafile", type=Path, help="trust this certificate (PEM) for https")
    parser.add_argument("--insecure", action="store_true", help="do not verify the certificate")


def _presence_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user", "-u", default=os.environ.get("PRINTHOST_USER") or getpass.getuser()
    )
    _reporter_options(parser)


def _reporter_options(parser: argparse.ArgumentParser) -> None:
    from printhost.cli import DEFAULT_SERVER

    parser.add_argument(
        "--server", "-s", default=os.environ.get("PRINTHOST_SERVER", DEFAULT_SERVER)
    )
    parser.add_argument("--host", default=socket.gethostname(), help="the workstation")
    parser.add_argument(
        "--token",
        default=os.environ.get("PRINTHOST_TOKEN"),
        help="an agent token (default $PRINTHOST_TOKEN; prefer it: arguments show in ps)",
    )
    _tls_options(parser)


def _agent_options(parser: argparse.ArgumentParser) -> None:
    _reporter_options(parser)
    parser.add_argument(
        "--listen",
        required=True,
        metavar="HOST:PORT",
        help="where the desktop printer listens (IPP, plain HTTP)",
    )
    parser.add_argument(
        "--printer",
        required=True,
        metavar="URI",
        help="the local printer: ipp://, socket://, lpd:// or file:///dir",
    )
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument(
        "--user",
        "-u",
        action="append",
        dest="users",
        metavar="USER",
        help="report this user (repeatable); default: the users `who` lists",
    )
    parser.add_argument("--location", default="")
    parser.add_argument(
        "--ttl",
        type=float,
        default=120.0,
        help="seconds a report holds; sent every ttl/3 (default %(default)g)",
    )
    parser.add_argument(
        "--advertise", metavar="HOST", help="the name the central server reaches this agent by"
    )


# --- the API client --------------------------------------------------------------------------


def api_base(server: str) -> str:
    """``ipp://h:631/printers/q`` -> ``http://h:631/api/v1`` (RFC 7472: ipps is https, 631
    by default); http(s) URLs keep their scheme."""
    parts = urllib.parse.urlsplit(server)
    scheme = {"ipp": "http", "ipps": "https", "http": "http", "https": "https"}.get(
        parts.scheme.lower()
    )
    if scheme is None or not parts.hostname:
        raise ApiClientError(f"--server {server!r} is not an ipp://, ipps:// or http(s):// URI")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{parts.port or 631}/api/v1"


def tls_verify(cafile: Path | None, insecure: bool) -> ssl.SSLContext | bool:
    if insecure:
        return False
    if cafile is not None:
        return ssl.create_default_context(cafile=str(cafile))
    return True


def call(
    args: argparse.Namespace,
    method: str,
    path: str,
    *,
    auth: httpx.Auth | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    url = api_base(args.server) + path
    verify = tls_verify(args.cafile, args.insecure)
    try:
        transport = RoundRobinSyncTransport(verify=verify)  # every address of the name
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            response = client.request(method, url, auth=auth, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise ApiClientError(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.is_error:
        raise ApiClientError(f"{url}: HTTP {response.status_code}: {_error_text(response)}")
    return response


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:500] or response.reason_phrase


def _reporting_errors(
    run: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ApiClientError as exc:
            print(f"printhost: {exc}", file=sys.stderr)
            return 1

    return wrapped


# --- prefs --------------------------------------------------------------------------------------


def _preferences_path(args: argparse.Namespace) -> str:
    return f"/users/{urllib.parse.quote(args.for_user or args.user, safe='')}/preferences"


def _basic(args: argparse.Namespace) -> httpx.BasicAuth:
    """Preferences always need a password (--password is implied)."""
    password = os.environ.get("PRINTHOST_PASSWORD") or getpass.getpass(
        f"password for {args.user}: "
    )
    return httpx.BasicAuth(args.user, password)


def _prefs_show(args: argparse.Namespace) -> int:
    prefs = call(args, "GET", _preferences_path(args), auth=_basic(args)).json()
    _print_preferences(prefs, args.json)
    return 0


def _prefs_set(args: argparse.Namespace) -> int:
    body = preferences_update(args)
    if not body:
        print("printhost: nothing to change (see printhost prefs set --help)", file=sys.stderr)
        return 2
    prefs = call(args, "PUT", _preferences_path(args), auth=_basic(args), json=body).json()
    _print_preferences(prefs, False)
    return 0


def preferences_update(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT body: only what the options name (the API keeps the rest)."""
    body: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    if args.destination is not None:
        body["destination"] = args.destination
    if args.sides is not None:
        defaults["sides"] = "" if args.sides == "none" else args.sides
    if args.color_mode is not None:
        defaults["print_color_mode"] = "" if args.color_mode == "none" else args.color_mode
    if args.orientation is not None:
        defaults["orientation_requested"] = ORIENTATIONS[args.orientation]
    if args.max_copies is not None:
        defaults["max_copies"] = args.max_copies
    if defaults:
        body["defaults"] = defaults
    if args.banner is not None:
        body["banner"] = BANNER[args.banner]
    if args.location is not None:
        body["location"] = args.location
    return body


def _print_preferences(prefs: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(prefs, indent=2, sort_keys=True))
        return
    defaults = prefs.get("defaults", {})
    orientation = {v: k for k, v in ORIENTATIONS.items()}.get(
        defaults.get("orientation_requested", 0), "?"
    )
    banner = {True: "on", False: "off", None: "as the queue says"}.get(prefs.get("banner"), "?")
    max_copies = defaults.get("max_copies") or "no limit"
    rows = [
        ("user", prefs.get("user")),
        ("destination", prefs.get("destination") or "(the default)"),
        ("sides", defaults.get("sides") or "(as the job says)"),
        ("color mode", defaults.get("print_color_mode") or "(as the job says)"),
        ("orientation", orientation if orientation != "none" else "(as the job says)"),
        ("max copies", max_copies),
        ("banner", banner),
        ("location", prefs.get("location") or "-"),
    ]
    for label, value in rows:
        print(f"{label + ':':<13} {value}")


# --- presence -----------------------------------------------------------------------------------


def _token(args: argparse.Namespace) -> dict[str, str]:
    if not args.token:
        raise ApiClientError("a token is needed: --token or $PRINTHOST_TOKEN")
    return {"Authorization": f"Bearer {args.token}"}


def _presence_login(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "user": args.user,
        "host": args.host,
        "ttl_seconds": args.ttl,
        "source": "printhost presence",
    }
    if args.location:
        body["location"] = args.location
    if args.agent_uri:
        body["agent_uri"] = args.agent_uri
    call(args, "POST", "/presence", headers=_token(args), json=body)
    print(f"{args.user} logged in at {args.host} for {args.ttl:g} s")
    return 0


def _presence_logout(args: argparse.Namespace) -> int:
    params = {"user": args.user, "host": args.host}
    call(args, "DELETE", "/presence", headers=_token(args), params=params)
    print(f"{args.user} logged out of {args.host}")
    return 0


# --- agent --------------------------------------------------------------------------------------


def _agent(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from printhost import agent

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per report otherwise
    if not args.token:
        print("printhost: a token is needed: --token or $PRINTHOST_TOKEN", file=sys.stderr)
        return 2
    try:
        options = agent.AgentOptions(
            api=api_base(args.server),
            token=args.token,
            host=args.host,
            listen=args.listen,
            printer=args.printer,
            state_dir=args.state_dir,
            users=tuple(args.users or ()),
            location=args.location,
            ttl=args.ttl,
            advertise=args.advertise or "",
            verify=tls_verify(args.cafile, args.insecure),
        )
    except ApiClientError as exc:
        print(f"printhost: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(agent.run(options))
    except* OSError as group:  # e.g. the listen address is taken: one line, not a trace
        raise group.exceptions[0] from None
    return 0
