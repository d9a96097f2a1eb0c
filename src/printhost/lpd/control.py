"""The control file (RFC 1179 §7): bytes in, a checked ``ControlFile`` out.

Theory of operation
-------------------
A control file is lines of one command letter and an operand. The letters of §7 are
read into fields; LPRng's extensions (``A`` identifier, ``D`` date, ``Q`` queue, ``Z``
options, ``R`` accounting...) are kept as they are in ``extensions``; lines starting with
anything else are ignored, as §7 asks ("lines with unknown commands are ignored").

Every operand is untrusted (IPP-CLIENTS.md §6.2). Text fields that end up in banners,
listings and logs (H P J C L T N M and the extensions) lose their control characters and
are cut to RFC 1179's lengths (``Limits``). Print lines (``f l o p r t n d g c v``) must
name a data file (``df...``, checked like the subcommand names); ``U`` (unlink) may only
name one of this job's own data files, so the classic ``U/etc/passwd`` is refused (and
printhost unlinks nothing a client names anyway). ``S`` (symbolic link data), the fonts
``1``-``4`` and ``I``/``W`` on non-text jobs are read and never acted on.

Bytes are UTF-8 where they are valid UTF-8 and Latin-1 otherwise, line by line: older
systems send 8-bit names and the LPRng HOWTO reports 0xFF octets in ``J`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from printhost.lpd.commands import check_file_name
from printhost.lpd.errors import LpdError
from printhost.lpd.limits import Limits

#: Print-file letters of §7.12-§7.23 and the format each one means for our IPP side.
#: Formats detected from the data win over these (clients send PDF as ``f``, "text").
PRINT_FORMATS: dict[str, str] = {
    "f": "text/plain",  # §7.13 formatted file (plain text, printed as is)
    "l": "application/vnd.cups-raw",  # §7.16 leave control characters: raw printer data
    "o": "application/postscript",  # §7.18 PostScript
    "p": "text/plain",  # §7.19 text through pr(1)
    "r": "text/plain",  # §7.20 FORTRAN carriage control
    "t": "application/x-troff",  # §7.21 troff output
    "n": "application/x-troff",  # §7.17 ditroff output
    "d": "application/x-dvi",  # §7.12 TeX DVI
    "g": "application/octet-stream",  # §7.14 plot(3X) data
    "c": "application/octet-stream",  # §7.11 CIF
    "v": "application/octet-stream",  # §7.22 raster image
}
#: LPRng's control-file extensions (LPRng-HOWTO "Job file format"), kept for the
#: application: identifier, date, queue, options, accounting, priority class...
EXTENSION_LETTERS = frozenset("ADQZRBEGKOVXY")

#: C0 and C1 controls, and the invisible format characters that reorder or break lines
#: when shown (bidi overrides and isolates, line and paragraph separators).
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class DataFileUse:
    """One data file of a job, in the order of its first print line."""

    name: str
    letter: str  # the print letter of its first print line
    #: Print lines naming it: RFC 1179 clients ask for copies by repeating the line.
    copies: int
    #: The §7.7 ``N`` name nearest before the first print line, else the next one after
    #: (CUPS's lpd backend writes ``N`` after the print lines).
    source_name: str


@dataclass(frozen=True, slots=True)
class ControlFile:
    host: str = ""  # H §7.2
    user: str = ""  # P §7.8
    job_name: str = ""  # J §7.4
    job_class: str = ""  # C §7.1
    banner_user: str | None = None  # L §7.5: print a banner page (None: no banner)
    title: str = ""  # T §7.10
    mail_user: str = ""  # M §7.6 (never acted on: historically it reached sendmail)
    indent: int | None = None  # I §7.3
    width: int | None = None  # W §7.11
    documents: tuple[DataFileUse, ...] = ()
    unlinked: tuple[str, ...] = ()  # U §7.24
    extensions: tuple[tuple[str, str], ...] = field(default=())

    @property
    def data_file_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.documents)

    def extension(self, letter: str) -> str:
        """The first value of an LPRng extension line, or ""."""
        return next((value for key, value in self.extensions if key == letter), "")


class _Reader:
    """Collects the fields of one control file while its lines are read."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.fields: dict[str, str] = {}
        self.banner_user: str | None = None
        self.numbers: dict[str, int] = {}
        self.prints: list[tuple[str, str, int]] = []  # (letter, data file, line index)
        self.names: list[tuple[int, str]] = []  # (line index, N operand)
        self.unlinked: list[str] = []
        self.extensions: list[tuple[str, str]] = []

    def read(self, index: int, letter: str, operand: bytes) -> None:
        limits = self.limits
        if letter in PRINT_FORMATS:
            self.prints.append((letter, self._data_file(letter, operand), index))
        elif letter in "HPC":
            self.fields.setdefault(letter, clean(operand, limits.max_short_field_bytes))
        elif letter == "L":
            self.banner_user = clean(operand, limits.max_short_field_bytes)
        elif letter == "J":
            self.fields.setdefault("J", clean(operand, limits.max_job_name_bytes))
        elif letter == "T":
            self.fields.setdefault("T", clean(operand, limits.max_title_bytes))
        elif letter == "M":
            self.fields.setdefault("M", clean(operand, limits.max_text_field_bytes))
        elif letter == "N":
            self.names.append((index, clean(operand, limits.max_text_field_bytes)))
        elif letter == "U":
            self.unlinked.append(self._data_file(letter, operand))
        elif letter in "IW":
            number = _number(operand)
            if number is not None:
                self.numbers[letter] = number
        elif letter in EXTENSION_LETTERS:
            self.extensions.append((letter, clean(operand, limits.max_text_field_bytes)))
        # S (§7.9), 1-4 (§7.25-28) and unknown letters: read, never acted on (§7)

    def _data_file(self, letter: str, operand: bytes) -> str:
        try:
            return check_file_name(operand.rstrip(b"\r"), b"df", self.limits)
        except LpdError as exc:
            raise LpdError(f"control file line {letter}: {exc.message}") from None

    def result(self) -> ControlFile:
        documents = self._documents()
        printed = {d.name for d in documents}
        stray = [name for name in self.unlinked if name not in printed]
        if stray:
            raise LpdError(f"U line names {stray[0]!r}, which is not a data file of this job")
        get = self.fields.get
        return ControlFile(
            host=get("H", ""),
            user=get("P", ""),
            job_name=get("J", ""),
            job_class=get("C", ""),
            banner_user=self.banner_user,
            title=get("T", ""),
            mail_user=get("M", ""),
            indent=self.numbers.get("I"),
            width=self.numbers.get("W"),
            documents=documents,
            unlinked=tuple(self.unlinked),
            extensions=tuple(self.extensions),
        )

    def _documents(self) -> tuple[DataFileUse, ...]:
        first: dict[str, tuple[str, int]] = {}
        copies: dict[str, int] = {}
        for letter, name, index in self.prints:
            first.setdefault(name, (letter, index))
            copies[name] = copies.get(name, 0) + 1
        if not first:
            raise LpdError("control file names no data file to print")
        if len(first) > self.limits.max_data_files:
            raise LpdError(f"control file names more than {self.limits.max_data_files} data files")
        return tuple(
            DataFileUse(name, letter, copies[name], self._source_name(index))
            for name, (letter, index) in first.items()
        )

    def _source_name(self, index: int) -> str:
        before = [name for at, name in self.names if at < index]
        after = [name for at, name in self.names if at > index]
        return before[-1] if before else (after[0] if after else "")


