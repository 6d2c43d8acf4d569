"""The one module that imports h5py: reads the root attributes of a legacy HDF5 model file.

Only attributes and the names of root groups are read; no dataset is touched, so the cost does
not depend on the size of the weights.
"""

from __future__ import annotations

from ._record import Record

__all__ = ["MAX_ATTRIBUTE_BYTES", "H5Contents", "H5ReadError", "read_h5_root"]

MAX_ATTRIBUTE_BYTES = 64 * 1024 * 1024
_TEXT_ATTRIBUTES = ("model_config", "training_config", "keras_version", "backend")


class H5ReadError(Exception):
    """h5py could not open the file or read its root attributes."""


class H5Contents(Record):
    """The root of an HDF5 file: selected text attributes and the names of its members."""

    attributes: dict[str, str]
    attribute_names: tuple[str, ...]
    root_members: tuple[str, ...]


def read_h5_root(path: str) -> H5Contents:
    """Read the text attributes Keras stores at the root of an ``.h5`` model file."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            attrs = handle.attrs
            names = tuple(str(name) for name in attrs)
            texts = {name: _text(attrs, name) for name in _TEXT_ATTRIBUTES if name in attrs}
            members = tuple(str(name) for name in handle)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise H5ReadError(
            str(error).splitlines()[0] if str(error) else type(error).__name__
        ) from None
    return H5Contents(texts, names, members)


def _text(attrs: object, name: str) -> str:
    getter = attrs.get_id(name)  # type: ignore[attr-defined]
    if getter.get_storage_size() > MAX_ATTRIBUTE_BYTES:
        raise H5ReadError(f"attribute {name!r} is larger than {MAX_ATTRIBUTE_BYTES} bytes")
    value = attrs[name]  # type: ignore[index]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise H5ReadError(f"attribute {name!r} is not text")
