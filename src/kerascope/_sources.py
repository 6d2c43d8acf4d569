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
import sys
from collections.abc import Iterator, Sequence

from ._record import Record
from .errors import SourceError

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "Definition",
    "SourceIndex",
    "index_sources",
    "locate_module",
]

MAX_FILES = 5_000  # per index: a directory spec that reaches past this is cut short, as a problem
MAX_FILE_BYTES = 2 * 1024 * 1024  # larger .py files are generated data, not layer definitions
_MAX_DIRECTORIES = 50_000  # a walk of "/" or a home directory stops here

_SKIPPED_DIRECTORIES = frozenset(
    {"__pycache__", ".git", "node_modules", "build", "dist", "site-packages"}
)
_SERIALIZABLE = "register_keras_serializable"  # keras(.saving|.utils), tf.keras.utils, tf_keras
_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


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
    """

    definitions: tuple[Definition, ...]
    modules: dict[str, str]
    problems: tuple[str, ...]

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


class _Spot(Record):
    """Where a dotted name lives: a module file, a regular package or a namespace portion."""

    file: str | None  # the .py or __init__.py; None for a namespace package portion
    root: str  # the search path entry it was found under
    directory: str | None  # the package directory; None for a plain module


class _Collector:
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
                self.problems.append(f"{path}: not indexed: stopped after {MAX_FILES} files")
            return
        self._seen.add(real)
        self.files.append((path, module, root))


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
        >>> index = index_sources(["kerascope._sources"])
        >>> [(d.name, d.kind, d.module) for d in index.find("SourceIndex")]
        [('SourceIndex', 'class', 'kerascope._sources')]
    """
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    collector = _Collector()
    for spec in specs:
        for path, module, root in sorted(_expand(os.fspath(spec), search_path, collector)):
            collector.add(path, module, root)
    definitions: list[Definition] = []
    modules: dict[str, str] = {}
    problems = collector.problems
    for path, module, root in collector.files:
        if module in modules:
            problems.append(f"{path}: module name {module!r} is already taken by {modules[module]}")
        else:
            modules[module] = path
        tree = _parse(path)
        if isinstance(tree, str):
            problems.append(f"{path}: {tree}")
            continue
        definitions.extend(_definitions(tree, module, root, path))
    return SourceIndex(tuple(definitions), modules, tuple(problems))


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
        >>> locate_module("kerascope._sources").endswith("_sources.py")
        True
        >>> locate_module("kerascope.no_such_module") is None
        True
    """
    spots = _resolve(dotted, search_path)
    return spots[0].file if spots else None


# --- finding files -------------------------------------------------------------------------------


def _expand(
    spec: str, search_path: Sequence[str] | None, collector: _Collector
) -> list[tuple[str, str, str]]:
    """The (path, module, root) of every file a spec names."""
    if os.path.isfile(spec):
        if not spec.endswith(".py"):
            raise SourceError(f"--from {spec!r}: not a Python source file (.py)")
        path = os.path.abspath(spec)
        return [(path, *_walk_up(path))]
    if os.path.isdir(spec):
        top = os.path.abspath(spec)
        if _is_package(top):
            anchor_module, anchor_root = _walk_up(os.path.join(top, "__init__.py"))
        else:
            anchor_module, anchor_root = "", top
        return [
            (path, *_name_in_tree(path, top, anchor_module, anchor_root, walk_up_first=True))
            for path in _walk(top, collector)
        ]
    spots = _resolve(spec, search_path) if _is_dotted(spec) else []
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


def _walk(top: str, collector: _Collector) -> list[str]:
    """The ``.py`` files under ``top``, in walk order, within the limits."""
    found: list[str] = []

    def unreadable(error: OSError) -> None:
        collector.problems.append(f"{error.filename}: cannot be read: {error.strerror or error}")

    for directory, subdirectories, filenames in os.walk(top, onerror=unreadable):
        collector.directories += 1
        if collector.directories > _MAX_DIRECTORIES:
            collector.problems.append(
                f"{directory}: not indexed: stopped after {_MAX_DIRECTORIES} directories"
            )
            break
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


def _is_package(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "__init__.py"))


def _is_dotted(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _walk_up(path: str) -> tuple[str, str]:
    """(module, root) of a file: its root is the first parent directory without __init__.py."""
    directory, filename = os.path.split(path)
    stem = filename[:-3] if filename.endswith(".py") else filename
    parts = [] if stem == "__init__" else [stem]
    while _is_package(directory):
        parent, name = os.path.split(directory)
        if not name or parent == directory:  # an __init__.py at the file system's root
            break
        parts.append(name)
        directory = parent
    return ".".join(reversed(parts)) or stem, directory


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
    if walk_up_first and (directory == top or _is_package(directory)):
        return _walk_up(path)
    relative = os.path.relpath(directory, top)
    parts = [] if relative == os.curdir else relative.split(os.sep)
    if not all(part.isidentifier() for part in parts):
        return _walk_up(path)
    stem = os.path.basename(path)[:-3]
    if stem != "__init__":
        parts.append(stem)
    if anchor_module:
        parts.insert(0, anchor_module)
    return ".".join(parts), anchor_root


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


def _resolve(dotted: str, search_path: Sequence[str] | None) -> list[_Spot]:
    """Where ``dotted`` lives, one part at a time, as Python's path finder would find it.

    Returns one spot for a module or a regular package, one per portion for a namespace
    package, and nothing when it is not found.
    """
    if not _is_dotted(dotted):
        return []
    parts = dotted.split(".")
    places = [(directory, directory) for directory in _search_directories(search_path)]
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        portions: list[tuple[str, str]] = []
        for directory, root in places:
            candidate = os.path.join(directory, part)
            if _is_package(candidate):
                if last:
                    return [_Spot(os.path.join(candidate, "__init__.py"), root, candidate)]
                places = [(candidate, root)]
                break
            module_file = candidate + ".py"
            if os.path.isfile(module_file):
                # A plain module has no submodules: "import module.sub" fails in Python too.
                return [_Spot(module_file, root, None)] if last else []
            if os.path.isdir(candidate):
                portions.append((candidate, root))
        else:
            if not portions:
                return []
            if last:
                return [_Spot(None, root, candidate) for candidate, root in portions]
            places = portions
    return []  # pragma: no cover - the loop returns on the last part


# --- reading definitions -------------------------------------------------------------------------


def _parse(path: str) -> ast.Module | str:
    """The file's syntax tree, or why there is none."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return f"not indexed: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB ({size} bytes)"
        with open(path, "rb") as handle:
            source = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if len(source) > MAX_FILE_BYTES:
        return f"not indexed: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as error:
        message = error.msg or str(error)
        if "unicode error" in message or "encoding" in message or "null bytes" in message:
            return f"cannot be decoded: {message}"
        return f"syntax error at line {error.lineno}: {message}"
    except ValueError as error:  # Python 3.10: null bytes
        return f"cannot be decoded: {error}"
    except (RecursionError, MemoryError):
        return "cannot be parsed: nested too deeply"


def _top_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs when imported, outside functions and classes.

    Descends into ``if``, ``try``, ``with``, loops and ``match``, but not into the body of
    ``if TYPE_CHECKING:``, which never runs.
    """
    for node in body:
        yield node
        if isinstance(node, _DEFINITIONS):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _top_level(node.orelse)
            continue
        yield from _top_level(getattr(node, "body", ()))
        for clause in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            yield from _top_level(clause.body)
        yield from _top_level(getattr(node, "orelse", ()))
        yield from _top_level(getattr(node, "finalbody", ()))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


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
    statements = list(_top_level(tree.body))
    names = _register_names(statements)
    found = []
    for node in statements:
        if isinstance(node, _DEFINITIONS):
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