def parse_control_file(content: bytes, limits: Limits | None = None) -> ControlFile:
    """Parse and check a whole control file (without its trailing zero octet)."""
    limits = limits or Limits()
    if len(content) > limits.max_control_file_bytes:
        raise LpdError(f"control file exceeds {limits.max_control_file_bytes} octets")
    if b"\x00" in content:
        raise LpdError("control file contains a NUL octet")
    reader = _Reader(limits)
    for index, line in enumerate(_lines(content, limits)):
        reader.read(index, chr(line[0]), line[1:])
    return reader.result()


def _lines(content: bytes, limits: Limits) -> Iterator[bytes]:
    for line in content.split(b"\n"):
        if len(line) > limits.max_control_line_bytes:
            raise LpdError(f"control file line longer than {limits.max_control_line_bytes} octets")
        if line.strip():
            yield line


def clean(raw: bytes, max_bytes: int) -> str:
    """An operand as text: decoded, without control characters, cut to ``max_bytes``
    octets of UTF-8 without splitting a character."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = _CONTROL_CHARS.sub("", text).strip()
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _number(raw: bytes) -> int | None:
    text = raw.strip()
    if not text.isdigit() or len(text) > 6:
        return None  # §7.3/§7.11 want a small decimal number; anything else is ignored
    return int(text)
