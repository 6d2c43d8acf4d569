"""Walk a model config and list every object reference in it, at every depth.

A reference is what Keras will have to resolve by name when it loads the file: a class entry
(``{"module", "class_name", "config", "registered_name"}``), a function entry
(``class_name: "function"``), a legacy entry with only ``class_name`` (.h5), a serialized Python
lambda, or a bare string in a slot Keras looks up by name (``"activation": "relu"``,
``"loss": "my_loss"``). Each reference knows its JSON path, its kind and the key Keras will look
it up under; resolving it is a separate step.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any, Literal

from . import keras_names as _builtins

__all__ = ["MAX_DEPTH", "Reference", "find_references"]

if TYPE_CHECKING:
    Kind = Literal[
        "model",
        "layer",
        "loss",
        "metric",
        "activation",
        "initializer",
        "regularizer",
        "constraint",
        "optimizer",
        "learning-rate schedule",
        "function",
        "lambda",
        "other",
    ]

MAX_DEPTH = 200  # Keras configs nest a few dozen levels; each level costs two frames here

# Serialized values that are data, not objects to resolve.
_SENTINELS = frozenset(
    {
        "__keras_tensor__",
        "__tensor__",
        "__numpy__",
        "__bytes__",
        "__slice__",
        "__ellipsis__",
        "__tuple__",
    }
)
_MODEL_CLASSES = frozenset({"Functional", "Sequential", "Model"})
_LAYER_KEYS = frozenset({"layer", "layers", "backward_layer", "forward_layer", "cell", "cells"})
_COMPILE_KINDS: dict[str, Kind] = {
    "loss": "loss",
    "metrics": "metric",
    "weighted_metrics": "metric",
    "optimizer": "optimizer",
    "optimizer_config": "optimizer",
}
# Where a module name says what kind of object a class is. Keras records either the public
# path ("keras.layers") or the defining module under keras's "src" package; _public_module
# maps the second onto the first.
_MODULE_KINDS: tuple[tuple[str, Kind], ...] = (
    ("keras.optimizers.schedules", "learning-rate schedule"),
    ("keras.models", "model"),
    ("keras.layers", "layer"),
    ("keras.losses", "loss"),
    ("keras.metrics", "metric"),
    ("keras.optimizers", "optimizer"),
    ("keras.initializers", "initializer"),
    ("keras.regularizers", "regularizer"),
    ("keras.constraints", "constraint"),
    ("keras.activations", "activation"),
)
_STRING_KINDS = frozenset(
    {"activation", "initializer", "regularizer", "constraint", "loss", "metric", "optimizer"}
)


class Reference(Record):
    """One object a model file names, as found in its config.

    Attributes:
        json_path: Where it sits, e.g. ``$.config.layers[1].config.activation``.
        kind: What it is (layer, loss, activation, ...).
        module: The ``module`` recorded in the file (``None`` when absent or ``null``).
        class_name: The class or function name (without any ``package>`` prefix).
        registered_name: The registered name recorded in the file, e.g. ``"mypkg>Scale"``.
        key: The name Keras looks it up under; the key to use in ``custom_objects``.
        custom: True unless Keras 3.15 resolves it with no custom objects.
        is_lambda: True for serialized Python lambdas (bytecode in the file).
        legacy: True for entries without a ``module`` key (legacy .h5 form or bare strings).
        shadows_builtin: True for a legacy entry named like a Keras built-in whose config the
            built-in does not accept: a custom class Keras would silently replace.
    """

    json_path: str
    kind: Kind
    module: str | None
    class_name: str
    registered_name: str | None
    key: str
    custom: bool
    is_lambda: bool = False
    legacy: bool = False
    shadows_builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The reference as a JSON-ready dict (the ``objects`` entries of ``inspect --json``).

        Example:
            >>> ref = Reference("$", "model", "keras", "Sequential", None, "Sequential", False)
            >>> ref.to_dict()["class_name"]
            'Sequential'
        """
        return {
            "json_path": self.json_path,
            "kind": self.kind,
            "module": self.module,
            "class_name": self.class_name,
            "registered_name": self.registered_name,
            "key": self.key,
            "custom": self.custom,
            "lambda": self.is_lambda,
        }


