"""Pick the analyser from the document's own bytes, never from the declared type."""

from __future__ import annotations

from pathlib import Path

from printhost.analysis.model import Analysis, AnalysisError
from printhost.formats import HEAD_BYTES, detect_format


def analyze_file(path: Path) -> Analysis:
    """Analyse the document at ``path`` in this process (unbounded: see
    :func:`printhost.analysis.analyze_bounded`). Raises :class:`AnalysisError`."""
    with path.open("rb") as stream:
        head = stream.read(HEAD_BYTES)
        mime = detect_format(head)
        if mime is None:
            raise AnalysisError("empty document" if not head else "unrecognised document format")
        stream.seek(0)
        if mime == "application/vnd.hp-pcl":
            from printhost.analysis.pcl import analyze_pcl

            return analyze_pcl(stream)
        if mime == "application/vnd.hp-pclxl":
            from printhost.analysis.pclxl import analyze_pclxl

            return analyze_pclxl(stream)
        if mime == "text/plain":
            from printhost.analysis.text import analyze_text

            return analyze_text(stream)
        if mime == "image/pwg-raster":
            from printhost.analysis.raster import analyze_pwg

            return analyze_pwg(stream)
        if mime == "image/urf":
            from printhost.analysis.raster import analyze_urf

            return analyze_urf(stream)
        if mime in ("image/jpeg", "image/png"):
            from printhost.analysis.image import analyze_image

            return analyze_image(stream, mime)
    if mime == "application/pdf":
        from printhost.analysis.pdf import analyze_pdf

        return analyze_pdf(path)
    if mime == "application/postscript":
        from printhost.analysis.postscript import analyze_postscript

        return analyze_postscript(path)
    raise AnalysisError(f"{mime} analysis is not implemented yet")
