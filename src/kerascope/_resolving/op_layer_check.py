"""Keras 2 op layers in a plan: TensorFlow only, and allowlisted ops only, even when allowed.

The audit's ``tf-op`` finding refuses an op layer whose op is off the allowlist. kerascope's op
layers never call such an op, so ``allow=["tf-op"]`` cannot make the load work: the plan says so
instead of promising a load that the layer would refuse. On a backend other than TensorFlow,
the plan has a ``backend-bound`` problem, before anything is imported.
"""

from __future__ import annotations

from collections.abc import Collection

from kerascope._audit.inspect import Inspection
from kerascope._audit.scan_tfops import TF_OP_CODE
from kerascope.errors import Problem

from .backend_check import REASON

__all__ = ["op_layer_problems"]


def op_layer_problems(
    inspection: Inspection, backend: str, allowed: Collection[str] = ()
) -> list[Problem]:
    """The problems of the op layers kerascope would supply for ``inspection``.

    Example:
        >>> op_layer_problems(kerascope.inspect("tfop.h5"), "jax")[0].fix  # doctest: +SKIP
        'KERAS_BACKEND=tensorflow'
    """
    layers = inspection.op_layers
    problems = []
    if TF_OP_CODE in allowed:
        problems += [
            Problem(
                key=layer.class_name,
                kind="layer",
                json_paths=(layer.json_path,),
                reason=TF_OP_CODE,
                message=f"{layer.op} is not on kerascope's allowlist of pure tensor ops: "
                "kerascope's op layers never call it, even when the finding is allowed",
                fix="do not load this file",
            )
            for layer in layers
            if not layer.allowed
        ]
    if layers and backend != "tensorflow":
        ops = ", ".join(dict.fromkeys(layer.op for layer in layers))
        problems.append(
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
        )
    return problems
