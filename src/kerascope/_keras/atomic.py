"""Write a file so that the previous version survives any failure, including a killed process.

Keras opens the target before it serializes anything, so a save that fails half-way leaves a
0-byte file where the good model was (measured: see docs/format.md). Here the new file is
written to a hidden temporary name in the same directory, flushed to disk, then renamed over
the target in one step.

A temporary file cannot clean itself up if its process is killed (SIGKILL runs no code), so a
small guard process is started first: it waits for the writer to finish or to die (its end of
a pipe closes either way) and then removes the temporary file if it is still there. After a
successful rename there is nothing left to remove.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from contextlib import contextmanager, suppress

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["TEMPORARY_MARK", "atomic_path", "fsync_directory"]

TEMPORARY_MARK = ".kerascope-tmp"

_GUARD = """
import os, sys
sys.stdin.buffer.read()  # returns when the writer closes the pipe or dies
try:
    os.remove(sys.argv[1])
except FileNotFoundError:
    pass
"""


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    The temporary file keeps the target's extension (Keras chooses the format from it). On any
    exception, KeyboardInterrupt included, it is removed and ``path`` is untouched; if the
    process is killed, a guard process removes it.

    Example:
        >>> with atomic_path("model.keras") as temporary:  # doctest: +SKIP
        ...     model.save(temporary)
    """
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    extension = os.path.splitext(name)[1]
    temporary = os.path.join(
        directory, f".{name}{TEMPORARY_MARK}-{os.getpid()}-{secrets.token_hex(4)}{extension}"
    )
    guard = subprocess.Popen(
        [sys.executable, "-I", "-c", _GUARD, temporary],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C meant for the writer must not kill the guard
    )
    try:
        yield temporary
        _fsync_file(temporary)
        os.replace(temporary, path)
        fsync_directory(directory)
    except BaseException:
        _remove(temporary)
        raise
    finally:
        assert guard.stdin is not None
        guard.stdin.close()
        guard.wait(timeout=30)


def _fsync_file(path: str) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_directory(directory: str) -> None:
    """Make a rename or a new entry in ``directory`` durable (fsync of the directory itself).

    Example:
        >>> fsync_directory(".")
    """
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(path)
