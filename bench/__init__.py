"""printhost's benchmarks: printhost and CUPS 2.4 side by side, same load, same printers.

Run ``python -m bench`` (or ``make bench``); ``bench/README.md`` says how to read the table.

Theory of operation
-------------------
For every row of the table the bench starts a *fresh* server - printhost
(``support.server.PrinthostServer``) or a private cupsd (``bench.servers.BenchCupsd``) - with
the same queues pointing at the same kind of printer: an AppSocket sink process
(``bench.sink``) or ``ippeveprinter -c /bin/cat`` (``bench.printers``). One load client
(``bench.client``) sends identical Print-Job requests to either. While a run lasts, the
server's process tree is sampled from /proc (``bench.procstat``) for CPU time and memory.
Each row is repeated, printhost and CUPS alternating, and the table shows medians
(``bench.report``); the JSON file keeps every raw figure.

The real peers and the printhost harness live in ``tests/`` (``peers`` and ``support``,
importable because ``tests/`` has no ``__init__.py``). The bench imports them rather than
copying them: importing this package appends ``tests/`` to ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
TESTS_DIR = PROJECT_DIR / "tests"

if str(TESTS_DIR) not in sys.path:
    sys.path.append(str(TESTS_DIR))
