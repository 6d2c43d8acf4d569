"""The scan of Keras 2 op layers: every TensorFlow op they name is on kerascope's allowlist.

A ``TFOpLambda`` / ``SlicingOpLambda`` entry names a TensorFlow op that Keras would call while it
builds the model. kerascope calls only pure tensor ops of the generated allowlist
(:mod:`kerascope._reading.tf_ops`); any other op (``tf.io.write_file``, ``tf.py_function``,
``tf.numpy_function``, ``tf.raw_ops.*``, ``tf.print``, ...) is a ``high`` finding, so that
``load`` and ``check`` refuse the file before anything is imported.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.tf_ops import OpLayer, find_op_layers

from .findings import Finding

if TYPE_CHECKING:
    from typing import Any

__all__ = ["TF_OP_CODE", "op_layer_findings"]

TF_OP_CODE = "tf-op"


def op_layer_findings(config: dict[str, Any]) -> list[Finding]:
    """A finding per op layer: ``high`` when its op is not on the allowlist, ``info`` otherwise.

    Example:
        >>> bad = {"class_name": "TFOpLambda", "config": {"function": "io.write_file"}}
        >>> [(f.severity, f.code) for f in op_layer_findings({"config": {"layers": [bad]}})]
        [('high', 'tf-op')]
    """
    return [_finding(layer) for layer in find_op_layers(config)]


def _finding(layer: OpLayer) -> Finding:
    if layer.allowed:
        return Finding(
            "info",
            "tf-op-layer",
            f"Keras 2 tf op layer: {layer.op}, a pure tensor op of kerascope's allowlist; "
            "kerascope runs it on the TensorFlow backend only",
            "nothing to do (other backends: load this model with KERAS_BACKEND=tensorflow)",
            layer.json_path,
            layer.class_name,
        )
    return Finding(
        "high",
        TF_OP_CODE,
        f"the {layer.class_name} layer{_named(layer)} calls {layer.op}, which is not on "
        "kerascope's allowlist of pure tensor ops (file, process, network, Python-callback and "
        "printing ops never are); kerascope never calls it",
        "do not load this file unless you know why it runs this op",
        layer.json_path,
        layer.class_name,
    )


def _named(layer: OpLayer) -> str:
    return f" '{layer.name}'" if layer.name else ""
