"""Rule ``lambda-named-function``: a Keras 2 Lambda over a named function, taken from your code.

tf-keras marshals every Python function given to ``Lambda``, a ``def`` in a module as much as a
``lambda`` (``types.LambdaType is types.FunctionType``): ``Lambda(k2objects.double_plus_one)`` is
stored as bytecode with ``module: "k2objects"``, so Keras 3 refuses it in safe mode although the
function exists in the user's code. When the bytecode (read as data) is a named function without
a closure, and the plan finds that function where it finds custom objects (``--from``, trusted
packages, ``custom_objects``), the Lambda's function becomes a function reference, as Keras 3
writes named functions, and the bytecode is never run. Deciding whether the name resolves is the
plan's (:mod:`kerascope._resolving.named_lambdas`); this module only reads and rewrites configs.
"""

from __future__ import annotations

from collections.abc import Mapping

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.lambda_code import LambdaCode

from .rules import Applied, Translation

if TYPE_CHECKING:
    from typing import Any

__all__ = ["RULE", "function_reference", "named_function_lambdas", "use_named_functions"]

RULE = "lambda-named-function"


def named_function_lambdas(translation: Translation) -> list[LambdaCode]:
    """The Keras 2 Lambdas whose bytecode is a named function without a closure.

    Example:
        >>> named_function_lambdas(Translation({}, None, ()))
        []
    """
    return [
        code
        for code in translation.lambdas
        if code.keras2
        and code.json_path.endswith(".function")
        and code.facts is not None
        and code.facts.is_named_function
        and not code.facts.free_names
        and not code.has_closure
    ]


def function_reference(key: str) -> dict[str, Any]:
    """The config of a named function Keras 3 looks up in ``custom_objects`` under ``key``.

    Example:
        >>> function_reference("double_plus_one")["class_name"]
        'function'
    """
    return {
        "module": "builtins",
        "class_name": "function",
        "config": key,
        "registered_name": "function",
    }


def use_named_functions(
    translation: Translation, functions: Mapping[str, tuple[str, str]]
) -> Translation:
    """A copy of ``translation`` whose Lambdas at the given paths name functions instead.

    Args:
        translation: A Keras 2 file's translation.
        functions: JSON path of a Lambda's function → (the ``custom_objects`` key of the
            function, where it was found, in words).

    Example:
        >>> use_named_functions(Translation({}, None, ()), {}).rules
        ()
    """
    if not functions:
        return translation
    config = _replaced(translation.config, "$", functions)
    applied = list(translation.applied)
    by_path = {code.json_path: code for code in translation.lambdas}
    for path, (key, where) in functions.items():
        module = by_path[path].module if path in by_path else None
        named = f"{module}.{key}" if module and module != "__main__" else key
        applied.append(
            Applied(
                RULE,
                f"Lambda bytecode of `{key}` → function `{named}` from your code ({where}); "
                "the bytecode is not run",
            )
        )
        break  # first use of each rule only, as for every rule
    if len(functions) == len([c for c in translation.lambdas if c.keras2]):
        applied = [a for a in applied if a.rule != "lambda-legacy-format"]  # no bytecode left
    return translation._replace(config=config, applied=tuple(applied))


def _replaced(node: Any, path: str, functions: Mapping[str, tuple[str, str]]) -> Any:
    if path in functions:
        return function_reference(functions[path][0])
    if isinstance(node, dict):
        return {
            key: _replaced(value, _join(path, str(key)), functions) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_replaced(item, f"{path}[{index}]", functions) for index, item in enumerate(node)]
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
