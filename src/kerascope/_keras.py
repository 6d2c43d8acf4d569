"""The one module that imports Keras, and only when a function here is called.

Everything goes through Keras's public API (``keras.saving`` and friends); Keras does all the
deserializing.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable, Mapping

from ._record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "ModelSummary",
    "builtin_loss",
    "keras_registered",
    "load_with_keras",
    "register_with_keras",
    "summarize",
]


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def register_with_keras(obj: Any, package: str, name: str | None, aliases: Iterable[str]) -> str:
    """Register ``obj`` with Keras under ``package>name`` (and each alias); return the key."""
    keras = _keras()
    keras.saving.register_keras_serializable(package=package, name=name)(obj)
    registry = keras.saving.get_custom_objects()
    for alias in aliases:
        registry[alias] = obj
    return str(keras.saving.get_registered_name(obj))


def keras_registered(key: str) -> Any | None:
    """The object Keras's global registry holds under ``key``, if Keras is already imported."""
    if "keras" not in sys.modules:
        return None
    return _keras().saving.get_custom_objects().get(key)


def builtin_loss(name: str) -> Any:
    """A Keras built-in loss function by its canonical name (``"mean_squared_error"``)."""
    return _keras().losses.get(name)


def load_with_keras(
    path: str, custom_objects: Mapping[str, Any], compile: bool, safe_mode: bool
) -> Any:
    """``keras.saving.load_model`` with exactly these custom objects."""
    keras = _keras()
    absl = logging.getLogger("absl")
    level = absl.level
    # Keras logs that compiled metrics are not built yet and warns about optimizer variables
    # of never-trained models: noise for someone loading a model.
    absl.setLevel(max(level, logging.ERROR))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.saving.load_model(
                path, custom_objects=dict(custom_objects), compile=compile, safe_mode=safe_mode
            )
    finally:
        absl.setLevel(level)


class ModelSummary(Record):
    """What ``kerascope load`` prints about a loaded model."""

    class_name: str
    name: str
    layers: tuple[tuple[str, str], ...]
    parameters: int
    compiled: bool
    loss: str | None
    optimizer: str | None


def summarize(model: Any) -> ModelSummary:
    """Layers, parameter count and compile state of a loaded model."""
    layers = tuple((layer.name, type(layer).__name__) for layer in getattr(model, "layers", ()))
    compiled = bool(getattr(model, "compiled", False))
    loss = getattr(model, "loss", None) if compiled else None
    optimizer = getattr(model, "optimizer", None) if compiled else None
    return ModelSummary(
        class_name=type(model).__name__,
        name=str(model.name),
        layers=layers,
        parameters=int(model.count_params()) if getattr(model, "built", True) else 0,
        compiled=compiled,
        loss=_describe(loss),
        optimizer=type(optimizer).__name__ if optimizer is not None else None,
    )


def _describe(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    name = getattr(value, "__name__", None) or getattr(value, "name", None)
    return str(name) if name else type(value).__name__
