"""Jobs sent to each printer lately, for least-loaded pools (this node's view)."""

from __future__ import annotations

import collections

#: How far back "lately" reaches.
WINDOW_SECONDS = 300.0


class RecentDeliveries:
    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self._window = window
        self._sent: collections.deque[tuple[float, str]] = collections.deque()

    def add(self, printer: str, now: float) -> None:
        self._sent.append((now, printer))

    def counts(self, now: float) -> dict[str, int]:
        while self._sent and self._sent[0][0] <= now - self._window:
            self._sent.popleft()
        return dict(collections.Counter(printer for _, printer in self._sent))
