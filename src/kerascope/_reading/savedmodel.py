"""A tf-keras SavedModel directory read as data: its Keras metadata and where its weights are.

``keras_metadata.pb`` is a ``SavedMetadata`` protobuf (tf-keras writes it beside
``saved_model.pb``): one ``SavedObject`` per Keras object, whose ``metadata`` is JSON; the root
node's holds ``model_config`` and ``training_config`` in the shapes of a legacy ``.h5`` file's
attributes. The weights are the checkpoint under ``variables/`` (:mod:`.checkpoint`); the
checkpoint's object graph says which variable belongs to which layer. docs/keras2-translation.md
(SavedModel) has the measured layout. No TensorFlow, no protobuf package, nothing runs.
"""

from __future__ import annotations

import json
import os

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import ModelFileError

from .checkpoint import Checkpoint, TrackableNode, open_checkpoint
from .protowire import WireError, field_map, fields

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "METADATA_FILE",
    "NO_KERAS_METADATA",
    "LayerVariables",
    "MetadataNode",
    "SavedModelWeights",
    "decode_tuples",
    "is_savedmodel_dir",
    "read_keras_metadata",
    "read_savedmodel_weights",
    "root_metadata",
]

METADATA_FILE = "keras_metadata.pb"
MAX_METADATA_BYTES = 64 * 1024 * 1024
NO_KERAS_METADATA = (
    "is a TensorFlow SavedModel but not a Keras SavedModel: no Keras config "
    f"({METADATA_FILE}); use keras.layers.TFSMLayer(dir, call_endpoint='serving_default') "
    "for inference"
)
_VARIABLE_VALUE = "VARIABLE_VALUE"
_MAX_LAYERS = 1_000_000


class MetadataNode(Record):
    """One ``SavedObject`` of ``keras_metadata.pb``.

    Attributes:
        node_id: The object's id in ``saved_model.pb``'s object graph (0 = the model).
        node_path: ``root``, ``root.layer-1``, ``root.layer_with_weights-0.cell``, ...
        identifier: ``_tf_keras_network``, ``_tf_keras_layer``, ``_tf_keras_metric``, ...
        metadata: The parsed metadata JSON.
    """

    node_id: int
    node_path: str
    identifier: str
    metadata: dict[str, Any]


class LayerVariables(Record):
    """The variables of one layer, in ``layer.weights`` order.

    Attributes:
        name: The layer's name (from its metadata node).
        variables: ``(full name, checkpoint key)`` per weight (``dense/kernel``, ...).
    """

    name: str
    variables: tuple[tuple[str, str], ...]


class SavedModelWeights(Record):
    """Which checkpoint variable is which weight.

    Attributes:
        checkpoint: The opened checkpoint (tensors are read on demand).
        layers: One entry per ``model.layers[i]`` of the tf-keras model, in order.
        root_variables: ``model.weights`` in order, for a subclassed model (no ``layer-i``).
    """

    checkpoint: Checkpoint
    layers: tuple[LayerVariables, ...]
    root_variables: tuple[tuple[str, str], ...]


def is_savedmodel_dir(path: str) -> bool:
    """True for a directory holding ``saved_model.pb`` (or ``.pbtxt``).

    Example:
        >>> is_savedmodel_dir("/")
        False
    """
    return os.path.isfile(os.path.join(path, "saved_model.pb")) or os.path.isfile(
        os.path.join(path, "saved_model.pbtxt")
    )


def read_keras_metadata(directory: str) -> tuple[MetadataNode, ...]:
    """Every node of ``DIR/keras_metadata.pb``.

    Raises:
        ModelFileError: No Keras metadata (the TFSMLayer message), too large, or malformed.

    Example:
        >>> nodes = read_keras_metadata("model_savedmodel")  # doctest: +SKIP
        >>> nodes[0].node_path, nodes[0].identifier  # doctest: +SKIP
        ('root', '_tf_keras_network')
    """
    path = os.path.join(directory, METADATA_FILE)
    if not os.path.isfile(path):
        raise ModelFileError(directory, NO_KERAS_METADATA)
    if not os.path.realpath(path).startswith(os.path.realpath(directory) + os.sep):
        raise ModelFileError(directory, f"{METADATA_FILE} lies outside the SavedModel directory")
    size = os.path.getsize(path)
    if size > MAX_METADATA_BYTES:
        raise ModelFileError(
            directory, f"{METADATA_FILE} is {size} bytes (the limit is {MAX_METADATA_BYTES})"
        )
    with open(path, "rb") as handle:
        data = handle.read(MAX_METADATA_BYTES + 1)
    nodes = []
    try:
        for number, value in fields(data):
            if number == 1 and isinstance(value, bytes):
                nodes.append(_node(value))
    except (WireError, UnicodeDecodeError) as error:
        raise ModelFileError(
            directory, f"{METADATA_FILE} is truncated or not Keras metadata ({error})"
        ) from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(
            directory, f"{METADATA_FILE} holds metadata that is not valid JSON ({error})"
        ) from None
    if not nodes:
        raise ModelFileError(directory, f"{METADATA_FILE} holds no Keras objects")
    return tuple(nodes)


