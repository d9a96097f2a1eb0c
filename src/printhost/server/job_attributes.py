"""The job object as IPP shows it (RFC 8011 §5.3, PWG 5100.7): description attributes
computed from the record, template attributes as the client supplied them.

Non-owners see a job without the attributes that say who printed what (job-name,
job-originating-user-name, document names): a print server is shared, its users' jobs
are not their neighbours' business (PWG 5100.11 job-privacy-attributes "default").
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from printhost.ipp.constants import Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import Attribute, AttributeGroup, Message
from printhost.jobs.hold import KEYWORDS as HOLD_KEYWORDS
from printhost.jobs.model import JobRecord
from printhost.judge.records import RecordError, analysis_of, decision_of

#: Returned by Get-Jobs when requested-attributes is absent (RFC 8011 §4.2.6.1).
GET_JOBS_DEFAULT = ("job-id", "job-uri")
PRIVATE = {
    "job-name",
    "job-originating-user-name",
    "document-name-supplied",
    "job-originating-host-name",
    "job-originating-user-uri",
}
DESCRIPTION_GROUPS = ("job-description", "job-status")


@dataclass(frozen=True, slots=True)
class JobView:
    job_uri: Callable[[int], str]
    printer_uri: Callable[[str], str]
    more_info: Callable[[int], str]
    up_time: int
    intervening: int = 0


def encode_template(attributes: Iterable[Attribute]) -> bytes:
    return encode_message(Message((2, 0), 0, 1, [AttributeGroup(Tag.JOB, list(attributes))]))


def decode_template(blob: bytes) -> list[Attribute]:
    if not blob:
        return []
    message, _ = decode_message(blob)
    group = message.group(Tag.JOB)
    return list(group.attributes) if group else []


def job_attributes(job: JobRecord, view: JobView, *, private: bool) -> list[Attribute]:
    attrs = _description(job, view) + decode_template(job.template)
    if private:
        attrs = [a for a in attrs if a.name not in PRIVATE]
    return attrs


def select_job_attributes(
    attrs: list[Attribute], requested: list[str] | None, default: Iterable[str] | None = None
) -> list[Attribute]:
    """requested-attributes for jobs: names, or the groups all / job-template /
    job-description / job-status. ``None`` means the operation's default."""
    if requested is None:
        if default is None:
            return attrs
        requested = list(default)
    if "all" in requested:
        return attrs
    wanted = set(requested)
    descriptive = wanted & set(DESCRIPTION_GROUPS)
    template = "job-template" in wanted
    description_names = _DESCRIPTION_NAMES
    return [
        a
        for a in attrs
        if a.name in wanted
        or (descriptive and a.name in description_names)
        or (template and a.name not in description_names)
    ]


def _description(job: JobRecord, view: JobView) -> list[Attribute]:
    a = Attribute.of
    attrs = [
        a("job-id", Tag.INTEGER, job.id),
        a("job-uri", Tag.URI, view.job_uri(job.id)),
        a("job-uuid", Tag.URI, job.uuid),
        a("job-printer-uri", Tag.URI, view.printer_uri(job.queue)),
        a("job-more-info", Tag.URI, view.more_info(job.id)),
        a("job-name", Tag.NAME, job.name or "untitled"),
        a("job-originating-user-name", Tag.NAME, job.owner),
        a("job-state", Tag.ENUM, int(job.state)),
        a("job-state-reasons", Tag.KEYWORD, *job.state_reasons),
        a("job-printer-up-time", Tag.INTEGER, view.up_time),
        a("number-of-documents", Tag.INTEGER, job.document_count),
        a("job-k-octets", Tag.INTEGER, job.k_octets),
        a("job-impressions-completed", Tag.INTEGER, job.impressions_completed),
        a("job-priority", Tag.INTEGER, job.priority),
        _hold_until(job.hold_until),
        a("time-at-creation", Tag.INTEGER, int(job.created_at)),
        _time("time-at-processing", job.processing_at),
        _time("time-at-completed", job.completed_at),
        a("date-time-at-creation", Tag.DATE_TIME, _datetime(job.created_at)),
        _datetime_attr("date-time-at-processing", job.processing_at),
        _datetime_attr("date-time-at-completed", job.completed_at),
    ]
    if job.state_message:
        attrs.append(a("job-state-message", Tag.TEXT, job.state_message[:1023]))
    if job.originating_host:
        attrs.append(a("job-originating-host-name", Tag.NAME, job.originating_host[:255]))
    if job.printer:
        attrs.append(a("output-device-assigned", Tag.NAME, job.printer))
    if job.state.value <= 4:
        attrs.append(a("number-of-intervening-jobs", Tag.INTEGER, view.intervening))
    attrs.extend(_documents(job))
    attrs.extend(_size(job))
    return attrs


