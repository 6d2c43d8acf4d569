"""A TensorFlow checkpoint (tensor bundle) read as data: its key map, and tensors on demand.

A SavedModel keeps its variables in ``variables/variables.index`` (a LevelDB-format table:
checkpoint key → dtype, shape, shard, offset, size) and ``variables.data-SSSSS-of-NNNNN`` shards
(raw little-endian bytes). The index is read whole (it is small, and bounded here); a tensor's
bytes are read only when asked for, after its offset, size, dtype and shape were checked against
the shard file, so a hostile checkpoint cannot make kerascope read outside the directory, read
past a file or allocate more than the file holds. No TensorFlow, no protobuf package.
"""

from __future__ import annotations

import os

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import ModelFileError

from .protowire import WireError, field_map, fields, read_varint
from .slice_keys import SLICE_KEY_PREFIX, decode_slice_key

if TYPE_CHECKING:
    from typing import Any

__all__ = ["MAX_INDEX_BYTES", "Checkpoint", "TensorEntry", "TrackableNode", "open_checkpoint"]

MAX_INDEX_BYTES = 64 * 1024 * 1024
_MAX_SHARDS = 100_000
_FOOTER_BYTES = 48
_MAGIC = bytes.fromhex("57fb808b247547db")  # 0xdb4775248b80fb57, little-endian
_BLOCK_TRAILER = 5  # compression type byte + crc32
_STRING = 7
_HEADER_KEY = ""
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"

# tensorflow/core/framework/types.proto DataType → numpy dtype string (bfloat16 left out).
_NUMPY_DTYPES = {
    1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?",
    17: "<u2", 19: "<f2", 22: "<u4", 23: "<u8",
}  # fmt: skip
_ITEM_SIZES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 9: 8, 10: 1, 17: 2, 19: 2, 22: 4, 23: 8}


class TensorEntry(Record):
    """Where one checkpoint tensor is stored (from the index; its bytes are not read).

    Attributes:
        key: The checkpoint key (``layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE``).
        dtype: The TensorFlow DataType number (1 = float32, 7 = string, ...).
        shape: The dimensions.
        shard: The data shard holding it.
        offset: Its first byte in the shard.
        size: Its length in bytes.
    """

    key: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int

    @property
    def numpy_dtype(self) -> str | None:
        """The numpy dtype string, or None for dtypes kerascope does not read.

        Example:
            >>> TensorEntry("k", 1, (2,), 0, 0, 8).numpy_dtype
            '<f4'
        """
        return _NUMPY_DTYPES.get(self.dtype)


Slice = tuple[tuple[tuple[int, int], ...], TensorEntry]  # ((start, length) per dim, its entry)


class TrackableNode(Record):
    """One node of the checkpoint's object graph.

    Attributes:
        children: ``(local name, node id)`` per edge (``("layer-0", 3)``).
        attributes: ``(name, full name, checkpoint key)`` per saved tensor of the node.
    """

    children: tuple[tuple[str, int], ...]
    attributes: tuple[tuple[str, str, str], ...]

    def child(self, name: str) -> int | None:
        """The node id of the child edge ``name``, or None.

        Example:
            >>> TrackableNode((("variables", 4),), ()).child("variables")
            4
        """
        return next((node for local, node in self.children if local == name), None)


