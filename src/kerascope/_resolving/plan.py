"""The loading plan: where every custom object of a file will come from (see ``_resolve``), what
the audit found, whether to compile, decided before any user code runs.

Nothing here imports user code or Keras: the plan is data, and ``kerascope check`` prints it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence

from kerascope._common.backend import active_backend
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Literal

from kerascope._audit.inspect import CustomObject, Inspection, inspect
from kerascope._audit.scan import ScanReport, scan
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from . import sources as _sources
from .backend_check import REASON as _BACKEND_BOUND
from .backend_check import BackendCode, backend_code, backend_problem
from .constructor import constructor_owner, constructor_owners
from .drift import drift, version_notes
from .named_lambdas import resolve_named_lambdas
from .op_layer_check import op_layer_problems
from .refusals import audit_problems, impostors, lambda_switch
from .resolve import TRAINING_ROOTS, Finder, Resolution
from .shim_check import shim_notes_and_problems
from .trust import TrustPolicy

__all__ = ["NOTE_FIXES", "Plan", "Resolution", "check", "lambda_switch", "make_plan", "untrusted"]

if TYPE_CHECKING:
    CompileMode = Literal["auto", True, False]


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
        safe_mode: What to pass to Keras: False only when the user turned safe mode off, which
            is also what accepts Lambda bytecode.
        optimizer_fixes: ``custom_objects`` entries for optimizers recorded under a backend's
            own class (PyTorch's ``torch_adam.Adam``): key -> public class
            (``keras.optimizers.Adam``), which other backends can build.
        backend: The Keras backend this process uses or will use (read as Keras reads it).
        backend_code: What the code of each object imported from a file imports of the
            backends' frameworks, and so which backends it runs on.
        bundled: The modules of the file's source bundle to import from memory (the bundle
            is ``inspection.manifest.bundle``); empty when the bundle is not used.
    """

    inspection: Inspection
    resolutions: tuple[Resolution, ...]
    compile: bool
    compile_fixes: dict[str, str]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    scan: ScanReport
    safe_mode: bool
    optimizer_fixes: dict[str, str] = {}  # noqa: RUF012 (a record field, never mutated)
    backend: str = "tensorflow"
    backend_code: tuple[BackendCode, ...] = ()
    bundled: tuple[str, ...] = ()

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
    custom_objects: Collection[str] = (),
    in_scope: Callable[[str], bool] | None = None,
) -> Plan:
    """Decide, without importing user code, where each custom object of ``path`` comes from.

    ``safe_mode=False`` is the one switch for Lambda bytecode: it accepts the ``lambda`` audit
    finding and is passed on to Keras. ``allow`` accepts other kinds of audit findings.
    ``custom_objects`` are the keys the user hands over (their objects need no source), and
    ``in_scope`` tells whether an active Keras custom object scope holds a key.

    Example:
        >>> plan = make_plan("my_model.h5", sources=["custom_layer.py"])  # doctest: +SKIP
        >>> [(r.object.key, r.origin, r.where) for r in plan.resolutions]  # doctest: +SKIP
        [('MyCustomLayer', 'source', 'custom_layer.py:6')]
    """
    inspection = inspect(path)
    allowed = frozenset(allow) | (frozenset() if safe_mode else frozenset({"lambda"}))
    report = report if report is not None else scan(path)
    finder = Finder(
        _sources.index_sources(sources),
        TrustPolicy(trust),
        inspection.manifest,
        custom_objects=custom_objects,
        in_scope=in_scope,
        model_path=inspection.path,
    )
    inspection, not_run = resolve_named_lambdas(inspection, finder)  # Keras 2 Lambda(named fn)
    compile_fixes, unfixable = _compile_strings(inspection)
    owners = constructor_owners(inspection.references)
    resolutions = []
    for obj in inspection.custom_objects:
        if compile is False and _only_training(obj):
            resolutions.append(Resolution(obj, "skipped", "not needed without compiling"))
        elif obj.is_lambda:
            resolutions.append(Resolution(obj, "bytecode", "Python bytecode in the file"))
        else:
            resolutions.append(_defer(finder.resolve(obj), constructor_owner(obj, owners)))
    compile_flag, notes, problems = _decide_compile(compile, resolutions, unfixable)
    if not compile_flag:
        compile_fixes = {}
    problems += finder.cycle_problems(resolutions)
    problems += audit_problems(report, inspection, allowed, not_run)
    problems += impostors(inspection)
    backend = active_backend()
    problems += op_layer_problems(inspection, backend, allowed)
    shim_notes, shim_problems = shim_notes_and_problems(inspection, backend)
    notes += shim_notes
    problems += shim_problems
    code = backend_code(finder.index, resolutions)
    for resolution, facts in _with_code(resolutions, code):
        obj = resolution.object
        bound = backend_problem(facts, backend, obj.kinds, obj.json_paths)
        if bound is not None and _BACKEND_BOUND in allowed:
            notes.append(f"{bound.message} (allowed)")
        elif bound is not None:
            problems.append(bound)
    bundled, bundle_problems, bundle_notes = _bundle_use(inspection, resolutions, finder)
    problems += bundle_problems
    notes += bundle_notes
    drifted = drift(inspection.manifest, resolutions)
    if strict:
        problems += [
            Problem(key, "source", (), "drift", message, "save the model again with this code")
            for key, message in drifted
        ]
    else:
        notes += [message for _, message in drifted]
    notes += version_notes(inspection.manifest, _neutrality(code))
    notes += [_deferred_note(r) for r in resolutions if r.deferred is not None]
    notes += _source_notes(finder)
    notes += [
        f"{finding.code} at {finding.json_path}: {finding.message}"
        for finding in report.findings
        if finding.severity in ("low", "medium") and finding.code not in allowed
    ]
    return Plan(
        inspection,
        tuple(resolutions),
        compile_flag,
        compile_fixes,
        tuple(problems),
        tuple(notes),
        report,
        safe_mode,
        _optimizer_fixes(inspection) if compile_flag else {},
        backend,
        tuple(code),
        bundled,
    )