def _node(message: bytes) -> MetadataNode:
    found = field_map(message)
    node_id = found.get(2, 0)
    path, identifier, metadata = (found.get(n, b"") for n in (3, 4, 5))
    if not isinstance(node_id, int):
        raise WireError("node_id is not a varint")
    if not all(isinstance(v, bytes) for v in (path, identifier, metadata)):
        raise WireError("a string field is not length-delimited")
    assert isinstance(path, bytes) and isinstance(identifier, bytes)
    assert isinstance(metadata, bytes)
    parsed = json.loads(metadata.decode("utf-8")) if metadata else {}
    if not isinstance(parsed, dict):
        raise WireError("a node's metadata is not a JSON object")
    return MetadataNode(node_id, path.decode("utf-8"), identifier.decode("utf-8"), parsed)


def root_metadata(directory: str, nodes: tuple[MetadataNode, ...]) -> dict[str, Any]:
    """The root node's metadata, tuples decoded, with ``model_config`` always present.

    Raises:
        ModelFileError: No root node, or no model config in it.

    Example:
        >>> node = MetadataNode(0, "root", "_tf_keras_network",
        ...                     {"class_name": "Sequential", "config": {"layers": []}})
        >>> root_metadata("dir", (node,))["model_config"]["class_name"]
        'Sequential'
    """
    root = next((node for node in nodes if node.node_path == "root"), None)
    if root is None:
        raise ModelFileError(directory, f"{METADATA_FILE} has no root (model) node")
    meta = decode_tuples(root.metadata)
    if not isinstance(meta.get("model_config"), dict):
        if not isinstance(meta.get("class_name"), str):
            raise ModelFileError(
                directory, f"{METADATA_FILE}: the root node holds no Keras model config"
            )
        meta["model_config"] = {"class_name": meta["class_name"], "config": meta.get("config")}
    return dict(meta)


def decode_tuples(value: Any, depth: int = 0) -> Any:
    """SavedModel metadata writes tuples and shapes as ``{"class_name": "__tuple__" |
    "TensorShape", "items": [...]}``; a legacy ``.h5`` config (what Keras 3 reads) has lists.

    Example:
        >>> decode_tuples({"shape": {"class_name": "__tuple__", "items": [None, 3]}})
        {'shape': [None, 3]}
    """
    if depth > 500:
        raise ModelFileError("keras_metadata.pb", "the metadata is nested too deeply")
    if isinstance(value, dict):
        if value.get("class_name") in ("__tuple__", "TensorShape") and "items" in value:
            items = value["items"]
            if isinstance(items, list):
                return [decode_tuples(item, depth + 1) for item in items]
        return {key: decode_tuples(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_tuples(item, depth + 1) for item in value]
    return value


def read_savedmodel_weights(directory: str) -> SavedModelWeights:
    """Map the checkpoint's variables to the tf-keras model's layers (nothing read yet).

    In the object graph, node 0 is the model; its child ``layer-i`` is ``model.layers[i]``;
    a layer's child ``variables`` has children ``0``, ``1``, ... (its weights in order), each
    with a ``VARIABLE_VALUE`` attribute naming the checkpoint key. A layer's name is that of the
    metadata node reached through any edge of the root to the layer (``root.layer-i`` or
    ``root.layer_with_weights-k``).

    Raises:
        ModelFileError: A malformed checkpoint, or a variable without a value.

    Example:
        >>> weights = read_savedmodel_weights("model_savedmodel")  # doctest: +SKIP
        >>> [layer.name for layer in weights.layers]  # doctest: +SKIP
        ['dense', 'scale_layer']
    """
    nodes = read_keras_metadata(directory)
    by_path = {node.node_path: node for node in nodes}
    checkpoint = open_checkpoint(directory)
    graph = checkpoint.object_graph()
    root = graph[0]
    layers = []
    for index in range(_MAX_LAYERS):
        node_id = root.child(f"layer-{index}")
        if node_id is None:
            break
        aliases = [local for local, child in root.children if child == node_id]
        name = next(
            (
                str(by_path[f"root.{alias}"].metadata.get("name"))
                for alias in aliases
                if f"root.{alias}" in by_path and by_path[f"root.{alias}"].metadata.get("name")
            ),
            f"layer-{index}",
        )
        layers.append(LayerVariables(name, _variables(directory, graph, node_id)))
    root_variables = () if layers else _variables(directory, graph, 0)
    return SavedModelWeights(checkpoint, tuple(layers), root_variables)


def _variables(
    directory: str, graph: tuple[TrackableNode, ...], node_id: int
) -> tuple[tuple[str, str], ...]:
    def node(at: int) -> TrackableNode:
        if not 0 <= at < len(graph):
            raise ModelFileError(directory, f"the checkpoint's object graph has no node {at}")
        return graph[at]

    holder = node(node_id).child("variables")
    out: list[tuple[str, str]] = []
    while holder is not None:
        variable = node(holder).child(str(len(out)))
        if variable is None:
            break
        value = next(
            (attr for attr in node(variable).attributes if attr[0] == _VARIABLE_VALUE), None
        )
        if value is None:
            raise ModelFileError(
                directory, f"checkpoint object {variable} is listed as a variable but has no value"
            )
        out.append((value[1], value[2]))
        if len(out) > len(graph):
            raise ModelFileError(directory, "the checkpoint's object graph has a cycle")
    return tuple(out)
