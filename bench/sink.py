"""An AppSocket (port 9100) sink as its own process: reads each job, discards it, logs it.

Run as ``python -m bench.sink --port P --log FILE``. It prints ``listening PORT`` once
bound, then for every connection the client closed after sending at least one byte
appends one line to FILE::

    <time.monotonic() at EOF> <bytes> <bench-seq or -1>

``time.monotonic()`` is CLOCK_MONOTONIC, the same clock in every process of the machine,
so the bench compares it with its own submit times. The job number comes from the
``%bench-seq N`` comment the bench appends to every document (see ``bench.documents``);
it is what finds lost and duplicated jobs.

It is a separate process, not a thread of the bench, so that (1) its CPU is not charged to
the load client, and (2) it can be killed with SIGKILL and started again on the same port
(``reuse_address``), which is how the failover row "kills a printer". The log file is
opened in append mode by every incarnation, so the record survives the kill.

The sink closes its side after EOF, as a printer does when it has taken the job; both
printhost's and CUPS's socket backends wait for that close.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time

MARKER = re.compile(rb"%bench-seq (\d+)")
TAIL_BYTES = 64
READ_BYTES = 1 << 16
#: A connection still open after this long is dropped (bounded like everything).
IDLE_SECONDS = 120.0


class Sink:
    def __init__(self, log_fd: int) -> None:
        self.log_fd = log_fd

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = 0
        tail = b""
        try:
            async with asyncio.timeout(IDLE_SECONDS):
                while chunk := await reader.read(READ_BYTES):
                    size += len(chunk)
                    tail = (tail + chunk)[-TAIL_BYTES:]
        except (OSError, TimeoutError):
            writer.close()
            return  # the job did not arrive whole: a printer would not print it
        if size:
            found = MARKER.search(tail)
            seq = int(found.group(1)) if found else -1
            # One write(2) per line on an O_APPEND fd: lines never interleave.
            os.write(self.log_fd, f"{time.monotonic():.6f} {size} {seq}\n".encode())
        writer.close()


async def serve(port: int, log_path: str) -> None:
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sink = Sink(log_fd)
    server = await asyncio.start_server(sink.handle, "127.0.0.1", port, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"listening {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.log))


if __name__ == "__main__":
    main()
