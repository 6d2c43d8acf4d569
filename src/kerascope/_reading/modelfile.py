"""Open a model file as data: detect its format from its content and read its configs.

Four forms are read: the ``.keras`` zip, the unzipped ``.keras`` directory, legacy
``.h5``/``.hdf5``, and a tf-keras SavedModel directory (its ``keras_metadata.pb``). Everything
else gets a :class:`~kerascope.errors.ModelFileError` whose message
says what the path is and what to do. Nothing here imports Keras or user code.
"""

from __future__ import annotations

import json
import os

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any, Literal

from kerascope.errors import ModelFileError

from .archive import ZipError, ZipMember, read_member, read_members
from .directory import NotARegularFileError, read_regular_file, regular_file_size

__all__ = ["MAX_CONFIG_BYTES", "ModelFile", "WeightsInfo", "read_model_file"]

if TYPE_CHECKING:
    Format = Literal["keras", "keras-dir", "h5", "savedmodel"]
MAX_CONFIG_BYTES = 64 * 1024 * 1024
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_WEIGHTS_MEMBERS = ("model.weights.h5", "model.weights.npz", "model.weights.json")


class WeightsInfo(Record):
    """Where the weights are stored and how many bytes they take (never read)."""

    name: str
    size: int


class ModelFile(Record):
    """The configs of a model file, read without running anything.

    Attributes:
        path: The path as given.
        format: ``"keras"`` (zip), ``"keras-dir"`` (unzipped archive), ``"h5"`` or
            ``"savedmodel"`` (a tf-keras SavedModel directory).
        config: The model config (``config.json``, the ``model_config`` attribute of .h5, or
            the root node's ``model_config`` in a SavedModel's ``keras_metadata.pb``).
        training_config: The ``training_config`` of an .h5 file or SavedModel, if compiled.
        keras_version: The Keras version that saved the file, when recorded.
        date_saved: The save date from ``metadata.json`` (.keras only).
        backend: The backend recorded in an .h5 file.
        weights: The weights member and its size.
        members: Names of the archive members (or directory entries).
        notes: Facts about the file worth telling the user (extension mismatch and the like).
        manifest: The raw kerascope manifest, when the file has one (see _manifest.py).
    """

    path: str
    format: Format
    config: dict[str, Any]
    training_config: dict[str, Any] | None = None
    keras_version: str | None = None
    date_saved: str | None = None
    backend: str | None = None
    weights: WeightsInfo | None = None
    members: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    manifest: object = None


