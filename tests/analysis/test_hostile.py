"""Hostile documents are refused with a reason by the bounded worker, and the worker's
limits hold. Timeouts here only stop a runaway; nothing is timed."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from printhost.analysis import Analysis, AnalysisError, Limits, analyze_bounded, analyze_file
from printhost.analysis.raster import PWG_HEADER, PWG_SYNC, URF_SYNC
from printhost.analysis.sandbox import _death

from .corpus import GRAY_FILL, RED, PdfPage, RawPdf, ghostscript, make_pdf, page_dict, stream

LIMITS = Limits(memory_bytes=1 << 30, cpu_seconds=20, wall_seconds=60)


def _reject(path: Path, reason: str, limits: Limits = LIMITS) -> None:
    with pytest.raises(AnalysisError, match=reason):
        analyze_bounded(path, limits)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- PDF page trees --------------------------------------------------------------------


def test_pdf_count_of_a_billion_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "lie.pdf", make_pdf([PdfPage(GRAY_FILL)], count=1_000_000_000))
    _reject(path, "declares 1000000000 pages, over the limit")


def test_pdf_count_that_lies_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "lie.pdf", make_pdf([PdfPage(GRAY_FILL), PdfPage(RED)], count=5))
    _reject(path, "declares 5 pages but holds 2")


def test_pdf_page_tree_loop_is_refused(tmp_path: Path) -> None:
    pdf = RawPdf()
    catalog = pdf.add()
    root = pdf.add()
    inner = pdf.add()
    font = pdf.add(b"<< >>")
    leaf = pdf.add(page_dict(inner, pdf.add(stream(GRAY_FILL)), font, PdfPage(b"")))
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    pdf.set(root, b"<< /Type /Pages /Kids [%d 0 R] /Count 2 >>" % inner)
    pdf.set(
        inner,
        b"<< /Type /Pages /Parent %d 0 R /Kids [%d 0 R %d 0 R] /Count 2 >>" % (root, leaf, root),
    )
    _reject(_write(tmp_path, "loop.pdf", pdf.tobytes(catalog)), "loop")


def test_pdf_page_tree_nested_too_deep_is_refused(tmp_path: Path) -> None:
    pdf = RawPdf()
    catalog = pdf.add()
    nodes = [pdf.add() for _ in range(200)]
    font = pdf.add(b"<< >>")
    leaf = pdf.add(page_dict(nodes[-1], pdf.add(stream(GRAY_FILL)), font, PdfPage(b"")))
    for index, node in enumerate(nodes):
        kid = nodes[index + 1] if index + 1 < len(nodes) else leaf
        pdf.set(node, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % kid)
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % nodes[0])
    # refused by our walk (MAX_DEPTH) or by qpdf's own depth limit, whichever comes first
    _reject(_write(tmp_path, "deep.pdf", pdf.tobytes(catalog)), "nested deeper|deeply nested")


def test_pdf_with_too_many_pages_is_refused(tmp_path: Path) -> None:
    """A tree whose /Count is honest but over the limit: refused before any rendering."""
    pages = [PdfPage(b"")] * 10_001
    _reject(_write(tmp_path, "many.pdf", make_pdf(pages)), "over the limit 10000")


def test_truncated_pdf_is_refused(tmp_path: Path) -> None:
    data = make_pdf([PdfPage(GRAY_FILL), PdfPage(RED)])
    _reject(_write(tmp_path, "cut.pdf", data[: len(data) // 2]), "truncated PDF")


def test_pdf_garbage_is_refused(tmp_path: Path) -> None:
    data = b"%PDF-1.7\n" + os.urandom(20_000) + b"\n%%EOF\n"
    _reject(_write(tmp_path, "garbage.pdf", data), "damaged PDF|no page tree|malformed")


def test_pdf_flate_bomb_is_bounded(tmp_path: Path) -> None:
    """A page whose content inflates to 640 MiB, more than the worker may use: refused
    (pdfium aborts when an allocation fails) or analysed, within the limits."""
    compressor = zlib.compressobj(1)
    chunk = b" " * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(640)) + compressor.flush()
    pdf = RawPdf()
    catalog = pdf.add()
    root = pdf.add()
    font = pdf.add(b"<< >>")
    content = pdf.add(stream(bomb, b"/Filter /FlateDecode "))
    leaf = pdf.add(page_dict(root, content, font, PdfPage(b"")))
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    pdf.set(root, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % leaf)
    path = _write(tmp_path, "bomb.pdf", pdf.tobytes(catalog))
    limits = Limits(memory_bytes=512 << 20, cpu_seconds=20, wall_seconds=60)
    try:
        analysis = analyze_bounded(path, limits)
    except AnalysisError as exc:
        assert exc.reason
    else:
        assert analysis == Analysis("application/pdf", 1, (), ((612.0, 792.0),))


# --- rasters ---------------------------------------------------------------------------


def _pwg_header(width: int, height: int, bits: int = 24, space: int = 19, res: int = 72) -> bytes:
    header = bytearray(PWG_HEADER)
    struct.pack_into(">II", header, 276, res, res)
    struct.pack_into(">II", header, 352, width * 72 // res, height * 72 // res)
    per_color = bits // 3 if space in (1, 19) else bits
    per_line = ((width * bits + 7) // 8) & 0xFFFFFFFF
    struct.pack_into(
        ">IIIIIIII", header, 372, width, height, 0, per_color, bits, per_line, 0, space
    )
    return bytes(header)


def test_pwg_giant_dimensions_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "giant.pwg", PWG_SYNC + _pwg_header(4_000_000_000, 10))
    _reject(path, "outside 1..262144 per side")


def test_pwg_giant_area_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "area.pwg", PWG_SYNC + _pwg_header(250_000, 250_000))
    _reject(path, "too large")


def test_pwg_lines_that_overrun_are_refused(tmp_path: Path) -> None:
    # a 4-pixel line given 128 + 1 pixels
    data = PWG_SYNC + _pwg_header(4, 1) + b"\x00\x7f\xff\xff\xff\x00\xff\xff\xff"
    _reject(_write(tmp_path, "overrun.pwg", data), "overruns its width")


def test_pwg_short_page_is_refused(tmp_path: Path) -> None:
    # header says 3 lines; one line group of 1, then the file ends
    data = PWG_SYNC + _pwg_header(4, 3) + b"\x00\x03\xff\xff\xff"
    _reject(_write(tmp_path, "short.pwg", data), "truncated raster data")


def test_pwg_unsupported_colour_space_is_refused(tmp_path: Path) -> None:
    data = PWG_SYNC + _pwg_header(4, 1, bits=24, space=16) + b"\x00\x03\xff\xff\xff"
    _reject(_write(tmp_path, "lab.pwg", data), "colour space 16 is not supported")


@pytest.mark.parametrize("device", ["pwgraster", "urf"])
def test_truncated_rasters_are_refused(tmp_path: Path, device: str) -> None:
    path = tmp_path / "doc"
    ghostscript(device, "%!PS\n0.5 setgray 72 72 200 200 rectfill showpage\n", path)
    data = path.read_bytes()
    _reject(_write(tmp_path, "cut", data[: len(data) - 7]), "truncated raster data")


def test_urf_page_count_that_lies_is_refused(tmp_path: Path) -> None:
    page = bytes([24, 1, 0, 0]) + bytes(8) + struct.pack(">III", 4, 1, 72) + bytes(8)
    data = URF_SYNC + struct.pack(">I", 3) + page + b"\x00\x03\xff\xff\xff"
    _reject(_write(tmp_path, "lie.urf", data), "declares 3 pages but the file has 1")


def test_urf_giant_dimensions_are_refused(tmp_path: Path) -> None:
    page = bytes([24, 1, 0, 0]) + bytes(8) + struct.pack(">III", 2**31, 2**31, 300) + bytes(8)
    data = URF_SYNC + struct.pack(">I", 1) + page
    _reject(_write(tmp_path, "giant.urf", data), "outside 1..262144 per side")


# --- images, text, garbage -------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def test_png_claiming_giant_dimensions_is_refused(tmp_path: Path) -> None:
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + _png_chunk(b"IEND", b"")
    )
    _reject(_write(tmp_path, "giant.png", data), "too large|decompression bomb")


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "full.jpg"
    Image.effect_noise((300, 300), 40).convert("RGB").save(path, quality=90)
    data = path.read_bytes()
    _reject(_write(tmp_path, "cut.jpg", data[: len(data) // 2]), "unreadable image")


def test_png_with_jpeg_magic_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "real.png"
    Image.new("RGB", (8, 8)).save(path)
    data = b"\xff\xd8\xff" + path.read_bytes()
    _reject(_write(tmp_path, "fake.jpg", data), "unreadable image")


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    data = b"\x00" + os.urandom(100_000)
    _reject(_write(tmp_path, "random.bin", data), "unrecognised document format")


def test_random_bytes_behind_a_text_head_are_refused(tmp_path: Path) -> None:
    data = b"hello\n" * 1000 + os.urandom(100_000)
    _reject(_write(tmp_path, "random.txt", data), "not plain text")


def test_postscript_that_loops_forever_is_refused(tmp_path: Path) -> None:
    limits = Limits(memory_bytes=1 << 30, cpu_seconds=1, wall_seconds=20)
    _reject(_write(tmp_path, "loop.ps", b"%!PS\n{} loop\n"), "CPU time limit", limits)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    _reject(tmp_path / "missing.pdf", "cannot read document")


# --- the limits themselves -------------------------------------------------------------


def test_wall_clock_limit_stops_the_worker(tmp_path: Path) -> None:
    path = _write(tmp_path, "doc.txt", b"hello\n")
    _reject(path, r"took longer than 0.001 s", Limits(wall_seconds=0.001))


def test_worker_limits_itself(tmp_path: Path) -> None:
    code = (
        "import resource, sys; from printhost.analysis.worker import limit_self;"
        "limit_self(512 << 20, 7);"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20,"
        " resource.getrlimit(resource.RLIMIT_CPU)[0],"
        " resource.getrlimit(resource.RLIMIT_FSIZE)[0]);"
        "b = bytearray(1 << 30)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )
    assert done.stdout.split() == [b"512", b"7", b"0"]
    assert b"MemoryError" in done.stderr


@pytest.mark.parametrize(
    ("signum", "reason"),
    [
        (signal.SIGXCPU, "exceeded its CPU time limit"),
        (signal.SIGKILL, "exceeded its CPU time limit"),
        (signal.SIGSEGV, "killed by SIGSEGV"),
    ],
)
def test_worker_deaths_become_reasons(signum: int, reason: str) -> None:
    assert reason in _death(signum, LIMITS)


def test_pdf_form_that_draws_itself_is_bounded(tmp_path: Path) -> None:
    """A Form XObject whose content paints itself: pdfium stops the recursion."""
    pdf = RawPdf()
    catalog = pdf.add()
    root = pdf.add()
    form = pdf.add()
    pdf.set(
        form,
        stream(
            b"1 0 0 rg 0 0 10 10 re f /X Do",
            b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
            b"/Resources << /XObject << /X %d 0 R >> >> " % form,
        ),
    )
    content = pdf.add(stream(b"/X Do"))
    leaf = pdf.add(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
        b"/Resources << /XObject << /X %d 0 R >> >> >>" % (root, content, form)
    )
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % root)
    pdf.set(root, b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % leaf)
    path = _write(tmp_path, "recursive.pdf", pdf.tobytes(catalog))
    try:
        analysis = analyze_bounded(path, LIMITS)
    except AnalysisError as exc:
        assert exc.reason
    else:
        assert (analysis.pages, analysis.color_pages) == (1, (1,))


def test_text_with_too_many_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ff.txt"
    path.write_bytes(b"a\f" * 20_001)
    with pytest.raises(AnalysisError, match="text has more than 10000 pages"):
        analyze_file(path)


def test_pcl_copies_are_counted_before_they_cost_memory(tmp_path: Path) -> None:
    path = tmp_path / "copies.pcl"
    page = b"\x1bE\x1b&l999Xx\x0c"  # one marked page asking for 999 copies
    path.write_bytes(page * 20 + b"\x1b&l998Xx\x0c")
    started = time.monotonic()
    with pytest.raises(AnalysisError, match="more than 10000 page images"):
        analyze_file(path)
    assert time.monotonic() - started < 5


def test_the_worker_lowers_its_limits_under_a_smaller_hard_limit() -> None:
    script = (
        "import resource; from printhost.analysis.worker import limit_self;"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31));"
        "limit_self(1 << 32, 30);"
        "print(resource.getrlimit(resource.RLIMIT_AS))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"({1 << 31}, {1 << 31})"
