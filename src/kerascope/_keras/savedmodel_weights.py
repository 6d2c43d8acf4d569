"""Fill a Keras 3 model rebuilt from a tf-keras SavedModel with the checkpoint's variables.

The checkpoint's object graph names each layer's variables in tf-keras's ``layer.weights``
order, trainable then non-trainable (:func:`kerascope._reading.savedmodel.read_savedmodel_weights`);
they are assigned to the Keras 3 layer of the same name in the same order (the order Keras 3's
own legacy ``.h5`` reader uses). Every Keras 3 variable must get exactly one value of its exact
shape: a weight left at its initial value would be an invented weight, so that is an error.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.savedmodel import (
    read_keras_metadata,
    read_savedmodel_weights,
    root_metadata,
)

if TYPE_CHECKING:
    from typing import Any

__all__ = ["SavedModelWeightsError", "load_savedmodel_weights"]


class SavedModelWeightsError(ValueError):
    """The checkpoint's variables do not fit the rebuilt model (count, name or shape)."""


def load_savedmodel_weights(model: Any, directory: str) -> int:
    """Assign every variable of ``directory``'s checkpoint to ``model``; return how many.

    Raises:
        SavedModelWeightsError: A layer is missing, a count or a shape differs, or a variable
            of the model got no value.
        ModelFileError: The checkpoint is malformed or truncated.

    Example:
        >>> load_savedmodel_weights(model, "old_savedmodel")  # doctest: +SKIP
        6
    """
    mapping = read_savedmodel_weights(directory)
    checkpoint = mapping.checkpoint
    pairs: list[tuple[Any, str, str]] = []
    if mapping.layers:
        for entry in mapping.layers:
            if not entry.variables:
                continue
            try:
                layer = model.get_layer(entry.name)
            except ValueError:
                raise SavedModelWeightsError(
                    f"the SavedModel has weights for layer '{entry.name}', which the rebuilt "
                    "model does not have"
                ) from None
            pairs += _pair(entry.name, _ordered(layer), entry.variables)
    else:
        # A subclassed model: its layers are attributes; build it, then the root's own list.
        if not model.built:
            _build(model, directory)
        pairs += _pair(model.name, _ordered(model), mapping.root_variables)
    assigned = {id(variable) for variable, _, _ in pairs}
    unassigned = [v.path for v in model.weights if id(v) not in assigned]
    if unassigned:
        raise SavedModelWeightsError(
            "the SavedModel holds no value for " + ", ".join(unassigned[:5])
            + (f" and {len(unassigned) - 5} more" if len(unassigned) > 5 else "")
        )  # fmt: skip
    for variable, full_name, key in pairs:
        value = checkpoint.read_array(key)
        if tuple(value.shape) != tuple(variable.shape):
            raise SavedModelWeightsError(
                f"'{full_name}' has shape {tuple(value.shape)} in the SavedModel, "
                f"{variable.path} has {tuple(variable.shape)} in the rebuilt model"
            )
        variable.assign(value)
    return len(pairs)


def _ordered(layer: Any) -> list[Any]:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _pair(
    name: str, variables: list[Any], saved: tuple[tuple[str, str], ...]
) -> list[tuple[Any, str, str]]:
    if len(variables) != len(saved):
        raise SavedModelWeightsError(
            f"layer '{name}' has {len(variables)} weights in Keras 3 and {len(saved)} in the "
            f"SavedModel ({', '.join(full for full, _ in saved) or 'none'})"
        )
    return [(variable, full, key) for variable, (full, key) in zip(variables, saved, strict=True)]


def _build(model: Any, directory: str) -> None:
    meta = root_metadata(directory, read_keras_metadata(directory))
    shape = meta.get("build_input_shape")
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise SavedModelWeightsError(
            f"the subclassed model '{model.name}' records no input shape to build it with"
        )
    import numpy as np

    model(np.zeros([1 if d is None else d for d in shape], dtype="float32"))
