"""Keras-side shims for Keras 2 constructs, active only while a Keras 2 file loads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

from .runtime import _keras

__all__ = ["positional_add_weight"]


@contextmanager
def positional_add_weight() -> Iterator[None]:
    """Accept Keras 2's ``add_weight("w", shape, ...)`` while a Keras 2 model is built.

    Keras 2's signature is ``add_weight(name, shape, dtype, initializer, ...)``; Keras 3's is
    ``add_weight(shape, initializer, dtype, ...)`` and refuses a string first argument, which
    can therefore only be a Keras 2 name. Restored on exit.

    Example:
        >>> with positional_add_weight():  # doctest: +SKIP
        ...     model = build_from_config(config)
    """
    layer_class = _keras().layers.Layer
    original = layer_class.__dict__["add_weight"]

    def add_weight(self: Any, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], str) and "name" not in kwargs:
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
