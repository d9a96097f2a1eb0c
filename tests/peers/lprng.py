"""LPRng 3.8 as a real LPD peer: its clients ``lpr``, ``lpq``, ``lprm`` and its daemon
``lpd``.

Debian's ``lprng`` conflicts with cups-client and cups-bsd, so ``make tools`` extracts it
into ``.tools/lprng`` instead of installing it, and creates the two files the binaries
insist on: ``/etc/lprng/lpd.conf`` (the package's own, every line a comment: the
``LPD_CONF`` variable is compiled out) and an empty ``/etc/printcap`` (IPP-CLIENTS.md
§6.1).

The clients are aimed at a server with ``-P queue@host%port`` and run with a private
``HOME`` (no ``~/.printcap``) and no ``PRINTER`` variables, so nothing on the machine
changes where they print. ``-U user`` works because the tests run as root (LPRng allows
it to root only, as Samba uses it). As root LPRng also connects from a privileged port,
as RFC 1179 §3.1 asks; our server requires nothing of the sort.

LPRng's ``lpr`` retries a refused job (three attempts, ten seconds apart) and allows one
copy (its ``max_copies`` default): tests that need refusals or copies use a raw socket or
CUPS's lpd backend instead.

``LprngDaemon`` runs LPRng's ``lpd`` as a printer for our ``lpd://`` backend: on a free
port, with its configuration, printcap, spool and output in a private directory. lpd
reads only ``/etc/lprng/lpd.conf`` and the printcap it names, so it runs in a private
mount namespace (``unshare -m``) where our files are bind-mounted over those two: the real
``/etc`` is untouched and other tests see nothing. Its queue "prints" by appending each
job's data to a file (``lp=``), which the tests read. lpd drops root for user ``daemon``,
who owns the directories it writes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from peers.procs import (
    LOCALHOST,
    PeerStartError,
    free_port,
    is_listening,
    start_process,
    stop_process,
    wait_until,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
LPRNG_ROOT = PROJECT_DIR / ".tools" / "lprng"
REQUIRED_FILES = (Path("/etc/lprng/lpd.conf"), Path("/etc/printcap"))
TIMEOUT = 30.0


def lprng_program(name: str) -> Path:
    """The extracted LPRng program ``name`` (lpr, lpq, lprm, lpd, checkpc...)."""
    for directory in ("usr/bin", "usr/sbin"):
        path = LPRNG_ROOT / directory / name
        if path.is_file():
            break
    else:
        raise PeerStartError(f"LPRng's {name} is not in {LPRNG_ROOT}: run `make tools`")
    missing = [str(p) for p in REQUIRED_FILES if not p.exists()]
    if missing:
        raise PeerStartError(f"LPRng needs {', '.join(missing)}: run `make tools` (as root)")
    return path


def lprng_env(home: Path) -> dict[str, str]:
    """A clean environment: private HOME, no PRINTER/LPDEST/NPRINTER/NGPRINTER."""
    home.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR", "TZ")}
    return {**keep, "HOME": str(home), "LANG": "C", "USER": "root", "LOGNAME": "root"}


@dataclass
class LprngClient:
    """LPRng's clients aimed at one LPD server."""

    port: int
    home: Path
    host: str = LOCALHOST
    timeout: float = TIMEOUT

    def printer(self, queue: str) -> str:
        return f"{queue}@{self.host}%{self.port}"

    def lpr(
        self,
        queue: str,
        *files: Path,
        user: str = "alice",
        title: str | None = None,
        literal: bool = False,
        stdin: bytes | None = None,
        stream: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """``lpr -P queue@host%port -U user [-J title] [-l] [-k] files`` (stdin when no
        files; ``stream`` sends it with count 0, "until end of file")."""
        argv = [str(lprng_program("lpr")), "-P", self.printer(queue), "-U", user]
        argv += ["-J", title] if title is not None else []
        argv += ["-l"] if literal else []
        argv += ["-k"] if stream else []
        return self._run(argv + [str(f) for f in files], stdin)

    def lpq(self, queue: str, *items: str, short: bool = False) -> subprocess.CompletedProcess[str]:
        """``lpq [-s] -P queue@host%port [items]``: LPRng asks for the long state (04)
        unless ``-s`` (03)."""
        argv = [str(lprng_program("lpq")), *(["-s"] if short else []), "-P", self.printer(queue)]
        return self._run(argv + list(items))

    def lprm(
        self, queue: str, *items: str, user: str = "alice"
    ) -> subprocess.CompletedProcess[str]:
        """``lprm -U user -P queue@host%port [job ids | user names | all]``."""
        argv = [str(lprng_program("lprm")), "-U", user, "-P", self.printer(queue)]
        return self._run(argv + list(items))

    def _run(self, argv: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv,
            input=stdin or b"",
            capture_output=True,
            env=lprng_env(self.home),
            cwd=self.home,
            timeout=self.timeout,
            check=False,
        )
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"),
        )


