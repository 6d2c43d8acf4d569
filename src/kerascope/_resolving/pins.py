"""Pinning a plan's code for other processes: which files a load imports, and their SHA-256.

A plan says which module provides each custom object. Another process (a pool worker, a Ray
actor) must import exactly those files and nothing else. This module lists them, read without
running anything: the files that define what the model needs, every local module those files
import (anywhere in the file: a layer may import a helper inside ``call``), and the packages they
live in, each with its SHA-256. In the other process, :func:`find_pinned` finds each file again
and checks its hash before anything is imported.

Nothing here imports user code or Keras.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence

from kerascope._common.files import file_sha256
from kerascope._common.pythonpath import find_spots
from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import Problem

from .import_graph import imported_modules
from .sources import SourceIndex

if TYPE_CHECKING:
    from .plan import Plan

__all__ = [
    "IMPORTED_ORIGINS",
    "PinnedFile",
    "Placement",
    "changed_problem",
    "find_pinned",
    "local_imports",
    "model_digest",
    "pin",
]

# The origins whose module kerascope imports (as in _keras.load): each needs its file pinned.
IMPORTED_ORIGINS = frozenset({"source", "module", "package", "entry-point", "manifest"})


class PinnedFile(Record):
    """One file a load imports, as the planning process found it.

    Attributes:
        module: The dotted name it is imported as (``mypkg.layers``).
        path: Its absolute path in the planning process.
        root: The ``sys.path`` entry it is imported from there, for the user's sources (which
            are shipped to workers); None for a file of an installed, trusted package (which
            workers must have installed).
        sha256: Its SHA-256 when planned.
        size: Its size in bytes.
        why: Why it is needed: ``defines 'mypkg>Scale'``, ``imported by mypkg.layers`` ...
    """

    module: str
    path: str
    root: str | None
    sha256: str
    size: int
    why: str

    @property
    def relpath(self) -> str:
        """Its path under ``root`` (``mypkg/layers.py``); the file name for installed files.

        Example:
            >>> PinnedFile("p.m", "/r/p/m.py", "/r", "0" * 64, 1, "defines 'X'").relpath
            'p/m.py'
        """
        return os.path.relpath(self.path, self.root) if self.root else os.path.basename(self.path)

    @property
    def shipped(self) -> bool:
        """Whether engines that ship code (Ray) send it to workers: the user's sources only."""
        return self.root is not None


def pin(plan: Plan, index: SourceIndex) -> tuple[PinnedFile, ...]:
    """Every file loading with ``plan`` imports, with its hash: sources and their local imports.

    ``index`` is the index of the sources the plan was made with; the local modules a source
    imports are found in it.

    Example:
        >>> import kerascope
        >>> plan = kerascope.check("my_model.keras", sources=["layers/"])  # doctest: +SKIP
        >>> [f.relpath for f in pin(plan, index_sources(["layers/"]))]  # doctest: +SKIP
        ['layers/__init__.py', 'layers/blocks.py', 'layers/helpers.py']
    """
    why: dict[str, str] = {}
    installed: dict[str, tuple[str, str]] = {}
    for resolution in plan.resolutions:
        if resolution.origin not in IMPORTED_ORIGINS or not resolution.module:
            continue
        reason = f"defines '{resolution.object.key}'"
        if resolution.origin == "source":
            why.setdefault(resolution.module, reason)
        elif resolution.file:
            installed.setdefault(resolution.module, (resolution.file, reason))
    for module, reason in local_imports(index, list(why)).items():
        why.setdefault(module, reason)
    pinned = []
    for module, reason in why.items():
        path = index.modules[module]
        pinned.append(_pinned(module, path, _root_of(path, module), reason))
    for module, (path, reason) in installed.items():
        pinned.append(_pinned(module, path, None, reason))
    return tuple(sorted(pinned, key=lambda item: (item.root is None, item.module)))


def local_imports(index: SourceIndex, modules: Sequence[str]) -> dict[str, str]:
    """The indexed modules that importing ``modules`` can run: what they import anywhere in
    their files (also inside functions), transitively, and the packages around each.

    Returns:
        Module -> why it is needed (``imported by mypkg.layers``, ``package of mypkg.layers``),
        without ``modules`` themselves.

    Example:
        >>> from kerascope._resolving.sources import index_sources
        >>> needed = local_imports(index_sources(["kerascope"]), ["kerascope._resolving.pins"])
        >>> needed["kerascope._resolving.import_graph"], needed["kerascope"]
        ('imported by kerascope._resolving.pins', 'package of kerascope._resolving.pins')
    """
    known = index.modules
    found: dict[str, str] = {}
    pending = [(module, "") for module in modules if module in known]
    while pending:
        module, why = pending.pop(0)
        if module in found:
            continue
        found[module] = why
        pending.extend(
            (parent, f"package of {module}") for parent in _parents(module) if parent in known
        )
        imported = imported_modules(module, known, anywhere=True)
        pending.extend((target, f"imported by {module}") for target in sorted(imported))
    for module in modules:
        found.pop(module, None)
    return found


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def _root_of(path: str, module: str) -> str:
    """The directory ``module`` is imported from, given its file."""
    directory = os.path.dirname(path)
    depth = len(module.split("."))
    if os.path.basename(path) != "__init__.py":
        depth -= 1
    for _ in range(depth):
        directory = os.path.dirname(directory)
    return directory


