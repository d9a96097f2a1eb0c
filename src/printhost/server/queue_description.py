"""What a printhost queue is, as its printer attributes see it: the static ``QueueDescription``
(configuration) and the per-request ``QueueStatus`` (state and clocks), with the printer-alert
and printer-supply values a status carries. printer_attributes.py turns both into attributes.

A description is checked when it is built (raises ValueError), so configuration errors are
found at start-up, not by a client: every value that becomes an attribute must be
syntactically valid (RFC 8011 §5.1) and every default one of its supported values.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from printhost import __version__
from printhost.ipp.constants import Operation, PrinterState
from printhost.server import media as media_mod
from printhost.server.media import DEFAULT_MEDIA

#: application/vnd.cups-pdf is deliberately absent: with it CUPS's "everywhere" PPD hands PDF
#: over unfiltered, but CUPS's ipp backend then sends only the PPD-mapped options unless the
#: server also reports cups-version, so number-up, page-ranges and fit-to-page would be lost.
DEFAULT_DOCUMENT_FORMATS: tuple[str, ...] = (
    "application/pdf",
    "application/postscript",
    "application/vnd.hp-PCL",
    "image/pwg-raster",
    "image/urf",
    "image/jpeg",
    "text/plain",
    "application/octet-stream",
)
DEFAULT_JOB_HOLD_UNTIL: tuple[str, ...] = (
    "no-hold", "indefinite", "day-time", "evening", "night", "second-shift", "third-shift",
    "weekend",
)  # fmt: skip
PRINT_COLOR_MODES_COLOR = ("auto", "color", "monochrome")
PRINT_COLOR_MODES_MONO = ("auto", "monochrome")

KEYWORD_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,254}$")  # RFC 8011 §5.1.4 ("1.1" is one)
_UUID_RE = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")
_MIME_RE = re.compile(r"^[-a-zA-Z0-9!#$&.+^_]{1,127}/[-a-zA-Z0-9!#$&.+^_]{1,127}$")
_ANY_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_IDENTIFY_ACTIONS = frozenset({"display", "flash", "sound", "speak"})
_TIMEOUT_ACTIONS = frozenset({"abort-job", "hold-job", "process-job"})
SHORT_TEXT = 127  # octets, PWG 5100.12 printer-info, -location, -make-and-model, -name


@dataclass(frozen=True, slots=True)
class Alert:
    """One printer-alert value (PWG 5100.9 §6.x, "code=...;severity=...") and its text."""

    value: str
    description: str


@dataclass(frozen=True, slots=True)
class Supply:
    """One printer-supply value (PWG 5100.13, Printer MIB keywords) and its description."""

    value: str
    description: str


#: A healthy queue still reports one alert: IPP/2.2 (PWG 5100.12 §6.4) requires printer-alert.
NO_ALERT = Alert("code=other", "No alerts")
#: A virtual queue has no consumables; Printer MIB level -3 means "some remains, amount unknown".
#: PWG 5100.14 requires printer-supply, so this honest placeholder is reported.
VIRTUAL_SUPPLY = Supply(
    "index=1;class=other;type=other;unit=percent;maxcapacity=-2;level=-3;",
    "Virtual queue: supplies belong to the destination printer",
)


@dataclass(frozen=True)
class QueueDescription:
    """The static description of one queue; checked when built (raises ValueError)."""

    name: str
    more_info_uri: str  # http(s) status page of the queue
    uri_supported: tuple[str, ...]  # ipp://host:port/printers/NAME, ipps://...
    uri_security: tuple[str, ...]  # "none", "tls": one per URI
    uri_authentication: tuple[str, ...]  # "requesting-user-name", "basic": one per URI
    uuid: str  # urn:uuid:...
    operations: tuple[int, ...]  # operations-supported, as the dispatcher implements them
    printer_icons: tuple[str, ...]  # http(s) URLs of PNG icons
    info: str = ""
    location: str = ""
    make_and_model: str = "printhost virtual queue"
    organization: str = ""
    organizational_unit: str = ""
    color: bool = True
    duplex: bool = True
    document_formats: tuple[str, ...] = DEFAULT_DOCUMENT_FORMATS
    document_format_default: str = "application/octet-stream"
    media: tuple[str, ...] = DEFAULT_MEDIA
    media_default: str = "iso_a4_210x297mm"
    media_ready: tuple[str, ...] = ("iso_a4_210x297mm", "na_letter_8.5x11in")
    borderless: bool = False
    resolutions: tuple[int, ...] = (300, 600)  # dpi, square
    resolution_default: int = 300
    pages_per_minute: int = 20
    pages_per_minute_color: int | None = None  # defaults to pages_per_minute when color
    max_copies: int = 999
    number_up: tuple[int, ...] = (1, 2, 4, 6, 9, 16)
    job_priority_default: int = 50
    job_hold_until: tuple[str, ...] = DEFAULT_JOB_HOLD_UNTIL
    job_settable: tuple[str, ...] = ("job-hold-until",)
    printer_settable: tuple[str, ...] = ("printer-message-from-operator",)
    identify_actions: tuple[str, ...] = ("display",)
    multiple_operation_time_out: int = 300  # seconds between Create-Job and the last document
    multiple_operation_time_out_action: str = "process-job"
    ippget_event_life: int = 60  # seconds an event stays retrievable (RFC 3996 §5.1)
    notify_lease_duration_default: int = 86400
    notify_lease_duration_max: int = 67108863  # 2**26 - 1, RFC 3995 §5.3.3.1
    notify_max_events: int = 100
    job_password_max_length: int = 8  # PIN printing (PWG 5100.11); 0 = not supported
    document_password_max_length: int = 0  # encrypted PDFs are not opened by printhost
    job_k_octets_max: int | None = None  # spool limit per job, when configured
    reference_uri_schemes: tuple[str, ...] = ()  # only with Print-URI/Send-URI
    geo_location: str | None = None  # geo: URI, else "unknown"
    dns_sd_name: str | None = None  # when the queue is advertised with DNS-SD
    device_uri: str | None = None  # CUPS device-uri, without credentials
    supply_info_uri: str | None = None  # defaults to more_info_uri
    software_version: str = __version__

    def __post_init__(self) -> None:
        problems = list(_description_problems(self))
        if problems:
            raise ValueError(f"queue {self.name!r}: " + "; ".join(problems))

    @property
    def print_color_modes(self) -> tuple[str, ...]:
        return PRINT_COLOR_MODES_COLOR if self.color else PRINT_COLOR_MODES_MONO

    @property
    def sides(self) -> tuple[str, ...]:
        if self.duplex:
            return ("one-sided", "two-sided-long-edge", "two-sided-short-edge")
        return ("one-sided",)


@dataclass(frozen=True)
class QueueStatus:
    """The dynamic part. Times are printer-up-time seconds (RFC 8011 §5.4.29); datetimes are
    aware. Text coming from destination printers is cleaned here, never trusted."""

    state: PrinterState
    up_time: int
    state_change_time: int
    state_change_datetime: datetime.datetime
    config_change_time: int
    config_change_datetime: datetime.datetime
    current_time: datetime.datetime
    state_reasons: tuple[str, ...] = ("none",)
    state_message: str = ""
    message_from_operator: str = ""
    is_accepting_jobs: bool = True
    queued_job_count: int = 0
    alerts: tuple[Alert, ...] = ()
    supplies: tuple[Supply, ...] = (VIRTUAL_SUPPLY,)

    def __post_init__(self) -> None:
        for when in (self.state_change_datetime, self.config_change_datetime, self.current_time):
            if when.tzinfo is None:
                raise ValueError("QueueStatus datetimes must be timezone-aware")


# ---------------------------------------------------------------------------------------------
# QueueDescription checks: configuration errors are found at start-up, not by a client


def _description_problems(desc: QueueDescription) -> Iterable[str]:
    yield from _text_problems(desc)
    yield from _uri_problems(desc)
    yield from _format_problems(desc)
    yield from _media_problems(desc)
    yield from _number_problems(desc)
    for label, values in (
        ("job_hold_until", desc.job_hold_until),
        ("job_settable", desc.job_settable),
        ("printer_settable", desc.printer_settable),
        ("identify_actions", desc.identify_actions),
    ):
        if not values or not all(KEYWORD_RE.match(v) for v in values):
            yield f"{label} needs one or more valid keywords"
    if "no-hold" not in desc.job_hold_until:
        yield "job_hold_until must include no-hold (the default)"
    if not set(desc.identify_actions) <= _IDENTIFY_ACTIONS:
        yield f"identify_actions must be among {sorted(_IDENTIFY_ACTIONS)}"
    if desc.multiple_operation_time_out_action not in _TIMEOUT_ACTIONS:
        yield f"multiple_operation_time_out_action must be one of {sorted(_TIMEOUT_ACTIONS)}"


def _text_problems(desc: QueueDescription) -> Iterable[str]:
    if not desc.name:
        yield "name is empty"
    for label, text in (
        ("name", desc.name),
        ("info", desc.info),
        ("location", desc.location),
        ("make_and_model", desc.make_and_model),
        ("organization", desc.organization),
        ("organizational_unit", desc.organizational_unit),
        ("dns_sd_name", desc.dns_sd_name or ""),
    ):
        limit = 63 if label == "dns_sd_name" else SHORT_TEXT
        if len(text.encode("utf-8")) > limit:
            yield f"{label} is longer than {limit} octets"
        if _ANY_CONTROL_RE.search(text):
            yield f"{label} contains control characters"


def _uri_problems(desc: QueueDescription) -> Iterable[str]:
    counts = {len(desc.uri_supported), len(desc.uri_security), len(desc.uri_authentication)}
    if not desc.uri_supported or len(counts) != 1:
        yield "uri_supported, uri_security and uri_authentication need one value per URI"
    if not all(u.startswith(("ipp://", "ipps://")) for u in desc.uri_supported):
        yield "uri_supported must be ipp:// or ipps:// URIs"
    if not set(desc.uri_security) <= {"none", "tls"}:
        yield "uri_security values are none or tls"
    if not all(KEYWORD_RE.match(a) for a in desc.uri_authentication):
        yield "uri_authentication values must be keywords"
    if not desc.more_info_uri.startswith(("http://", "https://")):
        yield "more_info_uri must be an http(s) URL"
    if not desc.printer_icons or not all(
        i.startswith(("http://", "https://")) for i in desc.printer_icons
    ):
        yield "printer_icons needs one or more http(s) URLs"
    if not _UUID_RE.match(desc.uuid):
        yield "uuid must be urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
    if desc.geo_location is not None and not desc.geo_location.startswith("geo:"):
        yield "geo_location must be a geo: URI"
    if not all(re.match(r"^[a-z][a-z0-9+.-]*$", s) for s in desc.reference_uri_schemes):
        yield "reference_uri_schemes must be lower-case URI schemes"


def _format_problems(desc: QueueDescription) -> Iterable[str]:
    if not desc.document_formats or not all(_MIME_RE.match(f) for f in desc.document_formats):
        yield "document_formats needs one or more MIME media types"
    if desc.document_format_default not in desc.document_formats:
        yield "document_format_default must be one of document_formats"
    if not desc.resolutions or desc.resolution_default not in desc.resolutions:
        yield "resolution_default must be one of resolutions"
    if any(dpi <= 0 for dpi in desc.resolutions):
        yield "resolutions must be positive"


def _media_problems(desc: QueueDescription) -> Iterable[str]:
    bad = [m for m in desc.media if not media_mod.is_media_name(m)]
    if not desc.media or bad:
        yield f"media needs PWG 5101.1 size names (bad: {bad})"
    if desc.media_default not in desc.media:
        yield "media_default must be one of media"
    if not desc.media_ready or not set(desc.media_ready) <= set(desc.media):
        yield "media_ready must be a non-empty subset of media"


def _number_problems(desc: QueueDescription) -> Iterable[str]:
    checks = (
        (not desc.operations or min(desc.operations) < 1, "operations must be positive enums"),
        (Operation.GET_PRINTER_ATTRIBUTES not in desc.operations, "operations lack GPA"),
        (1 not in desc.number_up or min(desc.number_up) < 1, "number_up must include 1"),
        (desc.max_copies < 1, "max_copies must be at least 1"),
        (not 1 <= desc.job_priority_default <= 100, "job_priority_default is 1..100"),
        (desc.pages_per_minute < 0, "pages_per_minute must not be negative"),
        (desc.multiple_operation_time_out < 1, "multiple_operation_time_out must be positive"),
        (desc.ippget_event_life < 15, "ippget_event_life must be at least 15 (RFC 3996 §5.1)"),
        (desc.notify_max_events < 2, "notify_max_events must be at least 2"),
        (
            not 0 <= desc.notify_lease_duration_default <= desc.notify_lease_duration_max,
            "notify_lease_duration_default must be within 0..notify_lease_duration_max",
        ),
        (not 0 <= desc.job_password_max_length <= 255, "job_password_max_length is 0..255"),
        (not 0 <= desc.document_password_max_length <= 1023, "document_password is 0..1023"),
    )
    yield from (message for failed, message in checks if failed)