class LprngDaemon:
    """LPRng's ``lpd`` serving queue ``queue`` on 127.0.0.1:``port`` (see the module doc).
    ``root`` must be reachable by user daemon (pytest's temp dirs are not)."""

    def __init__(self, root: Path, queue: str = "q") -> None:
        self.root = root
        self.queue = queue
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def uri(self) -> str:
        return f"lpd://{LOCALHOST}:{self.port}/{self.queue}"

    @property
    def spool_dir(self) -> Path:
        return self.root / "spool" / self.queue

    @property
    def output(self) -> Path:
        """What the queue printed: every job's data, appended."""
        return self.root / "out" / f"{self.queue}.prn"

    def jobs(self) -> list[dict[str, str]]:
        """LPRng's record of each job it received (its ``hf*`` files: ``key=value`` lines
        with P, J, N, datafiles...)."""
        found = []
        for hold_file in sorted(self.spool_dir.glob("hf*")):
            text = hold_file.read_text(encoding="utf-8", errors="replace")
            fields = (line.partition("=") for line in text.splitlines() if "=" in line)
            found.append({key: value for key, _, value in fields})
        return found

    def start(self, attempts: int = 3) -> LprngDaemon:
        lpd = lprng_program("lpd")
        for _ in range(attempts):
            self.port = free_port()
            self._write_files()
            self.proc = start_process(
                ["unshare", "-m", "sh", "-c", self._script(lpd)],
                env=lprng_env(self.root / "home"),
                log_path=self.root / "log" / "stdout",
            )
            try:
                wait_until(lambda: is_listening(self.port), 10.0, "LPRng lpd", alive=self.proc)
                return self
            except PeerStartError:
                stop_process(self.proc)
        log = (self.root / "log" / "lpd.log").read_text(errors="replace")
        raise PeerStartError(f"LPRng lpd did not start\n{log[-3000:]}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def __enter__(self) -> LprngDaemon:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _script(self, lpd: Path) -> str:
        etc = self.root / "etc"
        return (
            "set -e; mount --make-rprivate /; "
            f"mount --bind {etc / 'lpd.conf'} /etc/lprng/lpd.conf; "
            f"mount --bind {etc / 'printcap'} /etc/printcap; "
            f"exec {lpd} -F -p {self.port} -L {self.root / 'log' / 'lpd.log'}"
        )

    def _write_files(self) -> None:
        root, etc = self.root, self.root / "etc"
        shutil.rmtree(root / "spool", ignore_errors=True)
        for directory in (etc, self.spool_dir, root / "out", root / "log"):
            directory.mkdir(parents=True, exist_ok=True)
        (etc / "lpd.conf").write_text(
            f"lockfile={root / 'lpd.lock'}\n"
            f"unix_socket_path={root / 'socket'}\n"
            f"printcap_path={etc / 'printcap'}\n"
            f"lpd_printcap_path={etc / 'printcap'}\n"
            f"perms_path={etc / 'lpd.perms'}\n"
        )
        # sh: no banner page; mx#0: no size limit; lp: "print" by appending to a file;
        # done_jobs: keep the records of printed jobs for the tests to read
        (etc / "printcap").write_text(
            f"{self.queue}:sd={self.spool_dir}:lp={self.output}:sh:mx#0:done_jobs#1000"
            f":lf={root / 'log' / 'queue.log'}\n"
        )
        (etc / "lpd.perms").write_text("DEFAULT ACCEPT\n")
        for path in (self.output, root / "log" / "lpd.log", root / "log" / "queue.log"):
            path.touch()
        daemon = pwd.getpwnam("daemon")
        for path in (root / "spool", self.spool_dir, root / "out", root / "log", *self._files()):
            os.chown(path, daemon.pw_uid, daemon.pw_gid)
        self.spool_dir.chmod(0o700)

    def _files(self) -> list[Path]:
        return [p for d in (self.root / "out", self.root / "log") for p in d.iterdir()]
