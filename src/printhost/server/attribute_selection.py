"""The requested-attributes selection of Get-Printer-Attributes and CUPS-Get-Printers
(RFC 8011 §4.2.5.1): the group names ("all", "printer-description", "job-template") and
which printer attributes belong to which group."""

from __future__ import annotations

from printhost.ipp.model import Attribute

#: Job Template attributes (RFC 8011 §5.2, PWG 5100.x): their -default/-supported/-ready/
#: -database printer attributes form the "job-template" group; any "media-*" too.
JOB_TEMPLATE_BASES = frozenset({
    "copies", "cover-back", "cover-front", "feed-orientation", "finishings", "finishings-col",
    "font-name-requested", "font-size-requested", "imposition-template", "insert-sheet",
    "job-account-id", "job-accounting-user-id", "job-copies", "job-cover-back",
    "job-cover-front", "job-delay-output-until", "job-delay-output-until-time",
    "job-error-action", "job-error-sheet", "job-finishings", "job-finishings-col",
    "job-hold-until", "job-hold-until-time", "job-message-to-operator", "job-pages-per-set",
    "job-phone-number", "job-priority", "job-recipient-name", "job-retain-until",
    "job-retain-until-interval", "job-sheets", "job-sheets-col", "media", "media-col",
    "multiple-document-handling", "number-up", "orientation-requested", "output-bin",
    "overrides", "page-delivery", "page-ranges", "pages-per-subset",
    "presentation-direction-number-up", "print-color-mode", "print-content-optimize",
    "print-quality", "print-rendering-intent", "print-scaling", "printer-resolution",
    "proof-print", "separator-sheets", "sheet-collate", "sides", "x-image-position",
    "x-image-shift", "x-side1-image-shift", "x-side2-image-shift", "y-image-position",
    "y-image-shift", "y-side1-image-shift", "y-side2-image-shift",
})  # fmt: skip
_TEMPLATE_SUFFIXES = ("-default", "-supported", "-ready", "-database")
#: "none" selects nothing (get-printer-attributes-suite.test asks for it).
GROUP_NAMES = frozenset({"all", "printer-description", "job-template", "none"})
#: Large and returned only when named (IPP-CLIENTS.md §4.3, PWG 5100.7 §6.4.1).
ONLY_WHEN_NAMED = frozenset({"media-col-database"})


def is_job_template(name: str) -> bool:
    for suffix in _TEMPLATE_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            return base in JOB_TEMPLATE_BASES or base.startswith("media-")
    return False


def select_attributes(
    attrs: list[Attribute], requested: list[str] | None
) -> tuple[list[Attribute], list[str]]:
    """The attributes to return and the requested names that are neither a group nor an
    attribute of ``attrs`` (the caller may list those as unsupported). No requested-attributes
    means "all"; media-col-database comes only when named."""
    names = requested or ["all"]
    groups = {n for n in names if n in GROUP_NAMES}
    named = {n for n in names if n not in GROUP_NAMES}

    def wanted(name: str) -> bool:
        if name in named:
            return True
        if name in ONLY_WHEN_NAMED:
            return False
        if "all" in groups:
            return True
        return ("job-template" if is_job_template(name) else "printer-description") in groups

    present = {attr.name for attr in attrs}
    unknown = [n for n in dict.fromkeys(names) if n not in GROUP_NAMES and n not in present]
    return [attr for attr in attrs if wanted(attr.name)], unknown
