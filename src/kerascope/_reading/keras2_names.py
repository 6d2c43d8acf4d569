"""Where Keras 2 writers record their built-in classes, which Keras 3 does not know.

Measured on the corpus of ``tests/fixtures/keras2`` built by tf-keras 2.21 and by keras 2.15
(TensorFlow 2.15's ``tf.keras``): the model classes live under ``tf_keras.src.engine`` (tf-keras)
or ``keras.src.engine`` (keras 2.13-2.15; ``keras.engine`` before), the new optimizers of keras
2.11-2.15 under ``keras.optimizers.experimental`` (the old ones under
``keras.optimizers.legacy``), and the tf op layers under
``...layers.core.tf_op_layer``. Such an entry names no custom code: the translation rules map
it to Keras 3 (``kerascope._translate.rules``).
"""

from __future__ import annotations

from .tf_ops import OP_LAYER_CLASSES

__all__ = [
    "KERAS2_MODEL_CLASSES",
    "KERAS2_MODEL_MODULE_PREFIXES",
    "KERAS2_OPTIMIZER_MODULES",
    "is_keras2_builtin_location",
]

KERAS2_MODEL_MODULE_PREFIXES = ("tf_keras.", "keras.src.engine.", "keras.engine.")
KERAS2_MODEL_CLASSES = frozenset({"Functional", "Sequential"})
# keras 2.11-2.15: the new optimizers, and the old ones kept as `legacy`.
KERAS2_OPTIMIZER_MODULES = frozenset({"keras.optimizers.experimental", "keras.optimizers.legacy"})
_OP_LAYER_MODULES = frozenset(
    {
        "tf_keras.src.layers.core.tf_op_layer",
        "keras.src.layers.core.tf_op_layer",
        "keras.layers.core.tf_op_layer",
    }
)
_OPTIMIZERS = frozenset(
    {
        "Adadelta",
        "Adafactor",
        "Adagrad",
        "Adam",
        "AdamW",
        "Adamax",
        "Ftrl",
        "Lion",
        "Nadam",
        "RMSprop",
        "SGD",
    }
)  # fmt: skip  (the optimizers keras 2.15 has under keras.optimizers.experimental)


def is_keras2_builtin_location(module: str | None, class_name: str) -> bool:
    """Is ``module.class_name`` where a Keras 2 writer records one of its built-in classes?

    Example:
        >>> is_keras2_builtin_location("keras.src.engine.functional", "Functional")
        True
        >>> is_keras2_builtin_location("keras.src.engine.functional", "eval")
        False
    """
    if not module:
        return False
    if module.startswith(KERAS2_MODEL_MODULE_PREFIXES) and class_name in KERAS2_MODEL_CLASSES:
        return True
    if module in KERAS2_OPTIMIZER_MODULES and class_name in _OPTIMIZERS:
        return True
    return module in _OP_LAYER_MODULES and class_name in OP_LAYER_CLASSES
