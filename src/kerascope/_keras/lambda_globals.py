"""Keras 2 Lambda bytecode that needs ``tf``: built by kerascope with ``tf`` in its globals.

A tf-keras Lambda such as ``Lambda(lambda x: tf.abs(x) * 2.0)`` stores its bytecode; Keras 3
rebuilds the function with the globals of one of its own modules, where ``tf`` is not defined
(measured: ``NameError`` inside ``Lambda.call()`` in ``.keras``, a misleading "Layer count
mismatch" in ``.h5``). Only when the user turned safe mode off (``--unsafe``, the explicit Lambda
opt-in), kerascope builds each such function itself, with ``{"tf": tensorflow}`` as globals, and
hands it to Keras as a named function through ``custom_objects``. TensorFlow backend only: on
another backend, bytecode that names ``tf`` is refused with a kerascope error.
"""

from __future__ import annotations

import base64
import builtins
import importlib
import marshal
import types

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

from .runtime import _keras

__all__ = ["LambdaBackendError", "bind_keras2_lambdas"]

_KEY_PREFIX = "kerascope_keras2_lambda_"


class LambdaBackendError(RuntimeError):
    """Keras 2 Lambda bytecode that names ``tf``, on a backend other than TensorFlow."""


def bind_keras2_lambdas(config: Any) -> dict[str, Any]:
    """Build every Keras 2 Lambda function of ``config`` with ``tf`` in its globals.

    Each ``{"class_name": "__lambda__", ...}`` Lambda function in ``config`` (already translated
    by ``lambda-legacy-format``) is replaced, **in place**, by a reference to a named function,
    and the functions are returned keyed by those names, for ``custom_objects``. Call it only
    with safe mode off: it runs ``marshal.loads`` on the file's bytecode.

    Raises:
        LambdaBackendError: The bytecode names ``tf`` and the backend is not TensorFlow.

    Example:
        >>> objects.update(bind_keras2_lambdas(config))  # doctest: +SKIP
    """
    functions: dict[str, Any] = {}
    for layer in _lambda_layers(config):
        spec = layer["config"]["function"]["config"]
        key = f"{_KEY_PREFIX}{len(functions)}"
        functions[key] = _function(spec)
        layer["config"]["function"] = {
            "module": "builtins",
            "class_name": "function",
            "config": key,
            "registered_name": "function",
        }
    return functions


def _lambda_layers(config: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            inner = node.get("config")
            function = inner.get("function") if isinstance(inner, dict) else None
            if (
                node.get("class_name") == "Lambda"
                and isinstance(function, dict)
                and function.get("class_name") == "__lambda__"
                and isinstance(function.get("config"), dict)
            ):
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _function(spec: dict[str, Any]) -> Any:
    code = marshal.loads(base64.b64decode(str(spec["code"])))  # safe mode is off: the user's opt-in
    if not isinstance(code, types.CodeType):
        raise ValueError("a Lambda's bytecode is not a code object")
    globals_: dict[str, Any] = {"__builtins__": builtins}
    if "tf" in _global_names(code):
        backend = _keras().backend.backend()
        if backend != "tensorflow":
            raise LambdaBackendError(
                "this Keras 2 Lambda's bytecode calls TensorFlow (`tf`), which kerascope "
                f"provides on the TensorFlow backend only (active backend: {backend}); load it "
                "with KERAS_BACKEND=tensorflow"
            )
        globals_["tf"] = importlib.import_module("tensorflow")
    defaults = spec.get("defaults")
    closure = spec.get("closure")
    # The code's own name ("<lambda>"), so that Keras saves it again as bytecode.
    return types.FunctionType(
        code,
        globals_,
        None,
        tuple(defaults) if defaults else None,
        tuple(types.CellType(value) for value in closure) if closure else None,
    )


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names