def _bundle_use(
    inspection: Inspection, resolutions: Sequence[Resolution], finder: Finder
) -> tuple[tuple[str, ...], list[Problem], list[str]]:
    """The bundled modules to import from memory, what refuses them, and drift notes.

    When any object comes from the bundle (or waits for its digest to be trusted), every
    bundled module the ``--from`` sources do not provide will be importable from memory, so
    each is checked against the environment (:func:`.bundling.spoofing_problems`).
    """
    bundle = inspection.manifest.bundle if inspection.manifest else None
    if bundle is None:
        return (), [], []
    from .bundling import drift_notes, spoofing_problems

    notes = drift_notes(bundle, finder.index.modules)
    wanted = any(
        r.origin == "bundle"
        or (r.problem is not None and r.problem.reason in ("untrusted-bundle", "bundle-damaged"))
        for r in resolutions
    )
    if not wanted:
        return (), [], notes
    modules = tuple(m for m in bundle.modules if m not in finder.index.modules)
    problems = spoofing_problems(bundle, modules)
    used = any(r.origin == "bundle" for r in resolutions)
    return (modules if used else ()), problems, notes


def _with_code(
    resolutions: Sequence[Resolution], code: Sequence[BackendCode]
) -> list[tuple[Resolution, BackendCode]]:
    by_key = {facts.key: facts for facts in code}
    return [(r, by_key[r.object.key]) for r in resolutions if r.object.key in by_key]


def _neutrality(code: Sequence[BackendCode]) -> str:
    """What the custom code's imports say about running it on ``backend``."""
    if not code:
        return "no custom code is imported from a file"
    tied = [facts for facts in code if facts.bound]
    if not tied:
        return "the custom code was found backend-neutral (it imports no backend's framework)"
    named = ", ".join(f"{facts.key} ({' or '.join(facts.bound)})" for facts in tied)
    return f"the custom code is tied to a backend: {named}"


def _optimizer_fixes(inspection: Inspection) -> dict[str, str]:
    """Optimizers saved under a backend's own class, to build from the public one instead."""
    fixes: dict[str, str] = {}
    for reference in inspection.references:
        public = _builtins.backend_optimizer(reference.module, reference.class_name)
        if reference.kind == "optimizer" and public is not None:
            fixes[reference.registered_name or reference.class_name] = public
    return fixes


