"""Keras-side shims for Keras 2 constructs: applied while a Keras 2 file loads, and at every
load of a Keras 3 file whose manifest records that it needs them (``kerascope migrate``).

Which shims a loaded model needed is remembered per model (:func:`needed_shims`), so that
:func:`kerascope.save_model` records them in the manifest of the file it writes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.manifest import (
    LAMBDA_GLOBALS_TF,
    POSITIONAL_ADD_WEIGHT,
    TIME_DISTRIBUTED_OUTPUT_SHAPE,
    NeededShim,
)

if TYPE_CHECKING:
    from typing import Any

from .runtime import _keras

__all__ = [
    "LAMBDA_GLOBALS_TF",
    "POSITIONAL_ADD_WEIGHT",
    "TIME_DISTRIBUTED_OUTPUT_SHAPE",
    "needed_shims",
    "positional_add_weight",
    "record_shim",
    "time_distributed_inner",
    "with_output_shape",
]

# The shims each loaded model needed, with the code changes that would make them unneeded: a
# file saved from such a model loads in Keras 3 only with the same shims.
_NEEDED: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = weakref.WeakKeyDictionary()


def needed_shims(model: Any) -> tuple[NeededShim, ...]:
    """The Keras 2 shims ``model`` needed when it was loaded, by name.

    Example:
        >>> [shim.name for shim in needed_shims(model)]  # doctest: +SKIP
        ['positional-add-weight']
        >>> needed_shims(model)[0].changes[0]  # doctest: +SKIP
        "Scale calls add_weight('w', ...) with the name first (Keras 2): Keras 3 needs ..."
    """
    needed = _NEEDED.get(model, {})
    return tuple(NeededShim(name, needed[name]) for name in sorted(needed))


def record_shim(model: Any, name: str, changes: Iterable[str]) -> None:
    """Remember that ``model`` needed the shim ``name`` (see :func:`needed_shims`).

    Example:
        >>> record_shim(model, LAMBDA_GLOBALS_TF, ["..."])  # doctest: +SKIP
    """
    needed = _NEEDED.setdefault(model, {})
    needed[name] = tuple(sorted({*needed.get(name, ()), *changes}))


@contextmanager
def positional_add_weight(used: set[str] | None = None) -> Iterator[None]:
    """Accept Keras 2's ``add_weight("w", shape, ...)`` while a Keras 2 model is built.

    Keras 2's signature is ``add_weight(name, shape, dtype, initializer, ...)``; Keras 3's is
    ``add_weight(shape, initializer, dtype, ...)`` and refuses a string first argument, which
    can therefore only be a Keras 2 name. Restored on exit. Each conversion is described in
    ``used``, when given.

    Example:
        >>> with positional_add_weight():  # doctest: +SKIP
        ...     model = build_from_config(config)
    """
    layer_class = _keras().layers.Layer
    original = layer_class.__dict__["add_weight"]

    def add_weight(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], str) and "name" not in kwargs:
            if used is not None:
                used.add(
                    f"{type(self).__name__} calls add_weight({args[0]!r}, ...) with the name "
                    f"first (Keras 2): Keras 3 needs add_weight(name={args[0]!r}, shape=...)"
                )
            kwargs["name"] = args[0]
            names = ("shape", "dtype", "initializer", "regularizer", "trainable", "constraint")
            for key, value in zip(names, args[1:], strict=False):
                kwargs.setdefault(key, value)
            args = ()
        return original(self, *args, **kwargs)

    layer_class.add_weight = add_weight
    try:
        yield
    finally:
        layer_class.add_weight = original


def with_output_shape(cls: Any) -> Any:
    """A same-named subclass of a Keras 2 layer that infers ``compute_output_shape``.

    Keras 2's ``TimeDistributed`` ran the inner layer to learn its output shape; Keras 3 calls
    ``compute_output_shape``, which a Keras 2 custom layer often lacks (measured:
    NotImplementedError at build). The subclass runs ``call`` on a symbolic input, as Keras's
    own ``Operation.compute_output_spec`` does. Other classes are returned unchanged.

    Example:
        >>> objects["MyLayer"] = with_output_shape(objects["MyLayer"])  # doctest: +SKIP
    """
    keras = _keras()
    layer = keras.layers.Layer
    if not (isinstance(cls, type) and issubclass(cls, layer)):
        return cls
    given: Any = cls
    if given.compute_output_shape is not layer.compute_output_shape:
        return cls

    def compute_output_shape(self: Any, input_shape: Any) -> Any:
        spec = keras.KerasTensor(tuple(input_shape), dtype=self.compute_dtype)
        output = keras.Operation.compute_output_spec(self, spec)
        return keras.tree.map_structure(lambda tensor: tuple(tensor.shape), output)

    namespace = {"compute_output_shape": compute_output_shape, "__module__": cls.__module__}
    namespace["__qualname__"] = cls.__qualname__
    return type(cls.__name__, (cls,), namespace)


def time_distributed_inner(config: Any, depth: int = 0) -> set[str]:
    """The lookup keys of the layers wrapped by ``TimeDistributed`` in a config.

    Example:
        >>> sorted(time_distributed_inner({"class_name": "TimeDistributed",
        ...     "config": {"layer": {"class_name": "Scale", "config": {}}}}))
        ['Scale']
    """
    found: set[str] = set()
    if depth > 200:
        return found
    if isinstance(config, dict):
        inner = (
            (config.get("config") or {}) if config.get("class_name") == "TimeDistributed" else {}
        )
        layer = inner.get("layer") if isinstance(inner, dict) else None
        if isinstance(layer, dict):
            found.add(str(layer.get("registered_name") or layer.get("class_name")))
        for value in config.values():
            found |= time_distributed_inner(value, depth + 1)
    elif isinstance(config, list):
        for value in config:
            found |= time_distributed_inner(value, depth + 1)
    return found
