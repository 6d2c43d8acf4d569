"""The members of an unzipped ``.keras`` directory, seen without following anything.

Keras loads the directory form (``config.json``, ``metadata.json``, ``model.weights.h5`` or
``.npz``, ``assets/**``) by opening each member by name, so a member that is a symbolic link, a
hard link to a file elsewhere or a special file (FIFO, device, socket) makes it read whatever that
member points to, or block forever. This module lists members with ``lstat`` only, never following
a link or opening a special file, and reads a member only if it is a regular file with one link
(``O_NOFOLLOW | O_NONBLOCK``, then ``fstat``).
"""

from __future__ import annotations

import os
import stat

from kerascope._common.record import Record

__all__ = [
    "KIND_WORDS",
    "MAX_DIRECTORY_DEPTH",
    "MAX_DIRECTORY_MEMBERS",
    "DirectoryMember",
    "NotARegularFileError",
    "list_members",
    "read_regular_file",
    "regular_file_size",
]

MAX_DIRECTORY_MEMBERS = 10_000  # Keras writes three files and a few assets
MAX_DIRECTORY_DEPTH = 32


class NotARegularFileError(OSError):
    """A member that kerascope refuses to open: a link or a special file."""


class DirectoryMember(Record):
    """One entry under a model directory, as ``lstat`` sees it.

    Attributes:
        name: The path relative to the directory, with ``/`` separators (``assets/vocab.txt``).
        kind: ``file``, ``directory``, ``symlink``, ``hard-link`` (a regular file with more than
            one link: the same inode is also elsewhere), ``fifo``, ``device``, ``socket`` or
            ``other``.
        detail: For a symbolic link, its target (never followed); otherwise ``""``.
        size: The size ``lstat`` reports.
    """

    name: str
    kind: str
    detail: str = ""
    size: int = 0

    @property
    def is_safe(self) -> bool:
        """A regular file with one link, or a real directory."""
        return self.kind in ("file", "directory")


def member_kind(mode: int, links: int) -> str:
    """The :attr:`DirectoryMember.kind` of an ``lstat`` result's mode and link count.

    Example:
        >>> member_kind(stat.S_IFREG | 0o644, 1), member_kind(stat.S_IFREG | 0o644, 2)
        ('file', 'hard-link')
        >>> member_kind(stat.S_IFIFO | 0o644, 1)
        'fifo'
    """
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file" if links <= 1 else "hard-link"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def list_members(
    directory: str,
    *,
    max_members: int = MAX_DIRECTORY_MEMBERS,
    max_depth: int = MAX_DIRECTORY_DEPTH,
) -> tuple[list[DirectoryMember], bool]:
    """Every member under ``directory``, depth first by name, and whether the walk was cut short.

    Symbolic links (to directories too) are listed, never followed; nothing is opened but
    directories. The walk stops after ``max_members`` entries or ``max_depth`` levels.

    Example:
        >>> members, complete = list_members("model_dir")  # doctest: +SKIP
        >>> [(m.name, m.kind) for m in members], complete  # doctest: +SKIP
        ([('config.json', 'file'), ('model.weights.h5', 'symlink')], True)
    """
    found: list[DirectoryMember] = []
    pending: list[tuple[str, int]] = [("", 0)]
    while pending:
        relative, depth = pending.pop()
        try:
            with os.scandir(os.path.join(directory, relative) if relative else directory) as it:
                entries = sorted(it, key=lambda entry: entry.name, reverse=True)
        except OSError:
            found.append(DirectoryMember(relative or ".", "other", "cannot be listed"))
            continue
        for entry in entries:
            if len(found) >= max_members:
                return found, False
            name = f"{relative}/{entry.name}" if relative else entry.name
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                found.append(DirectoryMember(name, "other", "cannot be examined"))
                continue
            kind = member_kind(status.st_mode, status.st_nlink)
            detail = _link_target(entry.path) if kind == "symlink" else ""
            found.append(DirectoryMember(name, kind, detail, status.st_size))
            if kind == "directory":
                if depth + 1 >= max_depth:
                    return found, False
                pending.append((name, depth + 1))
    return found, True


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)[:300]
    except OSError:
        return "?"


def regular_file_size(directory: str, name: str) -> int | None:
    """The size of member ``name`` if it is a regular file with one link, else ``None``.

    Example:
        >>> regular_file_size("model_dir", "model.weights.h5")  # doctest: +SKIP
        18400
    """
    try:
        status = os.lstat(os.path.join(directory, name))
    except OSError:
        return None
    if member_kind(status.st_mode, status.st_nlink) != "file":
        return None
    return status.st_size


def read_regular_file(directory: str, name: str, max_size: int) -> bytes:
    """The bytes of member ``name``, opened only if it is a regular file with one link.

    Opens with ``O_NOFOLLOW`` (a symbolic link fails) and ``O_NONBLOCK`` (a FIFO never blocks),
    then checks the open file itself, so nothing can be swapped in between.

    Raises:
        NotARegularFileError: The member is a link or a special file (the message says which).
        OSError: It cannot be read; or it is larger than ``max_size`` bytes (``EFBIG``).

    Example:
        >>> read_regular_file("model_dir", "config.json", 1 << 20)[:1]  # doctest: +SKIP
        b'{'
    """
    path = os.path.join(directory, name)
    before = os.lstat(path)  # a device is never opened: opening some has effects
    _require_regular(name, member_kind(before.st_mode, before.st_nlink))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        status = _lstat(path)
        if status is not None and stat.S_ISLNK(status.st_mode):
            raise NotARegularFileError(f"{name} is a symbolic link") from None
        raise error from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(descriptor)
        _require_regular(name, member_kind(status.st_mode, status.st_nlink))
        if status.st_size > max_size:
            raise OSError(27, f"{name} is {status.st_size} bytes (the limit is {max_size})")
        return handle.read(max_size + 1)[:max_size]


def _require_regular(name: str, kind: str) -> None:
    if kind != "file":
        raise NotARegularFileError(f"{name} is a {KIND_WORDS.get(kind, kind)}")


KIND_WORDS = {
    "symlink": "symbolic link",
    "hard-link": "hard link (a file with more than one name)",
    "fifo": "FIFO (named pipe)",
    "device": "device file",
    "socket": "socket",
    "directory": "directory",
}


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None
