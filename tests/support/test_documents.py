"""The generated sample documents are complete and are what their names say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.documents import (
    DOCUMENT_PAGES,
    PAGE_SIZES,
    RASTER_TYPES,
    DocumentError,
    find_referenced_files,
    page_spec_for,
    read_pwg_raster,
    suite_test_files,
)

pytestmark = pytest.mark.peers  # needs cups-ipp-utils and Ghostscript

CONFORMANCE_SUITES = (
    "ipp-1.1.test",
    "ipp-2.0.test",
    "ipp-2.1.test",
    "ipp-2.2.test",
    "ipp-everywhere.test",
)
_RASTER = re.compile(r"pwg-raster-samples-(\d+)dpi/([a-z]+-\d+)/(.+)-\2-\1dpi\.pwg$")


def test_every_referenced_document_exists(sample_documents: Path) -> None:
    referenced = find_referenced_files(sample_documents.glob("*.test"))

    missing = sorted(name for name in referenced if not (sample_documents / name).is_file())

    assert "document-a4.pdf" in referenced
    assert "../data/testprint.ps" in referenced
    assert missing == []


def test_suite_directory_holds_every_test_file(sample_documents: Path) -> None:
    shipped = {path.name for path in suite_test_files()}

    assert shipped <= {path.name for path in sample_documents.glob("*.test")}
    assert set(CONFORMANCE_SUITES) <= shipped


@pytest.mark.parametrize(
    ("name", "pages"),
    [
        ("testfile.pdf", 1),
        ("onepage-a4.pdf", 1),
        ("document-a4.pdf", DOCUMENT_PAGES),
        ("document-letter.pdf", DOCUMENT_PAGES),
    ],
)
def test_pdf_documents(sample_documents: Path, name: str, pages: int) -> None:
    data = (sample_documents / name).read_bytes()

    assert data.startswith(b"%PDF-")
    assert re.search(rb"/Count (\d+)", data) is not None
    assert int(re.findall(rb"/Count (\d+)", data)[-1]) == pages
    width, height = PAGE_SIZES[page_spec_for(name).size]
    assert f"/MediaBox [0 0 {width} {height}]".encode() in data


@pytest.mark.parametrize("name", ["document-a4.ps", "document-letter.ps", "testfile.ps"])
def test_postscript_documents(sample_documents: Path, name: str) -> None:
    text = (sample_documents / name).read_text(encoding="ascii")

    assert text.startswith("%!PS-Adobe-3.0\n")
    assert text.count("%%Page: ") == page_spec_for(name).pages


@pytest.mark.parametrize(("name", "components"), [("color.jpg", 3), ("gray.jpg", 1)])
def test_jpeg_documents(sample_documents: Path, name: str, components: int) -> None:
    data = (sample_documents / name).read_bytes()
    start_of_frame = data.find(b"\xff\xc0")

    assert data.startswith(b"\xff\xd8\xff")
    assert start_of_frame > 0
    assert data[start_of_frame + 9] == components


def test_pwg_raster_samples_match_their_names(sample_documents: Path) -> None:
    # Decoding every line of every sample takes a while in pure Python, so
    # check all 300 dpi samples and the largest ones (720 dpi, srgb-16).
    samples = sorted(sample_documents.glob("pwg-raster-samples-*/*/*.pwg"))
    chosen = [
        path
        for path in samples
        if "-300dpi" in path.name or ("-720dpi" in path.name and "srgb-16" in path.name)
    ]
    assert len(samples) > 100
    assert chosen
    for path in chosen:
        match = _RASTER.search(path.relative_to(sample_documents).as_posix())
        assert match is not None, path
        resolution, raster_type, source = int(match[1]), match[2], match[3]
        pages = read_pwg_raster(path)
        assert len(pages) == page_spec_for(source).pages, path
        color_space, bits = RASTER_TYPES[raster_type]
        for page in pages:
            assert page.resolution == (resolution, resolution), path
            assert (page.color_space, page.bits_per_color) == (color_space, bits), path
            assert page.page_size == PAGE_SIZES[page_spec_for(source).size], path


def test_truncated_raster_is_rejected(sample_documents: Path, tmp_path: Path) -> None:
    original = sample_documents / "testfile.pwg"
    truncated = tmp_path / "truncated.pwg"
    truncated.write_bytes(original.read_bytes()[:5000])

    assert len(read_pwg_raster(original)) == 1
    with pytest.raises(DocumentError):
        read_pwg_raster(truncated)
