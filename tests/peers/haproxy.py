"""HAProxy (Debian's 2.6) in front of printhost nodes, with the configuration printhost
ships (deploy/haproxy/haproxy.cfg), for tests.

It listens on two free loopback ports (plain and TLS, with a self-signed certificate made
here by openssl), connects to the nodes from ``source`` (so nodes can trust exactly that
address), and is stopped by its PID. ``users`` turns on authentication at the edge.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from peers.procs import (
    LOCALHOST,
    PeerStartError,
    can_connect,
    free_port,
    start_process,
    stop_process,
    wait_until,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "haproxy"


class HAProxy:
    def __init__(
        self,
        root: Path,
        nodes: Sequence[str],
        *,
        source: str = "127.0.0.2",
        users: Mapping[str, str] | None = None,
    ) -> None:
        if not 1 <= len(nodes) <= 3:
            raise ValueError("the shipped configuration has three node slots")
        self.root = root
        self.nodes = list(nodes)
        self.source = source
        self.users = dict(users or {})
        self.plain_port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ipp_uri(self) -> str:
        return f"ipp://{LOCALHOST}:{self.plain_port}/printers/myprinter"

    @property
    def ipps_uri(self) -> str:
        return f"ipps://{LOCALHOST}:{self.tls_port}/printers/myprinter"

    def start(self) -> HAProxy:
        self.root.mkdir(parents=True, exist_ok=True)
        certificate = self._certificate()
        users = self.root / "users.cfg"
        lines = ["userlist printhost_users"]
        lines += [f"    user {u} password {_sha512_crypt(p)}" for u, p in self.users.items()]
        users.write_text("\n".join(lines) + "\n")
        slots = (self.nodes + [self.nodes[0]] * 3)[:3]
        env = {
            **os.environ,
            "PRINTHOST_LB_PLAIN": f"{LOCALHOST}:{self.plain_port}",
            "PRINTHOST_LB_TLS": f"{LOCALHOST}:{self.tls_port}",
            "PRINTHOST_LB_CERT": str(certificate),
            "PRINTHOST_LB_SOURCE": self.source,
            "PRINTHOST_EDGE_AUTH": "on" if self.users else "off",
            **{f"PRINTHOST_NODE{i}": node for i, node in enumerate(slots, 1)},
        }
        argv = ["haproxy", "-db", "-f", str(DEPLOY / "haproxy.cfg"), "-f", str(users)]
        self.process = start_process(argv, env=env, log_path=self.root / "haproxy.log")
        try:
            wait_until(
                lambda: can_connect(self.plain_port) and can_connect(self.tls_port),
                10,
                "haproxy",
                alive=self.process,
            )
        except PeerStartError as exc:
            self.stop()
            raise PeerStartError(f"{exc}:\n{self.log_text()[-3000:]}") from None
        return self

    def _certificate(self) -> Path:
        key, cert, pem = (self.root / n for n in ("lb.key", "lb.crt", "lb.pem"))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "1", "-subj", f"/CN={LOCALHOST}"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        pem.write_bytes(cert.read_bytes() + key.read_bytes())
        return pem

    def log_text(self) -> str:
        return (self.root / "haproxy.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _sha512_crypt(password: str) -> str:
    """A crypt(3) SHA-512 hash, as HAProxy's userlist takes (openssl, not the deprecated
    crypt module)."""
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout.strip()
