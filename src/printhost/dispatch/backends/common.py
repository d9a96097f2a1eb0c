"""Small helpers the stream backends (socket, lpd) share: opening spooled documents and
describing network errors for job-state-message."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from printhost.dispatch.backends.base import DeliveryResult, DocumentFile, Outcome


@contextlib.contextmanager
def open_documents(documents: Sequence[DocumentFile]) -> Iterator[list[BinaryIO]]:
    """Open every document before anything is sent, so a missing spool file fails the job
    up front instead of after half of it reached the printer. Raises OSError."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(document.path.open("rb")) for document in documents]


def unreadable_document(exc: OSError) -> DeliveryResult:
    # Our own spool is unreadable: sending again will not help.
    return DeliveryResult(
        Outcome.FAILED, "document-access-error", f"cannot read spooled document: {exc}"
    )


def describe_error(exc: BaseException) -> str:
    """A short human explanation of a network error, for job-state-message."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror})"
    if isinstance(exc, OSError) and exc.errno:
        # asyncio's connect errors read "Connect call failed (addr)": say why instead.
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
