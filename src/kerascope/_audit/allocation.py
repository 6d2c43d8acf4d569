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

import math
import re

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

    Shape = list[int | None] | None

__all__ = ["LayerEstimate", "estimate_variables"]

_MAX_LAYERS = 20_000
_MAX_NESTING = 20
_MODELS = frozenset({"Sequential", "Functional", "Model"})
_KEEPS_SHAPE = frozenset(
    {
        "Activation",
        "ActivityRegularization",
        "AlphaDropout",
        "BatchNormalization",
        "Dropout",
        "ELU",
        "GaussianDropout",
        "GaussianNoise",
        "GroupNormalization",
        "Identity",
        "InputLayer",
        "LayerNormalization",
        "LeakyReLU",
        "Masking",
        "Normalization",
        "PReLU",
        "ReLU",
        "Rescaling",
        "Softmax",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "UnitNormalization",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
    }
)
_CONV = re.compile(r"^(Conv|Depthwise|Separable)(?:Conv)?([123])D(Transpose)?$")


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
            return _shape(tensor.get("shape"), drop_batch=True)
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
        estimate = _variables(class_name, config, shape)
        if estimate is None:
            return shape if class_name in _KEEPS_SHAPE else _reshaped(class_name, config, shape)
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


def _variables(
    class_name: str, config: dict[str, Any], shape: Shape
) -> tuple[int, int, bool, Shape] | None:
    """(elements, largest variable, exact, output shape) of a layer, or None if not estimated."""
    width = _last(shape)
    exact = width is not None
    known = width or 1
    bias = 1 if config.get("use_bias", True) else 0
    if class_name == "Dense":
        units = _positive(config.get("units"))
        out = [*shape[:-1], units] if shape else None
        return known * units + bias * units, known * units, exact, out
    if class_name == "Embedding":
        vocabulary, size = _positive(config.get("input_dim")), _positive(config.get("output_dim"))
        out = [*shape, size] if shape is not None else None
        return vocabulary * size, vocabulary * size, True, out
    if class_name in ("LSTM", "GRU", "SimpleRNN"):
        units = _positive(config.get("units"))
        gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[class_name]
        doubled = class_name == "GRU" and config.get("reset_after", True)
        biases = gates * units * (2 if doubled else 1)
        elements = gates * units * (known + units) + bias * biases
        if config.get("return_sequences"):
            out = [*shape[:-1], units] if shape else None
        else:
            out = [units]
        return elements, gates * units * max(known, units), exact, out
    if class_name == "Bidirectional":
        inner = config.get("layer")
        if not isinstance(inner, dict) or not isinstance(inner.get("config"), dict):
            return None
        estimate = _variables(str(inner.get("class_name")), inner["config"], shape)
        if estimate is None:
            return None
        elements, largest, exact, out = estimate
        if out and config.get("merge_mode", "concat") == "concat" and out[-1] is not None:
            out = [*out[:-1], 2 * out[-1]]
        return 2 * elements, largest, exact, out
    if class_name == "MultiHeadAttention":
        heads, key = _positive(config.get("num_heads")), _positive(config.get("key_dim"))
        value = _positive(config.get("value_dim") or key)
        output = config.get("output_shape")
        out_width = _positive(output) if isinstance(output, int) else known
        projections = known * heads * key * 2 + known * heads * value
        biases = 2 * heads * key + heads * value
        elements = projections + heads * value * out_width + bias * biases
        return elements + bias * out_width, known * heads * max(key, value), exact, shape
    if class_name in ("BatchNormalization", "LayerNormalization", "GroupNormalization"):
        count = 4 if class_name == "BatchNormalization" else 2
        return count * known, known, exact, shape
    match = _CONV.match(class_name)
    if match is not None:
        kind, rank, transpose = match.group(1), int(match.group(2)), bool(match.group(3))
        return _convolution(kind, rank, transpose, config, shape)
    return None


def _convolution(
    kind: str, rank: int, transpose: bool, config: dict[str, Any], shape: Shape
) -> tuple[int, int, bool, Shape]:
    first = config.get("data_format") == "channels_first"
    channels = (shape[0] if first else shape[-1]) if shape else None
    exact = isinstance(channels, int)
    known = channels if isinstance(channels, int) and channels > 0 else 1
    window = _kernel(config.get("kernel_size"), rank)
    bias = 1 if config.get("use_bias", True) else 0
    filters = _positive(config.get("filters"))
    if kind == "Depthwise":
        multiplier = _positive(config.get("depth_multiplier", 1))
        elements = window * known * multiplier + bias * known * multiplier
        largest, out_channels = window * known * multiplier, known * multiplier
    elif kind == "Separable":
        multiplier = _positive(config.get("depth_multiplier", 1))
        pointwise = known * multiplier * filters
        elements = window * known * multiplier + pointwise + bias * filters
        largest, out_channels = max(window * known * multiplier, pointwise), filters
    else:
        groups = _positive(config.get("groups", 1))
        kernel = window * max(known // groups, 1) * filters
        elements, largest, out_channels = kernel + bias * filters, kernel, filters
    out: Shape = None
    if shape:
        sizes = shape[1:] if first else shape[:-1]
        kernel_sizes = _per_axis(config.get("kernel_size"), len(sizes))
        strides = _per_axis(config.get("strides", 1), len(sizes))
        dilations = _per_axis(config.get("dilation_rate", 1), len(sizes))
        same = config.get("padding") == "same"
        spatial = [
            _output_length(size, window_size, stride, dilation, same=same, transpose=transpose)
            for size, window_size, stride, dilation in zip(
                sizes, kernel_sizes, strides, dilations, strict=True
            )
        ]
        out = [out_channels, *spatial] if first else [*spatial, out_channels]
    return elements, largest, exact, out


def _reshaped(class_name: str, config: dict[str, Any], shape: Shape) -> Shape:
    if class_name == "Flatten" and shape:
        size = math.prod(d for d in shape if d is not None)
        return [size] if all(d is not None for d in shape) else [None]
    if class_name == "Reshape":
        return _shape(config.get("target_shape"), drop_batch=False)
    if class_name.startswith("Global") and shape:
        first = config.get("data_format") == "channels_first"
        return [shape[0] if first else shape[-1]]
    if "Pooling" in class_name and shape:
        first = config.get("data_format") == "channels_first"
        unknown: list[int | None] = [None] * (len(shape) - 1)
        return [shape[0], *unknown] if first else [*unknown, shape[-1]]
    return None


def _declared_shape(config: dict[str, Any]) -> Shape:
    for key in ("batch_shape", "batch_input_shape"):
        if key in config:
            return _shape(config[key], drop_batch=True)
    return None


def _build_shape(entry: dict[str, Any]) -> Shape:
    """The input shape of the entry's ``build_config``, which Keras builds the layer with."""
    build = entry.get("build_config")
    if not isinstance(build, dict):
        return None
    shape = build.get("input_shape")
    if isinstance(shape, list) and shape and isinstance(shape[0], list):
        shape = shape[0]  # several inputs: the first is the one the variables depend on
    return _shape(shape, drop_batch=True)


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


def _shape(value: Any, *, drop_batch: bool) -> Shape:
    if not isinstance(value, list) or len(value) > 16:
        return None
    dims = value[1:] if drop_batch else value
    return [d if isinstance(d, int) and not isinstance(d, bool) and d > 0 else None for d in dims]


def _last(shape: Shape) -> int | None:
    return shape[-1] if shape else None


def _positive(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) and v > 0 for v in value):
        return math.prod(value)
    return 1


def _kernel(value: Any, rank: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        size: int = value
        for _ in range(rank - 1):
            size *= value
        return size
    return _positive(value)


def _per_axis(value: Any, rank: int) -> list[int | None]:
    """A convolution argument (an int, or one per spatial axis) as one value per axis."""
    values = value if isinstance(value, list) and len(value) == rank else [value] * rank
    return [v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None for v in values]


def _output_length(
    size: int | None,
    window: int | None,
    stride: int | None,
    dilation: int | None,
    *,
    same: bool,
    transpose: bool,
) -> int | None:
    """The length of one spatial axis after a convolution (Keras's arithmetic; no output
    padding)."""
    if size is None or window is None or stride is None or dilation is None:
        return None
    span = dilation * (window - 1) + 1
    if transpose:
        return size * stride if same else size * stride + max(span - stride, 0)
    if same:
        return -(-size // stride)
    length = (size - span) // stride + 1
    return length if length > 0 else None


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
