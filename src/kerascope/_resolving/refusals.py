"""What the audit makes kerascope refuse, and the one switch that accepts Lambda bytecode.

High findings of the security audit and of inspect stop a load unless their code is allowed;
Lambda bytecode is accepted by ``safe_mode=False`` (``--unsafe``), as in Keras. A Keras package
named by the file that is shadowed by a directory of the same name stops it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from kerascope._audit.inspect import Inspection
from kerascope._audit.scan import ScanReport
from kerascope._reading import keras_names as _builtins
from kerascope.errors import Problem

from .named_lambdas import BYTECODE_FINDINGS
from .spoofing import impostor

__all__ = ["audit_problems", "impostors", "lambda_switch"]

_LAMBDA_FIX = "only if you trust this file: the bytecode runs while Keras loads it"
_KERAS2_LAMBDA = (
    "a Keras 2 (tf-keras) Lambda layer holds Python bytecode, which runs while the model is "
    "loaded: loading it needs --unsafe (safe_mode=False), and kerascope then gives the bytecode "
    "`tf` (TensorFlow backend only). The bytecode only runs on the Python version that wrote it"
)


def audit_problems(
    report: ScanReport,
    inspection: Inspection,
    allowed: frozenset[str],
    not_run: frozenset[str] = frozenset(),
) -> list[Problem]:
    """A problem for every ``high`` finding of the scan and of inspect, each once, unless its
    code is allowed (both report ``lambda`` and ``non-modeling-api``, from one rule). Lambda's
    fix is safe mode; a Keras 2 file's Lambda says that it is one, and every Lambda problem says
    what its bytecode reads. Findings about the bytecode of the Lambdas at ``not_run`` (their
    function comes from the user's code instead) stop nothing."""
    found = {(f.code, f.json_path): f for f in (*report.findings, *inspection.findings)}
    read = {f.json_path: f.message for f in found.values() if f.code == "lambda-bytecode"}
    problems = []
    for finding in found.values():
        if finding.severity != "high" or finding.code in allowed:
            continue
        if finding.json_path in not_run and finding.code in BYTECODE_FINDINGS:
            continue
        if finding.code == "lambda":
            fix, python_fix = f"--unsafe ({_LAMBDA_FIX})", f"safe_mode=False ({_LAMBDA_FIX})"
        else:
            fix, python_fix = finding.fix, finding.python_fix
        keras2_lambda = finding.code == "lambda" and inspection.translation is not None
        message = _KERAS2_LAMBDA if keras2_lambda else finding.message
        if finding.code == "lambda" and finding.json_path in read:
            message += f"; {read[finding.json_path]}"
        problems.append(
            Problem(
                key=finding.code,
                kind="file",
                json_paths=(finding.json_path,) if finding.json_path else (),
                reason=finding.code,
                message=message,
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