class Checkpoint:
    """The index of a checkpoint; :meth:`read_bytes` / :meth:`read_array` read tensors on demand.

    Example:
        >>> checkpoint = open_checkpoint("model_savedmodel")  # doctest: +SKIP
        >>> checkpoint.read_array("layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE").shape
        ... # doctest: +SKIP
        (32,)
    """

    def __init__(
        self,
        root: str,
        prefix: str,
        num_shards: int,
        entries: dict[str, TensorEntry],
        slices: dict[str, list[Slice]] | None = None,
    ):
        self.root = root
        self.prefix = prefix
        self.num_shards = num_shards
        self.entries = entries
        self.slices = slices or {}

    def _fail(self, problem: str) -> ModelFileError:
        return ModelFileError(self.root, problem)

    def entry(self, key: str) -> TensorEntry:
        """The index entry of ``key``.

        Raises:
            ModelFileError: The checkpoint has no such key.
        """
        found = self.entries.get(key)
        if found is None:
            raise self._fail(f"the checkpoint has no variable '{key}'")
        return found

    def read_bytes(self, key: str) -> bytearray:
        """The raw bytes of one tensor, after checking its location against its shard file.

        Raises:
            ModelFileError: Missing shard, a shard outside the SavedModel directory, or an
                offset/size past the end of the shard.
        """
        return self._read_entry(self.entry(key))

    def _read_entry(self, entry: TensorEntry) -> bytearray:
        key = entry.key
        if not 0 <= entry.shard < self.num_shards:
            raise self._fail(f"variable '{key}' is in shard {entry.shard} of {self.num_shards}")
        path = f"{self.prefix}.data-{entry.shard:05d}-of-{self.num_shards:05d}"
        real_root = os.path.realpath(self.root)
        if not os.path.realpath(path).startswith(real_root + os.sep):
            raise self._fail(f"{os.path.basename(path)} lies outside the SavedModel directory")
        if os.path.exists(path) and not os.path.isfile(path):
            raise self._fail(f"{os.path.basename(path)} is not a regular file")
        try:
            with open(path, "rb") as handle:
                available = os.fstat(handle.fileno()).st_size
                if entry.offset + entry.size > available:
                    raise self._fail(
                        f"variable '{key}' claims bytes {entry.offset}..{entry.offset + entry.size}"
                        f" of {os.path.basename(path)}, which has {available}: truncated"
                    )
                handle.seek(entry.offset)
                data = bytearray(entry.size)  # backed by the file: offset + size <= its size
                read = handle.readinto(data)
        except FileNotFoundError:
            raise self._fail(f"the variables file {os.path.basename(path)} is missing") from None
        except OSError as error:
            raise self._fail(f"{os.path.basename(path)} cannot be read ({error})") from None
        if read != entry.size:
            raise self._fail(f"variable '{key}': short read from {os.path.basename(path)}")
        return data

    def read_array(self, key: str) -> Any:
        """One numeric tensor as a numpy array (numpy is imported here, not at import time).

        Raises:
            ModelFileError: An unsupported dtype, or a size that does not match the shape.
        """
        entry = self.entry(key)
        if key in self.slices:
            return self._assemble(entry, self.slices[key])
        return self._entry_array(entry)

    def _entry_array(self, entry: TensorEntry) -> Any:
        key, dtype = entry.key, entry.numpy_dtype
        if dtype is None:
            raise self._fail(f"variable '{key}' has TensorFlow dtype {entry.dtype}, not supported")
        count = _count(entry.shape)
        if count * _ITEM_SIZES[entry.dtype] != entry.size:
            raise self._fail(
                f"variable '{key}' of shape {list(entry.shape)} needs "
                f"{count * _ITEM_SIZES[entry.dtype]} bytes, the index says {entry.size}"
            )
        import numpy as np

        data = self._read_entry(entry)
        # A bytearray: the array is writable and shares its memory (no second copy).
        return np.frombuffer(data, dtype=dtype).reshape(entry.shape)

    def _assemble(self, whole: TensorEntry, pieces: list[Slice]) -> Any:
        """A variable saved in slices, put together from them (they must tile it exactly)."""
        import numpy as np

        key, dtype = whole.key, whole.numpy_dtype
        if dtype is None:
            raise self._fail(f"variable '{key}' has TensorFlow dtype {whole.dtype}, not supported")
        out = np.zeros(whole.shape, dtype=dtype)
        covered = 0
        for extents, piece in pieces:
            if len(extents) != len(whole.shape) or piece.dtype != whole.dtype:
                raise self._fail(f"a slice of variable '{key}' does not match its rank or dtype")
            index = []
            for (start, saved_length), dim in zip(extents, whole.shape, strict=True):
                length = dim if saved_length == -1 else saved_length
                if start < 0 or length < 0 or start + length > dim:
                    raise self._fail(f"a slice of variable '{key}' lies outside its shape")
                index.append(slice(start, start + length))
            lengths = tuple(item.stop - item.start for item in index)
            if piece.shape != lengths:
                raise self._fail(f"a slice of variable '{key}' has the wrong shape")
            out[tuple(index)] = self._entry_array(piece)
            covered += _count(lengths)
        if covered != _count(whole.shape):
            raise self._fail(f"the slices of variable '{key}' do not cover it exactly")
        return out

    def read_strings(self, key: str) -> list[bytes]:
        """A string tensor: its elements as bytes (varint lengths, a crc32c, then the bytes)."""
        entry = self.entry(key)
        if entry.dtype != _STRING:
            raise self._fail(f"variable '{key}' is not a string tensor")
        data = self.read_bytes(key)
        count = _count(entry.shape)
        if count > len(data):
            raise self._fail(f"string tensor '{key}' claims {count} elements in {len(data)} bytes")
        try:
            lengths, position = [], 0
            for _ in range(count):
                length, position = read_varint(data, position)
                lengths.append(length)
        except WireError as error:
            raise self._fail(f"string tensor '{key}': {error}") from None
        position += 4  # crc32c of the lengths
        if position + sum(lengths) > len(data):
            raise self._fail(f"string tensor '{key}' is truncated")
        out = []
        for length in lengths:
            out.append(bytes(data[position : position + length]))
            position += length
        return out

    def object_graph(self) -> tuple[TrackableNode, ...]:
        """The ``TrackableObjectGraph``: which object owns which variable (node 0 = the model).

        Raises:
            ModelFileError: No object graph, or a malformed one.
        """
        (blob,) = self.read_strings(OBJECT_GRAPH_KEY)[:1] or [b""]
        nodes = []
        try:
            for number, node in fields(blob):
                if number != 1 or not isinstance(node, bytes):
                    continue
                children, attributes = [], []
                for kind, value in fields(node):
                    if not isinstance(value, bytes):
                        continue
                    message = field_map(value)
                    if kind == 1:
                        node_id = message.get(1, 0)
                        children.append((_text(message.get(2)), int(node_id)))  # type: ignore[call-overload]
                    elif kind == 2:
                        names = (_text(message.get(1)), _text(message.get(2)))
                        attributes.append((*names, _text(message.get(3))))
                nodes.append(TrackableNode(tuple(children), tuple(attributes)))
        except (WireError, UnicodeDecodeError) as error:
            raise self._fail(f"the checkpoint's object graph is malformed: {error}") from None
        if not nodes:
            raise self._fail("the checkpoint has no object graph")
        return tuple(nodes)


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else ""


