"""The Keras a running process has already imported, for code that must never import it.

Reading, audit and resolving never import Keras (only :mod:`kerascope._keras` does). Two of
them still need the Keras that is already there: the save lint walks a live model, whose Keras
is necessarily imported, and the resolver asks Keras's global registry which objects the
process has registered, which is empty when Keras is not imported.
"""

from __future__ import annotations

import sys

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["keras_registered", "loaded_keras"]


def loaded_keras() -> Any:
    """The ``keras`` module this process imported; an error if it imported none.

    Example:
        >>> import sys
        >>> "keras" in sys.modules or loaded_keras()  # doctest: +SKIP
        True
    """
    keras = sys.modules.get("keras")
    if keras is None:
        raise RuntimeError("Keras is not imported in this process: there is no live model")
    return keras


def keras_registered(key: str) -> Any | None:
    """The object Keras's global registry holds under ``key``; None when Keras is not imported.

    Example:
        >>> keras_registered("no-such>Key") is None
        True
    """
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    return keras.saving.get_custom_objects().get(key)
