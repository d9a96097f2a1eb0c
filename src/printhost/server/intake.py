"""Streaming a document from the request body into the spool.

The document never sits whole in memory: chunks are decompressed (``compression`` gzip or
deflate, RFC 8011 §5.4.32), sniffed for their real format on the first bytes, hashed and
written; ``commit`` makes the file and its directory durable before the job is recorded.
A decompressed size over the limit (a zip bomb) stops the upload with a clear error.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from printhost.formats import HEAD_BYTES, OCTET_STREAM, detect_format
from printhost.ipp.constants import Status
from printhost.server.reply import IppError
from printhost.store.base import NewDocument
from printhost.store.spool import Spool, SpoolLimitExceeded

COMPRESSIONS = ("none", "gzip", "deflate")
#: The most one decompression step may produce (bounds memory per upload).
INFLATE_STEP = 256 * 1024


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    name: str
    declared_format: str
    compression: str = "none"


class _Inflater:
    """gzip, or 'deflate' which real clients send either zlib-wrapped (libcups) or raw
    (RFC 1951): the first byte tells which."""

    def __init__(self, compression: str) -> None:
        self._compression = compression
        self._zlib: zlib._Decompress | None = None

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """The decompressed bytes, at most ``INFLATE_STEP`` at a time: a bomb reaches the
        spool's size limit before more than one step of it is in memory."""
        if self._compression == "none":
            yield chunk
            return
        data = chunk
        while data:
            decompressor = self._decompressor(data)
            while True:
                out = decompressor.decompress(data, INFLATE_STEP)
                data = decompressor.unconsumed_tail
                if out:
                    yield out
                if decompressor.eof or (not data and len(out) < INFLATE_STEP):
                    break
            data = decompressor.unused_data if decompressor.eof else b""

    def _decompressor(self, data: bytes) -> zlib._Decompress:
        if self._zlib is not None and self._zlib.eof:
            if self._compression != "gzip":
                raise zlib.error("data after the end of the compressed stream")
            # RFC 1952 §2.2: a gzip file is a series of members (`cat a.gz b.gz`)
            self._zlib = None
        if self._zlib is None:
            self._zlib = zlib.decompressobj(self._wbits(data))
        return self._zlib

    def _wbits(self, first: bytes) -> int:
        if self._compression == "gzip":
            return 16 + zlib.MAX_WBITS
        zlib_wrapped = (
            len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        )
        return zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS

    def finish(self) -> bytes:
        if self._zlib is None:
            return b""
        tail = self._zlib.flush()
        if not self._zlib.eof:
            raise zlib.error("compressed data ends early")
        return tail


async def spool_document(
    spool: Spool, body: AsyncIterator[bytes], meta: DocumentMeta
) -> NewDocument | None:
    """Write the body to the spool; None when the body was empty (no document)."""
    writer = spool.writer("doc")
    inflater = _Inflater(meta.compression)
    head = bytearray()
    try:
        async for chunk in body:
            for data in inflater.feed(chunk):
                if len(head) < HEAD_BYTES:
                    head += data[: HEAD_BYTES - len(head)]
                writer.write(data)
        writer.write(inflater.finish())
    except SpoolLimitExceeded:
        writer.abort()
        raise IppError(
            Status.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE,
            f"document larger than the limit of {spool.max_bytes} bytes",
        ) from None
    except zlib.error as exc:
        writer.abort()
        raise IppError(
            Status.CLIENT_ERROR_COMPRESSION_ERROR,
            f"cannot decompress {meta.compression} document: {exc}",
        ) from None
    except BaseException:
        writer.abort()
        raise
    if writer.size == 0:
        writer.abort()
        return None
    stored = await writer.commit()
    detected = detect_format(bytes(head))
    declared = meta.declared_format
    fmt = detected or (declared if declared != OCTET_STREAM else OCTET_STREAM)
    return NewDocument(
        path=stored.path,
        format=fmt,
        declared_format=declared,
        name=meta.name,
        size=stored.size,
        sha256=stored.sha256,
    )
