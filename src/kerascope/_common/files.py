"""Facts about files: identity (unchanged since last read in this process) and SHA-256."""

from __future__ import annotations

import os

__all__ = ["file_identity", "file_sha256"]


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


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a file.

    Example:
        >>> len(file_sha256(__file__))
        64
    """
    import hashlib  # loads OpenSSL: kept off the path of kerascope inspect

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
