"""Generate the allowlist of TensorFlow ops a Keras 2 op layer may call, from the installed TF.

tf-keras records a ``TFOpLambda`` / ``SlicingOpLambda`` layer by the canonical TensorFlow name of
the op it wraps, without the ``tf.`` prefix (``math.reduce_sum``, ``nn.relu``, ``concat``,
``__operators__.getitem``, ``compat.v1.transpose``). kerascope calls such an op only when that
name is in ``_data/tf_ops.json``, which this tool writes: pure tensor math and array ops, never
anything that reaches files, processes, the network, Python callbacks or printing.

What goes in (each name as the user could write it and as tf-keras records it, its canonical
name, computed by TensorFlow's own export table):
- every public function of ``tf.math`` and ``tf.linalg`` (classes such as ``LinearOperator`` are
  left out), and the top-level aliases that are the same function object (``tf.abs``);
- the activations and normalisations of ``tf.nn`` listed in ``NN``;
- the array ops listed in ``ARRAY`` (reshape, transpose, concat, stack, gather, slicing, ...);
- every function of ``tf.__operators__`` (``getitem``, ``add``, ...);
- ``compat.v1.NAME`` for every NAME above that ``tf.compat.v1`` also has (the v1 signature of
  the same op, as tf-keras records v1-only symbols).
Whatever the source, a name matching ``DENIED`` is left out.

Usage: python tools/gen_tf_ops.py OUT.json [--check]
With --check, the file is not written; the exit code says whether it matches.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from generated_file import write_or_check

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NN = (
    "relu",
    "relu6",
    "crelu",
    "elu",
    "selu",
    "gelu",
    "leaky_relu",
    "sigmoid",
    "silu",
    "swish",
    "softmax",
    "log_softmax",
    "softplus",
    "softsign",
    "tanh",
    "l2_normalize",
    "bias_add",
    "moments",
    "normalize_moments",
)
ARRAY = (
    "reshape",
    "transpose",
    "concat",
    "stack",
    "unstack",
    "split",
    "gather",
    "gather_nd",
    "squeeze",
    "expand_dims",
    "tile",
    "repeat",
    "slice",
    "strided_slice",
    "boolean_mask",
    "reverse",
    "reverse_sequence",
    "roll",
    "pad",
    "where",
    "cast",
    "identity",
    "stop_gradient",
    "zeros_like",
    "ones_like",
    "fill",
    "broadcast_to",
    "one_hot",
    "clip_by_value",
    "clip_by_norm",
    "einsum",
    "matmul",
    "shape",
    "rank",
    "size",
    "ensure_shape",
    "range",
    "linspace",
    "meshgrid",
    "sort",
    "argsort",
    "searchsorted",
    "sequence_mask",
    "scatter_nd",
    "tensor_scatter_nd_update",
    "tensor_scatter_nd_add",
    "norm",
    "eye",
    "convert_to_tensor",
)
# Never allowed, whatever module holds them (defence in depth: none of the modules above has
# such a function in TensorFlow 2.21).
DENIED = re.compile(r"print|py_func|numpy_function|file|write|read|save|restore|load|io\b|summary")


def main(argv: list[str]) -> int:
    """Write (or, with ``--check``, compare) the allowlist.

    Example:
        python tools/gen_tf_ops.py src/kerascope/_data/tf_ops.json
    """
    table = build_table()
    summary = f"{len(table['ops'])} op names"
    return write_or_check(argv[0], table, "--check" in argv, "TensorFlow", summary)


def build_table() -> dict[str, Any]:
    """The allowlist: ``{"tensorflow_version": ..., "ops": [sorted names without "tf."]}``."""
    import tensorflow as tf
    from tensorflow.python.util import tf_export

    def canonical(function: Any) -> str | None:
        name: str | None = tf_export.get_canonical_name_for_symbol(
            function, add_prefix_to_v1_names=True
        )
        return name

    names: set[str] = set()

    def add(path: str, function: Any) -> None:
        if not callable(function) or isinstance(function, type):
            return
        for name in (path, canonical(function)):
            if name and not DENIED.search(name):
                names.add(name)

    for module_name in ("math", "linalg", "__operators__"):
        module = getattr(tf, module_name)
        for attribute in dir(module):
            if attribute.startswith("_"):
                continue
            function = getattr(module, attribute)
            add(f"{module_name}.{attribute}", function)
            if getattr(tf, attribute, None) is function:
                add(attribute, function)
    for attribute in NN:
        add(f"nn.{attribute}", getattr(tf.nn, attribute))
    for attribute in ARRAY:
        add(attribute, getattr(tf, attribute))
    for name in sorted(names):
        value: Any = tf.compat.v1
        for part in name.split("."):
            value = getattr(value, part, None)
        if value is not None:
            add(f"compat.v1.{name}", value)
    return {
        "tensorflow_version": tf.__version__,
        "generated_by": "tools/gen_tf_ops.py",
        "ops": sorted(names),
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
