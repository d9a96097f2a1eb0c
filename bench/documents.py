"""The documents every server gets: 1-, 10- and 100-page PDFs and a 10-page PostScript file.

Pages come from ``support.documents.postscript_program`` (the test suite's sample page:
a border, text, colour patches, a gray ramp), turned into PDF by Ghostscript's pdfwrite.
They are made once per bench run in its work directory.

Every submitted copy gets ``%bench-seq N`` appended: a PDF comment after ``%%EOF`` (and a
PostScript comment after ``%%EOF``), which no format sniffer looks at and which lets the
sink tell jobs apart (lost and duplicated jobs, ``bench.sink``). Both servers get exactly
the same bytes for job N.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.documents import PageSpec, postscript_program

GS_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Document:
    name: str  # "pdf-1", "pdf-10", "pdf-100", "ps-10"
    format: str  # the document-format sent
    pages: int
    data: bytes

    def copy(self, number: int) -> bytes:
        """The bytes of job ``number``: the document plus its sequence comment."""
        return self.data + b"\n%bench-seq " + str(number).encode() + b"\n"


def make_documents(directory: Path) -> dict[str, Document]:
    directory.mkdir(parents=True, exist_ok=True)
    documents = [_pdf(directory, pages) for pages in (1, 10, 100)]
    ps = postscript_program(PageSpec("a4", 10, title="printhost bench")).encode("ascii")
    documents.append(Document("ps-10", "application/postscript", 10, ps))
    return {doc.name: doc for doc in documents}


def _pdf(directory: Path, pages: int) -> Document:
    target = directory / f"bench-{pages}.pdf"
    program = postscript_program(PageSpec("a4", pages, title="printhost bench"))
    command = [
        "gs",
        *("-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite"),
        f"-sOutputFile={target}",
        "-",
    ]
    subprocess.run(command, input=program.encode("ascii"), check=True, timeout=GS_TIMEOUT)
    return Document(f"pdf-{pages}", "application/pdf", pages, target.read_bytes())
