"""What a model config makes Keras allocate: the variable sizes its built-in layers imply.

Keras builds every layer, and creates and initialises its variables, before it reads a single
weight; a ``Dense(60000)`` on a 60,000-wide input is 14 GB of float32 whatever the weights file
holds. This module estimates, from the config alone, the variables of the common built-in layers
(dense, embedding, convolutions and their transposes, recurrent layers, attention,
normalizations), propagating input widths through ``Sequential`` chains and ``Functional``
graphs from the input shapes the config declares; a layer's ``build_config`` input shape, which
Keras builds the layer with before connecting it, takes precedence. An unknown width counts as
1, so the estimate of a layer is a lower bound unless :attr:`LayerEstimate.exact`.
"""

from __future__ import annotations

import re

from kerascope._common.record import TYPE_CHECKING, Record

from .layer_variables import layer_variables, parse_shape, shape_without_variables

if TYPE_CHECKING:
    from typing import Any

    from .layer_variables import Shape

__all__ = ["LayerEstimate", "estimate_variables"]

_MAX_LAYERS = 20_000
_MAX_NESTING = 20
_MODELS = frozenset({"Sequential", "Functional", "Model"})


class LayerEstimate(Record):
    """The variables one layer of the config makes Keras create.

    Attributes:
        json_path: The layer's entry, e.g. ``$.config.layers[1]``.
        name: The layer's ``name``.
        class_name: Its class, e.g. ``Dense``.
        elements: Elements of all its variables together.
        largest: Elements of its largest variable.
        item_bytes: Bytes per element (4, or 8 for float64 layers).
        keras_path: Where a ``.keras`` weights file stores its variables (``layers/dense_1``),
            for the layers of the outermost model; ``None`` inside nested models.
        h5_path: Where a legacy ``.h5`` file stores them (``model_weights/<name>``).
        exact: False when an input width was unknown and counted as 1.
    """

    json_path: str
    name: str
    class_name: str
    elements: int
    largest: int
    item_bytes: int
    keras_path: str | None
    h5_path: str | None
    exact: bool

    @property
    def bytes(self) -> int:
        """The bytes of all its variables."""
        return self.elements * self.item_bytes


def estimate_variables(config: dict[str, Any]) -> list[LayerEstimate]:
    """The variable estimates of every built-in layer of a model config, outermost model first.

    Layers whose variables are not estimated (custom classes, layers without variables) are
    left out.

    Example:
        >>> dense = {"class_name": "Dense", "config": {"name": "d", "units": 1000}}
        >>> source = {"class_name": "InputLayer", "config": {"batch_shape": [None, 500]}}
        >>> config = {"class_name": "Sequential", "config": {"layers": [source, dense]}}
        >>> [(e.name, e.elements, e.keras_path) for e in estimate_variables(config)]
        [('d', 501000, 'layers/dense')]
    """
    found: list[LayerEstimate] = []
    _Estimator(found).model(config, "$", None, outermost=True, depth=0)
    return found


class _Estimator:
    def __init__(self, found: list[LayerEstimate]) -> None:
        self.found = found
        self.seen = 0

    def model(
        self, entry: dict[str, Any], path: str, shape: Shape, *, outermost: bool, depth: int
    ) -> Shape:
        inner = entry.get("config")
        if depth > _MAX_NESTING or not isinstance(inner, dict):
            return None
        layers = inner.get("layers")
        if not isinstance(layers, list):
            return None
        used: dict[str, int] = {}
        outputs: dict[str, Shape] = {}
        sequential = entry.get("class_name") == "Sequential"
        current = shape
        for index, layer in enumerate(layers):
            self.seen += 1
            if self.seen > _MAX_LAYERS or not isinstance(layer, dict):
                return None
            class_name = layer.get("class_name")
            layer_config = layer.get("config")
            if not isinstance(class_name, str) or not isinstance(layer_config, dict):
                continue
            name = str(layer_config.get("name", class_name))
            keras_path = None
            if outermost:
                keras_path = f"layers/{_unique(_snake_case(class_name.split('>')[-1]), used)}"
            layer_path = f"{path}.config.layers[{index}]"
            source = current if sequential else self._inbound(layer, outputs)
            declared = _declared_shape(layer_config)
            if declared is not None and (source is None or class_name == "InputLayer"):
                source = declared
            built = _build_shape(layer)
            if built is not None:  # Keras builds the layer from it first, whatever comes in
                source = built
            if class_name in _MODELS or (
                "layers" in layer_config and isinstance(layer_config.get("layers"), list)
            ):
                out = self.model(layer, layer_path, source, outermost=False, depth=depth + 1)
            else:
                out = self.layer(layer, layer_path, name, source, keras_path=keras_path)
            outputs[name] = out
            current = out
        return current

    def _inbound(self, layer: dict[str, Any], outputs: dict[str, Shape]) -> Shape:
        """The shape of a Functional layer's first input, from its source layer or as recorded."""
        nodes = layer.get("inbound_nodes")
        if not isinstance(nodes, list) or not nodes:
            return None
        node = nodes[0]
        if isinstance(node, dict):  # Keras 3: {"args": [keras tensor, ...], "kwargs": {...}}
            tensor = _first_tensor(node.get("args"), 0)
            if tensor is None:
                return None
            history = tensor.get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                known = outputs.get(history[0])
                if known is not None:
                    return known
            return parse_shape(tensor.get("shape"), drop_batch=True)
        if isinstance(node, list) and node and isinstance(node[0], list) and node[0]:
            return outputs.get(str(node[0][0]))  # tf.keras: [[name, node, tensor, kwargs], ...]
        return None

    def layer(
        self,
        entry: dict[str, Any],
        path: str,
        name: str,
        shape: Shape,
        *,
        keras_path: str | None,
    ) -> Shape:
        class_name = str(entry["class_name"]).split(">")[-1]
        config: dict[str, Any] = entry["config"]
        estimate = layer_variables(class_name, config, shape)
        if estimate is None:
            return shape_without_variables(class_name, config, shape)
        elements, largest, exact, out = estimate
        if elements > 0:
            item_bytes = 8 if "float64" in str(config.get("dtype")) else 4
            h5_path = f"model_weights/{name}" if keras_path is not None else None
            self.found.append(
                LayerEstimate(
                    path, name, class_name, elements, largest, item_bytes, keras_path, h5_path,
                    exact,
                )
            )  # fmt: skip
        return out


def _declared_shape(config: dict[str, Any]) -> Shape:
    for key in ("batch_shape", "batch_input_shape"):
        if key in config:
            return parse_shape(config[key], drop_batch=True)
    return None


def _build_shape(entry: dict[str, Any]) -> Shape:
    """The input shape of the entry's ``build_config``, which Keras builds the layer with."""
    build = entry.get("build_config")
    if not isinstance(build, dict):
        return None
    shape = build.get("input_shape")
    if isinstance(shape, list) and shape and isinstance(shape[0], list):
        shape = shape[0]  # several inputs: the first is the one the variables depend on
    return parse_shape(shape, drop_batch=True)


def _first_tensor(value: Any, depth: int) -> dict[str, Any] | None:
    if depth > 8:
        return None
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__" and isinstance(value.get("config"), dict):
            tensor: dict[str, Any] = value["config"]
            return tensor
        return None
    if isinstance(value, list):
        for item in value:
            found = _first_tensor(item, depth + 1)
            if found is not None:
                return found
    return None


def _snake_case(name: str) -> str:
    """Keras's name for a layer's entry in the weights file (``to_snake_case`` of its class)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
