"""The control-file parser (RFC 1179 §7): every standard line, LPRng's extensions, what
is cut or stripped, what is refused, and a round trip of generated control files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.lpd import ControlFile, Limits, LpdError, parse_control_file
from printhost.lpd.control import PRINT_FORMATS, clean

from .wire import control


def test_every_rfc_1179_line() -> None:
    content = control(
        "Cclass",  # §7.1
        "Hclient.example",  # §7.2
        "I8",  # §7.3
        "JQuarterly report",  # §7.4
        "Lalice",  # §7.5
        "Malice",  # §7.6
        "Nreport.txt",  # §7.7
        "Palice",  # §7.8
        "S2049 1234",  # §7.9 symbolic link data: read, never acted on
        "TTitle for pr",  # §7.10
        "W132",  # §7.11
        "1times.r",  # §7.25-28 troff fonts: ignored
        "2times.i",
        "3times.b",
        "4special",
        prints=[f"{letter}dfA001client" for letter in "fl"]
        + [f"{letter}df{letter.upper()}001client" for letter in "opr"]
        + ["tdfT001client", "ndfN001client", "ddfD001client", "gdfG001client"]
        + ["cdfC001client", "vdfV001client", "UdfA001client", "UdfO001client"],
    )

    parsed = parse_control_file(content)

    assert parsed.job_class == "class"
    assert parsed.host == "client.example"
    assert (parsed.indent, parsed.width) == (8, 132)
    assert parsed.job_name == "Quarterly report"
    assert parsed.banner_user == "alice"
    assert parsed.mail_user == "alice"
    assert parsed.user == "alice"
    assert parsed.title == "Title for pr"
    assert parsed.unlinked == ("dfA001client", "dfO001client")
    letters = [(d.name, d.letter, d.copies) for d in parsed.documents]
    assert letters[0] == ("dfA001client", "f", 2)  # f then l on the same file: 2 copies
    assert [d.letter for d in parsed.documents[1:]] == list("oprtndgcv")
    assert {d.letter for d in parsed.documents} | {"l"} == set(PRINT_FORMATS)
    assert parsed.documents[0].source_name == "report.txt"


def test_lprng_control_file() -> None:
    """What LPRng 3.8's lpr sends (captured; IPP-CLIENTS.md §6.1)."""
    content = (
        b"Hlocalhost\nPalice\nJmy title\nCA\nLalice\nAalice@localhost+93\n"
        b"D2026-11-21-04:07:43.237\nQmyq\nNt.txt\nfdfA093localhost\nUdfA093localhost\n"
    )

    parsed = parse_control_file(content)

    assert parsed.extensions == (
        ("A", "alice@localhost+93"),
        ("D", "2026-11-21-04:07:43.237"),
        ("Q", "myq"),
    )
    assert parsed.extension("A") == "alice@localhost+93"
    assert parsed.extension("Z") == ""
    assert parsed.data_file_names == frozenset({"dfA093localhost"})


def test_cups_puts_the_name_after_the_print_lines() -> None:
    """CUPS's lpd backend: print lines, U, then N; the name still belongs to the file."""
    parsed = parse_control_file(b"Hvm\nPalice\nJtitle\nldfA000vm\nUdfA000vm\nNtitle\n")
    assert parsed.documents[0].source_name == "title"


def test_unknown_lines_are_ignored() -> None:
    parsed = parse_control_file(control("Palice", "eexotic", "9nine", "!bang", "\x7fdel"))
    assert parsed.user == "alice" and parsed.extensions == ()


def test_fields_lose_control_characters_and_are_cut() -> None:
    parsed = parse_control_file(
        control(
            "P" + "u" * 40,
            "H\x1b[2Jhost\x07",
            "J; rm -rf /*;\x1b]0;evil\x07" + "j" * 200,
            "Nname\u202egnp.exe",  # a right-to-left override would disguise the name
            "T" + "t" * 200,
        )
    )

    assert parsed.user == "u" * 31  # §7.8
    assert parsed.host == "[2Jhost"
    assert parsed.job_name.startswith("; rm -rf /*;]0;evil")  # text, never a command
    assert len(parsed.job_name.encode()) == 99  # §7.4
    assert parsed.documents[0].source_name == "namegnp.exe"
    assert len(parsed.title) == 79


