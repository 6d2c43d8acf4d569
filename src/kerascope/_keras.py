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


def save_with_keras(model: Any, path: str) -> None:
    """``model.save(path)``: Keras chooses the format from the extension."""
    _keras()
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(max(level, logging.ERROR))  # the "HDF5 format is legacy" notice
    try:
        model.save(path)
    finally:
        absl.setLevel(level)


def input_shapes(model: Any) -> list[tuple[tuple[int | None, ...], str]]:
    """Shape and dtype of each model input (from the model's input spec)."""
    return [
        (tuple(tensor.shape), str(getattr(tensor.dtype, "name", tensor.dtype)))
        for tensor in getattr(model, "inputs", None) or []
    ]


def predict(model: Any, inputs: list[Any]) -> list[Any]:
    """The model's outputs on ``inputs``, as a list of numpy arrays."""
    import numpy as np

    keras = _keras()
    outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    flat = keras.tree.flatten(outputs)
    return [np.asarray(keras.ops.convert_to_numpy(output)) for output in flat]


def weight_arrays(model: Any) -> list[tuple[str, Any]]:
    """Every weight of the model, with its path, as numpy arrays."""
    import numpy as np

    keras = _keras()
    return [
        (str(getattr(w, "path", w.name)), np.asarray(keras.ops.convert_to_numpy(w)))
        for w in model.weights
    ]


def runtime_versions() -> tuple[str, str]:
    """The installed Keras version and the active backend."""
    keras = _keras()
    return str(keras.__version__), str(keras.backend.backend())


def live_object(key: str, module: str | None, name: str) -> Any | None:
    """The object a saving process used for a custom-object key, looked up where it lives.

    Registered objects come from Keras's registry; classes from their module (already imported
    by the process that built the model); functions, which Keras records without a module, from
    the first imported module outside Keras that defines a function of that name.
    """
    keras = _keras()
    registered = keras.saving.get_custom_objects().get(key)
    if registered is not None:
        return registered
    if module and module != "builtins":
        return getattr(sys.modules.get(module), name, None)
    if module is None:
        found = getattr(sys.modules.get("__main__"), name, None)
        if found is not None:
            return found
    for module_name, candidate_module in list(sys.modules.items()):
        if module_name.split(".")[0] in _NOT_USER_CODE or candidate_module is None:
            continue
        candidate = getattr(candidate_module, name, None)
        if callable(candidate) and getattr(candidate, "__name__", None) == name:
            return candidate
    return None


_NOT_USER_CODE = frozenset(
    {"keras", "tensorflow", "tf_keras", "numpy", "jax", "torch", "h5py", "kerascope", "builtins"}
) | frozenset(sys.stdlib_module_names)


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


# --- used by lint ---------------------------------------------------------------------------------
# kerascope._lint checks a live model before it is saved. These functions find the objects the
# model would write (layers at every depth, compile objects and what they hold) and serialize
# values the way saving does. None of them builds or calls the model.

__all__ += ["LintObject", "LintScan", "lint_config", "lint_registered_name", "lint_scan"]
__all__ += ["revived_as_functional", "saves_layer_graph", "serialize_value"]


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

    keras = _keras()
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
    name = _keras().saving.get_registered_name(target)
    return None if name == getattr(target, "__name__", None) else str(name)


def lint_config(obj: Any) -> Any:
    """``obj.get_config()``, with whatever it raises, and without the warnings it gives.

    Example:
        >>> import keras  # doctest: +SKIP
        >>> lint_config(keras.layers.Dense(2))["units"]  # doctest: +SKIP
        2
    """
    _keras()
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
    keras = _keras()
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

    keras = _keras()
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
    keras = _keras()
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
