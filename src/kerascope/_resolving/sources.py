"""Find where user code defines Keras custom objects, by reading it, never by running it.

The sources a user names (``--from`` / ``sources=``: files, directories, dotted module or package
names) are parsed with :mod:`ast`. Every class and function defined at module level is listed
with the keys its decorators register it under (``@keras.saving.register_keras_serializable``,
``@kerascope.register``), the module name it is imported under and the directory to put on
``sys.path`` for that, so that kerascope can later import only the files that define what a model
needs. Modules are located the way Python's path finder would locate them, by looking at the file
system: :func:`importlib.util.find_spec` is not used because it imports parent packages.

Nothing here imports the code it reads, nor Keras.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence

from kerascope._common.backend import BackendUse, backend_uses
from kerascope._common.pythonpath import locate_module
from kerascope._common.record import Record

from .source_files import MAX_FILES, Collector, expand, progress
from .source_parse import (
    DEFINITIONS,
    MAX_FILE_BYTES,
    UnreadFile,
    parse_source,
    top_level_statements,
)

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "Definition",
    "SourceIndex",
    "UnreadFile",
    "index_sources",
    "locate_module",
    "parse_source",
    "top_level_statements",
]

_SERIALIZABLE = "register_keras_serializable"  # keras(.saving|.utils), tf.keras.utils, tf_keras


class Definition(Record):
    """A class or function defined at module level in user code, and the keys it registers.

    Attributes:
        name: The class or function name as written.
        kind: ``"class"`` or ``"function"``.
        registered_keys: The keys its decorators register it under (``"mypkg>Scale"`` and any
            ``kerascope.register`` aliases); empty when it is not registered.
        module: Its module name relative to ``root``: ``"custom_layer"``, ``"mypkg.layers"``.
        root: The absolute directory to put on ``sys.path`` so that ``import <module>`` works.
        path: The absolute path of the file.
        lineno: The line of the ``class`` / ``def`` statement.
        dynamic_registration: Decorated with a register function whose arguments are not all
            string literals: it registers under a key that reading cannot compute.
    """

    name: str
    kind: str
    registered_keys: tuple[str, ...]
    module: str
    root: str
    path: str
    lineno: int
    dynamic_registration: bool = False


class SourceIndex(Record):
    """Every module-level definition found in a set of sources.

    Attributes:
        definitions: In the order of the sources given, then of sorted file paths, then of lines.
        modules: Module name -> absolute file path, for every module scanned.
        problems: Files that were not indexed or not fully (syntax errors, undecodable, too
            large, unreadable, limits reached), one line each, starting with the path.
        unread: The files among those that could not be parsed, with why and where.
        backend_uses: Module name -> its imports of a backend's framework (or numpy), for every
            module read (see :mod:`kerascope._common.backend`).
    """

    definitions: tuple[Definition, ...]
    modules: dict[str, str]
    problems: tuple[str, ...]
    unread: tuple[UnreadFile, ...] = ()
    backend_uses: dict[str, tuple[BackendUse, ...]] = {}  # noqa: RUF012 (never mutated)

    def find(self, key: str) -> list[Definition]:
        """The definitions that provide ``key``, in index order.

        First the definitions registered under ``key``; failing that, those named like the
        key's last part (``"Scale"`` for ``"Scale"`` and for ``"mypkg>Scale"``): an unregistered
        class can be passed to Keras under any key.

        Example:
            >>> scale = Definition("Scale", "class", ("mypkg>Scale",), "lib", "/p", "/p/lib.py", 3)
            >>> plain = Definition("Gate", "class", (), "lib", "/p", "/p/lib.py", 9)
            >>> index = SourceIndex((scale, plain), {"lib": "/p/lib.py"}, ())
            >>> [d.name for d in index.find("mypkg>Scale")], [d.name for d in index.find("Scale")]
            (['Scale'], ['Scale'])
            >>> [d.name for d in index.find("Custom>Gate")], index.find("other>Scale2")
            (['Gate'], [])
        """
        registered = [d for d in self.definitions if key in d.registered_keys]
        if registered:
            return registered
        name = key.rpartition(">")[2]
        return [d for d in self.definitions if d.name == name]

    def names(self) -> list[str]:
        """Every definition name and registered key, once each, for "did you mean" suggestions.

        Example:
            >>> scale = Definition("Scale", "class", ("mypkg>Scale",), "lib", "/p", "/p/lib.py", 3)
            >>> SourceIndex((scale,), {"lib": "/p/lib.py"}, ()).names()
            ['Scale', 'mypkg>Scale']
        """
        seen: dict[str, None] = {}
        for definition in self.definitions:
            seen[definition.name] = None
            seen.update(dict.fromkeys(definition.registered_keys))
        return list(seen)


def index_sources(
    specs: Sequence[str | os.PathLike[str]], search_path: Sequence[str] | None = None
) -> SourceIndex:
    """Index the module-level definitions of the given sources, without running them.

    Each spec is a ``.py`` file, a directory (walked recursively, skipping ``__pycache__``,
    ``.git``, ``node_modules``, ``build``, ``dist``, ``site-packages``, hidden directories and
    virtualenvs, and not following symbolic links to directories), or a dotted module or package
    name located on ``search_path`` (default ``sys.path``) without importing anything. A file
    reached twice is indexed once. Files that cannot be parsed are reported in ``problems``; the
    others are still indexed.

    Raises:
        SourceError: A spec is neither a file, a directory nor an importable module name.

    Example:
        >>> index = index_sources(["kerascope._resolving.sources"])
        >>> [(d.name, d.kind, d.module) for d in index.find("SourceIndex")]
        [('SourceIndex', 'class', 'kerascope._resolving.sources')]
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    collector = Collector()
    for spec in specs:
        for path, module, root in sorted(expand(os.fspath(spec), search_path, collector)):
            collector.add(path, module, root)
    definitions: list[Definition] = []
    modules: dict[str, str] = {}
    problems = collector.problems
    unread: list[UnreadFile] = []
    uses: dict[str, tuple[BackendUse, ...]] = {}
    hook = progress()
    for number, (path, module, root) in enumerate(collector.files, 1):
        hook.update(f"reading source files: {number:,} of {len(collector.files):,}")
        if module in modules:
            problems.append(f"{path}: module name {module!r} is already taken by {modules[module]}")
        else:
            modules[module] = path
        tree = parse_source(path, module)
        if isinstance(tree, UnreadFile):
            problems.append(f"{path}: {tree.describe()}")
            unread.append(tree)
            continue
        definitions.extend(_definitions(tree, module, root, path))
        uses[module] = backend_uses(tree)
    return SourceIndex(tuple(definitions), modules, tuple(problems), tuple(unread), uses)


