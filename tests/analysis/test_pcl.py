"""PCL 5 and PCL XL analysis: Ghostscript's PCL devices against known truth, hand-written
jobs (page ejection rules, copies, PJL, colour), hostile input, the worker and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printhost.analysis import Analysis, AnalysisError, Limits, analyze_bounded, analyze_file
from printhost.analysis.pcl import MAX_COPIES, analyze_pcl
from printhost.analysis.pclxl import analyze_pclxl

from .pcl_corpus import (
    A4,
    ESC,
    LETTER,
    RESET,
    Xl,
    device_truth,
    packbits,
    pjl,
    raster_rows,
    render,
    rgb_direct_cid,
    rgb_palette_text,
)

DEVICES = ["ljet4", "cljet5", "cljet5c", "pxlmono", "pxlcolor"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pcl")
    return {device: render(device, folder / f"{device}.out") for device in DEVICES}


def pcl(data: bytes) -> Analysis:
    return analyze_pcl(io.BytesIO(data))


def xl(data: bytes) -> Analysis:
    return analyze_pclxl(io.BytesIO(data))


@pytest.mark.parametrize("device", DEVICES)
def test_ghostscript_devices_match_truth(rendered: dict[str, Path], device: str) -> None:
    analysis = analyze_file(rendered[device])
    truth = device_truth(device)
    assert analysis.format.startswith("application/vnd.hp-pcl")
    assert (analysis.pages, analysis.color_pages, analysis.page_sizes) == (
        truth.pages,
        truth.color_pages,
        truth.page_sizes,
    )
    assert analysis.embedded_copies == 1


def test_cljet5_halftoned_greys_at_300_dpi_stay_mono(tmp_path: Path) -> None:
    from .corpus import ghostscript, postscript_pages

    greys = " ".join(f"{i / 10} setgray {36 + i * 50} 100 40 300 rectfill" for i in range(10))
    source = postscript_pages(
        [(greys, (612, 792)), ("1 0 0 setrgbcolor 72 72 40 40 rectfill", (612, 792))]
    )
    ghostscript("cljet5", source, tmp_path / "c.pcl", "-r300")
    analysis = analyze_file(tmp_path / "c.pcl")
    assert (analysis.pages, analysis.color_pages) == (2, (2,))


def test_pxlcolor_images_in_every_compression(tmp_path: Path) -> None:
    from .corpus import ghostscript

    page = "72 72 translate 200 200 scale 2 2 8 [2 0 0 2 0 0] {<%s>} false 3 colorimage"
    source = "%!PS\n" + "\n".join(
        page % pixels + " showpage"
        for pixels in ("808080404040202020ffffff", "ff000000ff000000ff808080")
    )
    for mode in (1, 2, 3):
        out = tmp_path / f"i{mode}.pxl"
        ghostscript("pxlcolor", source, out, f"-dCompressMode={mode}")
        analysis = analyze_file(out)
        assert (analysis.pages, analysis.color_pages) == (2, (2,)), mode


# --- hand-written PCL 5 ----------------------------------------------------------------


def test_form_feed_ejects_even_a_blank_page() -> None:
    analysis = pcl(RESET + b"one\f\ftwo\f" + RESET)
    assert (analysis.pages, analysis.color_pages) == (3, ())


def test_reset_and_end_of_job_eject_only_marked_pages() -> None:
    assert pcl(RESET + b"one" + RESET + RESET + b"two").pages == 2
    assert pcl(RESET + b"one\f" + RESET).pages == 1


def test_paper_source_and_size_eject_a_marked_page() -> None:
    data = RESET + b"a" + ESC + b"&l1H" + ESC + b"&l1H" + b"b" + ESC + b"&l26A" + b"c"
    analysis = pcl(data)
    assert analysis.pages == 3
    assert analysis.page_sizes == (LETTER, LETTER, A4)


def test_landscape_and_page_sizes() -> None:
    data = RESET + ESC + b"&l26a1O" + b"x\f" + ESC + b"&l3a0O" + b"y\f"
    assert pcl(data).page_sizes == ((841.89, 595.28), (612.0, 1008.0))


def test_line_feeds_past_the_bottom_eject() -> None:
    assert pcl(RESET + b"line\n" * 60).pages == 1
    assert pcl(RESET + b"line\n" * 61).pages == 2


def test_copies_last_value_and_mixed() -> None:
    assert pcl(RESET + ESC + b"&l3X" + b"a\fb\f").embedded_copies == 3
    mixed = pcl(RESET + ESC + b"&l2X" + b"a\f" + ESC + b"&l1X" + b"b\f")
    assert (mixed.pages, mixed.embedded_copies) == (3, 1)
    assert pcl(RESET + ESC + b"&l999999999X" + b"a\f").embedded_copies == MAX_COPIES


def test_pjl_wrapper_copies_and_language() -> None:
    analysis = pcl(pjl(RESET + b"a\fb\f" + RESET, b"SET COPIES=2", b"SET PAPER=A4"))
    assert (analysis.pages, analysis.embedded_copies, analysis.page_sizes) == (2, 2, (A4, A4))
    with pytest.raises(AnalysisError, match="another language"):
        pcl(pjl(RESET + b"a\f", language=b"POSTSCRIPT") + b"%!PS\n")


def test_pcl_colour_from_palette_text_and_raster() -> None:
    grey = pcl(RESET + rgb_palette_text(2, (100, 100, 104)) + b"\f")
    red = pcl(RESET + rgb_palette_text(2, (255, 0, 0)) + b"\f")
    assert (grey.color_pages, red.color_pages) == ((), (1,))
    rows = [bytes([128, 128, 128] * 10), bytes([250, 20, 20] * 10)]
    direct = pcl(
        RESET + rgb_direct_cid() + raster_rows(rows[:1]) + b"\f" + raster_rows(rows, mode=0) + b"\f"
    )
    assert direct.color_pages == (2,)
    packed = pcl(RESET + rgb_direct_cid() + raster_rows([packbits(r) for r in rows], 2) + b"\f")
    assert packed.color_pages == (1,)
    # three 1-bit planes are a halftone, judged on 16 x 16 blocks: a yellow block
    planes = (ESC + b"*b2V\xff\xff" + ESC + b"*b2V\xff\xff" + ESC + b"*b2W\0\0") * 16
    simple = pcl(RESET + ESC + b"*r3U" + ESC + b"*r16S" + ESC + b"*r1A" + planes + ESC + b"*rC")
    assert simple.color_pages == (1,)


def test_hpgl2_pens() -> None:
    black = pcl(RESET + ESC + b"%0BIN;SP1;PD100,100;PU;" + ESC + b"%0A\f")
    red = pcl(RESET + ESC + b"*r3U" + ESC + b"%0BIN;PC2,255,0,0;SP2;PD100,100;" + ESC + b"%0A\f")
    assert (black.pages, black.color_pages, red.color_pages) == (1, (), (1,))


# --- hand-written PCL XL ---------------------------------------------------------------


def test_xl_pages_sizes_copies_colour() -> None:
    job = (
        Xl()
        .session()
        .page(media=0, paint=[("gray_rect", 128)])
        .page(media=2, orientation=1, paint=[("rgb_rect", b"\xff\x00\x00")])
        .page(media=b"A4", paint=[("rgb_rect", b"\x80\x80\x82")])
        .page(media=None, custom=(5.0, 7.0), paint=[("rgb_image", b"\x10\x10\x10\x00\xff\x00")])
        .page(media=0, paint=[("rgb_pen_line", b"\x00\x00\xff")])
        .end()
    )
    analysis = xl(job)
    assert analysis.pages == 5
    assert analysis.color_pages == (2, 4, 5)
    assert analysis.page_sizes == (LETTER, (841.89, 595.28), A4, (360.0, 504.0), LETTER)
    two = xl(Xl().session().page(copies=2).page(copies=2).end())
    assert (two.pages, two.embedded_copies) == (2, 2)
    mixed = xl(Xl().session().page(copies=2).page(copies=1).end())
    assert (mixed.pages, mixed.embedded_copies) == (3, 1)


def test_xl_inside_pjl() -> None:
    body = Xl().session().page().end()
    analysis = analyze_file_bytes(pjl(body, b"SET QTY=2", language=b"PCLXL"))
    assert (analysis.format, analysis.pages, analysis.embedded_copies) == (
        "application/vnd.hp-pclxl",
        1,
        2,
    )


def analyze_file_bytes(data: bytes, tmp: Path | None = None) -> Analysis:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".prn") as handle:
        handle.write(data)
        handle.flush()
        return analyze_file(Path(handle.name))


# --- hostile input ---------------------------------------------------------------------


def _only_analysis_or_error(data: bytes, analyse: object) -> None:
    assert callable(analyse)
    try:
        result = analyse(io.BytesIO(data))
    except AnalysisError:
        return
    assert isinstance(result, Analysis)


@pytest.mark.parametrize("device", ["cljet5c", "pxlcolor", "ljet4"])
def test_truncated_everywhere(rendered: dict[str, Path], device: str) -> None:
    data = rendered[device].read_bytes()
    analyse = analyze_pclxl if device.startswith("pxl") else analyze_pcl
    step = max(1, len(data) // 300)
    for end in range(0, len(data), step):
        _only_analysis_or_error(data[:end], analyse)


def test_garbage_after_header() -> None:
    with pytest.raises(AnalysisError):
        xl(b") HP-PCL XL;2;0\n" + bytes(range(0xE6, 0xF8)) * 10)
    _only_analysis_or_error(RESET + bytes(range(256)) * 50, analyze_pcl)


def test_giant_raster_and_image_dimensions() -> None:
    with pytest.raises(AnalysisError, match="raster width"):
        pcl(RESET + ESC + b"*r999999999S" + raster_rows([b"\x00"]))
    job = Xl().session()
    job.ubyte(2, 3).op(0x6A).ubyte(2, 98).ubyte(0, 100).uint32(0xFFFFFFFF, 108)
    job.uint32(0xFFFFFFFF, 107).op(0xB0)
    with pytest.raises(AnalysisError, match="outside"):
        xl(job.end())
    with pytest.raises(AnalysisError, match="truncated"):
        pcl(RESET + ESC + b"*b2000000000W" + b"\x00" * 10)


def test_endless_escape_sequences_are_bounded() -> None:
    with pytest.raises(AnalysisError, match="longer than"):
        pcl(RESET + ESC + b"&l" + b"1" * 100_000 + b"X")
    start = time.monotonic()
    analysis = pcl(RESET + ESC + b"&l" + b"1o0o" * 50_000 + b"0Ox")
    assert analysis.pages >= 1
    assert time.monotonic() - start < 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000), st.sampled_from([RESET, b") HP-PCL XL;2;0\n"]))
def test_fuzz_only_analysis_errors_escape(body: bytes, head: bytes) -> None:
    analyse = analyze_pcl if head == RESET else analyze_pclxl
    start = time.monotonic()
    _only_analysis_or_error(head + body, analyse)
    assert time.monotonic() - start < 5


# --- through the worker and the CLI ----------------------------------------------------


def test_bounded_worker_and_cli(rendered: dict[str, Path]) -> None:
    path = rendered["cljet5c"]
    truth = device_truth("cljet5c")
    analysis = analyze_bounded(path, Limits(cpu_seconds=20, wall_seconds=60))
    assert (analysis.pages, analysis.color_pages) == (truth.pages, truth.color_pages)
    done = subprocess.run(
        [sys.executable, "-m", "printhost", "analyze", str(rendered["pxlcolor"])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["format"] == "application/vnd.hp-pclxl"
    assert result["color_pages"] == list(device_truth("pxlcolor").color_pages)
