"""Keras 2 op layers (``TFOpLambda``, ``SlicingOpLambda``) in a config, and the ops they may call.

tf-keras turns a TensorFlow op called on a Keras tensor (``tf.math.reduce_sum(x)``, ``x[:, 1:]``)
into an op layer whose config names the op without the ``tf.`` prefix (``"function":
"math.reduce_sum"``). kerascope runs such a layer (TensorFlow backend only) only when the name is
in ``_data/tf_ops.json``, the allowlist of pure tensor ops generated from TensorFlow by
``tools/gen_tf_ops.py`` (``make tfops``). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import os
from functools import cache

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "OP_LAYER_CLASSES",
    "OP_LAYER_MODULE",
    "OpLayer",
    "allowed_tf_op",
    "find_op_layers",
    "tf_ops_version",
]

OP_LAYER_CLASSES = frozenset({"TFOpLambda", "SlicingOpLambda"})
# Where kerascope's Keras 3 op layers live: the module a migrated .keras records for them.
OP_LAYER_MODULE = "kerascope._keras.op_layers"
_TABLE_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "_data", "tf_ops.json")
_MAX_DEPTH = 200


class OpLayer(Record):
    """One op layer of a config.

    Attributes:
        json_path: Where its entry is, e.g. ``$.config.layers[3]``.
        class_name: ``TFOpLambda`` or ``SlicingOpLambda``.
        name: The layer's name (``tf.math.reduce_sum``).
        function: The op it calls, without ``tf.`` (``math.reduce_sum``); None when the config
            has no string there.
        module: The ``module`` recorded for the entry, if any.
    """

    json_path: str
    class_name: str
    name: str | None
    function: str | None
    module: str | None

    @property
    def allowed(self) -> bool:
        """True when kerascope may call the op (it is on the allowlist)."""
        return self.function is not None and allowed_tf_op(self.function)

    @property
    def op(self) -> str:
        """The op as the user wrote it: ``tf.math.reduce_sum``.

        Example:
            >>> OpLayer("$", "TFOpLambda", None, "nn.relu", None).op
            'tf.nn.relu'
        """
        return f"tf.{self.function}" if self.function is not None else "(no op named)"


@cache
def _allowlist() -> frozenset[str]:
    with open(_TABLE_PATH, encoding="utf-8") as handle:
        return frozenset(json.load(handle)["ops"])


def allowed_tf_op(function: str) -> bool:
    """True when ``function`` (a TensorFlow name without ``tf.``) is on the allowlist.

    Example:
        >>> allowed_tf_op("math.reduce_sum"), allowed_tf_op("io.write_file")
        (True, False)
    """
    return function in _allowlist()


def tf_ops_version() -> str:
    """The TensorFlow version the allowlist was generated from."""
    with open(_TABLE_PATH, encoding="utf-8") as handle:
        return str(json.load(handle)["tensorflow_version"])


def find_op_layers(config: Any) -> list[OpLayer]:
    """Every ``TFOpLambda`` / ``SlicingOpLambda`` entry of a model config, at any depth.

    Example:
        >>> layer = {"class_name": "TFOpLambda", "config": {"name": "tf.nn.relu",
        ...          "function": "nn.relu"}}
        >>> [(op.json_path, op.function) for op in find_op_layers({"config": {"layers": [layer]}})]
        [('$.config.layers[0]', 'nn.relu')]
    """
    found: list[OpLayer] = []
    stack: list[tuple[Any, str, int]] = [(config, "$", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(node, dict):
            class_name = node.get("class_name")
            if isinstance(class_name, str) and class_name in OP_LAYER_CLASSES:
                found.append(_op_layer(node, path))
            children = [(value, f"{path}.{key}") for key, value in node.items()]
        elif isinstance(node, list):
            children = [(value, f"{path}[{index}]") for index, value in enumerate(node)]
        else:
            continue
        stack.extend((value, where, depth + 1) for value, where in reversed(children))
    return found


def _op_layer(entry: dict[str, Any], path: str) -> OpLayer:
    config = entry.get("config")
    config = config if isinstance(config, dict) else {}
    function, name, module = config.get("function"), config.get("name"), entry.get("module")
    return OpLayer(
        json_path=path,
        class_name=str(entry["class_name"]),
        name=name if isinstance(name, str) else None,
        function=function if isinstance(function, str) else None,
        module=module if isinstance(module, str) else None,
    )
