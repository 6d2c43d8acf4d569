"""kerascope's registry of custom objects, consulted first when a plan is made.

The :class:`Registry` refuses to map one key to two different objects (Keras silently
overwrites) but accepts the same definition run again, as a notebook cell re-run does. The
``kerascope.register`` decorator that fills it (and Keras's registry) lives in the Keras adapter,
:mod:`kerascope._keras.registration`.
"""

from __future__ import annotations

import difflib
from typing import TypeVar

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

from kerascope.errors import RegistryError

__all__ = ["REGISTRY", "Registration", "Registry"]

T = TypeVar("T")


class Registration(Record):
    """Where a registered object was defined."""

    key: str
    module: str
    qualname: str


class Registry:
    """A small name -> object registry with a few verbs.

    Example:
        >>> registry = Registry()
        >>> def my_loss(y_true, y_pred): ...
        >>> registry.register("mypkg>my_loss", my_loss)
        >>> registry.contains("mypkg>my_loss"), registry.get("mypkg>my_loss") is my_loss
        (True, True)
    """

    def __init__(self) -> None:
        self._objects: dict[str, Any] = {}

    def register(self, key: str, obj: Any) -> None:
        """Map ``key`` to ``obj``; a different object under the same key is an error."""
        self.refuse_conflict(key, obj)
        self._objects[key] = obj

    def refuse_conflict(self, key: str, obj: Any) -> None:
        """Raise RegistryError if ``key`` holds a different definition than ``obj``."""
        existing = self._objects.get(key)
        if existing is not None and existing is not obj and not _same_definition(existing, obj):
            raise RegistryError(
                f"'{key}' is already registered to {_where(existing)}; refusing to replace it "
                f"with {_where(obj)}. Register the new one under another name, or add an alias."
            )

    def get(self, key: str) -> Any:
        """The object registered under ``key``; a miss names the closest keys.

        Example:
            >>> Registry().get("Scale")
            Traceback (most recent call last):
            ...
            LookupError: nothing is registered under 'Scale' (0 keys registered)
        """
        try:
            return self._objects[key]
        except KeyError:
            close = difflib.get_close_matches(key, self._objects, n=3)
            hint = f"; closest: {', '.join(close)}" if close else ""
            raise LookupError(
                f"nothing is registered under '{key}' ({len(self._objects)} keys registered{hint})"
            ) from None

    def get_all(self) -> dict[str, Any]:
        """A copy of every key and object."""
        return dict(self._objects)

    def find(self, key: str) -> Registration | None:
        """Where the object under ``key`` was defined, or None."""
        obj = self._objects.get(key)
        if obj is None:
            return None
        return Registration(key, getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", "?"))

    def contains(self, key: str) -> bool:
        """Is anything registered under ``key``?"""
        return key in self._objects


REGISTRY = Registry()


def _same_definition(old: Any, new: Any) -> bool:
    keys = ("__module__", "__qualname__")
    return all(getattr(old, key, None) == getattr(new, key, None) for key in keys)


def _where(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
