"""convert_to_grayscale: colour PDF and PostScript become neutral-grey PDF with the same
pages; Ghostscript is bounded (time, files it can write) and failures are reasons."""

from __future__ import annotations

import os
import tempfile
import time
import zlib
from pathlib import Path

import pikepdf
import pytest

from printhost.modify import ConversionLimits, ModificationError, convert_to_grayscale

from .documents import Page, darkest, make_pdf, max_channel_spread, page_sizes, page_texts, render

TOLERANCE = 8  # levels of 255 a "neutral" pixel's channels may differ by
FAST = ConversionLimits(cpu_seconds=20, wall_seconds=30)

COLOUR_PAGES = [
    Page(b"1 0 0 rg 72 72 200 200 re f 0 0 1 RG 4 w 100 500 m 500 700 l S"),
    Page(b"0.8 0.1 0 0 k 72 72 300 300 re f BT /F1 36 Tf 0 0.6 0 rg 72 600 Td (Green text) Tj ET"),
    Page(b"q 400 0 0 300 100 300 cm /Im1 Do Q", rotate=90),
    Page(b"q 72 72 468 648 re W n /Sh1 sh Q", mediabox=(0, 0, 595, 842)),
    Page(b"BT /F1 24 Tf 0.2 0.2 0.2 rg 72 700 Td (Already grey) Tj ET"),  # + a red annotation
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grayscale")


@pytest.fixture(scope="module")
def colour_pdf(workdir: Path) -> Path:
    path = make_pdf(workdir / "colour-base.pdf", COLOUR_PAGES)
    with pikepdf.open(path) as pdf:
        pixels = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0])
        image = pdf.make_stream(
            zlib.compress(pixels),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=4,
            Height=1,
            ColorSpace=pikepdf.Name.DeviceRGB,
            BitsPerComponent=8,
            Filter=pikepdf.Name.FlateDecode,
        )
        pdf.pages[2].obj.Resources.XObject = pikepdf.Dictionary(Im1=image)
        shading = pikepdf.Dictionary(
            ShadingType=2,
            ColorSpace=pikepdf.Name.DeviceRGB,
            Coords=[72, 72, 540, 720],
            Function=pikepdf.Dictionary(
                FunctionType=2, Domain=[0, 1], C0=[1, 0, 0], C1=[0, 0, 1], N=1
            ),
            Extend=[True, True],
        )
        pdf.pages[3].obj.Resources.Shading = pikepdf.Dictionary(Sh1=shading)
        appearance = pdf.make_stream(
            b"1 0 0 rg 0 0 100 50 re f",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 100, 50],
        )
        annotation = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Square,
            Rect=[100, 100, 200, 150],
            F=4,  # print
            C=[1, 0, 0],
            AP=pikepdf.Dictionary(N=appearance),
        )
        pdf.pages[4].obj.Annots = pdf.make_indirect(pikepdf.Array([annotation]))
        out = workdir / "colour.pdf"
        pdf.save(out)
    return out


COLOUR_PS = b"""%!PS-Adobe-3.0
%%Pages: 2
<< /PageSize [612 792] >> setpagedevice
1 0 0 setrgbcolor 72 72 200 200 rectfill
/Helvetica findfont 30 scalefont setfont
0 0.5 1 setrgbcolor 72 600 moveto (Blue PostScript) show
showpage
0.9 0.1 0.1 0 setcmykcolor 100 100 300 300 rectfill
0 1 0 setrgbcolor 72 600 moveto (Green page) show
showpage
"""


def _converted(source: Path, limits: ConversionLimits = FAST) -> Path:
    target = source.with_name(source.stem + "-gray.pdf")
    convert_to_grayscale(source, target, limits)
    return target


def _assert_neutral(path: Path) -> None:
    for number, image in enumerate(render(path, scale=0.5), 1):
        assert max_channel_spread(image) <= TOLERANCE, f"page {number} has colour"


def test_colour_pdf_becomes_grey(colour_pdf: Path) -> None:
    before = colour_pdf.read_bytes()
    assert all(max_channel_spread(image) > 100 for image in render(colour_pdf, scale=0.5))
    target = _converted(colour_pdf)
    assert colour_pdf.read_bytes() == before
    _assert_neutral(target)
    assert page_sizes(target) == page_sizes(colour_pdf)
    texts = page_texts(target)
    assert "Green text" in texts[1] and "Already grey" in texts[4]
    # Ink is kept: the red square is grey, not white.
    first = render(target, scale=0.5)[0].convert("L")
    assert darkest(first.crop((60, 280, 100, 320))) < 200


def test_colour_postscript_becomes_grey_pdf(workdir: Path) -> None:
    source = workdir / "colour.ps"
    source.write_bytes(COLOUR_PS)
    target = _converted(source)
    assert target.read_bytes().startswith(b"%PDF-")
    assert len(page_texts(target)) == 2
    assert page_sizes(target) == [(612, 792), (612, 792)]
    _assert_neutral(target)


def test_only_the_target_is_written(colour_pdf: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.pdf"
    convert_to_grayscale(colour_pdf, target, FAST)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]