def find_references(
    config: dict[str, Any], training_config: dict[str, Any] | None = None
) -> list[Reference]:
    """List every object reference in a model config (and an .h5 training config).

    Example:
        >>> config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
        ...           "config": {"layers": [{"module": "mylayers", "class_name": "Scale",
        ...                      "registered_name": "mypkg>Scale", "config": {}}]}}
        >>> [(r.json_path, r.kind, r.key, r.custom) for r in find_references(config)]
        [('$', 'model', 'Sequential', False), ('$.config.layers[0]', 'layer', 'mypkg>Scale', True)]
    """
    found: list[Reference] = []
    _Walker(found).visit(config, "$", "model", compile_section=False, depth=0)
    if training_config is not None:
        _Walker(found).visit_children(
            training_config, "$.training_config", None, compile_section=True, depth=1
        )
    return found


class _Walker:
    def __init__(self, found: list[Reference]) -> None:
        self.found = found

    def visit(
        self, value: Any, path: str, hint: Kind | None, *, compile_section: bool, depth: int
    ) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(f"the config is nested deeper than {MAX_DEPTH} levels at {path}")
        if isinstance(value, dict):
            if _is_object(value):
                self.visit_object(value, path, hint, compile_section=compile_section, depth=depth)
            else:
                self.visit_children(value, path, hint, compile_section=compile_section, depth=depth)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.visit(
                    item, f"{path}[{index}]", hint, compile_section=compile_section, depth=depth + 1
                )
        elif isinstance(value, str) and hint in _STRING_KINDS:
            if hint in ("loss", "metric", "optimizer") and not compile_section:
                return
            self.found.append(_string_reference(value, path, hint))

    def visit_children(
        self,
        mapping: dict[str, Any],
        path: str,
        hint: Kind | None,
        *,
        compile_section: bool,
        depth: int,
    ) -> None:
        inherit = hint if hint in ("loss", "metric") else None
        for key, child in mapping.items():
            key_text = str(key)
            child_hint = _slot_kind(key_text, compile_section) or inherit
            self.visit(
                child,
                _join(path, key_text),
                child_hint,
                compile_section=compile_section,
                depth=depth + 1,
            )

    def visit_object(
        self,
        entry: dict[str, Any],
        path: str,
        hint: Kind | None,
        *,
        compile_section: bool,
        depth: int,
    ) -> None:
        class_name = entry["class_name"]
        if class_name in _SENTINELS:
            return
        if class_name == "__lambda__":
            self.found.append(_lambda_reference(path))
            return
        if class_name == "__typespec__":
            return
        reference = _object_reference(entry, path, hint)
        self.found.append(reference)
        inner = entry.get("config")
        if class_name == "Lambda" and isinstance(inner, dict):
            self._visit_lambda_function(inner, f"{path}.config", depth)
        if isinstance(inner, dict):
            in_optimizer = reference.kind == "optimizer"
            for key, child in inner.items():
                key_text = str(key)
                if class_name == "Lambda" and key_text in ("function", "output_shape"):
                    continue
                child_hint = _slot_kind(key_text, compile_section=False)
                if in_optimizer and key_text == "learning_rate":
                    child_hint = "learning-rate schedule"
                child_path = _join(f"{path}.config", key_text)
                # .h5 metric wrappers name their function: MeanMetricWrapper(name, fn="...").
                wrapped = class_name == "MeanMetricWrapper" and key_text == "fn"
                if wrapped and isinstance(child, str):
                    self.found.append(_string_reference(child, child_path, "metric"))
                    continue
                self.visit(child, child_path, child_hint, compile_section=False, depth=depth + 1)
        elif isinstance(inner, list):
            self.visit(inner, f"{path}.config", None, compile_section=False, depth=depth + 1)
        compile_config = entry.get("compile_config")
        if isinstance(compile_config, dict):
            self.visit_children(
                compile_config,
                f"{path}.compile_config",
                None,
                compile_section=True,
                depth=depth + 1,
            )
        if "inbound_nodes" in entry:
            nodes_path = f"{path}.inbound_nodes"
            self.visit(
                entry["inbound_nodes"], nodes_path, None, compile_section=False, depth=depth + 1
            )

    def _visit_lambda_function(self, inner: dict[str, Any], path: str, depth: int) -> None:
        for key in ("function", "output_shape"):
            value = inner.get(key)
            child_path = _join(path, key)
            if (
                isinstance(value, list)
                and value
                and isinstance(value[0], str)
                and key == "function"
            ):
                # tf-keras .h5 form: [base64 marshal bytecode, defaults, closure]
                if inner.get("function_type", "lambda") == "lambda":
                    self.found.append(_lambda_reference(child_path))
                continue
            if (
                isinstance(value, str)
                and key == "function"
                and inner.get("function_type") == "function"
            ):
                self.found.append(_string_reference(value, child_path, "function"))
                continue
            self.visit(value, child_path, "function", compile_section=False, depth=depth + 1)