def read_model_file(path: str | os.PathLike[str]) -> ModelFile:
    """Read a ``.keras`` zip, an unzipped ``.keras`` directory or a legacy ``.h5`` file.

    Example:
        >>> model_file = read_model_file("examples/seed_1_custom_layer/my_model.keras")
        ... # doctest: +SKIP
        >>> model_file.format, model_file.keras_version  # doctest: +SKIP
        ('keras', '3.15.1')
    """
    text_path = os.fspath(path)
    if os.path.isdir(text_path):
        return _read_directory(text_path)
    try:
        with open(text_path, "rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise ModelFileError(text_path, "no such file or directory") from None
    except OSError as error:
        raise ModelFileError(text_path, f"cannot be read ({error.strerror})") from None
    if not head:
        raise ModelFileError(
            text_path,
            "is empty (0 bytes); a Keras save that failed half-way leaves such a file. "
            "Save the model again.",
        )
    if head[:4] in _ZIP_MAGIC:
        return _read_zip(text_path)
    if head == _HDF5_MAGIC or _has_hdf5_userblock(text_path):
        return _read_h5(text_path)
    if head[:4] == b"PK\x07\x08" or head[:2] == b"PK":
        raise ModelFileError(text_path, "is a damaged zip archive; save the model again")
    raise ModelFileError(
        text_path,
        "is not a Keras model: neither a .keras zip archive nor an HDF5 (.h5) file",
    )


def _has_hdf5_userblock(path: str) -> bool:
    with open(path, "rb") as handle:
        for offset in (512, 1024, 2048):
            handle.seek(offset)
            if handle.read(8) == _HDF5_MAGIC:
                return True
    return False


def _read_zip(path: str) -> ModelFile:
    try:
        with open(path, "rb") as handle:
            members = read_members(handle)
            config_member = members.get("config.json")
            if config_member is None:
                raise ModelFileError(path, _zip_without_config(members))
            config = _parse_json(path, "config.json", _read(handle, path, config_member))
            metadata_member = members.get("metadata.json")
            metadata = (
                _parse_json(path, "metadata.json", _read(handle, path, metadata_member))
                if metadata_member is not None
                else {}
            )
    except ZipError as error:
        raise ModelFileError(path, f"is a damaged .keras archive: {error}") from None
    weights = next(
        (WeightsInfo(name, members[name].size) for name in _WEIGHTS_MEMBERS if name in members),
        None,
    )
    notes = []
    if not path.endswith(".keras"):
        notes.append(
            "the content is a .keras archive but the name does not end in '.keras'; "
            "keras.saving.load_model dispatches on the extension, so rename the file"
        )
    return ModelFile(
        path=path,
        format="keras",
        config=_require_model_config(path, config, "config.json"),
        keras_version=_optional_text(metadata.get("keras_version")),
        manifest=metadata.get("kerascope_manifest"),
        date_saved=_optional_text(metadata.get("date_saved")),
        weights=weights,
        members=tuple(members),
        notes=tuple(notes),
    )


def _read(handle: Any, path: str, member: ZipMember) -> bytes:
    return read_member(handle, member, MAX_CONFIG_BYTES)


def _zip_without_config(members: dict[str, ZipMember]) -> str:
    if not members:
        return "is an empty zip archive, not a Keras model; save the model again"
    if any(name in members for name in _WEIGHTS_MEMBERS):
        return (
            "is a zip archive with weights but no config.json, so the architecture is "
            "unknown; rebuild the model in code and load the weights with model.load_weights"
        )
    if any(name.endswith("saved_model.pb") for name in members):
        return (
            "is a zipped TensorFlow SavedModel, not a .keras file; Keras 3 can only wrap it "
            "with keras.layers.TFSMLayer for inference"
        )
    return "is a zip archive without config.json, not a .keras model file"


def _read_directory(path: str) -> ModelFile:
    entries = tuple(sorted(os.listdir(path)))
    if "config.json" not in entries:
        if "saved_model.pb" in entries or "saved_model.pbtxt" in entries:
            return _read_savedmodel(path, entries)
        raise ModelFileError(
            path, "is a directory without config.json, not an unzipped .keras model"
        )
    config = _parse_json(path, "config.json", _read_file(path, "config.json"))
    metadata: dict[str, Any] = {}
    if "metadata.json" in entries:
        metadata = _parse_json(path, "metadata.json", _read_file(path, "metadata.json"))
    weights = next(
        (
            WeightsInfo(name, regular_file_size(path, name) or 0)
            for name in _WEIGHTS_MEMBERS
            if name in entries
        ),
        None,
    )
    return ModelFile(
        path=path,
        format="keras-dir",
        config=_require_model_config(path, config, "config.json"),
        keras_version=_optional_text(metadata.get("keras_version")),
        manifest=metadata.get("kerascope_manifest"),
        date_saved=_optional_text(metadata.get("date_saved")),
        weights=weights,
        members=entries,
    )


def _read_savedmodel(path: str, entries: tuple[str, ...]) -> ModelFile:
    from .savedmodel import read_keras_metadata, root_metadata

    meta = root_metadata(path, read_keras_metadata(path))
    training = meta.get("training_config")
    return ModelFile(
        path=path,
        format="savedmodel",
        config=_require_model_config(path, meta["model_config"], "keras_metadata.pb"),
        training_config=training if isinstance(training, dict) else None,
        keras_version=_optional_text(meta.get("keras_version")),
        backend=_optional_text(meta.get("backend")),
        weights=_savedmodel_weights(path),
        members=entries,
    )


def _savedmodel_weights(path: str) -> WeightsInfo | None:
    """The checkpoint's data shards (their sizes only; nothing is read)."""
    folder = os.path.join(path, "variables")
    try:
        shards = sorted(name for name in os.listdir(folder) if ".data-" in name)
        size = sum(os.path.getsize(os.path.join(folder, name)) for name in shards)
    except OSError:
        return None
    if not shards:
        return None
    name = shards[0] if len(shards) == 1 else f"{len(shards)} shards"
    return WeightsInfo(f"variables/{name}", size)


def _read_file(directory: str, name: str) -> bytes:
    try:
        return read_regular_file(directory, name, MAX_CONFIG_BYTES)
    except NotARegularFileError as error:
        raise ModelFileError(
            directory,
            f"has a member kerascope does not open: {error}; Keras would read whatever it "
            "points to. Every member of a model directory must be a regular file inside it",
        ) from None
    except OSError as error:
        raise ModelFileError(directory, f"{name} cannot be read ({error.strerror})") from None


def _read_h5(path: str) -> ModelFile:
    from .hdf5 import H5ReadError
    from .hdf5_child import read_h5_root_isolated

    try:
        contents = read_h5_root_isolated(path)
    except H5ReadError as error:
        raise ModelFileError(path, f"is a damaged or unreadable HDF5 file: {error}") from None
    attributes = contents.attributes
    if "model_config" not in attributes:
        raise ModelFileError(
            path, _h5_without_config(contents.attribute_names, contents.root_members)
        )
    config = _parse_json(path, "model_config", attributes["model_config"])
    training = None
    if "training_config" in attributes:
        training = _parse_json(path, "training_config", attributes["training_config"])
    notes = []
    if not path.endswith((".h5", ".hdf5")):
        notes.append(
            "the content is a legacy HDF5 model but the name does not end in '.h5'; "
            "keras.saving.load_model dispatches on the extension, so rename the file"
        )
    return ModelFile(
        path=path,
        format="h5",
        config=_require_model_config(path, config, "model_config"),
        training_config=training,
        keras_version=attributes.get("keras_version"),
        backend=attributes.get("backend"),
        manifest=_h5_manifest(attributes.get("kerascope_manifest")),
        members=contents.root_members,
        notes=tuple(notes),
    )


def _h5_manifest(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text  # reported as an unreadable manifest by inspect


# The start of the problem of a weights-only .h5: ``scan`` audits such a file's weights instead
# of calling it unreadable.
WEIGHTS_ONLY_H5 = "is a weights-only HDF5 file"


def _h5_without_config(attribute_names: tuple[str, ...], members: tuple[str, ...]) -> str:
    if "layer_names" in attribute_names or {"layers", "vars"} & set(members):
        return (
            f"{WEIGHTS_ONLY_H5} (no model config); rebuild the model in code and "
            "call model.load_weights on it"
        )
    if "keras_version" in attribute_names:
        return (
            "is an HDF5 file from Keras without a model config; a save that failed half-way "
            "leaves such a file. Save the model again"
        )
    return "is an HDF5 file without a Keras model config"


def _parse_json(path: str, name: str, data: bytes | str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except UnicodeDecodeError:
        raise ModelFileError(path, f"{name} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ModelFileError(
            path,
            f"{name} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})",
        ) from None
    except RecursionError:
        raise ModelFileError(path, f"{name} is nested too deeply to be a model config") from None
    if not isinstance(value, dict):
        raise ModelFileError(path, f"{name} holds a JSON {type(value).__name__}, not an object")
    return value


def _require_model_config(path: str, config: dict[str, Any], name: str) -> dict[str, Any]:
    if not isinstance(config.get("class_name"), str) or not isinstance(config.get("config"), dict):
        raise ModelFileError(
            path, f"{name} is not a Keras model config (it needs 'class_name' and 'config')"
        )
    return config


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None