def open_checkpoint(savedmodel_dir: str) -> Checkpoint:
    """Read the index of ``DIR/variables/variables`` (bounded; the data shards stay unread).

    Raises:
        ModelFileError: The index is missing, too large, truncated, compressed or not a
            checkpoint index.

    Example:
        >>> checkpoint = open_checkpoint("model_savedmodel")  # doctest: +SKIP
        >>> sorted(checkpoint.entries)[:1]  # doctest: +SKIP
        ['_CHECKPOINTABLE_OBJECT_GRAPH']
    """
    prefix = os.path.join(savedmodel_dir, "variables", "variables")
    index_path = prefix + ".index"

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(savedmodel_dir, f"variables/variables.index {problem}")

    if os.path.exists(index_path) and not os.path.isfile(index_path):
        raise fail("is not a regular file")  # a FIFO or device would block the read
    try:
        size = os.path.getsize(index_path)
        if not os.path.realpath(index_path).startswith(os.path.realpath(savedmodel_dir) + os.sep):
            raise fail("lies outside the SavedModel directory")
        if size > MAX_INDEX_BYTES:
            raise fail(f"is {size} bytes (the limit is {MAX_INDEX_BYTES})")
        with open(index_path, "rb") as handle:
            buffer = handle.read(MAX_INDEX_BYTES + 1)
    except FileNotFoundError:
        raise fail("is missing: the SavedModel has no variables") from None
    except OSError as error:
        raise fail(f"cannot be read ({error.strerror})") from None
    try:
        entries = _read_table(buffer)
        header = field_map(entries.pop(_HEADER_KEY.encode(), b""))
        tensors: dict[str, TensorEntry] = {}
        slices: dict[str, list[Slice]] = {}
        for raw_key, value in entries.items():
            if raw_key.startswith(SLICE_KEY_PREFIX):
                name, extents = decode_slice_key(raw_key)
                piece = _tensor_entry(f"{name} (a slice)", value)
                slices.setdefault(name, []).append((extents, piece))
            else:
                key = raw_key.decode("utf-8")
                tensors[key] = _tensor_entry(key, value)
    except (WireError, UnicodeDecodeError) as error:
        raise fail(f"is truncated or not a checkpoint index ({error})") from None
    unlisted = sorted(set(slices) - set(tensors))
    if unlisted:
        raise fail(f"has slices of variables it does not list: {unlisted}")
    num_shards = header.get(1, 1)
    if not isinstance(num_shards, int) or not 1 <= num_shards <= _MAX_SHARDS:
        raise fail(f"names {num_shards} data shards")
    return Checkpoint(savedmodel_dir, prefix, num_shards, tensors, slices)


