"""``kerascope.register``: register a class or function with Keras and with kerascope.

Keras's registry (``keras.saving.register_keras_serializable``) decides the ``package>name`` key
a saved file records; kerascope's :class:`~kerascope._resolving.registry.Registry` refuses to map
one key to two different objects (Keras silently overwrites) but accepts the same definition run
again, as a notebook cell re-run does. Registering with Keras imports Keras, so this lives in the
adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar, overload

from kerascope._common.record import TYPE_CHECKING
from kerascope._resolving.registry import REGISTRY

from .runtime import register_with_keras

if TYPE_CHECKING:
    from typing import Any

__all__ = ["register"]

T = TypeVar("T")


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
