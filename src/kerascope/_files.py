"""File identity: whether a file is unchanged since it was last read in this process."""

from __future__ import annotations

import os

__all__ = ["file_identity"]


def file_identity(path: str) -> tuple[object, ...] | None:
    """A key that changes whenever the file at ``path`` is replaced or written; None for
    anything but a regular file (a directory's times do not change when a file inside does).

    Example:
        >>> file_identity("/") is None
        True
    """
    if not os.path.isfile(path):
        return None
    stat = os.stat(path)
    return (
        os.path.realpath(path),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )
