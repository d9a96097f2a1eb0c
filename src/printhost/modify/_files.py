"""File helpers shared by the modification functions."""

from __future__ import annotations

import os
from pathlib import Path


def same_file(source: Path, target: Path) -> bool:
    try:
        return source.samefile(target)
    except OSError:
        return source.absolute() == target.absolute()


def fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable; best effort (not every file system can)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
