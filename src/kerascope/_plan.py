"""The loading plan: where every custom object of a file will come from, decided before any
user code runs.

For each custom object the file needs, the places are tried in this order (Keras's own order is
scope, then global registry, then ``custom_objects``; kerascope fills ``custom_objects``):

1. objects already registered in this process (kerascope's registry, Keras's global registry);
2. the sources the user names (``--from`` / ``sources=``), found by static analysis;
3. the ``module`` recorded in a ``.keras`` config: Keras's own packages are imported by Keras;
   any other module only when its package is trusted;
4. trusted packages, searched statically by name (for ``.h5`` files and functions, which record
   no module);
5. modules installed packages declare in the ``kerascope.modules`` entry-point group (trusted
   distributions only).

Nothing here imports user code or Keras: the plan is data, and ``kerascope check`` prints it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence

from ._record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Literal

from . import _builtins, _import_graph, _sources
from ._entrypoints import declared_modules
from ._inspect import CustomObject, Inspection, inspect
from ._keras import keras_registered
from ._manifest import Manifest, file_sha256
from ._registry import REGISTRY
from ._scan import ScanReport, scan
from ._spoofing import impostor
from ._trust import TrustPolicy, distributions_providing
from .errors import Problem

__all__ = ["Plan", "Resolution", "make_plan"]

if TYPE_CHECKING:
    CompileMode = Literal["auto", True, False]
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
_TRAINING_ROOTS = ("$.compile_config", "$.training_config")


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
        return all(path.startswith(_TRAINING_ROOTS) for path in self.object.json_paths)


class Plan(Record):
    """Everything kerascope will do to load a file, decided without running anything.

    Attributes:
        inspection: What the file contains.
        resolutions: One per custom object, in the order inspect lists them.
        compile: Whether Keras will be asked to compile the model.
        compile_fixes: ``custom_objects`` entries that repair losses Keras cannot restore from
            .h5: alias -> canonical Keras loss name.
        problems: Everything that stops the load, all at once.
        notes: What the user should know (training-only objects skipped, and the like).
        scan: The security audit of the file (see :func:`kerascope.scan`).
        safe_mode: What to pass to Keras: off only when Lambda bytecode was allowed.
    """

    inspection: Inspection
    resolutions: tuple[Resolution, ...]
    compile: bool
    compile_fixes: dict[str, str]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    scan: ScanReport
    safe_mode: bool

    @property
    def ok(self) -> bool:
        """True when loading would not stop on anything kerascope can see."""
        return not self.problems

    def untrusted(self) -> list[Resolution]:
        """The objects whose modules need trusting before they can be imported."""
        return [resolution for resolution in self.resolutions if resolution.origin == "untrusted"]


def make_plan(
    path: str | os.PathLike[str],
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    *,
    compile: CompileMode = "auto",
    safe_mode: bool = True,
    allow: Iterable[str] = (),
    strict: bool = False,
    report: ScanReport | None = None,
) -> Plan:
    """Decide, without importing user code, where each custom object of ``path`` comes from.

    Example:
        >>> plan = make_plan("my_model.h5", sources=["custom_layer.py"])  # doctest: +SKIP
        >>> [(r.object.key, r.origin, r.where) for r in plan.resolutions]  # doctest: +SKIP
        [('MyCustomLayer', 'source', 'custom_layer.py:6')]
    """
    inspection = inspect(path)
    allowed = frozenset(allow)
    report = report if report is not None else scan(path)
    finder = _Finder(_sources.index_sources(sources), TrustPolicy(trust), inspection.manifest)
    compile_fixes, unfixable = _compile_strings(inspection)
    resolutions = []
    for obj in inspection.custom_objects:
        if compile is False and _only_training(obj):
            resolutions.append(Resolution(obj, "skipped", "not needed without compiling"))
        elif obj.is_lambda:
            resolutions.append(Resolution(obj, "bytecode", "Python bytecode in the file"))
        else:
            resolutions.append(finder.resolve(obj))
    compile_flag, notes, problems = _decide_compile(compile, resolutions, unfixable)
    if not compile_flag:
        compile_fixes = {}
    problems += _blocking_findings(inspection)
    problems += finder.cycle_problems(resolutions)
    problems += _audit_problems(report, allowed)
    problems += _impostors(inspection)
    drift = _drift(inspection.manifest, resolutions)
    if strict:
        problems += [
            Problem(key, "source", (), "drift", message, "save the model again with this code")
            for key, message in drift
        ]
    else:
        notes += [message for _, message in drift]
    notes += _version_notes(inspection.manifest)
    notes += [
        f"{finding.kind} at {finding.json_path}: {finding.message}"
        for finding in report.findings
        if finding.severity in ("low", "medium") and finding.kind not in allowed
    ]
    return Plan(
        inspection,
        tuple(resolutions),
        compile_flag,
        compile_fixes,
        tuple(problems),
        tuple(notes),
        report,
        safe_mode and "lambda" not in allowed,
    )


def _drift(manifest: Manifest | None, resolutions: Sequence[Resolution]) -> list[tuple[str, str]]:
    """Objects whose defining file differs from the one the manifest recorded."""
    if manifest is None:
        return []
    drifted = []
    for resolution in resolutions:
        entry = manifest.find(resolution.object.key)
        if entry is None or not entry.sha256 or not resolution.file:
            continue
        if file_sha256(resolution.file) != entry.sha256:
            drifted.append(
                (
                    resolution.object.key,
                    f"'{resolution.object.key}' was saved with {entry.file} "
                    f"(sha256 {entry.sha256[:12]}); the file that will be imported, "
                    f"{_relative(resolution.file)}, has changed since",
                )
            )
    return drifted


def _version_notes(manifest: Manifest | None) -> list[str]:
    if manifest is None:
        return []
    from importlib import metadata

    notes = []
    installed = _installed_version("keras")
    if manifest.keras_version and installed and manifest.keras_version != installed:
        notes.append(f"saved with Keras {manifest.keras_version}; this is Keras {installed}")
    backend = _configured_backend()
    if manifest.backend and manifest.backend != backend:
        notes.append(f"saved with the {manifest.backend} backend; this process uses {backend}")
    for entry in manifest.objects:
        if entry.distribution and entry.distribution_version:
            try:
                version = metadata.version(entry.distribution)
            except metadata.PackageNotFoundError:
                continue
            if version != entry.distribution_version:
                notes.append(
                    f"'{entry.key}' was saved with {entry.distribution} "
                    f"{entry.distribution_version}; {version} is installed"
                )
    return list(dict.fromkeys(notes))


def _installed_version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _configured_backend() -> str:
    """The backend Keras will use, read as Keras reads it, without importing Keras."""
    import json

    backend = os.environ.get("KERAS_BACKEND")
    if backend:
        return backend
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as handle:
            configured = json.load(handle).get("backend")
    except (OSError, ValueError, AttributeError):
        configured = None
    return configured if isinstance(configured, str) else "tensorflow"


def _audit_problems(report: ScanReport, allowed: frozenset[str]) -> list[Problem]:
    return [
        Problem(
            key=finding.kind,
            kind="file",
            json_paths=(finding.json_path,) if finding.json_path else (),
            reason=finding.kind,
            message=finding.message,
            fix=finding.fix + (" (or allow=['lambda'])" if finding.kind == "lambda" else ""),
        )
        for finding in report.findings
        if finding.severity == "high" and finding.kind not in allowed
    ]


def _impostors(inspection: Inspection) -> list[Problem]:
    packages = {"keras"} | {
        reference.module.split(".")[0]
        for reference in inspection.references
        if reference.module and _builtins.is_importable_keras_package(reference.module)
    }
    problems = []
    for package in sorted(packages):
        why = impostor(package)
        if why is not None:
            problems.append(
                Problem(
                    key=package,
                    kind="package",
                    json_paths=(),
                    reason="spoofed-package",
                    message=why,
                    fix="run from another directory, or remove what shadows the package",
                )
            )
    return problems


def _only_training(obj: CustomObject) -> bool:
    return all(path.startswith(_TRAINING_ROOTS) for path in obj.json_paths)


def _compile_strings(inspection: Inspection) -> tuple[dict[str, str], list[str]]:
    fixes: dict[str, str] = {}
    unfixable: list[str] = []
    for finding in inspection.findings:
        if finding.code != "h5-unrestorable-compile-string" or finding.json_path is None:
            continue
        reference = next(r for r in inspection.references if r.json_path == finding.json_path)
        canonical = _builtins.h5_compile_string_fix(reference.key)
        if canonical is not None and reference.kind == "loss":
            fixes[reference.key] = canonical
        else:
            unfixable.append(f"{reference.kind} '{reference.key}'")
    return fixes, unfixable


def _decide_compile(
    compile: CompileMode, resolutions: list[Resolution], unfixable: list[str]
) -> tuple[bool, list[str], list[Problem]]:
    if compile is False:
        return False, [], _problems(resolutions)
    failing = [r for r in resolutions if r.problem is not None]
    training_failures = [r for r in failing if r.training_only]
    if (
        compile == "auto"
        and (unfixable or training_failures)
        and len(training_failures) == len(failing)
    ):
        reasons = [f"{r.object.kinds[0]} '{r.object.key}' ({r.origin})" for r in training_failures]
        reasons += [f"{item} (Keras cannot restore it from .h5)" for item in unfixable]
        note = (
            "loading without compiling (inference only): the training configuration needs "
            + ", ".join(reasons)
            + "; pass compile=True to require them"
        )
        for index, resolution in enumerate(resolutions):
            if resolution in training_failures:
                resolutions[index] = resolution._replace(origin="skipped", problem=None)
        return False, [note], []
    problems = _problems(resolutions)
    for item in unfixable:
        problems.append(
            Problem(
                key=item.split("'")[1],
                kind=item.split(" ")[0],
                json_paths=(),
                reason="unrestorable",
                message=f"Keras 3.15 cannot restore the {item} from .h5",
                fix="load with compile=False (or compile='auto') and compile again",
            )
        )
    return True, [], problems


def _problems(resolutions: list[Resolution]) -> list[Problem]:
    return [r.problem for r in resolutions if r.problem is not None]


def _blocking_findings(inspection: Inspection) -> list[Problem]:
    return [
        Problem(
            key=inspection.model_class,
            kind="model",
            json_paths=(finding.json_path or "$",),
            reason=finding.code,
            message=finding.message,
            fix=finding.fix,
        )
        for finding in inspection.findings
        # non-modeling APIs are reported by the security audit, with the other dangers
        if finding.severity == "error" and finding.code != "non-modeling-api"
    ]


class _Finder:
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
            f"{_relative(definition.path)}:{definition.lineno}",
            module=definition.module,
            root=definition.root,
            attribute=definition.name,
            file=definition.path,
        )

    def _from_manifest(self, obj: CustomObject) -> Resolution | None:
        entry = self.manifest.find(obj.key) if self.manifest else None
        if entry is None or not entry.module or entry.module in ("__main__", "builtins"):
            return None
        path = _sources.locate_module(entry.module)
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
            if _sources.locate_module(module) is None:
                return _problem(
                    obj,
                    "missing",
                    f"module '{module}' (a Keras package) is not installed",
                    f"pip install {module.split('.')[0].replace('_', '-')}",
                )
            return Resolution(obj, "keras", f"module {module} (Keras imports it)")
        path = _sources.locate_module(module)
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
            if all(part.isidentifier() for part in name.split(".")) and _sources.locate_module(
                name
            ):
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


def _relative(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative
