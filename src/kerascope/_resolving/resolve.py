"""Where one custom object will come from, looked up without importing anything.

For each custom object a file needs, the places are tried in this order. The first three are
Keras's own order (``_retrieve_class_or_fn`` in ``keras/src/saving/serialization_lib.py``: the
active custom object scope, the global registry, then ``custom_objects``); kerascope fills
``custom_objects`` with what the later places provide, and the user's own entries win:

1. an active ``keras.saving.custom_object_scope`` (seen only by :func:`kerascope.load_model`);
2. objects already registered in this process (kerascope's registry, Keras's global registry);
3. the ``custom_objects`` the user passes, exactly as Keras looks them up;
4. the sources the user names (``--from`` / ``sources=``), found by static analysis; a source
   that should define the object but could not be parsed is reported as such;
4b. the source bundle the file carries (manifest version 2), imported from memory, only when
   its digest is trusted (``sha256:<digest>``): before any module of the environment, which a
   bundle may never shadow (the plan refuses a bundle that would);
5. the ``module`` recorded in a ``.keras`` config: Keras's own packages are imported by Keras;
   any other module only when its package is trusted;
6. the module the file's kerascope manifest names, when its package is trusted;
7. trusted packages (import packages, and the packages of trusted distributions), searched
   statically by name (for ``.h5`` files and functions, which record no module);
8. modules installed packages declare in the ``kerascope.modules`` entry-point group (trusted
   distributions only);
9. installed but untrusted packages that the key's prefix, the class name or the recorded module
   point to, read statically: found there, the object is reported untrusted with the
   distribution to trust.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Collection, Sequence

from kerascope._common.keras_peek import keras_registered
from kerascope._common.pythonpath import locate_module
from kerascope._common.record import TYPE_CHECKING
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from . import hints as _hints
from . import import_graph as _import_graph
from . import sources as _sources
from .entrypoints import declared_modules
from .registry import REGISTRY
from .resolution import (
    TRAINING_ROOTS,
    Resolution,
    bundle_resolution,
    failed,
    found_at,
    relative,
    unread_problem,
    untrusted_problem,
)
from .trust import TrustPolicy, distributions_providing

if TYPE_CHECKING:
    from kerascope._audit.inspect import CustomObject
    from kerascope._reading.manifest import Manifest

__all__ = ["TRAINING_ROOTS", "Finder", "Resolution", "custom_objects_key", "relative"]


class Finder:
    """Looks one custom object up in each place, in order.

    Args:
        index: The user's sources, indexed.
        trust: The trust policy.
        manifest: The file's kerascope manifest, if any.
        custom_objects: The keys of the ``custom_objects`` the user passes.
        in_scope: Whether an active Keras custom object scope holds a key.
        model_path: The model file, to look for definitions beside it when something is missing.
    """

    def __init__(
        self,
        index: _sources.SourceIndex,
        trust: TrustPolicy,
        manifest: Manifest | None,
        *,
        custom_objects: Collection[str] = (),
        in_scope: Callable[[str], bool] | None = None,
        model_path: str | None = None,
    ) -> None:
        self.index = index
        self.trust = trust
        self.manifest = manifest
        self.custom_objects = frozenset(custom_objects)
        self.in_scope = in_scope
        self.model_path = model_path
        self.unread_used: set[str] = set()
        self._package_indexes: dict[tuple[str, bool], _sources.SourceIndex | str | None] = {}
        self._beside: _sources.SourceIndex | None = None

    def _manifest_module(self, obj: CustomObject) -> str | None:
        entry = self.manifest.find(obj.key) if self.manifest else None
        return entry.module if entry else None

    def resolve(self, obj: CustomObject) -> Resolution:
        return (
            self._scoped(obj)
            or self._registered(obj)
            or self._handed_over(obj)
            or self._from_sources(obj)
            or self._from_unread_sources(obj)
            or self._from_bundle(obj)
            or self._from_recorded_module(obj)
            or self._from_manifest(obj)
            or self._from_trusted_packages(obj)
            or self._from_entry_points(obj)
            or self._from_installed_packages(obj)
            or self._missing(obj)
        )

    def _scoped(self, obj: CustomObject) -> Resolution | None:
        if self.in_scope is not None and self.in_scope(obj.key):
            return Resolution(obj, "custom-objects", "keras.saving.custom_object_scope")
        return None

    def _handed_over(self, obj: CustomObject) -> Resolution | None:
        key = custom_objects_key(obj, self.custom_objects)
        if key is None:
            return None
        return Resolution(obj, "custom-objects", f"custom_objects[{key!r}]")

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
        return found_at(obj, matching[0])

    def _from_unread_sources(self, obj: CustomObject) -> Resolution | None:
        recorded = obj.module or self._manifest_module(obj)
        unread = _hints.unread_source_for(obj, self.index.unread, recorded)
        if unread is None:
            return None
        self.unread_used.add(unread.path)
        return unread_problem(obj, unread, "")

    def _from_bundle(self, obj: CustomObject) -> Resolution | None:
        bundle = self.manifest.bundle if self.manifest else None
        module = self._manifest_module(obj) or obj.module
        if bundle is None or module is None or module not in bundle.modules:
            return None
        entry = self.manifest.find(obj.key) if self.manifest else None
        return bundle_resolution(obj, bundle, module, entry.qualname if entry else None, self.trust)

    def _from_manifest(self, obj: CustomObject) -> Resolution | None:
        entry = self.manifest.find(obj.key) if self.manifest else None
        if entry is None or not entry.module or entry.module in ("__main__", "builtins"):
            return None
        path = locate_module(entry.module)
        if path is None:
            return None
        if not self.trust.trusts_module(entry.module):
            return untrusted_problem(obj, entry.module, entry.distribution)
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
                return failed(
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
            return untrusted_problem(obj, module)
        return Resolution(
            obj, "module", f"module {module}", module=module, attribute=obj.class_name, file=path
        )

    def _from_trusted_packages(self, obj: CustomObject) -> Resolution | None:
        for package in self.trust.named_packages():
            index = self._package_index(package)
            if not isinstance(index, _sources.SourceIndex):
                continue
            found = index.find(obj.key)
            if found:
                trusted = f"(trusted {_trusted_as(self.trust, package)})"
                where = f"{found[0].module}:{found[0].lineno} {trusted}"
                return found_at(obj, found[0], "package", where)
        return None

    def _from_entry_points(self, obj: CustomObject) -> Resolution | None:
        for declared in declared_modules():
            index = self._package_index(declared.module)
            if not isinstance(index, _sources.SourceIndex) or not index.find(obj.key):
                continue
            definition = index.find(obj.key)[0]
            if not (
                self.trust.trusts_distribution(declared.distribution)
                or self.trust.trusts_module(definition.module)
            ):
                return untrusted_problem(obj, definition.module, declared.distribution)
            where = f"module {definition.module} (declared by {declared.distribution})"
            return found_at(obj, definition, "entry-point", where)
        return None

    def _from_installed_packages(self, obj: CustomObject) -> Resolution | None:
        """An installed, untrusted package the key or class name points to, that defines it."""
        for package in self._candidates(obj):
            if self.trust.trusts_module(package):
                continue  # trusted packages were searched already
            index = self._package_index(package, bounded=True)
            if isinstance(index, _sources.SourceIndex):
                found = index.find(obj.key)
                if found:
                    return untrusted_problem(obj, found[0].module, found_by_name=True)
        return None

    def _candidates(self, obj: CustomObject) -> list[str]:
        entry = self.manifest.find(obj.key) if self.manifest else None
        return _hints.candidate_packages(obj, entry.distribution if entry else None)

    def _package_index(
        self, name: str, *, bounded: bool = False
    ) -> _sources.SourceIndex | str | None:
        """A package read statically: whole when trusted or declared, bounded for guesses."""
        if (name, bounded) not in self._package_indexes:
            index: _sources.SourceIndex | str | None = None
            if all(part.isidentifier() for part in name.split(".")) and locate_module(name):
                index = _hints.index_installed(name, bounded=bounded)
            self._package_indexes[name, bounded] = index
        return self._package_indexes[name, bounded]

    def _beside_model(self) -> _sources.SourceIndex:
        if self._beside is None:
            if self.model_path is None:
                self._beside = _sources.SourceIndex((), {}, ())
            else:
                given = {os.path.realpath(path) for path in self.index.modules.values()}
                given |= {os.path.realpath(file.path) for file in self.index.unread}
                self._beside = _hints.index_beside(self.model_path, given)
        return self._beside

    def _missing(self, obj: CustomObject) -> Resolution:
        names = self.index.names() + list(REGISTRY.get_all())
        close = tuple(difflib.get_close_matches(obj.key, names, n=3, cutoff=0.75))
        recorded = obj.module if obj.module not in (None, "builtins") else None
        if recorded:
            distributions = distributions_providing(recorded)
            reason = f"the file says it comes from module '{recorded}', which is not installed"
            if distributions:
                reason = f"module '{recorded}' is not importable"
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
        hint, distribution = self._package_hint(obj)
        reason += hint
        if distribution is not None:
            return failed(
                obj,
                "untrusted",
                reason,
                f"--trust {distribution}",
                candidates=(distribution,),
                python_fix=f"trust=[{distribution!r}]",
            )
        if close:
            reason += f"; did you mean {', '.join(repr(c) for c in close)}?"
        beside = self._beside_model()
        unread = _hints.unread_source_for(obj, beside.unread, recorded)
        if unread is not None:
            return unread_problem(obj, unread, reason + "; ", given=False)
        found = beside.find(obj.key)
        if found:
            path = relative(found[0].path)
            reason += f"; {path}:{found[0].lineno}, beside the model, defines it"
        elif recorded and recorded != "__main__":
            path = recorded.replace(".", "/") + ".py"
            reason += f"; pass {path}, the file that defines module '{recorded}'"
        else:
            what = f"the file, directory or module that defines '{obj.class_name}'"
            return failed(
                obj,
                "missing",
                reason,
                f"--from FILE.py ({what})",
                candidates=close,
                python_fix=f"sources=['FILE.py'] ({what})",
            )
        return failed(
            obj,
            "missing",
            reason,
            f"--from {path}",
            candidates=close,
            python_fix=f"sources=[{path!r}]",
        )

    def _package_hint(self, obj: CustomObject) -> tuple[str, str | None]:
        """What the key's prefix says, and the distribution to trust when it names one that is
        too big to read without being asked to."""
        prefix = _hints.prefix_of(obj.key)
        if prefix is None:
            return "", None
        installed = _hints.prefix_packages(prefix)
        if not installed:
            return f"; its key names a package '{prefix}', which is not installed here", None
        package = installed[0]
        index = self._package_index(package, bounded=not self.trust.trusts_module(package))
        if isinstance(index, str) and not self.trust.trusts_module(package):
            distribution = _hints.distribution_of(package)
            text = f"; its key names the installed package '{package}' (distribution "
            return f"{text}{distribution}), which is not trusted and was {index}", distribution
        return f"; its key names the installed package '{package}', which does not define it", None

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


def custom_objects_key(obj: CustomObject, custom_objects: Collection[str]) -> str | None:
    """The key of ``custom_objects`` Keras would take ``obj`` from, if any.

    Keras looks a class up under its registered name and a function under its name, exactly;
    a function saved by Keras 3.6 or older under its bare name (module ``builtins``) is also
    found under any key ending in ``>name`` (``_retrieve_class_or_fn``).

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> fn = CustomObject("my_act", ("activation",), "builtins", "my_act", None, (), False)
        >>> custom_objects_key(fn, {"mypkg>my_act"}), custom_objects_key(fn, {"other"})
        ('mypkg>my_act', None)
    """
    if obj.key in custom_objects:
        return obj.key
    if obj.module == "builtins" and ">" not in obj.key:
        for key in custom_objects:
            if key.endswith(f">{obj.key}"):
                return key
    return None


def _trusted_as(trust: TrustPolicy, package: str) -> str:
    """The trusted name that covers ``package``, as the user wrote it."""
    for name in trust.names:
        if name == package or package in TrustPolicy([name]).named_packages():
            return name
    return package
