"""Document analysis (the ``analyse`` stage): format, pages, colour pages and page sizes
of a spooled document, and what printing it costs (:func:`charge`).

Use :func:`analyze_bounded` on untrusted documents: it runs :func:`analyze_file` in a
worker subprocess with memory, CPU and wall-clock limits.
"""

from printhost.analysis.model import SIDES, Analysis, AnalysisError, Charge, charge
from printhost.analysis.sandbox import Limits, analyze_bounded
from printhost.analysis.sniff import analyze_file

__all__ = [
    "SIDES",
    "Analysis",
    "AnalysisError",
    "Charge",
    "Limits",
    "analyze_bounded",
    "analyze_file",
    "charge",
]
