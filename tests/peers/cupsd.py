"""A private CUPS scheduler (cupsd 2.4) for tests, running as root in a temporary directory.

What works here (probed on Debian 12, CUPS 2.4.2):
- ``cupsd -f -c DIR/cupsd.conf -s DIR/cups-files.conf`` with every path in
  cups-files.conf pointing into the temporary directory (ServerRoot, StateDir, CacheDir,
  RequestRoot, TempDir, logs). ``User lp`` / ``Group lp`` is fine for root: cupsd keeps
  root for itself and runs filters and backends as lp. (There is no ``PidFile``
  directive; cupsd writes ``StateDir/cupsd.pid``.)
- ``Listen 127.0.0.1:PORT`` and a policy without authentication, so ``lpadmin -h`` and
  ``lp -h`` work over TCP without the root certificate of the local socket; job names and
  owners are not private (``JobPrivateValues none``), so tests can read them back.
- ``lpadmin -m raw`` still works (with a "deprecated" warning). A raw queue with a
  ``file:`` device writes *nothing*: with no filter, cupsd starts no process to copy the
  document. So test queues use ``file:///dev/null`` with ``PreserveJobFiles Yes``, and the
  bytes a job brought are read back from the spool (``RequestRoot/d<job>-<doc>``).
- ``cups-lpd`` (see :mod:`peers.lpdserver`) only takes jobs for queues with
  ``printer-is-shared=true``.

Reused by other tests, e.g. a queue made with ``lpadmin -m everywhere`` pointing at
printhost, so clients (``lp``, ``lpstat``, the CUPS ipp backend) talk to us.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
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

_CUPS_FILES = """\
ServerRoot {root}/etc
StateDir {root}/state
CacheDir {root}/cache
RequestRoot {root}/spool
TempDir {root}/spool/tmp
ServerBin /usr/lib/cups
DataDir /usr/share/cups
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
FileDevice Yes
User lp
Group lp
SystemGroup root
"""

_CUPSD_CONF = """\
Listen {host}:{port}
Browsing No
WebInterface No
LogLevel {log_level}
DefaultAuthType None
PreserveJobFiles Yes
PreserveJobHistory Yes
MaxJobs 0
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""


_GET_JOB_TEST = """\
{
  NAME "Get-Job-Attributes"
  OPERATION Get-Job-Attributes
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri job-uri $uri
  ATTR keyword requested-attributes all
  STATUS successful-ok
}
"""
_IPPTOOL_VALUE = re.compile(r"^\s+([a-z0-9-]+) \([^)]*\) = (.*)$")


class PrivateCupsd:
    """``start()``, use ``.server`` / ``.env`` / :meth:`lpadmin` / :meth:`run`, ``stop()``.
    A subclass may replace the two configuration templates (cups-files.conf gets
    ``{root}``; cupsd.conf gets ``{host}``, ``{port}`` and ``{log_level}``)."""

    cups_files_template = _CUPS_FILES
    cupsd_conf_template = _CUPSD_CONF

    def __init__(self, root: Path | None = None, *, log_level: str = "info") -> None:
        """``root``: where config, state, spool and logs go. It and every parent must be
        searchable by user ``lp`` (filters run as lp and open spool files), which pytest's
        ``tmp_path`` (mode 0700) is not; by default a fresh world-searchable directory in
        the system temp dir is made, and removed by :meth:`stop`."""
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="printhost-cupsd-"))
        self.root.chmod(0o755)
        self.log_level = log_level
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def server(self) -> str:
        """The value for ``CUPS_SERVER`` / ``-h``: ``127.0.0.1:PORT``."""
        return f"{LOCALHOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` with ``CUPS_SERVER`` pointing here (for lp, lpstat, cups-lpd...)."""
        return {**os.environ, "CUPS_SERVER": self.server}

    @property
    def spool_dir(self) -> Path:
        return self.root / "spool"

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error_log"

    def start(self, attempts: int = 3) -> PrivateCupsd:
        for sub in ("etc", "state", "cache", "spool/tmp", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        files_conf = self.cups_files_template.format(root=self.root)
        (self.root / "etc" / "cups-files.conf").write_text(files_conf)
        for _ in range(attempts):
            self.port = free_port()
            conf = self.cupsd_conf_template.format(
                host=LOCALHOST, port=self.port, log_level=self.log_level
            )
            (self.root / "etc" / "cupsd.conf").write_text(conf)
            self.proc = start_process(self._argv(), log_path=self.root / "log" / "cupsd.out")
            try:
                wait_until(lambda: can_connect(self.port), 15.0, "cupsd", alive=self.proc)
                return self
            except PeerStartError:
                stop_process(self.proc)
        raise PeerStartError(f"cupsd did not start; see {self.error_log}")

    def _argv(self) -> list[str]:
        etc = self.root / "etc"
        return ["cupsd", "-f", "-c", str(etc / "cupsd.conf"), "-s", str(etc / "cups-files.conf")]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a CUPS client (``lp``, ``lpstat``...) against this scheduler."""
        return subprocess.run(
            list(argv),
            env=self.env,
            capture_output=True,
            text=True,
            errors="replace",  # job values may hold any bytes (e.g. LPD control files)
            check=check,
            timeout=30,
        )

    def lpadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("lpadmin", "-h", self.server, *args)

    def add_raw_queue(self, name: str, device_uri: str = "file:///dev/null") -> None:
        """A shared, enabled raw queue (see the module docstring on ``file:`` devices)."""
        self.lpadmin("-p", name, "-E", "-v", device_uri, "-m", "raw")
        self.lpadmin("-p", name, "-o", "printer-is-shared=true")

    def completed_jobs(self) -> list[tuple[str, str]]:
        """(job id like ``Q-3``, owner) of completed jobs, from ``lpstat -W completed -o``."""
        out = self.run("lpstat", "-h", self.server, "-W", "completed", "-o").stdout
        return [(line.split()[0], line.split()[1]) for line in out.splitlines() if line.strip()]

    def job_attributes(self, job_id: int) -> dict[str, str]:
        """All attributes of a job as ipptool prints them (``{"job-name": "report", ...}``),
        from a Get-Job-Attributes request sent with ipptool."""
        test = self.root / "get-job-attributes.test"
        test.write_text(_GET_JOB_TEST)
        uri = f"ipp://{self.server}/jobs/{job_id}"
        # No check: ipptool exits 1 on cupsd's own duplicate document-* attributes in
        # multi-document jobs, yet prints every value.
        out = self.run("ipptool", "-tv", uri, str(test), check=False).stdout
        found = (_IPPTOOL_VALUE.match(line) for line in out.splitlines())
        return {m.group(1): m.group(2) for m in found if m}

    def job_document(self, job_id: int, number: int = 1) -> bytes:
        """The bytes of a job's document, kept thanks to ``PreserveJobFiles Yes``."""
        return (self.spool_dir / f"d{job_id:05d}-{number:03d}").read_bytes()

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivateCupsd:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