def _is_object(value: dict[str, Any]) -> bool:
    return isinstance(value.get("class_name"), str) and "config" in value


def _slot_kind(key: str, compile_section: bool) -> Kind | None:
    if key == "activation" or key.endswith("_activation"):
        return "activation"
    if key.endswith("initializer"):
        return "initializer"
    if key.endswith("regularizer"):
        return "regularizer"
    if key.endswith("constraint"):
        return "constraint"
    if key in _LAYER_KEYS:
        return "layer"
    if compile_section and key in _COMPILE_KINDS:
        return _COMPILE_KINDS[key]
    if key in ("optimizer", "inner_optimizer"):
        return "optimizer"
    return None


def _object_reference(entry: dict[str, Any], path: str, hint: Kind | None) -> Reference:
    class_name: str = entry["class_name"]
    if "module" not in entry:
        return _legacy_reference(entry, path, hint)
    module = entry["module"] if isinstance(entry["module"], str) else None
    raw_registered = entry.get("registered_name", class_name)
    registered = raw_registered if isinstance(raw_registered, str) else None
    if class_name == "function":
        name = entry["config"] if isinstance(entry["config"], str) else ""
        kind = hint if hint in _STRING_KINDS or hint == "function" else "function"
        bare = name.split(">", 1)[-1]
        return Reference(
            path,
            kind,
            module,
            bare,
            name if ">" in name else None,
            name,
            not _builtins.is_builtin_function(module, name),
        )
    kind = _class_kind(entry, module, hint)
    custom = not _builtins.is_builtin_class(module, class_name, registered)
    return Reference(path, kind, module, class_name, registered, registered or class_name, custom)


def _legacy_reference(entry: dict[str, Any], path: str, hint: Kind | None) -> Reference:
    full_name: str = entry["class_name"]
    bare = full_name.split(">", 1)[-1]
    kind = _class_kind(entry, None, hint)
    custom = ">" in full_name or not _builtins.is_builtin_legacy_class(kind, full_name)
    shadows = not custom and kind == "layer" and _shadows_builtin_layer(full_name, entry["config"])
    registered = full_name if ">" in full_name else None
    return Reference(
        path,
        kind,
        None,
        bare,
        registered,
        full_name,
        custom or shadows,
        legacy=True,
        shadows_builtin=shadows,
    )


def _shadows_builtin_layer(class_name: str, inner: Any) -> bool:
    accepted = _builtins.h5_layer_accepts(class_name)
    if accepted is None or not isinstance(inner, dict):
        return False
    return any(str(key) not in accepted for key in inner)


def _public_module(module: str | None) -> str:
    """A module under Keras's private ``src`` package, named by its public path.

    Example:
        >>> _public_module("keras" + ".src.layers.core.dense")
        'keras.layers.core.dense'
    """
    parts = (module or "").split(".")
    if parts[:2] == ["keras", "src"]:
        parts.pop(1)
    return ".".join(parts)


def _class_kind(entry: dict[str, Any], raw_module: str | None, hint: Kind | None) -> Kind:
    class_name = entry["class_name"].split(">", 1)[-1]
    inner = entry.get("config")
    module = _public_module(raw_module)
    if hint in ("layer", "model", None) and (
        class_name in _MODEL_CLASSES
        or module == "keras.models"
        or module.startswith("keras.models.")
        or (isinstance(inner, dict) and "layers" in inner and "input_layers" in inner)
    ):
        return "model"
    if hint is not None and hint != "function":
        return hint
    for prefix, kind in _MODULE_KINDS:
        if module == prefix or module.startswith(prefix + "."):
            return kind
    if isinstance(inner, dict):
        if "trainable" in inner and "dtype" in inner:
            return "layer"
        if "reduction" in inner:
            return "loss"
    return "other"


def _string_reference(name: str, path: str, kind: Kind) -> Reference:
    bare = name.split(">", 1)[-1]
    custom = ">" in name or not _builtins.is_builtin_string(kind, name)
    return Reference(
        path, kind, None, bare, name if ">" in name else None, name, custom, legacy=True
    )


def _lambda_reference(path: str) -> Reference:
    return Reference(path, "lambda", None, "<lambda>", None, "__lambda__", True, is_lambda=True)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