def _defer(resolution: Resolution, owner: str | None) -> Resolution:
    """A problem with an object only ``owner``'s constructor reads does not stop the load."""
    problem = resolution.problem
    if problem is None or owner is None:
        return resolution
    return resolution._replace(
        origin="skipped",
        where=f"left to {owner}'s constructor (Keras never looks it up)",
        problem=None,
        deferred=problem,
    )


def _deferred_note(resolution: Resolution) -> str:
    obj, problem = resolution.object, resolution.deferred
    assert problem is not None
    owner = resolution.where.removeprefix("left to ").split("'s constructor", 1)[0]
    return (
        f"'{obj.key}' ({'/'.join(obj.kinds)}) at {obj.json_paths[0]} is read only by the "
        f"constructor of {owner}, never looked up by Keras itself: {problem.message}. "
        f"Loading anyway; if {owner} needs it, Keras will say so"
    )


_MAX_SOURCE_NOTES = 5


def _source_notes(finder: Finder) -> list[str]:
    """The sources that could not be read, unless a problem already shows them."""
    used = finder.unread_used
    lines = [
        line
        for line in finder.index.problems
        if not any(line.startswith(f"{path}: ") for path in used)
    ]
    notes = [f"source not read: {line}" for line in lines[:_MAX_SOURCE_NOTES]]
    if len(lines) > _MAX_SOURCE_NOTES:
        notes.append(f"{len(lines) - _MAX_SOURCE_NOTES} more sources not read")
    return notes


def _only_training(obj: CustomObject) -> bool:
    return all(path.startswith(TRAINING_ROOTS) for path in obj.json_paths)


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


# Fixes that notes give, as (Python argument, command-line option): notes are written in the
# Python form, and the command line shows the option instead (``_cli/render.py``).
NOTE_FIXES = (("pass compile=True to require them", "pass --compile yes to require them"),)


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
            + "; "
            + NOTE_FIXES[0][0]
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
                fix="--compile no (then compile the model again)",
                python_fix="compile=False (then compile the model again)",
            )
        )
    return True, [], problems


def _problems(resolutions: list[Resolution]) -> list[Problem]:
    return [r.problem for r in resolutions if r.problem is not None]


def check(
    path: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    custom_objects: Collection[str] = (),
    compile: CompileMode = "auto",
    safe_mode: bool = True,
    allow: Iterable[str] = (),
    strict: bool = False,
) -> Plan:
    """The loading plan for ``path``, decided without importing any user code.

    Takes the arguments of :func:`kerascope.load_model`. Only the keys of ``custom_objects``
    matter here. An active ``keras.saving.custom_object_scope`` is not seen (that would need
    Keras): :func:`kerascope.load_model` sees it.

    Example:
        >>> plan = kerascope.check("my_model.keras", sources=["custom_layer.py"])  # doctest: +SKIP
        >>> plan.ok, [(r.object.key, r.origin) for r in plan.resolutions]  # doctest: +SKIP
        (True, [('MyCustomLayer', 'source')])
    """
    safe_mode, allow = lambda_switch(safe_mode, allow)
    return make_plan(
        path,
        sources,
        trust,
        compile=compile,
        safe_mode=safe_mode,
        allow=allow,
        strict=strict,
        custom_objects=custom_objects,
    )


def untrusted(
    path: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    custom_objects: Collection[str] = (),
) -> list[str]:
    """The names to pass to ``trust=`` before ``path`` can load: review these packages first.

    Like skops's ``get_untrusted_types``: each name is a distribution (``"keras-tcn"``), or an
    import package when no installed distribution provides it. The list is empty when nothing
    that the file needs is waiting for trust. Nothing is imported to find out.

    Example:
        >>> names = kerascope.untrusted("tcn_model.keras")  # doctest: +SKIP
        >>> names  # doctest: +SKIP
        ['keras-tcn']
        >>> model = kerascope.load_model("tcn_model.keras", trust=names)  # doctest: +SKIP
    """
    plan = make_plan(path, sources, trust, custom_objects=custom_objects)
    names: dict[str, None] = {}
    for resolution in plan.resolutions:
        problem = resolution.problem or resolution.deferred
        untrusted_reasons = ("untrusted", "untrusted-bundle")
        if problem is not None and problem.reason in untrusted_reasons and problem.candidates:
            names[problem.candidates[0]] = None
    return list(names)
