"""Sample documents for the ipptool conformance suites.

Theory of operation
-------------------
Debian's cups-ipp-utils ships ipptool and its ``.test`` files in
``/usr/share/cups/ipptool`` but none of the documents they print, and ipptool
aborts a whole suite at the first missing ``FILE``. We therefore build a
*suite directory*: copies of every ``.test`` file plus every document they
name, generated with Ghostscript from one small PostScript program.

ipptool resolves ``INCLUDE`` and ``FILE`` relative to the directory of the
test file, and ``-f FILE`` relative to its working directory, so ipptool is
run with ``cwd`` = the suite directory. A few tests name ``../data/...``;
those land in a ``data`` directory next to the suite directory.

What to generate is not hard-coded: :func:`find_referenced_files` scans the
``FILE`` and ``SKIP-IF-MISSING`` lines of the test files and
:func:`generate_document` knows how to make each kind by its name (PDF, PS,
JPEG, PWG raster as ``pwg-raster-samples-<res>dpi/<type>/<source>-<type>-<res>dpi.pwg``).
An unknown name is an error, so a new CUPS release that adds a document is
noticed rather than silently skipped.

Generation takes about a second on two cores and is cached: the directory
name carries a hash of this module, the Ghostscript version and the test
files, and :func:`ensure_sample_documents` builds it once under an exclusive
``flock`` so that pytest-xdist workers (and later runs) share it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUITE_SOURCE_DIR = Path("/usr/share/cups/ipptool")
SUITE_DIR_NAME = "ipptool"

#: Pages in every ``document-*`` sample; ``onepage-*`` and the rest have one.
DOCUMENT_PAGES = 2

#: Page sizes in PostScript points (1/72 in), as Ghostscript names them.
PAGE_SIZES: dict[str, tuple[int, int]] = {
    "a4": (595, 842),
    "letter": (612, 792),
    "4x6": (288, 432),
}

#: PWG 5102.4 raster types -> (cupsColorSpace, cupsBitsPerColor) for gs's
#: ``pwgraster`` device (CUPS raster.h: 3 = K, 6 = CMYK, 18 = sGray, 19 = sRGB).
RASTER_TYPES: dict[str, tuple[int, int]] = {
    "black-1": (3, 1),
    "cmyk-8": (6, 8),
    "sgray-8": (18, 8),
    "srgb-8": (19, 8),
    "srgb-16": (19, 16),
}

#: Documents always generated for ``ipptool -f`` and for other tests, whether
#: or not a suite names them.
EXTRA_DOCUMENTS = (
    "testfile.pdf",
    "testfile.ps",
    "testfile.jpg",
    "testfile.txt",
    "testfile.pwg",
    "onepage-a4.pdf",
    "onepage-letter.pdf",
)

_FILE_LINE = re.compile(r"^\s*(?:FILE|SKIP-IF-MISSING)\s+(\"[^\"]+\"|\S+)", re.MULTILINE)
_RASTER_NAME = re.compile(
    r"^pwg-raster-samples-(?P<res>\d+)dpi/(?P<type>[a-z]+-\d+)/"
    r"(?P<source>.+)-(?P=type)-(?P=res)dpi\.pwg$"
)
_GS_TIMEOUT = 120.0


class DocumentError(RuntimeError):
    """A sample document could not be named or generated."""


@dataclass(frozen=True)
class PageSpec:
    """What a generated document looks like."""

    size: str
    pages: int
    gray: bool = False
    title: str = "printhost test page"


def find_referenced_files(test_files: Iterable[Path]) -> set[str]:
    """Return the document paths (relative to the test files) the suites print.

    Variables such as ``$filename`` are supplied on the command line with
    ``-f`` and are left out.
    """
    names: set[str] = set()
    for test_file in test_files:
        for match in _FILE_LINE.finditer(test_file.read_text(encoding="utf-8")):
            name = match.group(1).strip('"')
            if not name.startswith("$") and not name.startswith("<"):
                names.add(name)
    return names


def page_spec_for(name: str) -> PageSpec:
    """Infer page size, page count and colour from a document's base name."""
    stem = name.rsplit("/", 1)[-1]
    if stem.startswith(("color.jpg", "gray.jpg")):
        return PageSpec("4x6", 1, gray=stem.startswith("gray"), title="printhost photo")
    size = "a4" if "a4" in stem else "letter"
    pages = DOCUMENT_PAGES if stem.startswith("document") else 1
    return PageSpec(size, pages)


