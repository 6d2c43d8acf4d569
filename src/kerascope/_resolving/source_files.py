"""Expand ``--from`` specs (files, directories, dotted modules) into the ``.py`` files they name.

Directories are walked within limits, skipping caches, virtualenvs and hidden directories; each
file is named by the module Python would import it as, with the directory to put on ``sys.path``.

Long walks report progress to a hook the caller installs with :func:`reporting` (the command
line draws it on a terminal); nothing here prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from kerascope._common.pythonpath import find_spots, is_dotted, is_package, walk_up
from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import SourceError

if TYPE_CHECKING:
    from typing import Protocol

    class ProgressHook(Protocol):
        """Receives progress of long work: where it is now, and what was cut short."""

        def update(self, message: str) -> None:
            """The work goes on: ``message`` says how far it is (called often)."""

        def notice(self, message: str) -> None:
            """Something the user should know even after the work is done (a cut walk)."""


__all__ = ["MAX_FILES", "Collector", "expand", "progress", "reporting"]

_HOOK: ContextVar[ProgressHook | None] = ContextVar("kerascope_progress", default=None)


@contextmanager
def reporting(hook: ProgressHook) -> Iterator[None]:
    """Send the progress of source indexing done inside the ``with`` block to ``hook``.

    Example:
        >>> class Lines:
        ...     def update(self, message): pass
        ...     def notice(self, message): print(message)
        >>> with reporting(Lines()):
        ...     progress().notice("stopped early")
        stopped early
    """
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)


class _Silent:
    def update(self, message: str) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


_SILENT = _Silent()


def progress() -> ProgressHook:
    """The hook installed by :func:`reporting`, or one that ignores everything.

    Example:
        >>> progress().update("indexing")  # no hook installed: nothing happens
    """
    return _HOOK.get() or _SILENT


MAX_FILES = 5_000  # per index: a directory spec that reaches past this is cut short, as a problem
_MAX_DIRECTORIES = 50_000  # a walk of "/" or a home directory stops here

_SKIPPED_DIRECTORIES = frozenset(
    {"__pycache__", ".git", "node_modules", "build", "dist", "site-packages"}
)


class Collector:
    """The files of an index, each once, within the limits."""

    def __init__(self) -> None:
        self.files: list[tuple[str, str, str]] = []  # (path, module, root)
        self.problems: list[str] = []
        self.directories = 0
        self._seen: set[str] = set()
        self._full = False

    def add(self, path: str, module: str, root: str) -> None:
        real = os.path.realpath(path)
        if real in self._seen:
            return
        if len(self._seen) >= MAX_FILES:
            if not self._full:
                self._full = True
                self.cut(f"{path}: not indexed: stopped after {MAX_FILES} files")
            return
        self._seen.add(real)
        self.files.append((path, module, root))

    def cut(self, problem: str) -> None:
        """Record that a walk stopped at a limit, and tell the progress hook."""
        self.problems.append(problem)
        progress().notice(f"source indexing cut short: {problem}")


def expand(
    spec: str, search_path: Sequence[str] | None, collector: Collector
) -> list[tuple[str, str, str]]:
    """The (path, module, root) of every file a spec names."""
    if os.path.isfile(spec):
        if not spec.endswith(".py"):
            raise SourceError(f"--from {spec!r}: not a Python source file (.py)")
        path = os.path.abspath(spec)
        return [(path, *walk_up(path))]
    if os.path.isdir(spec):
        top = os.path.abspath(spec)
        if is_package(top):
            anchor_module, anchor_root = walk_up(os.path.join(top, "__init__.py"))
        else:
            anchor_module, anchor_root = "", top
        return [
            (path, *_name_in_tree(path, top, anchor_module, anchor_root, walk_up_first=True))
            for path in _walk(top, collector)
        ]
    spots = find_spots(spec, search_path) if is_dotted(spec) else []
    if not spots:
        raise SourceError(f"--from {spec!r}: no such file, directory or importable module")
    found: list[tuple[str, str, str]] = []
    for spot in spots:
        if spot.directory is None:
            assert spot.file is not None  # a plain module always has its file
            found.append((spot.file, spec, spot.root))
            continue
        top = spot.directory
        found.extend(
            (path, *_name_in_tree(path, top, spec, spot.root, walk_up_first=False))
            for path in _walk(top, collector)
        )
    return found


def _walk(top: str, collector: Collector) -> list[str]:
    """The ``.py`` files under ``top``, in walk order, within the limits."""
    found: list[str] = []

    def unreadable(error: OSError) -> None:
        collector.problems.append(f"{error.filename}: cannot be read: {error.strerror or error}")

    hook = progress()
    for directory, subdirectories, filenames in os.walk(top, onerror=unreadable):
        collector.directories += 1
        if collector.directories > _MAX_DIRECTORIES:
            collector.cut(f"{directory}: not indexed: stopped after {_MAX_DIRECTORIES} directories")
            break
        hook.update(
            f"indexing {top}: {collector.directories:,} directories, "
            f"{len(collector.files) + len(found):,} .py files"
        )
        subdirectories[:] = sorted(name for name in subdirectories if not _skipped(directory, name))
        for name in sorted(filenames):
            if name.endswith(".py"):
                found.append(os.path.join(directory, name))
        if len(found) > MAX_FILES:  # the collector reports the cut
            break
    return found


def _skipped(parent: str, name: str) -> bool:
    return (
        name in _SKIPPED_DIRECTORIES
        or name.startswith(".")
        or os.path.isfile(os.path.join(parent, name, "pyvenv.cfg"))
    )


def _name_in_tree(
    path: str, top: str, anchor_module: str, anchor_root: str, *, walk_up_first: bool
) -> tuple[str, str]:
    """(module, root) of a file found under the directory ``top``, named ``anchor_module``.

    Directory specs (``walk_up_first``): a file in a package is named by the __init__.py chain
    above it; a file in a plain subdirectory is a namespace-package module named from ``top``.
    Package specs: every file is named from the package, as Python would import it from there.
    Directories whose names are not identifiers cannot be imported through: their files are
    named from their own directory.
    """
    directory = os.path.dirname(path)
    if walk_up_first and (directory == top or is_package(directory)):
        return walk_up(path)
    relative = os.path.relpath(directory, top)
    parts = [] if relative == os.curdir else relative.split(os.sep)
    if not all(part.isidentifier() for part in parts):
        return walk_up(path)
    stem = os.path.basename(path)[:-3]
    if stem != "__init__":
        parts.append(stem)
    if anchor_module:
        parts.insert(0, anchor_module)
    return ".".join(parts), anchor_root
