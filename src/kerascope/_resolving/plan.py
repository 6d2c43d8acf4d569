"""The loading plan: where every custom object of a file will come from (see ``_resolve``), what
the audit found, whether to compile, decided before any user code runs.

Nothing here imports user code or Keras: the plan is data, and ``kerascope check`` prints it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Literal

from kerascope._audit.inspect import CustomObject, Inspection, inspect
from kerascope._audit.scan import ScanReport, scan
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from . import sources as _sources
from .drift import drift, version_notes
from .resolve import TRAINING_ROOTS, Finder, Resolution
from .spoofing import impostor
from .trust import TrustPolicy

__all__ = ["Plan", "Resolution", "check", "make_plan", "untrusted"]

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
    finder = Finder(_sources.index_sources(sources), TrustPolicy(trust), inspection.manifest)
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
    problems += finder.cycle_problems(resolutions)
    problems += _audit_problems(report, inspection, allowed)
    problems += _impostors(inspection)
    drifted = drift(inspection.manifest, resolutions)
    if strict:
        problems += [
            Problem(key, "source", (), "drift", message, "save the model again with this code")
            for key, message in drifted
        ]
    else:
        notes += [message for _, message in drifted]
    notes += version_notes(inspection.manifest)
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
        safe_mode and "lambda" not in allowed,
    )


def _audit_problems(
    report: ScanReport, inspection: Inspection, allowed: frozenset[str]
) -> list[Problem]:
    """A problem for every ``high`` finding of the scan and of inspect, each once, unless its
    code is allowed (both report ``lambda`` and ``non-modeling-api``, from one rule)."""
    found = {(f.code, f.json_path): f for f in (*report.findings, *inspection.findings)}
    return [
        Problem(
            key=finding.code,
            kind="file",
            json_paths=(finding.json_path,) if finding.json_path else (),
            reason=finding.code,
            message=finding.message,
            fix=finding.fix,
        )
        for finding in found.values()
        if finding.severity == "high" and finding.code not in allowed
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


def check(
    path: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    compile: CompileMode = "auto",
    safe_mode: bool = True,
    allow: Iterable[str] = (),
    strict: bool = False,
) -> Plan:
    """The loading plan for ``path``, decided without importing any user code.

    Example:
        >>> plan = kerascope.check("my_model.keras", sources=["custom_layer.py"])  # doctest: +SKIP
        >>> plan.ok, [(r.object.key, r.origin) for r in plan.resolutions]  # doctest: +SKIP
        (True, [('MyCustomLayer', 'source')])
    """
    return make_plan(
        path, sources, trust, compile=compile, safe_mode=safe_mode, allow=allow, strict=strict
    )


def untrusted(
    path: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
) -> list[Resolution]:
    """The custom objects of ``path`` whose modules must be trusted before they are imported.

    Example:
        >>> [r.object.key for r in kerascope.untrusted("tcn_model.keras")]  # doctest: +SKIP
        ['Custom>TCN']
    """
    return make_plan(path, sources, trust).untrusted()