def test_eight_bit_names() -> None:
    """Latin-1 from old systems, 0xFF in J lines (LPRng HOWTO), UTF-8 from new ones."""
    parsed = parse_control_file(control(b"PM\xfcller", b"J\xff\xfe", "Nr\u00e9sum\u00e9"))
    assert parsed.user == "M\u00fcller"
    assert parsed.job_name == "\u00ff\u00fe"
    assert parsed.documents[0].source_name == "r\u00e9sum\u00e9"


def test_cut_does_not_split_a_character() -> None:
    assert clean("é".encode() * 20, 31) == "é" * 15


def test_crlf_and_blank_lines() -> None:
    parsed = parse_control_file(b"Palice\r\n\r\n\nldfA001h\r\nUdfA001h\r\n")
    assert parsed.user == "alice" and parsed.documents[0].name == "dfA001h"


def test_bad_numbers_are_ignored() -> None:
    parsed = parse_control_file(control("I-3", "W1e9", "Wabc"))
    assert (parsed.indent, parsed.width) == (None, None)


def test_first_h_p_j_win() -> None:
    parsed = parse_control_file(control("Palice", "Pmallory", "Jone", "Jtwo"))
    assert (parsed.user, parsed.job_name) == ("alice", "one")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (control("U/etc/passwd"), "characters names may not have"),
        (control("UdfB001client"), "not a data file of this job"),
        (control(prints=["f../../x"]), "characters names may not have"),
        (control(prints=["fpasswd"]), "does not start with df"),
        (b"Palice\n", "no data file"),
        (b"Palice\x00\nldfA001h\n", "NUL"),
        (control("J" + "x" * 2000), "line longer"),
        (b"P" * 70000, "exceeds"),
    ],
)
def test_refused_control_files(content: bytes, message: str) -> None:
    with pytest.raises(LpdError, match=message):
        parse_control_file(content)


def test_data_file_limit() -> None:
    content = control(prints=[f"ldfA{i:03d}h" for i in range(5)])
    assert len(parse_control_file(content, Limits(max_data_files=5)).documents) == 5
    with pytest.raises(LpdError, match="more than 4"):
        parse_control_file(content, Limits(max_data_files=4))


# -- round trip --------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20
)
_NAMES = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1
).filter(lambda name: ".." not in name)


@settings(max_examples=200, deadline=None)
@given(
    user=_TEXT,
    host=_TEXT,
    job_name=_TEXT,
    documents=st.lists(
        st.tuples(_NAMES, st.sampled_from(sorted(PRINT_FORMATS)), st.integers(1, 5)),
        min_size=1,
        max_size=8,
        unique_by=lambda d: d[0],
    ),
)
def test_round_trip(
    user: str, host: str, job_name: str, documents: list[tuple[str, str, int]]
) -> None:
    prints = [f"{letter}df{name}" for name, letter, copies in documents for _ in range(copies)]
    unlinks = [f"Udf{name}" for name, _, _ in documents]

    parsed = parse_control_file(
        control(f"H{host}", f"P{user}", f"J{job_name}", prints=prints + unlinks)
    )

    assert parsed == ControlFile(
        host=host,
        user=user,
        job_name=job_name,
        documents=parsed.documents,
        unlinked=tuple(f"df{name}" for name, _, _ in documents),
    )
    assert [(d.name, d.letter, d.copies) for d in parsed.documents] == [
        (f"df{name}", letter, copies) for name, letter, copies in documents
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_lpd_error(content: bytes) -> None:
    try:
        parsed = parse_control_file(content)
    except LpdError:
        return
    assert parsed.documents
    shown = parsed.user + parsed.host + parsed.job_name + parsed.title
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)