# --- reading definitions -------------------------------------------------------------------------


class _Names(Record):
    """The names a module binds to the register functions."""

    serializable: frozenset[str]  # register_keras_serializable and aliases of it
    kerascope_modules: frozenset[str]  # kerascope and aliases of it
    kerascope_register: frozenset[str]  # register imported from kerascope, and aliases


def _register_names(statements: Sequence[ast.stmt]) -> _Names:
    serializable = {_SERIALIZABLE}
    kerascope_modules = {"kerascope"}
    kerascope_register: set[str] = set()
    for node in statements:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "kerascope" and alias.asname:
                    kerascope_modules.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            for alias in node.names:
                if alias.name == _SERIALIZABLE:
                    serializable.add(alias.asname or alias.name)
                elif alias.name == "register" and node.module == "kerascope":
                    kerascope_register.add(alias.asname or alias.name)
    return _Names(
        frozenset(serializable), frozenset(kerascope_modules), frozenset(kerascope_register)
    )


def _definitions(tree: ast.Module, module: str, root: str, path: str) -> list[Definition]:
    statements = list(top_level_statements(tree.body))
    names = _register_names(statements)
    found = []
    for node in statements:
        if isinstance(node, DEFINITIONS):
            keys, dynamic = _registration(node, names)
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.append(
                Definition(node.name, kind, keys, module, root, path, node.lineno, dynamic)
            )
    found.sort(key=lambda definition: definition.lineno)
    return found


