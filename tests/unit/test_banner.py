"""Banner pages: PDF and PostScript rendered by Ghostscript (text extracted with txtwrite),
PCL checked for structure, tray selection, and hostile client text that must not break
out of a string or into a command.

No PCL interpreter is available on Debian 12 (GhostPCL's gpcl6 is not packaged), so the
PCL output is checked structurally: every ESC in it is one we put there.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printhost.banner import (
    MEDIA_SOURCES,
    BannerInfo,
    TraySelection,
    render_banner,
    tray_keyword,
    tray_selection,
)

INFO = BannerInfo(
    user="alice",
    job_name="Quarterly report.pdf",
    job_id=4711,
    host="ws-12.example.com",
    queue="myprinter",
    printer="floor2-laser",
    time=1714567890.0,
)
HOSTILE = BannerInfo(
    user="eve) show (x\\",
    job_name="a)\\(b\x1bE\x1b%-12345X\r\n@PJL SET COPIES=99\r\n@PJL ENTER LANGUAGE=PCL\x07\x9b",
    job_id=1,
    host="h\x00ost\u2028two",
    queue="q\x1b&l0H",
    printer="p\r\n",
    time=0.0,
)
GS_TIMEOUT = 60


GS_ERROR = re.compile(r"^Error: /\w+ in ", re.MULTILINE)


def ghostscript(document: bytes, suffix: str, device: str = "txtwrite", *prelude: str) -> str:
    """Run gs on ``document``; return its text output (txtwrite) and assert it succeeded."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"banner.{suffix}"
        path.write_bytes(document)
        command = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", f"-sDEVICE={device}"]
        command += ["-sOutputFile=-"] if device == "txtwrite" else []
        command += [*(["-c", *prelude, "-f"] if prelude else []), str(path)]
        result = subprocess.run(command, capture_output=True, timeout=GS_TIMEOUT, check=False)
    output = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, (result.returncode, output, result.stderr)
    # Ghostscript reports a PostScript error as a line "Error: /name in ..." (the
    # banner's own text may say "Error" anywhere: hypothesis found that)
    assert not GS_ERROR.search(output) and not result.stderr, (output, result.stderr)
    return output


def text_lines(output: str) -> list[str]:
    # txtwrite renders U+2212 for PostScript's /minus; we map '-' to /hyphen, so none.
    return [" ".join(line.split()) for line in output.splitlines() if line.strip()]


EXPECTED_LINES = [
    "alice",
    "Quarterly report.pdf",
    "Job ID: 4711",
    "Host: ws-12.example.com",
    "Queue: myprinter",
    "Printer: floor2-laser",
    "Time: 2024-05-01 12:51:30 UTC",
]


@pytest.mark.parametrize(("fmt", "suffix"), [("pdf", "pdf"), ("postscript", "ps")])
def test_ghostscript_renders_the_banner(fmt: str, suffix: str) -> None:
    assert text_lines(ghostscript(render_banner(INFO, fmt), suffix)) == EXPECTED_LINES


@pytest.mark.parametrize(("fmt", "suffix"), [("pdf", "pdf"), ("postscript", "ps")])
def test_hostile_text_stays_text(fmt: str, suffix: str) -> None:
    lines = text_lines(ghostscript(render_banner(HOSTILE, fmt), suffix))
    assert lines[0] == "eve) show (x\\"
    # controls became spaces: the PJL lines are harmless text on the page
    assert lines[1] == "a)\\(b E %-12345X @PJL SET COPIES=99 @PJL ENTER LANGUAGE=PCL"
    assert lines[2:] == [
        "Job ID: 1",
        "Host: h ost two",
        "Queue: q &l0H",
        "Printer: p",
        "Time: 1970-01-01 00:00:00 UTC",
    ]


def test_non_ascii_names() -> None:
    info = BannerInfo("Jürgen Ölmann", "Café menu €", 7, "h", "q", "p", 0.0)
    assert text_lines(ghostscript(render_banner(info, "pdf"), "pdf"))[:2] == [
        "Jürgen Ölmann",
        "Café menu €",
    ]
    # ISO Latin-1 has no euro sign: it prints as "?"
    assert text_lines(ghostscript(render_banner(info, "postscript"), "ps"))[:2] == [
        "Jürgen Ölmann",
        "Café menu ?",
    ]


def test_long_text_is_capped() -> None:
    info = BannerInfo("u" * 1000, "j" * 100_000, 1, "h" * 500, "q", "p", 0.0)
    lines = text_lines(ghostscript(render_banner(info, "pdf"), "pdf"))
    assert lines[0] == "u" * 61 + "..."
    assert lines[1] == "j" * 97 + "..."
    assert lines[3] == "Host: " + "h" * 97 + "..."