def _pinned(module: str, path: str, root: str | None, why: str) -> PinnedFile:
    return PinnedFile(module, path, root, file_sha256(path), os.path.getsize(path), why)


def model_digest(path: str) -> str:
    """The SHA-256 of a model file; for an unzipped ``.keras`` directory, of its files' paths
    and hashes.

    Example:
        >>> len(model_digest(__file__))
        64
    """
    if not os.path.isdir(path):
        return file_sha256(path)
    import hashlib

    digest = hashlib.sha256()
    for directory, subdirectories, names in os.walk(path):
        subdirectories.sort()
        for name in sorted(names):
            member = os.path.join(directory, name)
            digest.update(f"{os.path.relpath(member, path)}\0{file_sha256(member)}\n".encode())
    return digest.hexdigest()


class Placement(Record):
    """Where this process will import the pinned files from.

    Attributes:
        roots: Directories to put first on ``sys.path`` while loading (the planning process's
            source roots when this process finds the sources only there).
        files: Module -> the file this process will import for it, and the ``sys.path`` entry
            it is found under.
        problems: Files that are missing, changed or shadowed here, each named.
    """

    roots: tuple[str, ...]
    files: dict[str, tuple[str, str]]
    problems: tuple[Problem, ...]


def find_pinned(
    pinned: Iterable[PinnedFile], search_path: Sequence[str] | None = None
) -> Placement:
    """Find each pinned file as this process would import it, and check its hash.

    Shipped sources are looked for first where ``search_path`` (default ``sys.path``) finds
    them (a Ray worker's ``py_modules``), then in the planning process's source directories
    put in front (a pool worker on the same machine). Installed files are looked for on the
    search path. Every file must have the pinned hash, and a module this process already
    imported must come from that file.

    Example:
        >>> here = PinnedFile("kerascope._resolving.pins", __file__, None,
        ...                   file_sha256(__file__), 1, "an example")
        >>> find_pinned([here]).problems
        ()
    """
    pinned = list(pinned)
    path = list(sys.path if search_path is None else search_path)
    first = _check(pinned, (), path)
    if not first.problems:
        return first
    roots = tuple(dict.fromkeys(f.root for f in pinned if f.root))
    if not any(os.path.isdir(root) for root in roots):
        return first
    return _check(pinned, roots, path)


def _check(pinned: list[PinnedFile], roots: tuple[str, ...], path: list[str]) -> Placement:
    search = [*roots, *path]
    files: dict[str, tuple[str, str]] = {}
    problems = []
    for item in pinned:
        spots = find_spots(item.module, search)
        found = spots[0].file if spots else None
        if found is None:
            problems.append(_missing(item))
            continue
        files[item.module] = (found, spots[0].root)
        digest = file_sha256(found)
        if digest != item.sha256:
            problems.append(changed_problem(item, found, digest))
            continue
        loaded = getattr(sys.modules.get(item.module), "__file__", None)
        if loaded and os.path.realpath(loaded) != os.path.realpath(found):
            problems.append(
                _file_problem(
                    item,
                    "shadowed",
                    f"this process already imported '{item.module}' from {loaded}, not from "
                    f"{found} ({item.why})",
                    "load in a fresh process, or rename one of the modules",
                )
            )
    return Placement(roots, files, tuple(problems))


def _missing(item: PinnedFile) -> Problem:
    if item.shipped:
        return _file_problem(
            item,
            "missing",
            f"not found in this process: not on sys.path, and {item.path} is not here ({item.why})",
            "ship the sources with kerascope.ray.runtime_env(ref), or make "
            f"{item.root} readable here",
        )
    return _file_problem(
        item,
        "missing",
        f"module '{item.module}' is not installed here ({item.why})",
        "install the same version of its package as where the ModelRef was made",
    )


def changed_problem(item: PinnedFile, found: str, digest: str) -> Problem:
    """The problem of a pinned file whose bytes now have another hash."""
    fix = "make the ModelRef again from this code, or restore the file"
    if not item.shipped:
        fix = "install the same version of its package as where the ModelRef was made"
    return _file_problem(
        item,
        "changed",
        f"{found} differs from the file the ModelRef pinned (sha256 {item.sha256[:12]}, "
        f"now {digest[:12] if len(digest) == 64 else digest}; {item.why})",
        fix,
    )


def _file_problem(item: PinnedFile, reason: str, message: str, fix: str) -> Problem:
    kind = "source file" if item.shipped else "installed file"
    return Problem(
        key=item.module, kind=kind, json_paths=(), reason=reason, message=message, fix=fix
    )
