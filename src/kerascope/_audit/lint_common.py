"""What the save lint's checks share: telling user code from Keras's, and naming objects and
errors in findings (see :mod:`kerascope._audit.lint`)."""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading import keras_names as _builtins

if TYPE_CHECKING:
    from typing import Any

__all__ = ["dotted", "first_line", "is_custom"]

# Packages whose objects are Keras's or a backend's, not the user's.
_NOT_USER_PACKAGES = frozenset({"builtins", "tensorflow", "tf_keras", "jax", "torch", "numpy"})


def is_custom(target: Any) -> bool:
    """Is ``target`` (a class or function) user code, not Keras's or a backend's?

    Example:
        >>> is_custom(dict), is_custom(type("Scale", (), {"__module__": "mylayers"}))
        (False, True)
    """
    module = getattr(target, "__module__", None)
    if not isinstance(module, str) or not module:
        return False
    if module.split(".")[0] in _NOT_USER_PACKAGES:
        return False
    return not _builtins.is_importable_keras_package(module)


def dotted(target: Any) -> str:
    """``module.qualname`` of a class or function: the ``object`` of a lint finding.

    Example:
        >>> dotted(dict)
        'builtins.dict'
    """
    return f"{target.__module__}.{getattr(target, '__qualname__', target.__name__)}"


def first_line(error: BaseException) -> str:
    """The first paragraph of an error message, on one line (Keras wraps and adds examples).

    Example:
        >>> first_line(ValueError("bad value\\n  for x\\n\\nExample: ..."))
        'bad value for x'
    """
    paragraph = " ".join(str(error).strip().split("\n\n")[0].split())
    return paragraph[:300] if paragraph else type(error).__name__
