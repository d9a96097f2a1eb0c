"""printhost behind the HAProxy configuration it ships (deploy/haproxy/haproxy.cfg), real
HAProxy 2.6, real ipptool:

- TLS ends at HAProxy: a client prints over ipps:// to the balancer, the node sees plain
  HTTP from the balancer's address (127.0.0.2, its only trusted proxy) and hands out the
  balancer's ipps:// URIs; the job's originating host is the client, not the balancer.
- Authentication at the edge: HAProxy asks for HTTP Basic and passes the user on; that
  user owns the job whatever requesting-user-name says. Without credentials HAProxy
  answers 401 and nothing is printed.
- The same header sent to the node directly, from an address that is no trusted proxy,
  is ignored.
- A node told to stop (SIGTERM) turns not-ready at once and HAProxy takes it out.

Several nodes on PostgreSQL behind the same configuration, killed under load:
tests/e2e/test_cluster.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from peers.haproxy import HAProxy
from support.server import PrinthostServer

from printhost.ipp.constants import Operation, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp_client import new_request

ServerFactory = Callable[..., PrinthostServer]
PROXY_SETTINGS = {
    "trusted_proxies": ["127.0.0.2"],
    "proxy_user_header": "X-Forwarded-User",
    "drain_grace_seconds": 3,
}
PRINT_AS_MALLORY = """{
\tNAME "Print-Job as mallory"
\tOPERATION Print-Job
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name mallory
\tATTR name job-name $title
\tATTR mimeMediaType document-format text/plain
\tFILE $filename
\tSTATUS successful-ok
\tEXPECT job-id
\tDISPLAY job-id
\tDISPLAY job-uri
}
"""


def _node(make: ServerFactory) -> PrinthostServer:
    return make(tls=False, settings={"server": dict(PROXY_SETTINGS)})


def _ipptool(uri: str, work: Path, title: str) -> subprocess.CompletedProcess[str]:
    work.mkdir(parents=True, exist_ok=True)
    test = work / "print.test"
    test.write_text(PRINT_AS_MALLORY)
    document = work / f"{title}.txt"
    document.write_text(f"{title}\n")
    return subprocess.run(
        ["ipptool", "-t", "-T", "30", "-d", f"title={title}", "-d", f"filename={document}",
         uri, str(test)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "HOME": str(work), "LC_ALL": "C"},
    )  # fmt: skip


def _job_id(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout + done.stderr
    match = re.search(r"job-id \(integer\) = (\d+)", done.stdout)
    assert match, done.stdout
    return int(match[1])


def test_ipps_through_haproxy_ends_tls_at_the_balancer(
    make_printhost_server: ServerFactory, tmp_path: Path
) -> None:
    node = _node(make_printhost_server)
    with HAProxy(tmp_path / "lb", [node.address]) as lb:
        done = _ipptool(lb.ipps_uri, tmp_path / "c", "through-tls")
        job_id = _job_id(done)
        # the balancer's scheme and port (libcups names 127.0.0.1 "localhost" in Host)
        assert f"job-uri (uri) = ipps://localhost:{lb.tls_port}/jobs/{job_id}" in done.stdout
        job, _ = node.wait_for_job_output(job_id)
        assert job["job-originating-host-name"] == "127.0.0.1"  # the client, not 127.0.0.2
        assert job["job-originating-user-name"] == "mallory"  # no edge auth: only a claim


def test_the_user_haproxy_authenticated_owns_the_job(
    make_printhost_server: ServerFactory, tmp_path: Path
) -> None:
    node = _node(make_printhost_server)
    with HAProxy(tmp_path / "lb", [node.address], users={"alice": "alice-pw"}) as lb:
        refused = _ipptool(lb.ipps_uri, tmp_path / "anon", "anonymous")
        assert "[FAIL]" in refused.stdout or refused.returncode != 0, refused.stdout
        uri = lb.ipps_uri.replace("ipps://", "ipps://alice:alice-pw@")
        job_id = _job_id(_ipptool(uri, tmp_path / "alice", "as-alice"))
        job, _ = node.wait_for_job_output(job_id)
        assert job["job-name"] == "as-alice"
        assert job["job-originating-user-name"] == "alice"  # requesting-user-name: mallory


def test_the_header_sent_straight_to_a_node_is_ignored(
    make_printhost_server: ServerFactory, tmp_path: Path
) -> None:
    node = _node(make_printhost_server)
    request = new_request(Operation.PRINT_JOB, node.ipp_uri(), 1, "mallory")
    request.operation_attributes.add("document-format", Tag.MIME_MEDIA_TYPE, "text/plain")
    response = httpx.post(
        f"{node.http_url}/printers/myprinter",
        content=encode_message(request) + b"spoofed\n",
        headers={
            "Content-Type": "application/ipp",
            "X-Forwarded-User": "alice",
            "X-Forwarded-For": "10.1.1.1",
        },
        timeout=30,
    )
    assert response.status_code == 200
    message, _ = decode_message(response.content)
    job = message.group(Tag.JOB)
    assert job is not None and job.get("job-id") is not None, message
    job_id = int(job.get("job-id").value)  # type: ignore[union-attr,arg-type]
    printed, _ = node.wait_for_job_output(job_id)
    assert printed["job-originating-user-name"] == "mallory"
    assert printed["job-originating-host-name"] == "127.0.0.1"


def test_a_stopping_node_leaves_the_pool_before_it_closes(
    make_printhost_server: ServerFactory, tmp_path: Path
) -> None:
    node = _node(make_printhost_server)
    with HAProxy(tmp_path / "lb", [node.address]) as lb:
        assert httpx.get(f"http://127.0.0.1:{lb.plain_port}/readyz", timeout=10).status_code == 200
        assert node.process is not None
        stopping = threading.Thread(target=node.stop)  # SIGTERM, then waits for the exit
        stopping.start()
        try:
            seen = []
            deadline = time.monotonic() + 2.5  # inside the node's 3 s drain grace
            while time.monotonic() < deadline:
                direct = httpx.get(f"{node.http_url}/readyz", timeout=5)
                alive = httpx.get(f"{node.http_url}/livez", timeout=5)
                through = httpx.get(f"http://127.0.0.1:{lb.plain_port}/livez", timeout=5)
                seen.append((direct.status_code, alive.status_code, through.status_code))
                if through.status_code == 503:
                    break
                time.sleep(0.1)
        finally:
            stopping.join(timeout=30)
        assert seen and seen[0][:2] == (503, 200), seen  # not ready at once, still alive
        assert seen[-1][2] == 503, seen  # HAProxy took the node out while it still answered
