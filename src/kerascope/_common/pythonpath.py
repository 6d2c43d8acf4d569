"""Where Python would find a module, worked out from the file system without importing.

:func:`importlib.util.find_spec` is not used because it imports parent packages. Used by the
resolver (``--from`` module names, modules a file records), the spoofing check and the save lint.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kerascope._common.record import Record

__all__ = ["Spot", "find_spots", "is_dotted", "is_package", "locate_module", "walk_up"]


class Spot(Record):
    """Where a dotted name lives: a module file, a regular package or a namespace portion."""

    file: str | None  # the .py or __init__.py; None for a namespace package portion
    root: str  # the search path entry it was found under
    directory: str | None  # the package directory; None for a plain module


def locate_module(dotted: str, search_path: Sequence[str] | None = None) -> str | None:
    """The file Python would import for ``dotted``, found without importing anything.

    Looks in each directory of ``search_path`` (default ``sys.path``; ``""`` is the current
    directory; zip files are skipped) the way Python's path finder does: a regular package
    (``name/__init__.py``) or a module (``name.py``) in the first directory that has one wins;
    directories without ``__init__.py`` are namespace packages, used only if no directory has a
    regular one. Compiled extension modules are not looked for.

    Returns:
        The absolute path of the module's ``.py`` file or of the package's ``__init__.py``;
        None when it is not found or is a namespace package (which has no file).

    Example:
        >>> locate_module("kerascope._resolving.sources").endswith("sources.py")
        True
        >>> locate_module("kerascope.no_such_module") is None
        True
    """
    spots = find_spots(dotted, search_path)
    return spots[0].file if spots else None


def is_package(directory: str) -> bool:
    """Whether ``directory`` is a regular package (has ``__init__.py``).

    Example:
        >>> is_package(os.path.dirname(__file__))
        True
    """
    return os.path.isfile(os.path.join(directory, "__init__.py"))


def is_dotted(name: str) -> bool:
    """Whether ``name`` could be a dotted module name.

    Example:
        >>> is_dotted("pkg.module"), is_dotted("custom_layer.py/x")
        (True, False)
    """
    return all(part.isidentifier() for part in name.split("."))


def walk_up(path: str) -> tuple[str, str]:
    """(module, root) of a file: its root is the first parent directory without __init__.py.

    Example:
        >>> walk_up(__file__)[0]
        'kerascope._common.pythonpath'
    """
    directory, filename = os.path.split(path)
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while is_package(directory):
        parent, name = os.path.split(directory)
        if not name or parent == directory:  # an __init__.py at the file system's root
            break
        parts.append(name)
        directory = parent
    return ".".join(reversed(parts)) or stem, directory


def _search_directories(search_path: Sequence[str] | None) -> list[str]:
    if search_path is None:
        search_path = sys.path
    elif isinstance(search_path, str):
        search_path = [search_path]
    directories: list[str] = []
    for entry in search_path:
        if not isinstance(entry, (str, os.PathLike)):
            continue
        directory = os.path.abspath(os.fspath(entry) or os.curdir)
        if directory not in directories and os.path.isdir(directory):
            directories.append(directory)
    return directories


def find_spots(dotted: str, search_path: Sequence[str] | None) -> list[Spot]:
    """Where ``dotted`` lives, one part at a time, as Python's path finder would find it.

    Returns one spot for a module or a regular package, one per portion for a namespace
    package, and nothing when it is not found.
    """
    if not is_dotted(dotted):
        return []
    parts = dotted.split(".")
    places = [(directory, directory) for directory in _search_directories(search_path)]
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        portions: list[tuple[str, str]] = []
        for directory, root in places:
            candidate = os.path.join(directory, part)
            if is_package(candidate):
                if last:
                    return [Spot(os.path.join(candidate, "__init__.py"), root, candidate)]
                places = [(candidate, root)]
                break
            module_file = candidate + ".py"
            if os.path.isfile(module_file):
                # A plain module has no submodules: "import module.sub" fails in Python too.
                return [Spot(module_file, root, None)] if last else []
            if os.path.isdir(candidate):
                portions.append((candidate, root))
        else:
            if not portions:
                return []
            if last:
                return [Spot(None, root, candidate) for candidate, root in portions]
            places = portions
    return []  # pragma: no cover - the loop returns on the last part
