"""kerascope's registry and the ``register`` decorator.

``kerascope.register`` registers a class or function with Keras (through
``keras.saving.register_keras_serializable``) and in kerascope's own :class:`Registry`, which
refuses to map one key to two different objects (Keras silently overwrites) but accepts the
same definition run again, as a notebook cell re-run does.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import TypeVar, overload

from ._record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

from .errors import RegistryError

__all__ = ["REGISTRY", "Registration", "Registry", "register"]

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


@overload
def register(
    obj: T, *, package: str = ..., name: str | None = ..., aliases: Iterable[str] = ...
) -> T: ...
@overload
def register(
    obj: None = ..., *, package: str = ..., name: str | None = ..., aliases: Iterable[str] = ...
) -> Callable[[T], T]: ...
def register(
    obj: Any = None,
    *,
    package: str = "Custom",
    name: str | None = None,
    aliases: Iterable[str] = (),
) -> Any:
    """Register a class or function with Keras and kerascope, as ``package>name``.

    Aliases are extra keys for the same object, so that files saved under an old name still
    load. Registering a different object under a taken key raises
    :class:`~kerascope.errors.RegistryError`; running the same definition again does not.

    Example:
        >>> import kerascope
        >>> @kerascope.register(package="mypkg", aliases=["oldpkg>Scale"])  # doctest: +SKIP
        ... class Scale(keras.layers.Layer):
        ...     ...
    """
    alias_list = tuple(aliases)

    def decorate(target: T) -> T:
        from ._keras import register_with_keras

        keys = (f"{package}>{name or _name_of(target)}", *alias_list)
        for key in keys:
            REGISTRY.refuse_conflict(key, target)
        register_with_keras(target, package, name, alias_list)
        for key in keys:
            REGISTRY.register(key, target)
        return target

    return decorate(obj) if obj is not None else decorate


def _name_of(obj: object) -> str:
    return str(getattr(obj, "__name__", obj))


def _same_definition(old: Any, new: Any) -> bool:
    keys = ("__module__", "__qualname__")
    return all(getattr(old, key, None) == getattr(new, key, None) for key in keys)


def _where(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