def test_target_must_not_be_source(colour_pdf: Path) -> None:
    before = colour_pdf.read_bytes()
    with pytest.raises(ValueError):
        convert_to_grayscale(colour_pdf, colour_pdf, FAST)
    assert colour_pdf.read_bytes() == before


# --- bounds ----------------------------------------------------------------------------


def _gs_processes_for(path: Path) -> list[int]:
    found = []
    needle = str(path).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_endless_loop_is_killed_at_the_wall_clock(tmp_path: Path) -> None:
    source = tmp_path / "loop.ps"
    source.write_bytes(b"%!PS\n{} loop\n")
    target = tmp_path / "out.pdf"
    started = time.monotonic()
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(source, target, ConversionLimits(cpu_seconds=60, wall_seconds=1.5))
    assert time.monotonic() - started < 10
    assert "longer than 1.5 s" in caught.value.reason
    assert not target.exists()
    assert _gs_processes_for(source) == []


def test_endless_loop_hits_the_cpu_limit(tmp_path: Path) -> None:
    source = tmp_path / "loop.ps"
    source.write_bytes(b"%!PS\n/Helvetica findfont pop { 1 2 add pop } loop\n")
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(
            source, tmp_path / "out.pdf", ConversionLimits(cpu_seconds=1, wall_seconds=30)
        )
    assert "CPU time limit" in caught.value.reason
    assert _gs_processes_for(source) == []


def test_postscript_cannot_write_outside(tmp_path: Path) -> None:
    victim = tmp_path / "written-by-postscript"
    source = tmp_path / "writer.ps"
    source.write_bytes(
        b"%%!PS\n(%s) (w) file (owned) writestring\nshowpage\n" % str(victim).encode()
    )
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(source, tmp_path / "out.pdf", FAST)
    assert "invalidfileaccess" in caught.value.reason
    assert not victim.exists()
    assert not (tmp_path / "out.pdf").exists()


def test_postscript_that_ignores_the_refusal_still_writes_nothing(tmp_path: Path) -> None:
    victim = tmp_path / "written-by-postscript"
    source = tmp_path / "writer.ps"
    source.write_bytes(
        b"%%!PS\n{ (%s) (w) file (owned) writestring } stopped pop\n"
        b"0 0 1 setrgbcolor 72 72 100 100 rectfill showpage\n" % str(victim).encode()
    )
    target = tmp_path / "out.pdf"
    convert_to_grayscale(source, target, FAST)
    assert not victim.exists()
    _assert_neutral(target)


def test_temporary_files_postscript_writes_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    source = tmp_path / "tempfile.ps"
    # SAFER allows .tempfile in Ghostscript's temporary directory; write a few there.
    source.write_bytes(
        b"%!PS\n0 1 4 { pop (ph) (w) .tempfile (data) writestring pop } for\n"
        b"72 72 100 100 rectfill showpage\n"
    )
    target = tmp_path / "out.pdf"
    convert_to_grayscale(source, target, FAST)
    assert list(system_tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf", "system-tmp", "tempfile.ps"]


def test_file_size_limit(tmp_path: Path) -> None:
    source = tmp_path / "big.ps"
    # Output grows past the limit: many pages of distinct text.
    source.write_bytes(
        b"%!PS\n/Helvetica findfont 8 scalefont setfont\n"
        b"0 1 200 { 0 1 90 { 8 mul 20 add 20 exch moveto dup 20 string cvs show "
        b"( a line of text to make the page big) show } for pop showpage } for\n"
    )
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(
            source,
            tmp_path / "out.pdf",
            ConversionLimits(cpu_seconds=20, wall_seconds=30, output_bytes=64 * 1024),
        )
    assert "tried to write a file larger than 64 KiB" in caught.value.reason
    assert not (tmp_path / "out.pdf").exists()


# --- broken input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is not a document\n",
        bytes(range(256)) * 64,
        b"%PDF-1.7\n%%EOF\n",
        b"%!PS\n/undefined-thing-here cvx exec\n",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n",
    ],
    ids=["empty", "text", "binary", "header-only-pdf", "ps-error", "pdf-no-pages"],
)
def test_garbage_is_refused(tmp_path: Path, data: bytes) -> None:
    source = tmp_path / "garbage"
    source.write_bytes(data)
    target = tmp_path / "out.pdf"
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(source, target, FAST)
    assert caught.value.reason
    assert not target.exists()


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    source = make_pdf(
        tmp_path / "locked.pdf",
        [Page(b"1 0 0 rg 0 0 100 100 re f")],
        encryption=pikepdf.Encryption(owner="o-secret", user="u-secret", R=4),
    )
    with pytest.raises(ModificationError) as caught:
        convert_to_grayscale(source, tmp_path / "out.pdf", FAST)
    assert "password" in caught.value.reason
    assert not (tmp_path / "out.pdf").exists()


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ModificationError):
        convert_to_grayscale(fifo, tmp_path / "out.pdf", FAST)


def test_missing_source_is_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        convert_to_grayscale(tmp_path / "absent.pdf", tmp_path / "out.pdf", FAST)


@pytest.mark.parametrize(
    "options",
    [{"memory_bytes": 0}, {"cpu_seconds": 0}, {"wall_seconds": 0}, {"output_bytes": -1}],
)
def test_limits_validation(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ConversionLimits(**options)
