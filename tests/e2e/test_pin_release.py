"""PIN printing end to end (PWG 5100.11 job-password), with ipptool as the client: a job
sent with a PIN waits, held with job-password-wait; Release-Job without the PIN or with
a wrong one is refused (client-error-not-authorized); with the right PIN it prints; the
queue advertises what it takes; an operator releases without the PIN."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.server import PrinthostServer, user

from .delivery_helpers import wait_for_state

OLGA = ("olga", "op-secret")

PRINT_WITH_PIN = """{
\tNAME "Print-Job with a PIN"
\tOPERATION Print-Job
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR name requesting-user-name alice
\tATTR name job-name $title
\tATTR octetString job-password "$pin"
\tATTR keyword job-password-encryption none
\tATTR mimeMediaType document-format application/octet-stream
\tFILE $filename
\tSTATUS successful-ok
\tEXPECT job-id
\tDISPLAY job-id
}
"""
RELEASE = """{
\tNAME "Release-Job"
\tOPERATION Release-Job
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tATTR integer job-id $job_id
\tATTR name requesting-user-name alice
%s
\tSTATUS %s
}
"""
PIN_ATTR = '\tATTR octetString job-password "$pin"'
GET_PRINTER = """{
\tNAME "PIN support"
\tOPERATION Get-Printer-Attributes
\tGROUP operation-attributes-tag
\tATTR charset attributes-charset utf-8
\tATTR naturalLanguage attributes-natural-language en
\tATTR uri printer-uri $uri
\tSTATUS successful-ok
\tEXPECT job-password-supported OF-TYPE integer WITH-VALUE 16
\tEXPECT job-password-encryption-supported OF-TYPE keyword WITH-VALUE none
}
"""


def ipptool(
    server: PrinthostServer, work: Path, test: str, *defines: str, uri: str = ""
) -> subprocess.CompletedProcess[str]:
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"t{abs(hash(test))}.test"
    path.write_text(test)
    argv = ["ipptool", "-t", "-T", "30"]
    for define in defines:
        argv += ["-d", define]
    return subprocess.run(
        [*argv, uri or server.ipp_uri(), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"HOME": str(work), "LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> PrinthostServer:
    srv = PrinthostServer(
        tmp_path_factory.mktemp("pin"), name="pin", tls=False, users=[user(*OLGA, "operator")]
    )
    srv.start()
    yield srv  # type: ignore[misc]
    srv.stop()


def _print(server: PrinthostServer, work: Path, title: str, pin: str) -> int:
    document = work / f"{title}.txt"
    work.mkdir(parents=True, exist_ok=True)
    document.write_text(f"{title}\n")
    done = ipptool(
        server, work, PRINT_WITH_PIN, f"title={title}", f"pin={pin}", f"filename={document}"
    )
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout + done.stderr
    return int(done.stdout.rsplit("job-id (integer) = ", 1)[1].split()[0])


def test_queue_advertises_pin_printing(server: PrinthostServer, tmp_path: Path) -> None:
    done = ipptool(server, tmp_path, GET_PRINTER)
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout


def test_job_waits_for_its_pin(server: PrinthostServer, tmp_path: Path) -> None:
    job_id = _print(server, tmp_path, "secret-report", "4711")
    held = wait_for_state(server, job_id, tmp_path / "q", {"pending-held"})[-1]
    assert "job-password-wait" in held["job-state-reasons"], held
    assert "PIN" in held["job-state-message"], held
    # No PIN: the server challenges (HTTP 401: an operator may release it), which ipptool
    # reports as the status below; a wrong PIN is refused outright.
    no_pin = ipptool(server, tmp_path, RELEASE % ("", "successful-ok"), f"job_id={job_id}")
    assert "status-code = client-error-not-authenticated" in no_pin.stdout, no_pin.stdout
    wrong = RELEASE % (PIN_ATTR, "client-error-not-authorized")
    done = ipptool(server, tmp_path, wrong, f"job_id={job_id}", "pin=0000")
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout
    assert not server.job_output(job_id), "nothing printed before the PIN"
    release = RELEASE % (PIN_ATTR, "successful-ok")
    done = ipptool(server, tmp_path, release, f"job_id={job_id}", "pin=4711")
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout
    data, _ = server.wait_for_job_output(job_id)
    assert data["job-name"] == "secret-report"


def test_operator_releases_without_the_pin(server: PrinthostServer, tmp_path: Path) -> None:
    job_id = _print(server, tmp_path, "for-the-operator", "1234")
    wait_for_state(server, job_id, tmp_path / "q", {"pending-held"})
    work = tmp_path / "olga"
    uri = server.ipp_uri().replace("ipp://", f"ipp://{OLGA[0]}:{OLGA[1]}@")
    done = ipptool(server, work, RELEASE % ("", "successful-ok"), f"job_id={job_id}", uri=uri)
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout
    server.wait_for_job_output(job_id)


def test_a_pin_that_is_not_digits_is_refused(server: PrinthostServer, tmp_path: Path) -> None:
    document = tmp_path / "x.txt"
    document.write_text("x\n")
    test = PRINT_WITH_PIN.replace("successful-ok", "client-error-bad-request").replace(
        "\tEXPECT job-id\n\tDISPLAY job-id\n", ""
    )
    done = ipptool(server, tmp_path, test, "title=bad-pin", "pin=12ab", f"filename={document}")
    assert done.returncode == 0 and "[PASS]" in done.stdout, done.stdout
