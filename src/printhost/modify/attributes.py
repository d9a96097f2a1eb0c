"""The IPP job attributes a print rule forces on a job.

Duplex and grayscale are first asked of the printer with IPP attributes; the document is
also converted where that is possible (see :mod:`printhost.modify`), because some
printers ignore the attributes.
"""

from __future__ import annotations

LONG_EDGE = "two-sided-long-edge"
SHORT_EDGE = "two-sided-short-edge"
TWO_SIDED = (LONG_EDGE, SHORT_EDGE)


def forced_attributes(grayscale: bool, duplex: bool, current_sides: str | None) -> dict[str, str]:
    """The job attributes to send so that the job prints as the rules demand.

    ``grayscale`` gives ``print-color-mode=monochrome``. ``duplex`` gives
    ``sides=two-sided-long-edge``, unless the job already asked for a two-sided value
    (``current_sides``), which is kept: a job bound on the short edge stays so. Without
    either rule the result is empty: the job's own attributes stand.
    """
    forced: dict[str, str] = {}
    if grayscale:
        forced["print-color-mode"] = "monochrome"
    if duplex:
        forced["sides"] = current_sides if current_sides in TWO_SIDED else LONG_EDGE
    return forced


__all__ = ["forced_attributes"]
