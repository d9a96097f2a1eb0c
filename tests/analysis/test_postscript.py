"""PostScript analysis: exact on generated documents with known truth, and bounded on
hostile ones. DSC comments are never believed: some documents here lie in them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from printhost.analysis import Analysis, AnalysisError, Limits, analyze_bounded, analyze_file
from printhost.analysis import postscript as postscript_module

from .corpus import PS_BLANK, PS_BLUE_DOT, PS_GREY, PS_RED, PS_RGB_GREY, postscript_pages

LETTER = (612.0, 792.0)
A4 = (595.0, 842.0)
A4_LANDSCAPE = (842.0, 595.0)

PS_CMYK_BLACK = "0 0 0 0.7 setcmykcolor 72 72 200 200 rectfill"
PS_CMYK_CYAN = "1 0 0 0 setcmykcolor 72 72 20 20 rectfill"
PS_RED_UNDER_WHITE = "1 0 0 setrgbcolor 72 72 100 100 rectfill 1 setgray 60 60 130 130 rectfill"
PS_RED_OFF_PAGE = "1 0 0 setrgbcolor -500 -500 100 100 rectfill"
PS_THIN_BLUE_LINE = "0 0 1 setrgbcolor 0.5 setlinewidth 100 100 moveto 300 100 lineto stroke"
PS_GREEN_TEXT = (
    "/Helvetica findfont 8 scalefont setfont 0 0.6 0 setrgbcolor 72 400 moveto (green) show"
)
PS_GREY_TEXT = "/Helvetica findfont 24 scalefont setfont 0.2 setgray 72 400 moveto (grey) show"


def _analyze(tmp_path: Path, source: str | bytes, name: str = "doc.ps") -> Analysis:
    path = tmp_path / name
    path.write_bytes(source.encode() if isinstance(source, str) else source)
    return analyze_file(path)


MIXED = [
    (PS_GREY, (612, 792)),
    (PS_RED, (612, 792)),
    (PS_RGB_GREY, (842, 595)),
    (PS_CMYK_BLACK, (595, 842)),
    (PS_CMYK_CYAN, (595, 842)),
    (PS_RED_UNDER_WHITE, (612, 792)),
    (PS_RED_OFF_PAGE, (612, 792)),
    (PS_THIN_BLUE_LINE, (612, 792)),
    (PS_GREEN_TEXT, (612, 792)),
    (PS_GREY_TEXT, (612, 792)),
    (PS_BLUE_DOT, (400, 500)),
    (PS_BLUE_DOT, (200, 300)),  # the dot is off this page
    (PS_BLANK, (612, 792)),
]
MIXED_COLORS = (2, 5, 8, 9, 11)
MIXED_SIZES = tuple((float(w), float(h)) for _, (w, h) in MIXED)


def test_mixed_colour_mono_and_sizes_without_dsc(tmp_path: Path) -> None:
    analysis = _analyze(tmp_path, postscript_pages(MIXED))
    assert analysis.format == "application/postscript"
    assert (analysis.pages, analysis.color_pages) == (len(MIXED), MIXED_COLORS)
    assert analysis.page_sizes == MIXED_SIZES
    assert analysis.embedded_copies == 1


def test_dsc_that_lies_is_not_believed(tmp_path: Path) -> None:
    body = postscript_pages(MIXED[:3]).removeprefix("%!PS\n")
    source = (
        "%!PS-Adobe-3.0\n%%Pages: 7\n%%BoundingBox: 0 0 100 100\n%%EndComments\n"
        + "".join(f"%%Page: {n} {n}\n" for n in (1, 2))
        + body
        + "%%Trailer\n%%EOF\n"
    )
    analysis = _analyze(tmp_path, source)
    assert (analysis.pages, analysis.color_pages) == (3, (2,))
    assert analysis.page_sizes == MIXED_SIZES[:3]


def test_dsc_document_with_procedures(tmp_path: Path) -> None:
    source = """%!PS-Adobe-3.0