def _size(job: JobRecord) -> list[Attribute]:
    """What analysis and the judge found (accounting on): job-pages (PWG 5100.7 §5.3.x,
    one copy), job-impressions and job-media-sheets (RFC 8011 §5.3.17-18, all copies)."""
    try:
        analysis = analysis_of(job)
        decision = decision_of(job)
    except RecordError:
        return []
    attrs = []
    if analysis is not None and not analysis.error:
        attrs.append(Attribute.of("job-pages", Tag.INTEGER, analysis.pages))
    if decision is not None:
        attrs.append(Attribute.of("job-impressions", Tag.INTEGER, decision.impressions))
        attrs.append(Attribute.of("job-media-sheets", Tag.INTEGER, decision.sheets))
    return attrs


def _documents(job: JobRecord) -> list[Attribute]:
    if not job.documents:
        return []
    a = Attribute.of
    formats = [d.declared_format for d in job.documents]
    detected = [d.format for d in job.documents]
    names = [d.name for d in job.documents if d.name]
    attrs = [
        a("document-format-supplied", Tag.MIME_MEDIA_TYPE, formats[0]),
        a("document-format-detected", Tag.MIME_MEDIA_TYPE, detected[0]),
    ]
    if names:
        attrs.append(a("document-name-supplied", Tag.NAME, names[0][:255]))
    return attrs


def _hold_until(value: str | None) -> Attribute:
    """A keyword, or a time of day ("23:00"), which is no keyword: CUPS sends it as a name."""
    value = value or "no-hold"
    tag = Tag.KEYWORD if value in HOLD_KEYWORDS else Tag.NAME
    return Attribute.of("job-hold-until", tag, value)


def _time(name: str, value: float | None) -> Attribute:
    if value is None:
        return Attribute.of(name, Tag.NO_VALUE, None)
    return Attribute.of(name, Tag.INTEGER, int(value))


def _datetime(value: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


def _datetime_attr(name: str, value: float | None) -> Attribute:
    if value is None:
        return Attribute.of(name, Tag.NO_VALUE, None)
    return Attribute.of(name, Tag.DATE_TIME, _datetime(value))


_DESCRIPTION_NAMES = frozenset(
    {
        "job-id",
        "job-uri",
        "job-uuid",
        "job-printer-uri",
        "job-more-info",
        "job-name",
        "job-originating-user-name",
        "job-state",
        "job-state-reasons",
        "job-state-message",
        "job-printer-up-time",
        "number-of-documents",
        "job-k-octets",
        "job-impressions-completed",
        "job-pages",
        "job-impressions",
        "job-media-sheets",
        "time-at-creation",
        "time-at-processing",
        "time-at-completed",
        "date-time-at-creation",
        "date-time-at-processing",
        "date-time-at-completed",
        "job-originating-host-name",
        "output-device-assigned",
        "number-of-intervening-jobs",
        "document-format-supplied",
        "document-format-detected",
        "document-name-supplied",
    }
)
