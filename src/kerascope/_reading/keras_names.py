"""What Keras 3.15 resolves with no custom objects, answered from shipped data.

The table ``_data/keras_builtins.json`` is generated from the installed Keras by
``tools/gen_keras_builtins.py`` (``make builtins``); a test regenerates it and compares. Each
function here mirrors one step of Keras's own lookup so that "built-in" means exactly what Keras
would find on its own.
"""

from __future__ import annotations

import json
import os
from functools import cache

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "backend_optimizer",
    "h5_compile_string_fix",
    "h5_layer_accepts",
    "h5_unrestorable_compile_string",
    "is_builtin_class",
    "is_builtin_function",
    "is_builtin_legacy_class",
    "is_builtin_string",
    "is_importable_keras_package",
    "is_non_modeling_api",
    "keras_table_version",
    "non_modeling_callable",
]

_TABLE_PATH = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), "_data", "keras_builtins.json"
)


@cache
def _table() -> dict[str, Any]:
    with open(_TABLE_PATH, encoding="utf-8") as handle:
        table: dict[str, Any] = json.load(handle)
    for key in (
        "public_api",
        "non_modeling_apis",
        "modeling_api",
        "h5_layer_names",
        "registered_at_import",
    ):
        table[key] = frozenset(table[key])
    table["saveable_classes"] = {m: frozenset(n) for m, n in table["saveable_classes"].items()}
    table["names_by_kind"] = {k: frozenset(n) for k, n in table["names_by_kind"].items()}
    return table


def keras_table_version() -> str:
    """The Keras version the built-in table was generated from."""
    return str(_table()["keras_version"])


def _is_keras_module(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def is_non_modeling_api(module: str | None, name: str) -> bool:
    """True for Keras APIs that Keras refuses to deserialize (``keras.utils.get_file`` ...)."""
    return module is not None and f"{module}.{name}" in _table()["non_modeling_apis"]


def non_modeling_callable(module: str | None, name: str) -> str | None:
    """The public Keras name ``module.name`` resolves to, when it is not a modeling object.

    Keras resolves any public name under ``keras.*`` that a config names (only its own short
    list of non-modeling APIs is refused); kerascope allows only the modeling objects, by kind
    (the table's ``modeling_api``, generated from Keras's public API). ``None`` for modeling
    objects, for Keras's own refused list (see :func:`is_non_modeling_api`), and for names
    Keras would not resolve at all.

    Example:
        >>> non_modeling_callable("keras.datasets.mnist", "load_data")
        'keras.datasets.mnist.load_data'
        >>> non_modeling_callable("keras.layers", "Dense") is None
        True
    """
    if module is None or not _is_keras_module(module) or module.startswith("keras.src"):
        return None
    full = f"{module}.{name}"
    table = _table()
    if full not in table["public_api"] or full in table["non_modeling_apis"]:
        return None
    return None if full in table["modeling_api"] else full


def is_builtin_class(module: str | None, class_name: str, registered_name: str | None) -> bool:
    """Would Keras resolve this class entry (``module``/``class_name``) on its own?"""
    table = _table()
    if registered_name is not None and registered_name in table["registered_at_import"]:
        return True
    if module is None or not _is_keras_module(module):
        return False
    if is_non_modeling_api(module, class_name):
        return False
    if f"{module}.{class_name}" in table["public_api"]:
        return True
    if backend_optimizer(module, class_name) is not None:
        return True
    return class_name in table["saveable_classes"].get(module, ())


_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")


def backend_optimizer(module: str | None, class_name: str) -> str | None:
    """The public optimizer that a backend's own optimizer class stands for, if it is one.

    Keras 3.15 on PyTorch records a compiled model's optimizer under the torch subclass that
    ``keras.optimizers.Adam`` becomes there (``keras.src.backend.torch.optimizers.torch_adam``);
    that module imports ``torch``, so another backend cannot import it. The public class builds
    the same optimizer on every backend (on PyTorch it turns itself into the torch subclass).

    Example:
        >>> backend_optimizer("keras.src.backend.torch.optimizers.torch_adam", "Adam")
        'keras.optimizers.Adam'
        >>> backend_optimizer("keras.src.backend.torch.optimizers.torch_adam", "Spy") is None
        True
    """
    parts = (module or "").split(".")
    if parts[:3] != ["keras", "src", "backend"] or len(parts) < 5:
        return None
    if parts[3] not in _BACKENDS or parts[4] != "optimizers":
        return None
    public = f"keras.optimizers.{class_name}"
    return public if public in _table()["public_api"] else None


def is_builtin_function(module: str | None, name: str) -> bool:
    """Would Keras resolve this function entry (``class_name: "function"``) on its own?"""
    table = _table()
    if name in table["registered_at_import"]:
        return True
    if module is None or is_non_modeling_api(module, name):
        return False
    if _is_keras_module(module) and f"{module}.{name}" in table["public_api"]:
        return True
    if module == "builtins":
        return any(
            f"keras.{package}.{name}" in table["public_api"]
            for package in table["builtin_function_modules"]
        )
    return False


def is_builtin_legacy_class(kind: str, class_name: str) -> bool:
    """Would the legacy (.h5 / module-less) reader resolve this bare class name on its own?"""
    table = _table()
    if kind in ("layer", "model"):
        return class_name in table["h5_layer_names"]
    names = table["names_by_kind"].get(kind)
    if names is not None:
        return _in_kind_names(kind, class_name, names)
    return class_name in table["h5_layer_names"] or any(
        class_name in names for names in table["names_by_kind"].values()
    )


def is_builtin_string(kind: str, name: str) -> bool:
    """Would ``keras.<kind>s.get(name)`` (or compile's own handling) accept this string?"""
    table = _table()
    if kind == "metric" and name in table["compile_special_metrics"]:
        return True
    names = table["names_by_kind"].get(kind)
    if names is None:
        return any(name in names for names in table["names_by_kind"].values())
    return _in_kind_names(kind, name, names)


def _in_kind_names(kind: str, name: str, names: frozenset[str]) -> bool:
    # keras.optimizers.deserialize lower-cases the class name before looking it up.
    return name in names or (kind == "optimizer" and name.lower() in names)


def is_importable_keras_package(module: str | None) -> bool:
    """Is ``module`` under a package Keras imports by name (keras, keras_hub, ...)?"""
    if not module:
        return False
    return module.split(".", 1)[0] in _table()["importable_packages"]


def h5_unrestorable_compile_string(kind: str, name: str) -> bool:
    """Measured: Keras 3.15 saves this loss/metric string to .h5 but cannot load it back."""
    return name in _table()["h5_unrestorable_compile_strings"].get(kind, ())


def h5_layer_accepts(class_name: str) -> frozenset[str] | None:
    """Constructor keywords of a built-in layer, or None when unknown."""
    params = _table()["h5_layer_params"].get(class_name)
    return frozenset(params) if params is not None else None


def h5_compile_string_fix(name: str) -> str | None:
    """Measured: the canonical loss name that makes an unrestorable .h5 loss string load."""
    fix = _table()["h5_compile_string_fixes"].get(name)
    return str(fix) if fix is not None else None


def builtin_layer_names() -> frozenset[str]:
    """Keras's built-in layer class names.

    Example:
        >>> "LSTM" in builtin_layer_names()
        True
    """
    return frozenset(_table()["h5_layer_names"])
