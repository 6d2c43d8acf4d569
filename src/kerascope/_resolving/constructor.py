"""References that only a custom class's own constructor reads: Keras never looks them up.

Keras 3.15 deserializes a class entry (``{"class_name", "config", ...}``) in
``keras/src/saving/serialization_lib.py``, ``deserialize_keras_object``: it resolves the class
(``_retrieve_class_or_fn``), then calls ``cls.from_config(inner_config)`` with the entry's
``config`` unread, inside a ``CustomObjectScope`` holding the custom objects. The default
``from_config`` (``Operation.from_config`` in ``keras/src/ops/operation.py``, which ``Layer``
inherits; ``Model.from_config`` in ``keras/src/models/model.py`` for non-functional configs)
deserializes only ``dtype`` and passes everything else to ``cls(**config)``. So whatever sits in
the config of a class that is not a Keras built-in reaches that class's ``__init__`` as plain data:
a string such as ``kernel_initializer: "complex"`` (keras-complex 0.4.0) is looked up only if the
constructor chooses to (``keras.initializers.get``), and a package may map it back itself.

A custom class does inherit the ``from_config`` of the Keras class it extends, and those read a
few keys with Keras's own lookup: ``layers`` (``functional_from_config`` in
``keras/src/models/functional.py``, ``Sequential.from_config``), ``layer`` (``Wrapper.from_config``,
``Bidirectional.from_config``), ``backward_layer`` (``Bidirectional.from_config``), ``cell``
(``RNN.from_config``), ``cells`` (``StackedRNNCells.from_config``) and ``dtype``
(``Operation.from_config``). What sits under those keys is read by Keras and judged by its own
class. ``compile_config`` and ``build_config`` sit beside ``config``, not in it: Keras reads them.

Legacy ``.h5`` configs go through ``keras/src/legacy/saving/serialization.py``
(``class_and_config_for_serialized_keras_object``), which also leaves a missing name alone: it
swaps a top-level string of the config for a function only when one is registered under it.

kerascope mirrors this: such a reference never stops a load. It is still resolved when it can be
(the constructor may well ask Keras for it), and reported when it cannot.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from kerascope._audit.inspect import CustomObject
    from kerascope._reading.references import Reference

__all__ = ["KERAS_READ_KEYS", "constructor_owner", "constructor_owners"]

# Keys of a config that Keras's own from_config deserializes (see the module docstring).
KERAS_READ_KEYS = frozenset({"layers", "layer", "backward_layer", "cell", "cells", "dtype"})

_CONFIG = ".config"
_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_QUOTED = re.compile(r"\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]")


def constructor_owners(references: Sequence[Reference]) -> dict[str, str]:
    """Map the JSON path of each reference only a custom constructor reads to that class's name.

    The owner is the nearest enclosing custom class whose constructor receives the reference
    unread. References Keras looks up itself are absent from the result.

    Example:
        >>> from kerascope._reading.references import find_references
        >>> config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
        ...     "config": {"layers": [{"module": "cplx", "class_name": "CDense",
        ...         "registered_name": "cplx>CDense",
        ...         "config": {"kernel_initializer": "complex", "activation": "relu"}}]}}
        >>> constructor_owners(find_references(config))
        {'$.config.layers[0].config.kernel_initializer': 'CDense'}
    """
    custom = {r.json_path: r.class_name for r in references if r.custom and not r.is_lambda}
    owners: dict[str, str] = {}
    for reference in references:
        owner = _owner(reference.json_path, custom)
        if owner is not None and reference.custom:
            owners[reference.json_path] = owner
    return owners


def constructor_owner(obj: CustomObject, owners: dict[str, str]) -> str | None:
    """The class whose constructor alone reads ``obj``, when that holds for every use of it.

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> obj = CustomObject("complex", ("initializer",), None, "complex", None, ("$.a",), False)
        >>> constructor_owner(obj, {"$.a": "CDense"}), constructor_owner(obj, {})
        ('CDense', None)
    """
    if not obj.json_paths or any(path not in owners for path in obj.json_paths):
        return None
    return owners[obj.json_paths[0]]


def _owner(path: str, custom: dict[str, str]) -> str | None:
    """The nearest custom class entry above ``path`` whose constructor gets it unread."""
    start = len(path)
    while True:
        index = path.rfind(_CONFIG, 0, start)
        if index < 0:
            return None
        start = index
        ancestor = path[:index]
        rest = path[index + len(_CONFIG) :]
        if ancestor not in custom or (rest and rest[0] not in ".["):
            continue
        if _first_key(rest) not in KERAS_READ_KEYS:
            return custom[ancestor]


def _first_key(rest: str) -> str | None:
    """The config key a path continues with after ``.config`` (None for a list index)."""
    named = _NAME.match(rest)
    if named:
        return named.group(1)
    quoted = _QUOTED.match(rest)
    if quoted:
        value = ast.literal_eval(quoted.group(1))
        return value if isinstance(value, str) else None
    return None
