"""``printhost nodes``: the cluster's nodes, from the REST API v1 (server/rest_nodes.py):
each node's state (up, draining, stopped, or dead when its heartbeat stopped), roles,
address, load and how long ago it last beat. Operators and admins only.

Authenticates with HTTP Basic as ``--user`` (the password from ``$PRINTHOST_PASSWORD`` or
a prompt), against the API at ``--server`` (as in cli_routing.py), with
``--cafile``/``--insecure`` for HTTPS. Any node with the web role answers for all: they
read one store.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from printhost.cli_routing import _basic, _reporting_errors, _tls_options, call


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported here, not at the top: printhost.cli imports this module.
    from printhost.cli import _client_options

    nodes = commands.add_parser(
        "nodes",
        help="list the cluster's nodes: state, roles, address, load (operators, admins)",
        description="A node is dead when its last heartbeat is older than "
        "[cluster] dead_after_seconds; stopped ones shut down in order.",
    )
    _client_options(nodes)  # --password is implied: the command always authenticates
    nodes.add_argument("--json", action="store_true", help="print the API's JSON")
    _tls_options(nodes)
    nodes.set_defaults(run=_reporting_errors(_nodes))


def _nodes(args: argparse.Namespace) -> int:
    nodes = call(args, "GET", "/nodes", auth=_basic(args)).json()
    if args.json:
        print(json.dumps(nodes, indent=2, sort_keys=True))
        return 0
    print(node_table(nodes))
    return 0


def node_table(nodes: list[dict[str, Any]]) -> str:
    """Nodes as a table for a terminal."""
    lines = [
        f"{'NODE':<30} {'STATE':<9} {'ROLES':<20} {'LOAD':<24} {'HEARTBEAT':>9}  VERSION  ADDRESS"
    ]
    for node in nodes:
        roles = ",".join(node.get("roles", [])) or "-"
        load = " ".join(f"{k}={v}" for k, v in sorted(node.get("load", {}).items())) or "-"
        lines.append(
            f"{node.get('name', '?'):<30} {node.get('state', '?'):<9} {roles:<20} "
            f"{load:<24} {_ago(node.get('seconds_since_heartbeat')):>9}  "
            f"{node.get('version', '?'):<7}  {node.get('address') or '-'}"
        )
    if not nodes:
        lines.append("(no nodes)")
    return "\n".join(lines)


def _ago(seconds: Any) -> str:
    """``4s ago``, ``12m ago``, ``3h ago``, ``2d ago``: seconds up to two minutes, and so on."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"