def _count(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _read_table(buffer: bytes) -> dict[bytes, bytes]:
    """Every key → value of a LevelDB-format table (one index block over data blocks)."""
    if len(buffer) < _FOOTER_BYTES or buffer[-8:] != _MAGIC:
        raise WireError("no table footer (bad magic)")
    footer = buffer[-_FOOTER_BYTES:]
    _, position = read_varint(footer, 0)  # metaindex handle: not needed
    _, position = read_varint(footer, position)
    index_offset, position = read_varint(footer, position)
    index_size, _ = read_varint(footer, position)
    limit = len(buffer) - _FOOTER_BYTES
    out: dict[bytes, bytes] = {}
    for _, handle in _block(buffer, index_offset, index_size, limit):
        block_offset, position = read_varint(handle, 0)
        block_size, _ = read_varint(handle, position)
        for key, value in _block(buffer, block_offset, block_size, limit):
            out[key] = value
    return out


def _block(buffer: bytes, offset: int, size: int, limit: int) -> list[tuple[bytes, bytes]]:
    """The entries of one block: prefix-compressed keys, then a restart array and its count."""
    if offset + size + _BLOCK_TRAILER > limit or size < 4:
        raise WireError(f"block at {offset} (+{size}) runs past the end of the table")
    if buffer[offset + size] != 0:
        raise WireError(f"compressed block (type {buffer[offset + size]}), not supported")
    block = buffer[offset : offset + size]
    restarts = int.from_bytes(block[-4:], "little")
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise WireError(f"block at {offset} claims {restarts} restart points")
    position, key, entries = 0, b"", []
    while position < end:
        shared, position = read_varint(block, position, end)
        unshared, position = read_varint(block, position, end)
        value_size, position = read_varint(block, position, end)
        if shared > len(key) or unshared + value_size > end - position:
            raise WireError(f"entry at {offset + position} runs past its block")
        key = key[:shared] + block[position : position + unshared]
        position += unshared
        entries.append((key, block[position : position + value_size]))
        position += value_size
    return entries


def _tensor_entry(key: str, value: bytes) -> TensorEntry:
    """A ``BundleEntryProto``: dtype 1, shape 2 (dims 2 {size 1}), shard 3, offset 4, size 5."""
    message: dict[int, Any] = {}
    shape: list[int] = []
    for number, item in fields(value):
        if number == 2 and isinstance(item, bytes):
            for dim_number, dim in fields(item):
                if dim_number == 2 and isinstance(dim, bytes):
                    size = field_map(dim).get(1, 0)
                    if not isinstance(size, int) or size >= 1 << 62:
                        raise WireError(f"'{key}' has a bad dimension")
                    shape.append(size)
        else:
            message[number] = item
    numbers = [message.get(n, 0) for n in (1, 3, 4, 5)]
    if not all(isinstance(n, int) for n in numbers):
        raise WireError(f"'{key}' has a malformed entry")
    dtype, shard, offset, size = numbers
    return TensorEntry(key, dtype, tuple(shape), shard, offset, size)
