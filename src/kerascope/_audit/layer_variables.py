"""The variables one built-in Keras layer creates, and its output shape, from its config.

The arithmetic of Keras 3.15's common layers (dense, embedding, convolutions and their
transposes, recurrent layers and their bidirectional wrapper, multi-head attention,
normalizations), checked against ``layer.count_params()`` by ``tests/test_allocation.py``. Used
by :mod:`.allocation`, which walks the model.
"""

from __future__ import annotations

import math
import re

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    Shape = list[int | None] | None

__all__ = ["layer_variables", "parse_shape", "shape_without_variables"]

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
_CONV = re.compile(r"^(Conv|Depthwise|Separable)(?:Conv)?([123])D(Transpose)?$")


def layer_variables(
    class_name: str, config: dict[str, Any], shape: Shape
) -> tuple[int, int, bool, Shape] | None:
    """(elements, largest variable, exact, output shape) of a layer, or None if not estimated.

    ``shape`` is the input shape without the batch axis; an unknown width counts as 1 and makes
    the estimate inexact.

    Example:
        >>> layer_variables("Dense", {"units": 3}, [4])
        (15, 12, True, [3])
    """
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
        estimate = layer_variables(str(inner.get("class_name")), inner["config"], shape)
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


def shape_without_variables(class_name: str, config: dict[str, Any], shape: Shape) -> Shape:
    """The output shape of a layer without variables (or not estimated), when known.

    Example:
        >>> shape_without_variables("Flatten", {}, [2, 3])
        [6]
    """
    if class_name in _KEEPS_SHAPE:
        return shape
    return _reshaped(class_name, config, shape)


def _reshaped(class_name: str, config: dict[str, Any], shape: Shape) -> Shape:
    if class_name == "Flatten" and shape:
        size = math.prod(d for d in shape if d is not None)
        return [size] if all(d is not None for d in shape) else [None]
    if class_name == "Reshape":
        return parse_shape(config.get("target_shape"), drop_batch=False)
    if class_name.startswith("Global") and shape:
        first = config.get("data_format") == "channels_first"
        return [shape[0] if first else shape[-1]]
    if "Pooling" in class_name and shape:
        first = config.get("data_format") == "channels_first"
        unknown: list[int | None] = [None] * (len(shape) - 1)
        return [shape[0], *unknown] if first else [*unknown, shape[-1]]
    return None


def parse_shape(value: Any, *, drop_batch: bool) -> Shape:
    """A shape from a config (a list of sizes and nulls), without its batch axis if asked.

    Example:
        >>> parse_shape([None, 4, None], drop_batch=True)
        [4, None]
    """
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
