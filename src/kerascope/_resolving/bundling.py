"""Making a source bundle, and deciding whether a bundle may be used here, without running it.

A bundle (format in :mod:`kerascope._reading.bundle`) is made from exactly the files a plan
would import: the sources that define the model's custom objects and the local modules they
import (:func:`kerascope._resolving.pins.pin`), or, when saving, from the live modules and what
their files import under the same import root. What they import of the standard library and
of installed packages is listed, not bundled; installed packages are named with their versions.

Before a bundle is used, :func:`spoofing_problems` refuses any bundled module that would
provide, shadow or replace a module that exists here, and :func:`drift_notes` reports the
bundled modules the user's own ``--from`` sources replace.

Nothing here imports the code it reads, nor Keras.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Mapping

from kerascope._common.pythonpath import find_spots
from kerascope._reading.bundle import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_FILES,
    Bundle,
    BundleFile,
    bundle_digest,
    expected_path,
)
from kerascope.errors import Problem, SourceError

from .source_parse import MAX_FILE_BYTES
from .trust import DEFAULT_TRUSTED, distributions_providing

__all__ = ["describe_bundle", "drift_notes", "local_closure", "make_bundle", "spoofing_problems"]


def make_bundle(files: Mapping[str, str]) -> Bundle:
    """A bundle of these source files: module name -> absolute path of its ``.py`` file.

    Each file is read as UTF-8 text and parsed (never run) to list what it imports.

    Raises:
        SourceError: A file cannot be read or decoded, or the bundle is larger than
            :data:`~kerascope._reading.bundle.MAX_BUNDLE_BYTES` or has more than
            :data:`~kerascope._reading.bundle.MAX_BUNDLE_FILES` files.

    Example:
        >>> import kerascope._common.files as files
        >>> bundle = make_bundle({"kerascope._common.files": files.__file__})
        >>> [item.path for item in bundle.files], bundle.files[0].standard
        (['kerascope/_common/files.py'], ('__future__', 'hashlib', 'os'))
    """
    if len(files) > MAX_BUNDLE_FILES:
        raise SourceError(
            f"cannot bundle {len(files)} files: the limit is {MAX_BUNDLE_FILES} (docs/format.md)"
        )
    texts: dict[str, tuple[str, str]] = {}
    total = 0
    for module, path in sorted(files.items()):
        text = _read_text(path)
        total += len(text.encode("utf-8"))
        texts[module] = (path, text)
    if total > MAX_BUNDLE_BYTES:
        listed = ", ".join(f"{path} ({os.path.getsize(path)} bytes)" for path, _ in texts.values())
        raise SourceError(
            f"cannot bundle {total} bytes of source: the limit is {MAX_BUNDLE_BYTES} bytes "
            f"(docs/format.md); the files: {listed}"
        )
    bundled = set(texts)
    items = []
    used_packages: set[str] = set()
    for module, (path, text) in texts.items():
        local, installed, standard = _classify(_imports(text, module, path), bundled)
        used_packages.update(installed)
        items.append(
            BundleFile(
                module=module,
                path=expected_path(module, os.path.basename(path) == "__init__.py"),
                source=text,
                sha256="",
                size=len(text.encode("utf-8")),
                local=local,
                installed=installed,
                standard=standard,
            )
        )
    items = [item._replace(sha256=item.actual_sha256) for item in items]
    return Bundle(tuple(items), bundle_digest(items), _versions(used_packages))


def local_closure(modules: Mapping[str, str], root: str) -> dict[str, str]:
    """``modules`` (name -> file) and every module under ``root`` they import, transitively.

    Imports are read anywhere in each file (a layer may import a helper inside ``call``);
    relative imports are resolved against the importing module's package; a module found
    under ``root`` counts, with the regular packages around it.

    Example:
        >>> import kerascope._common.files as files
        >>> root = os.path.dirname(os.path.dirname(os.path.dirname(files.__file__)))
        >>> found = local_closure({"kerascope._common.files": files.__file__}, root)
        >>> "kerascope._common" in found, "json" in found
        (True, False)
    """
    found: dict[str, str] = {}
    pending = list(modules.items())
    while pending:
        module, path = pending.pop()
        if module in found:
            continue
        found[module] = path
        parts = module.split(".")
        names = {".".join(parts[:end]) for end in range(1, len(parts))}
        names |= _imports(_read_text(path), module, path)
        for name in sorted(names):
            spots = find_spots(name, [root])
            if spots and spots[0].file is not None and name not in found:
                pending.append((name, spots[0].file))
    return found


def spoofing_problems(bundle: Bundle, modules: Iterable[str]) -> list[Problem]:
    """Bundled modules that would provide, shadow or replace a module that exists here.

    A bundled module is refused when its top-level name is a standard-library or built-in
    module, one of Keras's packages, already imported, or found by the import system here (an
    installed package, or a module on ``sys.path``: the user's own modules included).

    Example:
        >>> item = BundleFile("json", "json.py", "", "", 0)
        >>> spoofing_problems(Bundle((item,), ""), ["json"])[0].reason
        'bundle-spoofing'
    """
    problems = []
    for module in modules:
        where = _existing(module.split(".", maxsplit=1)[0], bundle.digest)
        if where is None:
            continue
        problems.append(
            Problem(
                key=module,
                kind="bundled module",
                json_paths=(),
                reason="bundle-spoofing",
                message=f"the bundle (sha256:{bundle.digest}) provides module '{module}', "
                f"which exists here: {where}; a bundle may never provide, shadow or replace "
                "a module of the environment",
                fix="do not load this file; if the module is your own code, pass it with "
                "--from (your source then wins over the bundle)",
                python_fix="do not load this file; if the module is your own code, pass it "
                "in sources=[...] (your source then wins over the bundle)",
            )
        )
    return problems


def _existing(top: str, digest: str) -> str | None:
    """Where a top-level module name already exists in this environment, or None.

    Asks the import system's finders (``importlib.util.find_spec`` of a top-level name imports
    nothing): they see the standard library, installed packages (extension modules, zips and
    editable installs included) and every ``sys.path`` entry, as the import would. A module
    this process already imported from the same bundle (an earlier load) is no conflict: its
    origin names the bundle's digest.
    """
    import importlib.util

    if top in sys.builtin_module_names or top in sys.stdlib_module_names:
        return f"'{top}' is a standard-library module"
    if top in DEFAULT_TRUSTED:
        return f"'{top}' is a Keras package"
    ours = f"<kerascope bundle sha256:{digest[:12]}>/"
    if top in sys.modules:
        spec = getattr(sys.modules[top], "__spec__", None)
        if (getattr(spec, "origin", None) or "").startswith(ours):
            return None
        return f"'{top}' is already imported in this process"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or (spec.origin or "").startswith(ours):
        return None
    where = spec.origin or ", ".join(spec.submodule_search_locations or ()) or "a finder"
    return f"'{top}' would be imported from {where}"


def drift_notes(bundle: Bundle, sources: Mapping[str, str]) -> list[str]:
    """Bundled modules the user's ``--from`` sources (module -> file) also provide and change.

    Example:
        >>> drift_notes(Bundle((), ""), {})
        []
    """
    from kerascope._common.files import file_sha256

    notes = []
    for item in bundle.files:
        path = sources.get(item.module)
        if path is None:
            continue
        digest = file_sha256(path)
        if digest != item.actual_sha256:
            notes.append(
                f"drift: your source {path} for module '{item.module}' differs from the copy "
                f"bundled in the file (sha256 {item.actual_sha256[:12]}, yours {digest[:12]}); "
                "using your source"
            )
    return notes


def describe_bundle(bundle: Bundle) -> str:
    """The bundle's files and what they import, in one line each, for messages.

    Example:
        >>> describe_bundle(Bundle((BundleFile("m", "m.py", "", "", 0, (), ("numpy",)),), ""))
        'm.py (0 bytes; imports numpy)'
    """
    lines = []
    for item in bundle.files:
        imports = [*item.local, *item.installed]
        listed = f"; imports {', '.join(imports)}" if imports else ""
        lines.append(f"{item.path} ({item.size} bytes{listed})")
    return "; ".join(lines)


def _read_text(path: str) -> str:
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise SourceError(f"cannot bundle {path}: {size} bytes (a file may hold at most "
                              f"{MAX_FILE_BYTES})")  # fmt: skip
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SourceError(f"cannot bundle {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(f"cannot bundle {path}: not UTF-8 text ({error.reason})") from None


def _imports(text: str, module: str, path: str) -> set[str]:
    """Every module name the text imports, anywhere, relative imports made absolute."""
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    is_package = os.path.basename(path) == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bits = package.rsplit(".", node.level - 1)
                if not package or len(bits) < node.level:
                    continue
                base = f"{bits[0]}.{node.module}" if node.module else bits[0]
            else:
                base = node.module or ""
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _classify(
    names: set[str], bundled: set[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    local: set[str] = set()
    installed: set[str] = set()
    standard: set[str] = set()
    for name in names:
        if name in bundled:
            local.add(name)
            continue
        top = name.split(".", maxsplit=1)[0]
        if any(module == top or module.startswith(f"{top}.") for module in bundled):
            continue  # an attribute imported from a bundled module: `from pkg import Layer`
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            standard.add(top)
        else:
            installed.add(top)
    return tuple(sorted(local)), tuple(sorted(installed)), tuple(sorted(standard))


def _versions(packages: set[str]) -> dict[str, str]:
    """Installed distribution -> version, for the top-level packages the bundle imports."""
    from importlib import metadata

    found: dict[str, str] = {}
    for package in sorted(packages):
        for name in distributions_providing(package):
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
    return found