def test_impossible_time_prints_unknown() -> None:
    info = BannerInfo("u", "j", 1, "h", "q", "p", float("inf"))
    assert "Time: unknown" in text_lines(ghostscript(render_banner(info, "pdf"), "pdf"))


def test_pdf_cross_reference_offsets_are_exact() -> None:
    pdf = render_banner(HOSTILE, "pdf")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref\n0 8\n")
    entries = pdf[startxref:].split(b"\n", 2)[2].split(b"trailer")[0]
    rows = [entries[i : i + 20] for i in range(0, len(entries), 20)]
    assert rows[0] == b"0000000000 65535 f\r\n" and len(rows) == 8
    for number, row in enumerate(rows[1:], start=1):
        assert row.endswith(b" 00000 n\r\n")
        assert pdf[int(row[:10]) :].startswith(b"%d 0 obj\n" % number)


def test_pdf_strings_are_escaped() -> None:
    pdf = render_banner(HOSTILE, "pdf")
    assert b"(eve\\) show \\(x\\\\)" in pdf
    assert max(pdf.split(b"\n", 2)[2]) < 0x80  # 7-bit after the binary comment line


def test_postscript_selects_the_tray_in_a_stopped_guard() -> None:
    ps = render_banner(INFO, "postscript", tray="Tray 2")
    assert b"[{\n%%BeginFeature: *InputSlot tray-2\n<< /MediaPosition 0 >> setpagedevice\n" in ps
    assert b"} stopped cleartomark\n" in ps
    ghostscript(ps, "ps", "nullpage")
    assert text_lines(ghostscript(ps, "ps")) == EXPECTED_LINES


def test_postscript_prints_even_when_the_printer_refuses_the_tray() -> None:
    # A printer without the tray: setpagedevice fails; the banner still prints.
    refuse = "/setpagedevice { pop /setpagedevice-refused-it-has-no-such-tray } def"
    ps = render_banner(INFO, "postscript", tray="manual")
    assert b"<< /MediaPosition 3 /ManualFeed true >> setpagedevice" in ps
    assert text_lines(ghostscript(ps, "ps", "txtwrite", refuse)) == EXPECTED_LINES
    ghostscript(ps, "ps", "nullpage", refuse)


def test_postscript_without_tray_numbers_selects_nothing() -> None:
    assert b"setpagedevice" not in render_banner(INFO, "postscript", tray="envelope")
    assert b"setpagedevice" not in render_banner(INFO, "postscript")


def test_pdf_cannot_select_a_tray_but_checks_the_name() -> None:
    assert render_banner(INFO, "pdf", tray="tray-3") == render_banner(INFO, "pdf")
    with pytest.raises(ValueError, match="unknown input tray"):
        render_banner(INFO, "pdf", tray="tray-99")


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown banner format"):
        render_banner(INFO, "pclxl")


# --- PCL ----------------------------------------------------------------------------------

ESC = b"\x1b"
UEL = b"\x1b%-12345X"
PJL_HEADER = (
    UEL + b'@PJL JOB NAME="printhost banner"\r\n@PJL SET COPIES=1\r\n'
    b"@PJL SET DUPLEX=OFF\r\n@PJL ENTER LANGUAGE=PCL\r\n"
)
PJL_TRAILER = ESC + b"E" + UEL + b'@PJL EOJ NAME="printhost banner"\r\n' + UEL
#: Every PCL command the renderer emits: reset, orientation, copies, paper source,
#: symbol set, end-of-line wrap, cursor position, rectangle, font selection.
PCL_COMMAND = re.compile(
    rb"\x1b(?:E|&l0O|&l1X|&l\d+H|\(0N|&s1C|&a\d+h\d+V|\*c\d+h\d+v0P|\(s1p[\d.]+v0s[03]b4148T)"
)


def pcl_body(pcl: bytes) -> bytes:
    assert pcl.startswith(PJL_HEADER) and pcl.endswith(PJL_TRAILER)
    return pcl[len(PJL_HEADER) : -len(PJL_TRAILER)]


def assert_only_our_escapes(pcl: bytes) -> bytes:
    """The PCL body with our commands removed: text only, no ESC, no control byte but
    the final form feed."""
    body = pcl_body(pcl)
    assert body.startswith(ESC + b"E")
    text = PCL_COMMAND.sub(b"", body)
    assert text.endswith(b"\x0c")
    assert not re.search(rb"[\x00-\x1f\x7f-\x9f]", text[:-1]), text
    return text[:-1]


