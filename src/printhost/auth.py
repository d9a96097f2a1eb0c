"""Who is asking: password hashing, HTTP Basic credentials, principals and roles.

Passwords are hashed with scrypt (hashlib, RFC 7914) in a self-describing string
``scrypt$N$r$p$salt$hash``. Verifying costs ~50 ms on purpose, and CUPS clients resend
Basic credentials on every request of a keep-alive connection, so verified credentials are
remembered for a short time (keyed by a hash, never the password itself).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

ROLE_RANK = {"user": 0, "operator": 1, "admin": 2}
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True, slots=True)
class Principal:
    """The party behind a request. ``authenticated`` is False when ``name`` is only what
    the client claimed (requesting-user-name) - never enough to act on others' jobs."""

    name: str
    role: str = "user"
    authenticated: bool = False

    @property
    def is_operator(self) -> bool:
        return self.authenticated and ROLE_RANK.get(self.role, 0) >= ROLE_RANK["operator"]

    def owns(self, owner: str, owner_authenticated: bool) -> bool:
        """A job is this principal's when the names match; a job submitted with a proven
        identity can only be touched by a proven identity (invariant 4)."""
        if owner != self.name:
            return False
        return self.authenticated or not owner_authenticated

    def may_manage(self, owner: str, owner_authenticated: bool) -> bool:
        return self.is_operator or self.owns(owner, owner_authenticated)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(expected, actual)


def parse_basic(header: str) -> tuple[str, str] | None:
    """``Authorization: Basic dXNlcjpwYXNz`` -> ("user", "pass"); None if not Basic/invalid."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep and user else None


class CredentialCache:
    """Remembers recently verified (user, password) pairs for ``ttl`` seconds."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[bytes, tuple[str, float]] = {}

    @staticmethod
    def _key(user: str, password: str, password_hash: str) -> bytes:
        return hashlib.sha256(f"{user}\0{password}\0{password_hash}".encode()).digest()

    def check(self, user: str, password: str, password_hash: str) -> bool:
        key = self._key(user, password, password_hash)
        hit = self._entries.get(key)
        if hit and hit[1] > time.monotonic():
            return True
        if not verify_password(password, password_hash):
            return False
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (user, time.monotonic() + self._ttl)
        return True
