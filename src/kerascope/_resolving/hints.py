"""Concrete guesses for an object nothing provides: which package or file most likely defines it.

Everything here reads files; nothing is imported. The guesses are checked by reading the code
before they are offered: an installed package is suggested for ``--trust`` only when it defines
the name, a ``.py`` file beside the model only when it defines the name, and a source that could
not be parsed only when it is the module the file names or its text defines the name.
"""

from __future__ import annotations

import os
import re
import sys

from kerascope._common.pythonpath import find_spots, locate_module
from kerascope._common.record import TYPE_CHECKING

from . import sources as _sources
from .trust import DEFAULT_TRUSTED, TrustPolicy, distributions_providing

if TYPE_CHECKING:
    from kerascope._audit.inspect import CustomObject

__all__ = [
    "MAX_PACKAGE_FILES",
    "candidate_packages",
    "distribution_of",
    "index_beside",
    "index_installed",
    "prefix_of",
    "prefix_packages",
    "unread_source_for",
]

MAX_PACKAGE_FILES = 1_500  # an installed package larger than this is named, not read
_MAX_BESIDE_FILES = 200
_DEFAULT_PACKAGE = "Custom"  # register_keras_serializable's default package: names nothing
_NOT_CANDIDATES = frozenset({*DEFAULT_TRUSTED, "kerascope", "builtins", "__main__"}) | frozenset(
    sys.stdlib_module_names
)


def prefix_of(key: str) -> str | None:
    """The package a registered key names (``kgcnn`` for ``kgcnn>shifted_softplus``).

    Example:
        >>> prefix_of("kgcnn>shifted_softplus"), prefix_of("Custom>TCN"), prefix_of("TCN")
        ('kgcnn', None, None)
    """
    prefix, separator, _ = key.partition(">")
    if not separator or not prefix or prefix == _DEFAULT_PACKAGE:
        return None
    return prefix


def candidate_packages(obj: CustomObject, manifest_distribution: str | None = None) -> list[str]:
    """Installed top-level packages that may define ``obj``, best guess first.

    From the key's prefix (a package or a distribution name), the recorded module's package,
    the distribution a kerascope manifest names, and the class name in lower case (``tcn`` for
    ``Custom>TCN``). Keras's own packages, the standard library and kerascope are left out.

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> obj = CustomObject("nopkg>X", ("layer",), None, "X", "nopkg>X", (), False)
        >>> candidate_packages(obj)
        []
    """
    prefix = prefix_of(obj.key)
    names = prefix_packages(prefix) if prefix else []
    if obj.module and obj.module not in ("builtins", "__main__"):
        names.append(obj.module.split(".")[0])
    if manifest_distribution:
        names += TrustPolicy([manifest_distribution]).named_packages()
    names.append(obj.class_name.lower())
    return _installed(names)


def prefix_packages(prefix: str) -> list[str]:
    """Installed packages a key's prefix names: as a package, or as a distribution.

    Example:
        >>> prefix_packages("h5py"), prefix_packages("no_such_prefix_here")
        (['h5py'], [])
    """
    names = [prefix, prefix.lower(), prefix.replace("-", "_").lower()]
    return _installed([*names, *TrustPolicy([prefix]).named_packages()])


def _installed(names: list[str]) -> list[str]:
    return [
        name
        for name in dict.fromkeys(names)
        if name.isidentifier() and name not in _NOT_CANDIDATES and locate_module(name)
    ]


def index_installed(package: str, *, bounded: bool = True) -> _sources.SourceIndex | str | None:
    """The definitions of an installed package, read statically; a reason when it is too big.

    ``bounded`` (for guesses about packages nobody named) skips packages of more than
    :data:`MAX_PACKAGE_FILES` files; a package the user trusts is read up to the index's own
    limit. Returns None when the package cannot be read at all.

    Example:
        >>> index = index_installed("kerascope")
        >>> isinstance(index, _sources.SourceIndex) and bool(index.find("SourceIndex"))
        True
    """
    spots = find_spots(package, None)
    if not spots:
        return None
    files = 0
    for spot in spots if bounded else ():
        if spot.directory is None:
            files += 1
            continue
        for _, directories, filenames in os.walk(spot.directory):
            directories[:] = [d for d in directories if not d.startswith((".", "__pycache__"))]
            files += sum(name.endswith(".py") for name in filenames)
            if files > MAX_PACKAGE_FILES:
                return f"not searched: it has more than {MAX_PACKAGE_FILES} Python files"
    try:
        return _sources.index_sources([package])
    except Exception:  # an odd layout on disk: no guess rather than a crash
        return None


def index_beside(model_path: str, exclude: set[str]) -> _sources.SourceIndex:
    """The ``.py`` files in the model's own directory (not below it), except ``exclude``.

    Example:
        >>> index_beside("/no/such/dir/model.keras", set()).definitions
        ()
    """
    directory = os.path.dirname(os.path.abspath(model_path.rstrip(os.sep)))
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    files = [
        os.path.join(directory, name)
        for name in names
        if name.endswith(".py") and os.path.isfile(os.path.join(directory, name))
    ]
    files = [f for f in files if os.path.realpath(f) not in exclude][:_MAX_BESIDE_FILES]
    try:
        return _sources.index_sources(files)
    except Exception:  # a file vanished meanwhile
        return _sources.SourceIndex((), {}, ())


def unread_source_for(
    obj: CustomObject, unread: tuple[_sources.UnreadFile, ...], module: str | None
) -> _sources.UnreadFile | None:
    """The unparsable source that most likely defines ``obj``.

    It is the module the file names for it, or a file whose text has ``class Name`` or
    ``def name`` (read as text: the parser could not read it).

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> obj = CustomObject("Scale", ("layer",), "lib", "Scale", None, (), False)
        >>> broken = _sources.UnreadFile("/p/lib.py", "lib", "syntax", "invalid syntax", 3)
        >>> unread_source_for(obj, (broken,), "lib") == broken
        True
    """
    if module:
        for file in unread:
            if file.module == module:
                return file
    pattern = re.compile(
        rb"^[ \t]*(?:async[ \t]+)?(?:class|def)[ \t]+"
        + re.escape(obj.class_name.encode())
        + rb"\b",
        re.MULTILINE,
    )
    for file in unread:
        try:
            with open(file.path, "rb") as handle:
                text = handle.read(_sources.MAX_FILE_BYTES)
        except OSError:
            continue
        if pattern.search(text):
            return file
    return None


def distribution_of(package: str) -> str:
    """The distribution to name for trusting ``package``: the first providing it, else itself.

    Example:
        >>> distribution_of("no_such_package_here")
        'no_such_package_here'
    """
    distributions = distributions_providing(package)
    return distributions[0] if distributions else package
