"""Golden byte vectors: messages laid out by hand after RFC 8010 §3 and the examples of
RFC 8010 Appendix A, each decoded whole, one byte at a time and followed by document
data, and each encoded back to the same bytes."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from printhost.ipp.constants import Operation, Status, Tag
from printhost.ipp.decoder import decode_message
from printhost.ipp.encoder import encode_message
from printhost.ipp.model import (
    Attribute,
    Collection,
    Message,
    RangeOfInteger,
    Resolution,
    StringWithLanguage,
    Value,
)

from .wire import (
    END,
    END_COLLECTION,
    attr,
    begin_collection,
    decode_bytewise,
    decode_whole,
    header,
    i32,
    member,
    more,
)

PRINTER_URI = "ipp://printer.example.com/ipp/print/pinetree"

# RFC 8010 A.1: Print-Job request, written out octet by octet.
PRINT_JOB_REQUEST = (
    b"\x01\x01"  # version-number 1.1
    b"\x00\x02"  # operation-id Print-Job
    b"\x00\x00\x00\x01"  # request-id 1
    b"\x01"  # operation-attributes-tag
    b"\x47\x00\x12attributes-charset\x00\x05utf-8"
    b"\x48\x00\x1battributes-natural-language\x00\x05en-us"
    b"\x45\x00\x0bprinter-uri\x00\x2cipp://printer.example.com/ipp/print/pinetree"
    b"\x42\x00\x08job-name\x00\x06foobar"
    b"\x22\x00\x16ipp-attribute-fidelity\x00\x01\x01"
    b"\x02"  # job-attributes-tag
    b"\x21\x00\x06copies\x00\x04\x00\x00\x00\x14"
    b"\x44\x00\x05sides\x00\x13two-sided-long-edge"
    b"\x03"  # end-of-attributes-tag
)


def print_job_request() -> Message:
    message = Message((1, 1), Operation.PRINT_JOB, 1)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    operation.add("printer-uri", Tag.URI, PRINTER_URI)
    operation.add("job-name", Tag.NAME, "foobar")
    operation.add("ipp-attribute-fidelity", Tag.BOOLEAN, True)
    job = message.add_group(Tag.JOB)
    job.add("copies", Tag.INTEGER, 20)
    job.add("sides", Tag.KEYWORD, "two-sided-long-edge")
    return message


def _charset_and_language() -> bytes:
    return attr(0x47, "attributes-charset", b"utf-8") + attr(
        0x48, "attributes-natural-language", b"en-us"
    )


# RFC 8010 A.2: Print-Job response (successful).
PRINT_JOB_RESPONSE = (
    header((1, 1), 0x0000, 1)
    + b"\x01"
    + _charset_and_language()
    + attr(0x41, "status-message", b"successful-ok")
    + b"\x02"
    + attr(0x21, "job-id", i32(147))
    + attr(0x45, "job-uri", f"{PRINTER_URI}/147".encode())
    + attr(0x23, "job-state", i32(3))
    + END
)


def print_job_response() -> Message:
    message = Message((1, 1), Status.SUCCESSFUL_OK, 1)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    operation.add("status-message", Tag.TEXT, "successful-ok")
    job = message.add_group(Tag.JOB)
    job.add("job-id", Tag.INTEGER, 147)
    job.add("job-uri", Tag.URI, f"{PRINTER_URI}/147")
    job.add("job-state", Tag.ENUM, 3)
    return message


# RFC 8010 A.7-style Get-Jobs request: requested-attributes is a 1setOf keyword.
GET_JOBS_REQUEST = (
    header((2, 0), 0x000A, 0x123)
    + b"\x01"
    + _charset_and_language()
    + attr(0x45, "printer-uri", PRINTER_URI.encode())
    + attr(0x21, "limit", i32(50))
    + attr(0x44, "requested-attributes", b"job-id")
    + more(0x44, b"job-name")
    + more(0x44, b"document-format")
    + END
)


def get_jobs_request() -> Message:
    message = Message((2, 0), Operation.GET_JOBS, 0x123)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    operation.add("printer-uri", Tag.URI, PRINTER_URI)
    operation.add("limit", Tag.INTEGER, 50)
    keywords = ("job-id", "job-name", "document-format")
    operation.add("requested-attributes", Tag.KEYWORD, *keywords)
    return message


# Get-Jobs response: one job group per job, a 1setOf keyword and a 1setOf of mixed syntax.
GET_JOBS_RESPONSE = (
    header((2, 0), 0x0000, 0x123)
    + b"\x01"
    + _charset_and_language()
    + b"\x02"
    + attr(0x21, "job-id", i32(147))
    + attr(0x42, "job-name", b"foobar")
    + attr(0x44, "job-state-reasons", b"job-printing")
    + more(0x44, b"job-hold-until-specified")
    + b"\x02"
    + attr(0x21, "job-id", i32(148))
    + attr(0x36, "job-name", b"\x00\x02fr\x00\x08r\xc3\xa9sum\xc3\xa9")
    + attr(0x44, "media", b"iso_a4_210x297mm")
    + more(0x42, b"Letterhead")
    + END
)


def get_jobs_response() -> Message:
    message = Message((2, 0), Status.SUCCESSFUL_OK, 0x123)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    first = message.add_group(Tag.JOB)
    first.add("job-id", Tag.INTEGER, 147)
    first.add("job-name", Tag.NAME, "foobar")
    first.add("job-state-reasons", Tag.KEYWORD, "job-printing", "job-hold-until-specified")
    second = message.add_group(Tag.JOB)
    second.add("job-id", Tag.INTEGER, 148)
    second.add("job-name", Tag.NAME_WITH_LANGUAGE, StringWithLanguage("résumé", "fr"))
    media = [Value(Tag.KEYWORD, "iso_a4_210x297mm"), Value(Tag.NAME, "Letterhead")]
    second.append(Attribute("media", media))
    return message


def _media_size(x: int, y: int) -> bytes:
    return (
        begin_collection()
        + member("x-dimension")
        + attr(0x21, "", i32(x))
        + member("y-dimension")
        + attr(0x21, "", i32(y))
        + END_COLLECTION
    )


# RFC 8010 §3.1.6: media-col { media-size { x-dimension y-dimension } media-type }, and
# media-col-database, a 1setOf collection (the second collection has name-length 0).
MEDIA_COL = (
    header((2, 0), 0x0002, 7)
    + b"\x01"
    + _charset_and_language()
    + b"\x02"
    + begin_collection("media-col")
    + member("media-size")
    + _media_size(21000, 29700)
    + member("media-type")
    + attr(0x44, "", b"stationery")
    + END_COLLECTION
    + b"\x04"
    + begin_collection("media-col-database")
    + member("media-size")
    + _media_size(21000, 29700)
    + END_COLLECTION
    + begin_collection()
    + member("media-size")
    + _media_size(21590, 27940)
    + member("media-source")
    + attr(0x44, "", b"tray-1")
    + more(0x44, b"tray-2")
    + END_COLLECTION
    + END
)


def _size(x: int, y: int) -> Collection:
    return Collection().add("x-dimension", Tag.INTEGER, x).add("y-dimension", Tag.INTEGER, y)


def media_col() -> Message:
    message = Message((2, 0), Operation.PRINT_JOB, 7)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    a4 = Collection().add("media-size", Tag.BEGIN_COLLECTION, _size(21000, 29700))
    a4_stationery = Collection(list(a4.members)).add("media-type", Tag.KEYWORD, "stationery")
    message.add_group(Tag.JOB).add("media-col", Tag.BEGIN_COLLECTION, a4_stationery)
    letter = Collection().add("media-size", Tag.BEGIN_COLLECTION, _size(21590, 27940))
    letter.add("media-source", Tag.KEYWORD, "tray-1", "tray-2")
    printer = message.add_group(Tag.PRINTER)
    printer.add("media-col-database", Tag.BEGIN_COLLECTION, a4, letter)
    return message


# Every other value syntax of RFC 8010 §3.9, plus out-of-band, extension and unknown tags.
ALL_SYNTAXES = (
    header((2, 0), 0x000B, 99)
    + b"\x01"
    + _charset_and_language()
    + b"\x04"
    + attr(0x21, "negative", i32(-5))
    + attr(0x22, "false", b"\x00")
    + attr(0x30, "octets", b"\x00\xff\x10")
    + attr(0x31, "printer-current-time", b"\x07\xe8\x05\x01\x0c\x00\x1e\x05-\x02\x00")
    + attr(0x32, "printer-resolution-default", b"\x00\x00\x02\x58\x00\x00\x04\xb0\x03")
    + attr(0x33, "copies-supported", i32(1) + i32(999))
    + attr(0x35, "printer-info", b"\x00\x02de\x00\x07Gr\xc3\xbc\xc3\x9fe")
    + attr(0x41, "printer-location", "Büro 😀".encode())
    + attr(0x46, "uri-scheme", b"ipps")
    + attr(0x49, "document-format", b"application/pdf")
    + attr(0x13, "printer-geo-location", b"")
    + attr(0x12, "unknown-thing", b"")
    + attr(0x7F, "extended", b"\x40\x00\x00\x01data")
    + attr(0x4B, "future-syntax", b"\x01\x02")
    + END
)


def all_syntaxes() -> Message:
    message = Message((2, 0), Operation.GET_PRINTER_ATTRIBUTES, 99)
    operation = message.add_group(Tag.OPERATION)
    operation.add("attributes-charset", Tag.CHARSET, "utf-8")
    operation.add("attributes-natural-language", Tag.NATURAL_LANGUAGE, "en-us")
    printer = message.add_group(Tag.PRINTER)
    printer.add("negative", Tag.INTEGER, -5)
    printer.add("false", Tag.BOOLEAN, False)
    printer.add("octets", Tag.OCTET_STRING, b"\x00\xff\x10")
    minus_two = datetime.timezone(datetime.timedelta(hours=-2))
    when = datetime.datetime(2024, 5, 1, 12, 0, 30, 500_000, minus_two)
    printer.add("printer-current-time", Tag.DATE_TIME, when)
    printer.add("printer-resolution-default", Tag.RESOLUTION, Resolution(600, 1200, 3))
    printer.add("copies-supported", Tag.RANGE_OF_INTEGER, RangeOfInteger(1, 999))
    printer.add("printer-info", Tag.TEXT_WITH_LANGUAGE, StringWithLanguage("Grüße", "de"))
    printer.add("printer-location", Tag.TEXT, "Büro 😀")
    printer.add("uri-scheme", Tag.URI_SCHEME, "ipps")
    printer.add("document-format", Tag.MIME_MEDIA_TYPE, "application/pdf")
    printer.add("printer-geo-location", Tag.NO_VALUE, None)
    printer.add("unknown-thing", Tag.UNKNOWN, None)
    printer.add("extended", Tag.EXTENSION, b"\x40\x00\x00\x01data")
    printer.add("future-syntax", 0x4B, b"\x01\x02")
    return message


VECTORS: dict[str, tuple[bytes, Callable[[], Message]]] = {
    "print-job-request": (PRINT_JOB_REQUEST, print_job_request),
    "print-job-response": (PRINT_JOB_RESPONSE, print_job_response),
    "get-jobs-request": (GET_JOBS_REQUEST, get_jobs_request),
    "get-jobs-response": (GET_JOBS_RESPONSE, get_jobs_response),
    "media-col": (MEDIA_COL, media_col),
    "all-syntaxes": (ALL_SYNTAXES, all_syntaxes),
}
DOCUMENT = b"%!PS-Adobe-3.0\n%%Pages: 1\n" + bytes(range(256))
FEEDERS = {"whole": decode_whole, "bytewise": decode_bytewise}


@pytest.fixture(params=sorted(VECTORS))
def vector(request: pytest.FixtureRequest) -> tuple[bytes, Message]:
    data, build = VECTORS[request.param]
    return data, build()


@pytest.mark.parametrize("feed", sorted(FEEDERS))
def test_vector_decodes(vector: tuple[bytes, Message], feed: str) -> None:
    data, expected = vector
    assert FEEDERS[feed](data) == (expected, b"")


@pytest.mark.parametrize("feed", sorted(FEEDERS))
def test_vector_with_document_leaves_the_document(vector: tuple[bytes, Message], feed: str) -> None:
    data, expected = vector
    assert FEEDERS[feed](data + DOCUMENT) == (expected, DOCUMENT)


def test_vector_encodes_to_the_same_bytes(vector: tuple[bytes, Message]) -> None:
    data, expected = vector
    assert encode_message(expected) == data


def test_print_job_request_matches_the_layout_builders() -> None:
    rebuilt = (
        header((1, 1), 0x0002, 1)
        + b"\x01"
        + _charset_and_language()
        + attr(0x45, "printer-uri", PRINTER_URI.encode())
        + attr(0x42, "job-name", b"foobar")
        + attr(0x22, "ipp-attribute-fidelity", b"\x01")
        + b"\x02"
        + attr(0x21, "copies", i32(20))
        + attr(0x44, "sides", b"two-sided-long-edge")
        + END
    )
    assert rebuilt == PRINT_JOB_REQUEST


def test_decoded_tags_are_tag_members_where_known() -> None:
    message, _ = decode_message(MEDIA_COL)
    media_col = message.groups[1].attributes[0]
    assert media_col.items[0].tag is Tag.BEGIN_COLLECTION
    assert message.groups[2].tag is Tag.PRINTER
    assert repr(media_col.tag) == "<Tag.BEGIN_COLLECTION: 52>"
