"""What the audit makes kerascope refuse, and the one switch that accepts Lambda bytecode.

High findings of the security audit stop a load unless their kind is allowed; Lambda bytecode is
accepted by ``safe_mode=False`` (``--unsafe``), as in Keras. A Keras package named by the file
that is shadowed by a directory of the same name stops it too, and so do the pitfalls Keras
would fail on.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from kerascope._audit.inspect import Inspection
from kerascope._audit.scan import ScanReport
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from .spoofing import impostor

__all__ = ["audit_problems", "blocking_findings", "impostors", "lambda_switch"]

_LAMBDA_FIX = "only if you trust this file: the bytecode runs while Keras loads it"


def audit_problems(report: ScanReport, allowed: frozenset[str]) -> list[Problem]:
    """A problem for each high finding whose kind is not allowed; Lambda's fix is safe mode."""
    problems = []
    for finding in report.findings:
        if finding.severity != "high" or finding.kind in allowed:
            continue
        if finding.kind == "lambda":
            fix, python_fix = f"--unsafe ({_LAMBDA_FIX})", f"safe_mode=False ({_LAMBDA_FIX})"
        else:
            fix, python_fix = finding.fix, ""
        problems.append(
            Problem(
                key=finding.kind,
                kind="file",
                json_paths=(finding.json_path,) if finding.json_path else (),
                reason=finding.kind,
                message=finding.message,
                fix=fix,
                python_fix=python_fix,
            )
        )
    return problems


def lambda_switch(
    safe_mode: bool, allow: Iterable[str], stacklevel: int = 3
) -> tuple[bool, tuple[str, ...]]:
    """``safe_mode`` and ``allow`` with the deprecated ``allow=["lambda"]`` folded into the first.

    ``safe_mode=False`` is the one switch for Lambda bytecode, as in Keras. ``"lambda"`` in
    ``allow`` still works, as an alias, with a :class:`DeprecationWarning`.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     lambda_switch(True, ["lambda", "url"])
        (False, ('url',))
        >>> caught[0].category.__name__
        'DeprecationWarning'
    """
    kinds = tuple(dict.fromkeys(allow))
    if "lambda" not in kinds:
        return safe_mode, kinds
    warnings.warn(
        "allow=['lambda'] is deprecated: pass safe_mode=False, the switch Keras itself uses "
        "for Lambda bytecode (on the command line: --unsafe)",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    return False, tuple(kind for kind in kinds if kind != "lambda")


def impostors(inspection: Inspection) -> list[Problem]:
    """A problem for each Keras package the file names that a same-named directory shadows."""
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


def blocking_findings(inspection: Inspection) -> list[Problem]:
    """A problem for each pitfall Keras would fail on (non-modeling APIs: see the audit)."""
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