def postscript_program(spec: PageSpec) -> str:
    """A DSC-conforming PostScript document drawn from ``spec``.

    Each page has a border, a title, a page number, three colour patches and
    a ten-step gray ramp (all gray for ``spec.gray``), so rasterising it
    exercises every colour space without being slow to render.
    """
    width, height = PAGE_SIZES[spec.size]
    scale = min(width, height) / 612
    color_ops = (
        ["0.2 setgray", "0.5 setgray", "0.8 setgray"]
        if spec.gray
        else ["1 0 0 setrgbcolor", "0 0.6 0 setrgbcolor", "0 0 1 setrgbcolor"]
    )
    header = [
        "%!PS-Adobe-3.0",
        f"%%BoundingBox: 0 0 {width} {height}",
        f"%%Pages: {spec.pages}",
        f"%%Title: ({spec.title})",
        "%%EndComments",
        "%%BeginSetup",
        f"<< /PageSize [{width} {height}] >> setpagedevice",
        "%%EndSetup",
        f"/W {width} def /H {height} def /S {scale:.4f} def",
        "/drawpage {",
        "  /n exch def gsave",
        "  0 setgray 2 setlinewidth 18 18 W 36 sub H 36 sub rectstroke",
        "  /Helvetica findfont 24 S mul scalefont setfont",
        f"  36 H 72 S mul sub moveto ({spec.title}) show",
        f"  36 H 104 S mul sub moveto (page ) show n 3 string cvs show ( of {spec.pages}) show",
        f"  {color_ops[0]} 36 H 2 div 100 S mul dup rectfill",
        f"  {color_ops[1]} 36 110 S mul add H 2 div 100 S mul dup rectfill",
        f"  {color_ops[2]} 36 220 S mul add H 2 div 100 S mul dup rectfill",
        "  0 1 9 { dup 9 div setgray 40 S mul mul 36 add H 3 div 40 S mul dup rectfill } for",
        "  grestore showpage",
        "} def",
    ]
    pages = [f"%%Page: {n} {n}\n{n} drawpage" for n in range(1, spec.pages + 1)]
    return "\n".join([*header, *pages, "%%EOF", ""])


def _ghostscript(device: str, output: Path, program: str, *args: str) -> None:
    command = [
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        f"-sDEVICE={device}",
        *args,
        f"-sOutputFile={output}",
        "-",
    ]
    result = subprocess.run(
        command,
        input=program.encode(),
        capture_output=True,
        timeout=_GS_TIMEOUT,
        check=False,
    )
    if result.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        raise DocumentError(
            f"{' '.join(command)} failed ({result.returncode}): {result.stderr.decode()[-2000:]}"
        )


def generate_document(name: str, suite_dir: Path) -> Path:
    """Generate the document ``name`` (relative to ``suite_dir``) and return its path."""
    target = (suite_dir / name).resolve()
    if suite_dir.parent.resolve() not in target.parents:
        raise DocumentError(f"refusing to write {name!r} outside {suite_dir.parent}")
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = target.name
    if raster := _RASTER_NAME.match(name):
        _generate_raster(target, raster["source"], int(raster["res"]), raster["type"])
    elif stem.endswith(".pdf"):
        _ghostscript("pdfwrite", target, postscript_program(page_spec_for(stem)))
    elif stem.endswith(".ps"):
        target.write_text(postscript_program(page_spec_for(stem)), encoding="ascii")
    elif stem.endswith(".jpg"):
        spec = page_spec_for("gray.jpg" if "gray" in stem else "color.jpg")
        device = "jpeggray" if spec.gray else "jpeg"
        _ghostscript(device, target, postscript_program(spec), "-r75", "-dJPEGQ=80")
    elif name.startswith("pwg-raster-samples"):
        raise DocumentError(f"unrecognised PWG raster sample name {name!r}")
    elif stem.endswith(".pwg"):
        _generate_raster(target, "onepage-letter", 300, "sgray-8")
    elif stem.endswith(".txt"):
        target.write_text("printhost test page\n\nplain text, one page.\n", encoding="ascii")
    else:
        raise DocumentError(f"do not know how to generate {name!r}")
    return target


def _generate_raster(target: Path, source: str, resolution: int, raster_type: str) -> None:
    if raster_type not in RASTER_TYPES:
        raise DocumentError(f"unknown PWG raster type {raster_type!r} for {target.name}")
    color_space, bits = RASTER_TYPES[raster_type]
    _ghostscript(
        "pwgraster",
        target,
        postscript_program(page_spec_for(source)),
        f"-r{resolution}",
        f"-dcupsColorSpace={color_space}",
        f"-dcupsBitsPerColor={bits}",
    )


def suite_test_files(source_dir: Path = SUITE_SOURCE_DIR) -> list[Path]:
    """The ``.test`` files shipped by cups-ipp-utils, sorted by name."""
    files = sorted(source_dir.glob("*.test"))
    if not files:
        raise DocumentError(f"no ipptool .test files in {source_dir} (install cups-ipp-utils)")
    return files