def _registration(
    node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, names: _Names
) -> tuple[tuple[str, ...], bool]:
    """The keys a definition's decorators register it under, and whether some are unknown."""
    keys: list[str] = []
    dynamic = False
    for decorator in node.decorator_list:
        call = decorator if isinstance(decorator, ast.Call) else None
        callee = decorator.func if isinstance(decorator, ast.Call) else decorator
        kind = _register_kind(callee, names)
        if kind == "keras":
            new_keys, unknown = _keras_keys(call, node.name)
        elif kind == "kerascope":
            new_keys, unknown = _kerascope_keys(call, node.name)
        else:
            continue
        keys.extend(key for key in new_keys if key not in keys)
        dynamic = dynamic or unknown
    return tuple(keys), dynamic


def _register_kind(callee: ast.expr, names: _Names) -> str | None:
    if isinstance(callee, ast.Attribute):
        if callee.attr == _SERIALIZABLE:
            return "keras"
        if (
            callee.attr == "register"
            and isinstance(callee.value, ast.Name)
            and callee.value.id in names.kerascope_modules
        ):
            return "kerascope"
    elif isinstance(callee, ast.Name):
        if callee.id in names.serializable:
            return "keras"
        if callee.id in names.kerascope_register:
            return "kerascope"
    return None


def _bind(
    call: ast.Call | None, positional: tuple[str, ...], keywords: frozenset[str]
) -> dict[str, ast.expr] | None:
    """Map a call's arguments to parameter names; None when the call cannot be read that way."""
    if call is None:
        return {}
    if len(call.args) > len(positional) or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    bound = dict(zip(positional, call.args, strict=False))
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg not in keywords or keyword.arg in bound:
            return None  # **kwargs, or a call Python itself would refuse
        bound[keyword.arg] = keyword.value
    return bound


class _Unknown:
    """A value reading cannot compute."""


_UNKNOWN = _Unknown()


def _string(node: ast.expr | None, default: str | None) -> str | _Unknown | None:
    if node is None:
        return default
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str)):
        return node.value
    return _UNKNOWN


def _keras_keys(call: ast.Call | None, name: str) -> tuple[tuple[str, ...], bool]:
    """``register_keras_serializable(package="Custom", name=None)``: ``package>name``."""
    bound = _bind(call, ("package", "name"), frozenset({"package", "name"}))
    if bound is None:
        return (), True
    package = _string(bound.get("package"), "Custom")
    registered = _string(bound.get("name"), None)
    if isinstance(package, _Unknown) or isinstance(registered, _Unknown):
        return (), True
    # Keras: name if name is not None else the object's __name__, then f"{package}>{name}".
    return (f"{package}>{name if registered is None else registered}",), False


def _kerascope_keys(call: ast.Call | None, name: str) -> tuple[tuple[str, ...], bool]:
    """``kerascope.register(obj=None, *, package="Custom", name=None, aliases=())``."""
    bound = _bind(call, ("obj",), frozenset({"obj", "package", "name", "aliases"}))
    if bound is None:
        return (), True
    keys: list[str] = []
    dynamic = False
    obj = bound.get("obj")
    if obj is not None and not (isinstance(obj, ast.Constant) and obj.value is None):
        dynamic = True  # register(something) used as a decorator: not the documented form
    package = _string(bound.get("package"), "Custom")
    registered = _string(bound.get("name"), None)
    if isinstance(package, _Unknown) or isinstance(registered, _Unknown):
        dynamic = True
    else:
        keys.append(f"{package}>{registered or name}")
    aliases = bound.get("aliases")
    if aliases is not None:
        if isinstance(aliases, (ast.Tuple, ast.List, ast.Set)):
            for element in aliases.elts:
                alias = _string(element, None)
                if isinstance(alias, str):
                    keys.append(alias)
                else:
                    dynamic = True
        else:
            dynamic = True  # a name, a call, or a bare string (whose characters would be keys)
    return tuple(dict.fromkeys(keys)), dynamic