def test_pcl_structure() -> None:
    pcl = render_banner(INFO, "pcl")
    body = pcl_body(pcl)
    assert body.startswith(ESC + b"E" + ESC + b"&l0O" + ESC + b"&l1X" + ESC + b"(0N")
    assert not re.search(rb"\x1b&l\d+H", body)  # no tray asked for, none selected
    text = assert_only_our_escapes(pcl)
    assert text == (
        b"aliceQuarterly report.pdfJob ID:4711Host:ws-12.example.comQueue:myprinter"
        b"Printer:floor2-laserTime:2024-05-01 12:51:30 UTC"
    )


@pytest.mark.parametrize(
    ("tray", "command"),
    [("tray-2", b"&l1H"), ("Tray 1", b"&l4H"), ("3", b"&l5H"), ("manual", b"&l2H")],
)
def test_pcl_paper_source(tray: str, command: bytes) -> None:
    pcl = render_banner(INFO, "pcl", tray=tray)
    body = pcl_body(pcl)
    assert body.startswith(ESC + b"E" + ESC + b"&l0O" + ESC + b"&l1X" + ESC + command)
    assert len(re.findall(rb"\x1b&l\d+H", body)) == 1


def test_pcl_hostile_text_cannot_break_out() -> None:
    pcl = render_banner(HOSTILE, "pcl")
    text = assert_only_our_escapes(pcl)
    assert b"@PJL SET COPIES=99" in text  # printed as text, on the same line as the rest
    assert pcl.count(b"\r\n") == PJL_HEADER.count(b"\r\n") + 1  # only our PJL lines
    assert pcl.count(UEL) == 3
    assert pcl.count(ESC) == render_banner(INFO, "pcl").count(ESC)


# --- trays --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "keyword"),
    [
        ("", "auto"),
        ("tray-2", "tray-2"),
        ("Tray 2", "tray-2"),
        ("tray2", "tray-2"),
        ("TRAY_3", "tray-3"),
        ("2", "tray-2"),
        ("bypass", "by-pass-tray"),
        ("Multipurpose", "by-pass-tray"),
        ("manual-feed", "manual"),
        ("top", "top"),
        ("roll-1", "roll-1"),
        ("tray-20", "tray-20"),
    ],
)
def test_tray_keyword(name: str, keyword: str) -> None:
    assert tray_keyword(name) == keyword
    assert keyword in MEDIA_SOURCES


@pytest.mark.parametrize("name", ["tray-0", "tray-21", "drawer", "tray-2; rm", "\x1b"])
def test_unknown_trays_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unknown input tray"):
        tray_keyword(name)


def test_tray_selection_table() -> None:
    assert tray_selection("tray-1") == TraySelection("tray-1", 4, 3)
    assert tray_selection("tray-2") == TraySelection("tray-2", 1, 0)
    assert tray_selection("manual") == TraySelection("manual", 2, 3, manual_feed=True)
    assert tray_selection("top") == TraySelection("top", None, None)


# --- arbitrary text -----------------------------------------------------------------------

GS_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TEXT = st.text(st.characters(codec="utf-8"), max_size=80) | st.text(
    st.sampled_from("()\\%\x1b\r\n\t\x00@PJL <>[]{}/ \u2028\x85\x9b"), max_size=40
)
_PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)


def _info(user: str, job_name: str) -> BannerInfo:
    return BannerInfo(user, job_name, 99, "host", "queue", "printer", 1714567890.0)


@GS_SETTINGS
@given(_TEXT, _TEXT)
def test_any_text_renders_with_ghostscript(user: str, job_name: str) -> None:
    for fmt, suffix in (("pdf", "pdf"), ("postscript", "ps")):
        lines = text_lines(ghostscript(render_banner(_info(user, job_name), fmt), suffix))
        assert lines[-5:] == [
            "Job ID: 99",
            "Host: host",
            "Queue: queue",
            "Printer: printer",
            "Time: 2024-05-01 12:51:30 UTC",
        ]


@GS_SETTINGS
@given(_PRINTABLE, _PRINTABLE)
def test_printable_ascii_round_trips_through_ghostscript(user: str, job_name: str) -> None:
    for fmt, suffix in (("pdf", "pdf"), ("postscript", "ps")):
        lines = text_lines(ghostscript(render_banner(_info(user, job_name), fmt), suffix))
        assert lines[:2] == [user, job_name]


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT, _TEXT, st.sampled_from(["", "tray-2", "manual", "top"]))
def test_pcl_has_no_escape_but_ours(user: str, job_name: str, host: str, tray: str) -> None:
    info = BannerInfo(user, job_name, 5, host, "q", "p", 0.0)
    pcl = render_banner(info, "pcl", tray=tray)
    assert_only_our_escapes(pcl)
    assert pcl.count(ESC) == render_banner(_info("u", "j"), "pcl", tray=tray).count(ESC)