def build_suite_dir(dest: Path, source_dir: Path = SUITE_SOURCE_DIR) -> Path:
    """Copy the test files into ``dest/ipptool`` and generate every document.

    Returns the suite directory (``dest/ipptool``).
    """
    suite_dir = dest / SUITE_DIR_NAME
    suite_dir.mkdir(parents=True, exist_ok=True)
    test_files = suite_test_files(source_dir)
    for test_file in test_files:
        shutil.copy2(test_file, suite_dir / test_file.name)
    names = sorted(find_referenced_files(test_files) | set(EXTRA_DOCUMENTS))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        # list() re-raises the first generation error here.
        list(pool.map(lambda name: generate_document(name, suite_dir), names))
    return suite_dir


def cache_key(source_dir: Path = SUITE_SOURCE_DIR) -> str:
    """Hash of everything the generated directory depends on."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    gs_version = subprocess.run(
        ["gs", "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    digest.update(gs_version.encode())
    for test_file in suite_test_files(source_dir):
        digest.update(test_file.name.encode() + b"\0" + test_file.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_sample_documents(cache_root: Path, source_dir: Path = SUITE_SOURCE_DIR) -> Path:
    """Return a complete suite directory under ``cache_root``, building it at most once.

    Safe to call from many processes at once: the first builds into a
    temporary directory and renames it into place while holding the lock;
    the others wait for the lock and then find it ready.
    """
    cache_root.mkdir(parents=True, exist_ok=True)
    final = cache_root / f"ipptool-documents-{cache_key(source_dir)}"
    with _exclusive_lock(cache_root / "ipptool-documents.lock"):
        if not (final / SUITE_DIR_NAME).is_dir():
            building = cache_root / f"{final.name}.building-{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            try:
                build_suite_dir(building, source_dir)
            except BaseException:
                shutil.rmtree(building, ignore_errors=True)
                raise
            building.rename(final)
    return final / SUITE_DIR_NAME


@dataclass(frozen=True)
class PwgPageHeader:
    """The fields of a PWG raster page header (PWG 5102.4 §4.3) that tests check."""

    resolution: tuple[int, int]
    page_size: tuple[int, int]
    width: int
    height: int
    bits_per_color: int
    bits_per_pixel: int
    bytes_per_line: int
    color_space: int


_PWG_SYNC = b"RaS2"
_PWG_HEADER_SIZE = 1796


def read_pwg_raster(path: Path) -> list[PwgPageHeader]:
    """Decode a PWG raster file and return its page headers, one per page.

    Walks the PackBits-style line compression (PWG 5102.4 §4.4) so that a
    truncated or malformed page raises :class:`DocumentError`.
    """
    data = path.read_bytes()
    if not data.startswith(_PWG_SYNC):
        raise DocumentError(f"{path.name}: no PWG raster sync word")
    offset, pages = len(_PWG_SYNC), []
    while offset < len(data):
        header = _parse_pwg_header(path, data[offset : offset + _PWG_HEADER_SIZE])
        try:
            offset = _skip_pwg_page(path, data, offset + _PWG_HEADER_SIZE, header)
        except IndexError:
            raise DocumentError(f"{path.name}: page data ends early") from None
        pages.append(header)
    return pages


def _parse_pwg_header(path: Path, raw: bytes) -> PwgPageHeader:
    if len(raw) != _PWG_HEADER_SIZE or not raw.startswith(b"PwgRaster\0"):
        raise DocumentError(f"{path.name}: truncated or invalid PWG page header")

    def uint(at: int) -> int:
        return int.from_bytes(raw[at : at + 4], "big")

    return PwgPageHeader(
        resolution=(uint(276), uint(280)),
        page_size=(uint(352), uint(356)),
        width=uint(372),
        height=uint(376),
        bits_per_color=uint(384),
        bits_per_pixel=uint(388),
        bytes_per_line=uint(392),
        color_space=uint(400),
    )


def _skip_pwg_page(path: Path, data: bytes, offset: int, header: PwgPageHeader) -> int:
    unit = max(1, header.bits_per_pixel // 8)
    lines = 0
    while lines < header.height:
        if offset >= len(data):
            raise DocumentError(f"{path.name}: page ends after {lines} of {header.height} lines")
        lines += data[offset] + 1
        offset += 1
        filled = 0
        while filled < header.bytes_per_line:
            count = data[offset]
            offset += 1
            if count < 128:  # one pixel repeated count + 1 times
                filled += (count + 1) * unit
                offset += unit
            else:  # 257 - count literal pixels
                filled += (257 - count) * unit
                offset += (257 - count) * unit
        if filled != header.bytes_per_line or offset > len(data):
            raise DocumentError(f"{path.name}: corrupt line data at byte {offset}")
    return offset
