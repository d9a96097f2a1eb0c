from __future__ import annotations

import base64

import pytest

from printhost.auth import CredentialCache, Principal, hash_password, parse_basic, verify_password
from printhost.formats import detect_format


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"%!PS-Adobe-3.0\n", "application/postscript"),
        (b"RaS2PwgRaster\x00", "image/pwg-raster"),
        (b"UNIRAST\x00\x00\x00\x00\x01", "image/urf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\x1bE\x1b&l0O", "application/vnd.hp-pcl"),
        (b"\x1b%-12345X@PJL ENTER LANGUAGE = POSTSCRIPT\n%!PS", "application/postscript"),
        (b"\x1b%-12345X@PJL\n%PDF-1.4", "application/pdf"),
        (b") HP-PCL XL;2;0", "application/vnd.hp-pclxl"),
        (b"plain text\nwith lines\f", "text/plain"),
        ("caf\u00e9".encode()[:-1], "text/plain"),  # a character cut at the end of the head
        (b"\x00\x01\x02binary", None),
        (b"", None),
    ],
)
def test_detect_format(head: bytes, mime: str | None) -> None:
    assert detect_format(head) == mime


def test_password_hash_round_trip() -> None:
    encoded = hash_password("s3cret")
    assert encoded.startswith("scrypt$") and "s3cret" not in encoded
    assert verify_password("s3cret", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("s3cret", "md5$whatever")
    assert not verify_password("s3cret", "scrypt$x$y$z$%%%$@@@")


def test_parse_basic() -> None:
    token = base64.b64encode(b"alice:pa:ss").decode()
    assert parse_basic(f"Basic {token}") == ("alice", "pa:ss")
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None


def test_credential_cache_remembers_only_right_passwords() -> None:
    cache = CredentialCache(ttl=60)
    encoded = hash_password("pw")
    assert cache.check("bob", "pw", encoded)
    assert cache.check("bob", "pw", encoded)  # from the cache
    assert not cache.check("bob", "nope", encoded)


def test_principal_ownership_rules() -> None:
    claimed = Principal("alice")
    proven = Principal("alice", authenticated=True)
    operator = Principal("op", role="operator", authenticated=True)
    unproven_operator = Principal("op", role="operator")
    assert claimed.owns("alice", owner_authenticated=False)
    assert not claimed.owns("alice", owner_authenticated=True)  # invariant 4
    assert proven.owns("alice", owner_authenticated=True)
    assert not proven.owns("bob", owner_authenticated=False)
    assert operator.may_manage("bob", owner_authenticated=True)
    assert not unproven_operator.is_operator
