"""Delivery backends, chosen by the printer URI's scheme (as PAPPL registers devices).

``backend_for(uri)`` builds the backend for a URI; a caller may keep one instance per
scheme, since backends hold no per-job state (only a timeout and, for IPP, a pooled HTTP
client). Every backend has ``aclose()`` so the owner can release such resources at
shutdown.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from printhost.dispatch.backends.base import Backend
from printhost.dispatch.backends.file import FileBackend
from printhost.dispatch.backends.ipp import IppBackend
from printhost.dispatch.backends.lpd import LpdBackend
from printhost.dispatch.backends.socket import SocketBackend

__all__ = ["BACKENDS", "BackendFactory", "backend_for", "scheme_of"]


class BackendFactory(Protocol):
    """A backend class: built with the network timeout in seconds."""

    def __call__(self, timeout: float = 30.0) -> Backend: ...


#: scheme -> factory.
BACKENDS: dict[str, BackendFactory] = {
    "file": FileBackend,
    "socket": SocketBackend,
    "lpd": LpdBackend,
    "ipp": IppBackend,
    "ipps": IppBackend,
}


def scheme_of(uri: str) -> str:
    return urlsplit(uri).scheme.lower()


def backend_for(uri: str, timeout: float = 30.0) -> Backend:
    """A new backend able to deliver to ``uri``; ValueError for an unknown scheme."""
    scheme = scheme_of(uri)
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(
            f"no delivery backend for {scheme or 'a URI without scheme'!r} "
            f"in {uri!r} (known schemes: {known})"
        )
    return factory(timeout=timeout)
