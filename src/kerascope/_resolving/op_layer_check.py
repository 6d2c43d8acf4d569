"""Keras 2 op layers need TensorFlow: a plan problem on any other backend, before any import."""

from __future__ import annotations

from kerascope._audit.inspect import Inspection
from kerascope.errors import Problem

from .backend_check import REASON

__all__ = ["op_layer_problems"]


def op_layer_problems(inspection: Inspection, backend: str) -> list[Problem]:
    """One ``backend-bound`` problem when the file has op layers and the backend is not TF.

    Example:
        >>> op_layer_problems(kerascope.inspect("tfop.h5"), "jax")[0].fix  # doctest: +SKIP
        'KERAS_BACKEND=tensorflow'
    """
    layers = inspection.op_layers
    if not layers or backend == "tensorflow":
        return []
    ops = ", ".join(dict.fromkeys(layer.op for layer in layers))
    return [
        Problem(
            key=layers[0].class_name,
            kind="layer",
            json_paths=tuple(layer.json_path for layer in layers),
            reason=REASON,
            message=f"this Keras 2 model calls TensorFlow ops ({ops}) through tf-keras op "
            f"layers, which kerascope runs on the TensorFlow backend only (active backend: "
            f"{backend})",
            fix="KERAS_BACKEND=tensorflow",
        )
    ]
