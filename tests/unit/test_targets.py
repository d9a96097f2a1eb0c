from __future__ import annotations

import pytest

from printhost.ipp.constants import Tag
from printhost.ipp.model import AttributeGroup
from printhost.server.targets import TargetError, job_id_from_uri, queue_from_uri, resolve_target


@pytest.mark.parametrize(
    ("uri", "queue"),
    [
        ("ipp://localhost/printers/myprinter", "myprinter"),
        ("ipp://printhost.example:8631/printers/myprinter/", "myprinter"),
        ("ipps://h/classes/pool", "pool"),
        ("ipp://localhost/", None),
        ("ipp://localhost/printers/", None),
        ("ipp://localhost", None),
        ("ipp://h/ipp/print", ""),
        ("ipp://h/printers/with%20space", "with space"),
    ],
)
def test_queue_from_uri_ignores_host_and_port(uri: str, queue: str | None) -> None:
    assert queue_from_uri(uri) == queue


@pytest.mark.parametrize("uri", ["ipp://h/printers/a/b", "ipp://h/nothing/here", "ipp://h/etc"])
def test_bad_printer_uri(uri: str) -> None:
    with pytest.raises(TargetError):
        queue_from_uri(uri)


def test_job_uri() -> None:
    assert job_id_from_uri("ipp://localhost/jobs/42") == 42
    for bad in ("ipp://h/jobs/", "ipp://h/jobs/x", "ipp://h/jobs/0", "ipp://h/printers/q"):
        with pytest.raises(TargetError):
            job_id_from_uri(bad)


def test_resolve_prefers_job_uri() -> None:
    group = AttributeGroup(Tag.OPERATION).add("job-uri", Tag.URI, "ipp://h/jobs/7")
    target = resolve_target(group)
    assert (target.job_id, target.has_job_uri) == (7, True)
    group = AttributeGroup(Tag.OPERATION).add("printer-uri", Tag.URI, "ipp://h/printers/q")
    group.add("job-id", Tag.INTEGER, 3)
    assert resolve_target(group).job_id == 3
    assert resolve_target(group).queue == "q"
