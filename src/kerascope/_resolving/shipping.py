"""A directory holding exactly the pinned source files, for engines that ship code to workers.

Ray's ``runtime_env["py_modules"]`` takes local ``.py`` files and package directories, zips
each and uploads it to the cluster, where every worker unpacks it into a directory put on its
``PYTHONPATH`` (``ray/_private/runtime_env/py_modules.py`` in Ray 2.60). Pointing it at the
user's source directory would ship everything in it; this module builds a separate directory
with only the pinned files, laid out under their module names, and names its top-level entries.

The directory is content-addressed (its name is a digest of the files' paths and hashes), so a
second ref of the same code reuses it. Every file is checked against its pinned hash while it
is copied (and each original first, even when a staged copy exists): a file changed since the ref
was made is refused here, on the driver, before any job starts.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable

from kerascope._common.files import file_sha256
from kerascope._common.record import Record
from kerascope.errors import Problem

from .pins import PinnedFile, changed_problem

__all__ = ["Package", "package_digest", "stage"]


class Package(Record):
    """The staged copy of a ref's shipped files.

    Attributes:
        directory: Where the files are, laid out under their module names.
        entries: The top-level modules and packages in it (``custom_layer.py``, ``mypkg``), as
            absolute paths: one ``py_modules`` entry each.
        size: The bytes of all files in it.
        problems: Files that changed since they were pinned, or two different files under one
            module path; nothing is staged when there are any.
    """

    directory: str
    entries: tuple[str, ...]
    size: int
    problems: tuple[Problem, ...]


def package_digest(pinned: Iterable[PinnedFile]) -> str:
    """The digest that names the staged directory of these files (paths and hashes).

    Example:
        >>> package_digest([]) == hashlib.sha256(b"").hexdigest()
        True
    """
    lines = sorted(f"{item.relpath}\0{item.sha256}\n" for item in pinned if item.shipped)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def stage(pinned: Iterable[PinnedFile], base: str | None = None) -> Package:
    """Copy the shipped files into a fresh directory named by their digest, checking hashes.

    Args:
        pinned: The ref's pinned files; installed (unshipped) ones are left out.
        base: The directory to stage under (default: ``kerascope-ship`` in the temporary
            directory).

    Example:
        >>> package = stage([])
        >>> package.entries, package.size, package.problems
        ((), 0, ())
    """
    shipped = [item for item in pinned if item.shipped]
    base = base or os.path.join(tempfile.gettempdir(), "kerascope-ship")
    directory = os.path.join(base, package_digest(shipped))
    by_path: dict[str, PinnedFile] = {}
    problems = []
    for item in shipped:
        other = by_path.setdefault(item.relpath, item)
        if other.sha256 != item.sha256:
            problems.append(
                Problem(
                    key=item.module,
                    kind="source file",
                    json_paths=(),
                    reason="conflict",
                    message=f"{item.path} and {other.path} are both '{item.module}'",
                    fix="keep one of them in the sources",
                )
            )
    entries = tuple(sorted({os.path.join(directory, p.split(os.sep)[0]) for p in by_path}))
    size = sum(item.size for item in by_path.values())
    problems += [changed for item in by_path.values() if (changed := _changed(item)) is not None]
    if problems:
        return Package(directory, entries, size, tuple(problems))
    if os.path.isdir(directory) and _intact(directory, by_path):
        return Package(directory, entries, size, ())
    os.makedirs(base, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".staging-", dir=base)
    try:
        problems = [
            problem
            for relpath, item in sorted(by_path.items())
            if (problem := _copy(item, os.path.join(scratch, relpath))) is not None
        ]
        if problems:  # changed while being copied
            return Package(directory, entries, size, tuple(problems))
        if os.path.isdir(directory):  # stale or damaged: replace it
            shutil.rmtree(directory, ignore_errors=True)
        try:
            os.rename(scratch, directory)
        except OSError:  # another process staged the same files meanwhile
            if not _intact(directory, by_path):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Package(directory, entries, size, ())


def _changed(item: PinnedFile) -> Problem | None:
    """The problem of a source file that no longer has its pinned hash (or is gone)."""
    try:
        digest = file_sha256(item.path)
    except OSError as error:
        digest = f"unreadable: {error.strerror or error}"
    return None if digest == item.sha256 else changed_problem(item, item.path, digest)


def _copy(item: PinnedFile, target: str) -> Problem | None:
    """Copy one file, refusing it when its bytes no longer have the pinned hash."""
    with open(item.path, "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != item.sha256:
        return changed_problem(item, item.path, digest)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(data)
    return None


def _intact(directory: str, by_path: dict[str, PinnedFile]) -> bool:
    """Whether a staged directory holds exactly these files, with these hashes."""
    present: set[str] = set()
    for folder, _, names in os.walk(directory):
        present.update(os.path.relpath(os.path.join(folder, name), directory) for name in names)
    if present != set(by_path):
        return False
    return all(
        file_sha256(os.path.join(directory, relpath)) == item.sha256
        for relpath, item in by_path.items()
    )
