"""Modifying print jobs as print rules demand: grayscale, duplex, watermark.

Theory of operation
-------------------
A rule may force a job to grayscale or duplex, or stamp a watermark on it. Grayscale
and duplex are first asked of the printer with IPP job attributes
(:func:`forced_attributes`: ``print-color-mode=monochrome``, ``sides``); the caller
sends them. Because some printers ignore those attributes, PDF and PostScript jobs are
also converted: :func:`convert_to_grayscale` re-writes the document with Ghostscript's
``pdfwrite`` in DeviceGray, bounded like document analysis (SAFER, its own session and
empty temporary directory, rlimits, a wall-clock timeout that kills the process
group). :func:`stamp_watermark` draws a line of text over every page of a PDF with
pikepdf, isolated from the page's own graphics state and upright on the page as the
user sees it. Duplex needs no conversion: the document is the same, only ``sides``
changes.

All functions are pure, synchronous and file-in/file-out: they read a spooled file,
write a new one (fsynced) and never write the source; the server runs them in a worker
thread. A document that cannot be modified raises :class:`ModificationError`, whose
``reason`` is meant for the user; programming errors (bad arguments) raise
:class:`ValueError`.
"""

from printhost.modify.attributes import forced_attributes
from printhost.modify.errors import ModificationError
from printhost.modify.grayscale import ConversionLimits, convert_to_grayscale
from printhost.modify.watermark import WatermarkStyle, stamp_watermark

__all__ = [
    "ConversionLimits",
    "ModificationError",
    "WatermarkStyle",
    "convert_to_grayscale",
    "forced_attributes",
    "stamp_watermark",
]
