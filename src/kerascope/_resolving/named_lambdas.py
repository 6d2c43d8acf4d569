"""Keras 2 Lambdas over named functions, resolved from the user's code instead of run as bytecode.

The plan's half of rule ``lambda-named-function`` (:mod:`kerascope._translate.lambda_functions`):
for each Keras 2 Lambda whose bytecode is a named function without a closure, the function is
looked up by its name and recorded module exactly as a custom object is (the same places, the
same trust policy). When it resolves, the inspection the plan works on names that function
instead of the bytecode: the Lambda's ``lambda`` reference becomes a ``function`` reference,
its bytecode findings no longer stop the load (the bytecode is not run), and the translated
config holds a function reference. When it does not, nothing changes: the bytecode needs
``--unsafe`` as before.
"""

from __future__ import annotations

from kerascope._audit.inspect import CustomObject, Inspection
from kerascope._reading.lambda_code import LambdaCode
from kerascope._reading.references import Reference
from kerascope._translate.lambda_functions import named_function_lambdas, use_named_functions

from .resolve import Finder, Resolution

__all__ = ["BYTECODE_FINDINGS", "resolve_named_lambdas"]

# Findings about a Lambda's bytecode: moot once the bytecode is not run.
BYTECODE_FINDINGS = frozenset(
    {"lambda", "lambda-bytecode-dangerous-names", "lambda-bytecode-unreadable"}
)
# Where a function the user provides may come from (not the bytecode, not a Keras package).
_PROVIDED = frozenset(
    {
        "custom-objects",
        "registry",
        "source",
        "module",
        "package",
        "entry-point",
        "manifest",
        "bundle",
    }
)


def resolve_named_lambdas(
    inspection: Inspection, finder: Finder
) -> tuple[Inspection, frozenset[str]]:
    """The inspection with every resolvable Keras 2 named-function Lambda turned into a function.

    Returns:
        The inspection to plan with, and the JSON paths of the Lambdas whose bytecode will not
        run.

    Example:
        >>> inspection, paths = resolve_named_lambdas(inspect("old.h5"), finder)  # doctest: +SKIP
        >>> sorted(paths)  # doctest: +SKIP
        ['$.config.layers[2].config.function']
    """
    translation = inspection.translation
    if translation is None:
        return inspection, frozenset()
    groups: dict[str, list[LambdaCode]] = {}
    for code in named_function_lambdas(translation):
        assert code.facts is not None
        groups.setdefault(code.facts.name, []).append(code)
    taken = {obj.key for obj in inspection.custom_objects if not obj.is_lambda}
    functions: dict[str, tuple[str, str]] = {}
    for name, codes in groups.items():
        modules = {code.module for code in codes}
        if name in taken or len(modules) != 1:
            continue  # two functions of one name, or a custom object of that name: not guessed
        resolution = finder.resolve(_function_object(name, codes))
        if resolution.problem is None and resolution.origin in _PROVIDED:
            functions.update((code.json_path, (name, _where(resolution))) for code in codes)
    if not functions:
        return inspection, frozenset()
    by_path = {code.json_path: code for codes in groups.values() for code in codes}
    references = tuple(
        _function_reference(by_path[r.json_path]) if r.json_path in functions else r
        for r in inspection.references
    )
    findings = tuple(
        f
        for f in inspection.findings
        if not (f.json_path in functions and f.code in BYTECODE_FINDINGS)
    )
    rewritten = inspection._replace(
        translation=use_named_functions(translation, functions),
        references=references,
        findings=findings,
    )
    return rewritten, frozenset(functions)


def _module(code: LambdaCode) -> str | None:
    return code.module if code.module not in (None, "__main__", "builtins") else None


def _function_object(name: str, codes: list[LambdaCode]) -> CustomObject:
    paths = tuple(code.json_path for code in codes)
    return CustomObject(name, ("function",), _module(codes[0]), name, None, paths, False)


def _function_reference(code: LambdaCode) -> Reference:
    assert code.facts is not None
    name = code.facts.name
    return Reference(code.json_path, "function", _module(code), name, None, name, True)


def _where(resolution: Resolution) -> str:
    return resolution.where
