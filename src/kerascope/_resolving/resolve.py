"""Where one custom object will come from, looked up without importing anything.

For each custom object a file needs, the places are tried in this order (Keras's own order is
scope, then global registry, then ``custom_objects``; kerascope fills ``custom_objects``):

1. objects already registered in this process (kerascope's registry, Keras's global registry);
2. the sources the user names (``--from`` / ``sources=``), found by static analysis;
3. the ``module`` recorded in a ``.keras`` config: Keras's own packages are imported by Keras;
   any other module only when its package is trusted;
4. the module the file's kerascope manifest names, when its package is trusted;
5. trusted packages, searched statically by name (for ``.h5`` files and functions, which record
   no module);
6. modules installed packages declare in the ``kerascope.modules`` entry-point group (trusted
   distributions only).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence

from kerascope._common.keras_peek import keras_registered
from kerascope._common.pythonpath import locate_module
from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from . import import_graph as _import_graph
from . import sources as _sources
from .entrypoints import declared_modules
from .registry import REGISTRY
from .trust import TrustPolicy, distributions_providing

if TYPE_CHECKING:
    from typing import Literal

    from kerascope._audit.inspect import CustomObject
    from kerascope._reading.manifest import Manifest

__all__ = ["TRAINING_ROOTS", "Finder", "Resolution", "relative"]

if TYPE_CHECKING:
    Origin = Literal[
        "registry",  # already registered in this process
        "source",  # a --from source
        "module",  # the module named in the file, trusted
        "package",  # found by name in a trusted package
        "entry-point",  # a module declared by a trusted installed package
        "manifest",  # the module the manifest names, trusted
        "keras",  # a Keras package (keras_hub, ...) that Keras imports itself
        "compile-fix",  # a built-in loss Keras fails to restore from .h5: kerascope supplies it
        "skipped",  # training-only, not needed because the model is loaded without compiling
        "missing",
        "untrusted",
        "bytecode",  # a Python lambda stored in the file: loads only when allowed
    ]
TRAINING_ROOTS = ("$.compile_config", "$.training_config")


class Resolution(Record):
    """Where one custom object will come from.

    Attributes:
        object: The custom object, as inspect groups it.
        origin: Which kind of place provides it (see :data:`Origin`).
        where: Human-readable place: ``custom_layer.py:5``, ``module tcn.tcn`` ...
        module: The module to import for it (None when nothing is imported).
        root: A directory to put on ``sys.path`` to import ``module``, for sources.
        attribute: The name to take from ``module``.
        problem: Why it cannot be provided, when ``origin`` is missing or untrusted.
        file: The file that will be imported for it, when known.
    """

    object: CustomObject
    origin: Origin
    where: str
    module: str | None = None
    root: str | None = None
    attribute: str | None = None
    problem: Problem | None = None
    file: str | None = None

    @property
    def training_only(self) -> bool:
        """Used only by the compile configuration (loss, metrics, optimizer)."""
        return all(path.startswith(TRAINING_ROOTS) for path in self.object.json_paths)


class Finder:
    """Looks one custom object up in each place, in order."""

    def __init__(
        self, index: _sources.SourceIndex, trust: TrustPolicy, manifest: Manifest | None
    ) -> None:
        self.index = index
        self.trust = trust
        self.manifest = manifest
        self._package_indexes: dict[str, _sources.SourceIndex | None] = {}

    def _manifest_module(self, obj: CustomObject) -> str | None:
        entry = self.manifest.find(obj.key) if self.manifest else None
        return entry.module if entry else None

    def resolve(self, obj: CustomObject) -> Resolution:
        return (
            self._registered(obj)
            or self._from_sources(obj)
            or self._from_recorded_module(obj)
            or self._from_manifest(obj)
            or self._from_trusted_packages(obj)
            or self._from_entry_points(obj)
            or self._missing(obj)
        )

    def _registered(self, obj: CustomObject) -> Resolution | None:
        found = REGISTRY.find(obj.key)
        if found is not None:
            return Resolution(obj, "registry", f"registered {found.module}.{found.qualname}")
        registered = keras_registered(obj.key)
        if registered is not None:
            where = (
                f"{getattr(registered, '__module__', '?')}.{getattr(registered, '__name__', '?')}"
            )
            return Resolution(obj, "registry", f"registered with Keras: {where}")
        return None

    def _from_sources(self, obj: CustomObject) -> Resolution | None:
        found = self.index.find(obj.key)
        if not found:
            return None
        recorded = obj.module or self._manifest_module(obj)
        matching = [d for d in found if d.module == recorded] or found
        definition = matching[0]
        return Resolution(
            obj,
            "source",
            f"{relative(definition.path)}:{definition.lineno}",
            module=definition.module,
            root=definition.root,
            attribute=definition.name,
            file=definition.path,
        )

    def _from_manifest(self, obj: CustomObject) -> Resolution | None:
        entry = self.manifest.find(obj.key) if self.manifest else None
        if entry is None or not entry.module or entry.module in ("__main__", "builtins"):
            return None
        path = locate_module(entry.module)
        if path is None:
            return None
        if not self.trust.trusts_module(entry.module):
            return _untrusted(obj, entry.module, entry.distribution)
        return Resolution(
            obj,
            "manifest",
            f"module {entry.module} (from the manifest)",
            module=entry.module,
            attribute=entry.qualname or obj.class_name,
            file=path,
        )

    def _from_recorded_module(self, obj: CustomObject) -> Resolution | None:
        module = obj.module
        if not module or module == "builtins":
            return None
        if _builtins.is_importable_keras_package(module):
            if locate_module(module) is None:
                return _problem(
                    obj,
                    "missing",
                    f"module '{module}' (a Keras package) is not installed",
                    f"pip install {module.split('.')[0].replace('_', '-')}",
                )
            return Resolution(obj, "keras", f"module {module} (Keras imports it)")
        path = locate_module(module)
        if path is None:
            return None
        if not self.trust.trusts_module(module):
            return _untrusted(obj, module)
        return Resolution(
            obj, "module", f"module {module}", module=module, attribute=obj.class_name, file=path
        )

    def _from_trusted_packages(self, obj: CustomObject) -> Resolution | None:
        for name in self.trust.names:
            index = self._package_index(name)
            if index is None:
                continue
            found = index.find(obj.key)
            if found:
                definition = found[0]
                return Resolution(
                    obj,
                    "package",
                    f"{definition.module}:{definition.lineno} (trusted {name})",
                    module=definition.module,
                    attribute=definition.name,
                    file=definition.path,
                )
        return None

    def _from_entry_points(self, obj: CustomObject) -> Resolution | None:
        for declared in declared_modules():
            index = self._package_index(declared.module)
            if index is None or not index.find(obj.key):
                continue
            definition = index.find(obj.key)[0]
            if not (
                self.trust.trusts_distribution(declared.distribution)
                or self.trust.trusts_module(definition.module)
            ):
                return _untrusted(obj, definition.module, declared.distribution)
            return Resolution(
                obj,
                "entry-point",
                f"module {definition.module} (declared by {declared.distribution})",
                module=definition.module,
                attribute=definition.name,
                file=definition.path,
            )
        return None

    def _package_index(self, name: str) -> _sources.SourceIndex | None:
        if name not in self._package_indexes:
            index = None
            if all(part.isidentifier() for part in name.split(".")) and locate_module(name):
                try:
                    index = _sources.index_sources([name])
                except Exception:  # a trusted name that is a distribution, not a package
                    index = None
            self._package_indexes[name] = index
        return self._package_indexes[name]

    def _missing(self, obj: CustomObject) -> Resolution:
        names = self.index.names() + list(REGISTRY.get_all())
        close = tuple(difflib.get_close_matches(obj.key, names, n=3, cutoff=0.75))
        if obj.module and obj.module != "builtins":
            distributions = distributions_providing(obj.module)
            reason = f"the file says it comes from module '{obj.module}', which is not installed"
            if distributions:
                reason = f"module '{obj.module}' is not importable"
        elif obj.module is None and not obj.registered_name and "(" not in obj.key:
            reason = "not found in the sources given"
            if any(path.startswith("$.config") or path == "$" for path in obj.json_paths):
                reason += " (the file records no module for it)"
        else:
            reason = "not found in the sources given (the file records no module for it)"
        entry = self.manifest.find(obj.key) if self.manifest else None
        if entry is not None and entry.file:
            reason += (
                f"; the manifest says it was defined in {entry.file} "
                f"(module {entry.module}), which is not importable here"
            )
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        fix = (
            f"point kerascope at the code that defines '{obj.class_name}': --from FILE.py, "
            f"a directory or a module (Python: sources=['...'])"
        )
        return _problem(obj, "missing", reason + hint, fix, close)

    def cycle_problems(self, resolutions: Sequence[Resolution]) -> list[Problem]:
        modules = [r.module for r in resolutions if r.origin == "source" and r.module]
        problems = []
        for cycle in _import_graph.import_cycles(self.index, modules):
            chain = " -> ".join((*cycle, cycle[0]))
            problems.append(
                Problem(
                    key=cycle[0],
                    kind="module",
                    json_paths=(),
                    reason="import-cycle",
                    message=f"the source modules import each other in a cycle: {chain}",
                    fix="move the shared definitions into a module both import, or import "
                    "inside the function that needs it",
                )
            )
        return problems


def _problem(
    obj: CustomObject, origin: Origin, message: str, fix: str, candidates: tuple[str, ...] = ()
) -> Resolution:
    problem = Problem(
        key=obj.key,
        kind="/".join(obj.kinds),
        json_paths=obj.json_paths,
        reason=origin,
        message=message,
        fix=fix,
        candidates=candidates,
    )
    return Resolution(obj, origin, message, problem=problem)


def _untrusted(obj: CustomObject, module: str, distribution: str | None = None) -> Resolution:
    package = module.split(".", maxsplit=1)[0]
    distributions = [distribution] if distribution else distributions_providing(package)
    name = distributions[0] if distributions else package
    provided = f" (distribution {', '.join(distributions)})" if distributions else ""
    return _problem(
        obj,
        "untrusted",
        f"defined in module '{module}'{provided}, which is not trusted",
        f"--trust {name} (Python: trust=[{name!r}])",
        tuple(distributions),
    )


def relative(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