%%Pages: 3
%%DocumentMedia: A4 595 842 80 white ()
%%EndComments
%%BeginProlog
/box { 72 72 200 200 rectfill } bind def
%%EndProlog
%%BeginSetup
<< /PageSize [595 842] >> setpagedevice
%%EndSetup
%%Page: 1 1
0 setgray box showpage
%%Page: 2 2
0 0 1 setrgbcolor box showpage
%%Page: 3 3
0 1 2 { pop 0.5 setgray box } for showpage
%%EOF
"""
    analysis = _analyze(tmp_path, source)
    assert (analysis.pages, analysis.color_pages) == (3, (2,))
    assert analysis.page_sizes == (A4,) * 3


def test_landscape_by_orientation(tmp_path: Path) -> None:
    source = (
        "%!PS\n<< /PageSize [595 842] /Orientation 1 >> setpagedevice\n"
        f"{PS_RED} showpage\n"
        "<< /Orientation 0 >> setpagedevice\n"
        f"{PS_GREY} showpage\n"
        "<< /Orientation 3 >> setpagedevice\n"
        f"{PS_GREY} showpage\n"
    )
    analysis = _analyze(tmp_path, source)
    assert analysis.page_sizes == (A4_LANDSCAPE, A4, A4_LANDSCAPE)
    assert analysis.color_pages == (1,)


def test_fractional_page_size_is_exact(tmp_path: Path) -> None:
    source = f"%!PS\n<< /PageSize [595.28 841.89] >> setpagedevice\n{PS_GREY} showpage\n"
    assert _analyze(tmp_path, source).page_sizes == ((595.28, 841.89),)


@pytest.mark.parametrize(
    ("setup", "copies"),
    [
        ("<< /NumCopies 3 >> setpagedevice", 3),
        ("/#copies 2 def", 2),
        ("<< /NumCopies 4 >> setpagedevice /#copies 2 def", 4),  # NumCopies wins
        ("", 1),
    ],
)
def test_embedded_copies(tmp_path: Path, setup: str, copies: int) -> None:
    source = f"%!PS\n{setup}\n{PS_GREY} showpage\n{PS_RED} showpage\n"
    analysis = _analyze(tmp_path, source)
    assert (analysis.pages, analysis.color_pages) == (2, (2,))
    assert analysis.embedded_copies == copies


def test_copies_that_change_between_pages_count_every_page_image(tmp_path: Path) -> None:
    source = (
        f"%!PS\n{PS_RED} showpage\n"
        f"<< /NumCopies 2 >> setpagedevice {PS_GREY} showpage\n"
        f"<< /NumCopies 0 >> setpagedevice {PS_RED} showpage\n"
    )
    analysis = _analyze(tmp_path, source)
    assert (analysis.pages, analysis.color_pages, analysis.embedded_copies) == (3, (1,), 1)


def test_copypage_and_no_default_letter_assumption(tmp_path: Path) -> None:
    source = f"%!PS\n<< /PageSize [612 792] >> setpagedevice {PS_RED} copypage erasepage showpage\n"
    analysis = _analyze(tmp_path, source)
    assert (analysis.pages, analysis.color_pages) == (2, (1,))
    assert analysis.page_sizes == (LETTER, LETTER)


def test_hundred_pages_are_quick(tmp_path: Path) -> None:
    pages = [(PS_RED if n % 10 == 0 else PS_GREY_TEXT, (612, 792)) for n in range(100)]
    start = time.monotonic()
    analysis = _analyze(tmp_path, postscript_pages(pages))
    assert time.monotonic() - start < 10
    assert analysis.pages == 100
    assert analysis.color_pages == tuple(range(1, 101, 10))


def test_bounded_worker_gives_the_same_answer(tmp_path: Path) -> None:
    path = tmp_path / "doc.ps"
    path.write_text(postscript_pages(MIXED[:4]))
    assert analyze_bounded(path) == analyze_file(path)


# --- hostile ---------------------------------------------------------------------------

FAST = Limits(memory_bytes=1 << 30, cpu_seconds=2, wall_seconds=20)


def _reject(tmp_path: Path, source: bytes, reason: str, limits: Limits = FAST) -> None:
    path = tmp_path / "hostile.ps"
    path.write_bytes(source)
    with pytest.raises(AnalysisError, match=reason):
        analyze_bounded(path, limits)


def test_endless_loop_is_stopped_by_the_cpu_limit(tmp_path: Path) -> None:
    start = time.monotonic()
    limits = Limits(memory_bytes=1 << 30, cpu_seconds=1, wall_seconds=20)
    _reject(tmp_path, b"%!PS\n{} loop\n", r"CPU time limit \(1 s; an endless loop\?\)", limits)
    assert time.monotonic() - start < 15


def test_endless_loop_is_stopped_by_the_wall_clock_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postscript_module, "MAX_CPU_SECONDS", 5)
    monkeypatch.setattr(postscript_module, "WALL_MARGIN", -4.5)
    path = tmp_path / "loop.ps"
    path.write_bytes(b"%!PS\n{ 1 pop } loop\n")
    with pytest.raises(AnalysisError, match=r"took longer than 0.5 s \(an endless loop\?\)"):
        analyze_file(path)


def test_writing_outside_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "written-by-postscript"
    source = f"%!PS\n({target}) (w) file (x) writestring showpage\n".encode()
    _reject(tmp_path, source, "invalidfileaccess")
    assert not target.exists()
    tmp_target = Path("/tmp") / f"printhost-ps-test-{time.monotonic_ns()}"
    source = f"%!PS\n({tmp_target}) (w) file (x) writestring showpage\n".encode()
    _reject(tmp_path, source, "invalidfileaccess")
    assert not tmp_target.exists()


def test_too_many_pages_are_refused(tmp_path: Path) -> None:
    start = time.monotonic()
    _reject(tmp_path, b"%!PS\n100000 { showpage } repeat\n", "more than 10000 pages")
    assert time.monotonic() - start < 15


def test_too_many_copies_are_refused(tmp_path: Path) -> None:
    _reject(tmp_path, b"%!PS\n<< /NumCopies 1000000 >> setpagedevice showpage\n", "more than 10000")


def test_garbage_after_the_magic_is_refused(tmp_path: Path) -> None:
    _reject(tmp_path, b"%!PS\n\x00\x01garbage ))) {{ \xff\xfe\n", "PostScript error")


def test_undefined_name_is_refused(tmp_path: Path) -> None:
    _reject(tmp_path, b"%!PS-Adobe-3.0\nnosuchoperator showpage\n", "PostScript error: /undefined")


def test_no_pages_is_refused(tmp_path: Path) -> None:
    _reject(tmp_path, b"%!PS\n%%Pages: 5\n1 0 0 setrgbcolor\n", "prints no pages")


def test_replacing_the_page_hook_is_refused(tmp_path: Path) -> None:
    source = b"%!PS\n<< /EndPage { exch pop 2 ne } >> setpagedevice showpage showpage\n"
    _reject(tmp_path, source, "replaces the page hook")


def test_giant_page_is_refused(tmp_path: Path) -> None:
    source = b"%!PS\n<< /PageSize [14400 14400] >> setpagedevice showpage\n"
    _reject(tmp_path, source, "too large")


def test_memory_bomb_is_refused(tmp_path: Path) -> None:
    _reject(
        tmp_path,
        b"%!PS\n[ 0 1 100000000 { 1000 string } for ]\nshowpage\n",
        "PostScript error|memory|CPU",
        Limits(memory_bytes=512 << 20, cpu_seconds=5, wall_seconds=20),
    )
