"""The one exception the modification functions raise for a document they cannot modify."""

from __future__ import annotations


class ModificationError(Exception):
    """A document that cannot be modified; ``reason`` says why, for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


__all__ = ["ModificationError"]
