"""Keras 2 Lambda bytecode that needs ``tf``: built by kerascope with ``tf`` in its globals.

A tf-keras Lambda such as ``Lambda(lambda x: tf.abs(x) * 2.0)`` stores its bytecode; Keras 3
rebuilds the function with the globals of one of its own modules, where ``tf`` is not defined
(measured: ``NameError`` inside ``Lambda.call()`` in ``.keras``, a misleading "Layer count
mismatch" in ``.h5``). Only when the user turned safe mode off (``--unsafe``, the explicit Lambda
opt-in), kerascope builds each such function itself, with ``{"tf": tensorflow}`` as globals, and
hands it to Keras as a named function through ``custom_objects``. TensorFlow backend only: on
another backend, bytecode that names ``tf`` is refused with a kerascope error.

Keras 3 saves such a function again as bytecode that needs ``tf``: a model that needed this shim
is remembered (:func:`record_tf_lambdas`), so that the file saved from it records the shim
``lambda-globals-tf`` and kerascope applies it at every later load of that Keras 3 file.
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

    from kerascope._audit.inspect import Inspection

from .runtime import _keras
from .shims import LAMBDA_GLOBALS_TF, record_shim

__all__ = ["LambdaBackendError", "bind_keras2_lambdas", "record_tf_lambdas"]

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


def record_tf_lambdas(model: Any, inspection: Inspection) -> None:
    """Remember that ``model``, built from a Keras 2 file, needed ``tf`` in Lambda globals.

    Reads the translated config of ``inspection`` (the one :func:`bind_keras2_lambdas` got).
    Call it only with safe mode off: it runs ``marshal.loads`` on the file's bytecode.

    Example:
        >>> record_tf_lambdas(model, kerascope.inspect("old.h5"))  # doctest: +SKIP
    """
    if inspection.translation is None:
        return
    config = inspection.translation.config
    changes = [
        f"the Lambda layer {layer['config'].get('name', '?')!r} calls `tf`, which Keras 2 gave "
        "every Lambda and Keras 3 does not: move its code into a custom layer's call()"
        for layer in _lambda_layers(config)
        if "tf" in _global_names(_code(layer["config"]["function"]["config"]))
    ]
    if changes:
        record_shim(model, LAMBDA_GLOBALS_TF, changes)


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


def _code(spec: dict[str, Any]) -> types.CodeType:
    code = marshal.loads(base64.b64decode(str(spec["code"])))  # safe mode is off: the user's opt-in
    if not isinstance(code, types.CodeType):
        raise ValueError("a Lambda's bytecode is not a code object")
    return code


def _function(spec: dict[str, Any]) -> Any:
    code = _code(spec)
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
