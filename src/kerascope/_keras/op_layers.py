"""Keras 3 layers standing in for tf-keras's op layers (``TFOpLambda``, ``SlicingOpLambda``).

tf-keras turned a TensorFlow op called on a Keras tensor into a layer that calls the op, recorded
by the op's name (``"function": "math.reduce_sum"``). Keras 3 has no such layer. These do the
same on the TensorFlow backend, and call an op only when its name is on kerascope's generated
allowlist of pure tensor ops (:mod:`kerascope._reading.tf_ops`): the audit refuses any other op
before anything is imported, and the layer refuses it again here, whatever was allowed.

The classes live in this module (``OP_LAYER_MODULE``), so a migrated ``.keras`` records them
here, and kerascope supplies them when it loads that file again.
"""

from __future__ import annotations

import importlib
from functools import cache

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.tf_ops import OP_LAYER_MODULE, allowed_tf_op

if TYPE_CHECKING:
    from typing import Any

from .runtime import _keras

__all__ = ["OpLayerError", "op_layer_classes", "resolve_op"]

assert __name__ == OP_LAYER_MODULE, __name__


class OpLayerError(ValueError):
    """An op layer that kerascope will not run: its op is not allowlisted, or not on TF."""


def resolve_op(function: object) -> Any:
    """The TensorFlow function an allowlisted op name stands for.

    Raises:
        OpLayerError: The name is not on the allowlist (nothing is looked up then), or the
            backend is not TensorFlow.

    Example:
        >>> resolve_op("math.reduce_sum")  # doctest: +SKIP
        <function reduce_sum ...>
        >>> resolve_op("io.write_file")  # doctest: +SKIP
        Traceback (most recent call last):
        OpLayerError: ...
    """
    if not isinstance(function, str) or not allowed_tf_op(function):
        raise OpLayerError(
            f"the op layer calls tf.{function}, which is not on kerascope's allowlist of pure "
            "tensor ops (src/kerascope/_data/tf_ops.json): kerascope does not call it"
        )
    backend = _keras().backend.backend()
    if backend != "tensorflow":
        raise OpLayerError(
            f"this Keras 2 model calls TensorFlow ops (tf.{function}) through tf-keras op "
            f"layers, which run on the TensorFlow backend only (active backend: {backend}); "
            "load it with KERAS_BACKEND=tensorflow"
        )
    value: Any = importlib.import_module("tensorflow")
    for part in function.split("."):
        value = getattr(value, part)
    return value


@cache
def op_layer_classes() -> dict[str, Any]:
    """The two layer classes, keyed as tf-keras files name them, for ``custom_objects``.

    Example:
        >>> objects.update(op_layer_classes())  # doctest: +SKIP
        >>> sorted(op_layer_classes())  # doctest: +SKIP
        ['SlicingOpLambda', 'TFOpLambda']
    """
    keras = _keras()

    class TFOpLambda(keras.layers.Layer):  # type: ignore[misc, name-defined]
        """Calls one allowlisted TensorFlow op: ``call(*args, **kwargs)`` is the op's call."""

        def __init__(self, function: str, **kwargs: Any) -> None:
            kwargs.pop("autocast", None)  # tf-keras never autocast an op layer's inputs
            super().__init__(autocast=False, **kwargs)
            self.function = function
            self._op = resolve_op(function)

        def call(self, *args: Any, **kwargs: Any) -> Any:
            return self._op(*args, **kwargs)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "function": self.function}

    class SlicingOpLambda(TFOpLambda):
        """``x[...]``: tf-keras records each slice as ``{"start", "stop", "step"}``."""

        def call(self, *args: Any, **kwargs: Any) -> Any:
            args = tuple(_slices(arg) for arg in args)
            kwargs = {key: _slices(value) for key, value in kwargs.items()}
            return self._op(*args, **kwargs)

    classes: dict[str, Any] = {}
    for cls in (TFOpLambda, SlicingOpLambda):
        cls.__qualname__ = cls.__name__
        cls.__module__ = OP_LAYER_MODULE
        classes[cls.__name__] = cls
    return classes


def _slices(value: Any) -> Any:
    """A slice dict, or a list of them (one level, as tf-keras reads them), back to slices."""
    if isinstance(value, (list, tuple)):
        return [_slice(item) for item in value]
    return _slice(value)


def _slice(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"start", "stop", "step"}:
        return slice(value["start"], value["stop"], value["step"])
    return value
