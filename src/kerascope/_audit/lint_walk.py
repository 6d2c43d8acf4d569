"""Walk a live model for the save lint: every object it would write, and how it serializes.

The save lint (:mod:`kerascope._audit.lint`) checks a live model before it is saved. These
functions find the objects the model would write (layers at every depth, compile objects and
what they hold) and serialize values the way saving does. None of them builds or calls the
model. The model is live, so Keras is already imported: they use that Keras
(:func:`~kerascope._common.keras_peek.loaded_keras`) and never import it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from kerascope._common.keras_peek import loaded_keras
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "LintObject",
    "LintScan",
    "lint_config",
    "lint_registered_name",
    "lint_scan",
    "revived_as_functional",
    "saves_layer_graph",
    "serialize_value",
]


class LintObject(Record):
    """A Keras object or function reachable from a live model.

    Attributes:
        obj: The instance (model, layer, loss, metric, optimizer, learning-rate schedule,
            initializer, regularizer, constraint) or the function.
        kind: ``"model"``, ``"layer"``, ``"loss"``, ``"metric"``, ``"optimizer"``,
            ``"learning-rate schedule"``, ``"initializer"``, ``"regularizer"``, ``"constraint"``
            or ``"function"``.
        in_file: Named in the config the model would be saved with. False for what a parent
            creates in its own constructor (rebuilt on load, never written) and for helpers an
            object holds but does not write.
    """

    obj: Any
    kind: str
    in_file: bool


class LintScan(Record):
    """Everything :func:`lint_scan` found.

    Attributes:
        objects: The model first, then every object reachable from it, each once.
        serialize_error: What ``keras.saving.serialize_keras_object(model)`` raised, if it did
            (then every object counts as in the file: the config cannot tell).
    """

    objects: tuple[LintObject, ...]
    serialize_error: BaseException | None


def lint_scan(model: Any) -> LintScan:
    """The model, every layer at every depth and every compile object, each once.

    Walks each object's instance attributes (``vars``, and lists and dicts in them) the way
    Keras's own tracking does, so it reaches nested models, layers inside custom layers, wrapped
    layers, the loss and metrics given to ``compile()``, the optimizer and its learning-rate
    schedule, and the initializers, regularizers, constraints and functions layers hold.
    Reading ``vars`` runs no property; serializing the model, to learn which of these objects
    its file names, calls ``get_config()`` methods as saving would.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> inputs = keras.Input((3,))  # doctest: +SKIP
        >>> scan = lint_scan(keras.Model(inputs, keras.layers.Dense(2)(inputs)))  # doctest: +SKIP
        >>> [item.kind for item in scan.objects][:3]  # doctest: +SKIP
        ['model', 'layer', 'layer']
    """
    import collections

    keras = loaded_keras()
    kinds = _lint_kinds(keras)
    found: list[tuple[Any, str]] = []
    seen: set[int] = set()
    queue = collections.deque([model])
    while queue:
        obj = queue.popleft()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        kind = _lint_kind(obj, kinds)
        if kind is None:
            continue
        found.append((obj, kind))
        if kind != "function":
            for value in list(getattr(obj, "__dict__", {}).values()):
                queue.extend(_lint_reachable(value, kinds, depth=4))
    try:
        names: frozenset[str] | None = _lint_names(serialize_value(model))
        error = None
    except Exception as raised:
        names, error = None, raised
    objects = tuple(
        LintObject(obj, kind, obj is model or names is None or _lint_named(obj, kind, names))
        for obj, kind in found
    )
    return LintScan(objects, error)


def lint_registered_name(target: Any) -> str | None:
    """The ``package>name`` key ``target`` (a class or function) is registered under, or None.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> lint_registered_name(keras.layers.Layer) is None  # doctest: +SKIP
        True
    """
    name = loaded_keras().saving.get_registered_name(target)
    return None if name == getattr(target, "__name__", None) else str(name)


def lint_config(obj: Any) -> Any:
    """``obj.get_config()``, with whatever it raises, and without the warnings it gives.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> lint_config(keras.layers.Dense(2))["units"]  # doctest: +SKIP
        2
    """
    loaded_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saving warns about lambdas; lint is not saving
        return obj.get_config()


def serialize_value(value: Any) -> Any:
    """``keras.saving.serialize_keras_object(value)``, as saving serializes a config value.

    Example:
        >>> import numpy as np  # doctest: +SKIP
        >>> serialize_value(np.float32(1.5))  # doctest: +SKIP
        1.5
    """
    keras = loaded_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saving warns about lambdas; lint is not saving
        return keras.saving.serialize_keras_object(value)


def revived_as_functional(cls: type, config: Any) -> bool:
    """Would ``cls.from_config(config)`` rebuild a Functional graph (not call ``cls(**config)``)?

    Mirrors ``keras.Model.from_config``: a Functional config, and a class whose ``__init__``
    takes Functional's own arguments or ``(*args, **kwargs)``.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> config = {"name": "m", "layers": [], "input_layers": [], "output_layers": []}
        >>> revived_as_functional(keras.Model, config)  # doctest: +SKIP
        True
    """
    import inspect

    keras = loaded_keras()
    functional = _lint_functional_class(cls)
    if functional is None or not isinstance(config, dict):
        return False
    if not all(key in config for key in ("name", "layers", "input_layers", "output_layers")):
        return False
    if cls in (functional, keras.Model):
        return True
    spec = inspect.getfullargspec(cls.__init__)  # type: ignore[misc]
    functional_args = inspect.getfullargspec(functional.__init__).args[1:]  # type: ignore[misc]
    return spec.args[1:] == functional_args or (spec.varargs, spec.varkw) == ("args", "kwargs")


def saves_layer_graph(model: Any) -> bool:
    """Is the model a layer graph (Sequential or Functional), which .h5 can reload?

    A ``keras.Model`` subclass with its own ``call`` has no graph until it is called: Keras 3
    writes it to .h5 but cannot load it back. A subclass that builds a Functional graph in its
    ``__init__`` is a graph, and reloads (measured with Keras 3.15.1).

    Example:
        >>> import keras  # doctest: +SKIP
        >>> saves_layer_graph(keras.Sequential([keras.layers.Dense(2)]))  # doctest: +SKIP
        True
    """
    keras = loaded_keras()
    return isinstance(model, keras.Sequential) or _lint_functional_class(type(model)) is not None


def _lint_kinds(keras: Any) -> list[tuple[type, str]]:
    return [
        (keras.Model, "model"),
        (keras.layers.Layer, "layer"),
        (keras.losses.Loss, "loss"),
        (keras.metrics.Metric, "metric"),
        (keras.optimizers.Optimizer, "optimizer"),
        (keras.optimizers.schedules.LearningRateSchedule, "learning-rate schedule"),
        (keras.initializers.Initializer, "initializer"),
        (keras.regularizers.Regularizer, "regularizer"),
        (keras.constraints.Constraint, "constraint"),
    ]


def _lint_kind(value: Any, kinds: list[tuple[type, str]]) -> str | None:
    import types

    if isinstance(value, types.FunctionType):
        return None if value.__name__ == "<lambda>" else "function"
    for base, kind in kinds:
        if isinstance(value, base):
            return kind
    return None


def _lint_reachable(value: Any, kinds: list[tuple[type, str]], depth: int) -> list[Any]:
    """Keras objects and functions in ``value``, looking into lists, tuples and dicts."""
    if _lint_kind(value, kinds) is not None:
        return [value]
    if depth == 0 or isinstance(value, (str, bytes)):
        return []
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        return []
    return [found for item in items for found in _lint_reachable(item, kinds, depth - 1)]


def _lint_names(config: Any) -> frozenset[str]:
    """Every class name, registered name and function name a serialized config mentions."""
    names: set[str] = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            class_name = node.get("class_name")
            if isinstance(class_name, str):
                names.add(class_name)
                for key in ("registered_name", "config"):  # a function's name is its config
                    if isinstance(node.get(key), str):
                        names.add(node[key])
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return frozenset(names)


def _lint_named(obj: Any, kind: str, names: frozenset[str]) -> bool:
    target = obj if kind == "function" else type(obj)
    return target.__name__ in names or lint_registered_name(target) in names


def _lint_functional_class(cls: type) -> type | None:
    """Keras's Functional class if ``cls`` derives from it (it has no public name)."""
    for base in cls.__mro__:
        if base.__name__ == "Functional" and base.__module__.startswith("keras."):
            return base
    return None
