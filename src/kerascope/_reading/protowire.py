"""The protobuf wire format, read as data: bounded varints and fields, no protobuf package.

A SavedModel's ``keras_metadata.pb`` and its checkpoint index hold small protobuf messages.
Only the wire format is needed to read them (tags, varints, length-delimited bytes); every read
is checked against the end of its buffer, so truncated or hostile bytes raise
:class:`WireError` instead of reading past the end, looping or allocating.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["WireError", "field_map", "fields", "read_varint"]

_MAX_VARINT_BYTES = 10  # a uint64 takes at most 10 groups of 7 bits
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message (truncated, or not protobuf)."""


def read_varint(
    buffer: bytes | bytearray, position: int, end: int | None = None
) -> tuple[int, int]:
    """Read one base-128 varint; return its value and the position after it.

    Raises:
        WireError: The varint runs past ``end`` or past 10 bytes.

    Example:
        >>> read_varint(b"\\xac\\x02", 0)
        (300, 2)
    """
    stop = len(buffer) if end is None else end
    value = shift = 0
    for count in range(_MAX_VARINT_BYTES):
        if position >= stop:
            raise WireError("truncated varint")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if count == _MAX_VARINT_BYTES - 1:
            break
    raise WireError("varint longer than 10 bytes")


def fields(buffer: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, object]]:
    """Yield ``(field number, value)`` for each field of one message, in order.

    A varint field's value is an ``int``, a length-delimited one's ``bytes``, a fixed32/64
    one's raw little-endian ``bytes``.

    Raises:
        WireError: A field is truncated or has a wire type protobuf no longer uses (groups).

    Example:
        >>> list(fields(b"\\x08\\x96\\x01\\x12\\x02hi"))
        [(1, 150), (2, b'hi')]
    """
    stop = len(buffer) if end is None else min(end, len(buffer))
    position = start
    while position < stop:
        key, position = read_varint(buffer, position, stop)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        value: object
        if wire == _VARINT:
            value, position = read_varint(buffer, position, stop)
        elif wire == _BYTES:
            size, position = read_varint(buffer, position, stop)
            if size > stop - position:
                raise WireError(f"field {number} claims {size} bytes, {stop - position} remain")
            value, position = bytes(buffer[position : position + size]), position + size
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if size > stop - position:
                raise WireError(f"truncated fixed-size field {number}")
            value, position = bytes(buffer[position : position + size]), position + size
        else:
            raise WireError(f"unsupported wire type {wire} (field {number})")
        yield number, value


def field_map(buffer: bytes) -> dict[int, object]:
    """The last value of each field of one message (what protobuf keeps for a singular field).

    Example:
        >>> field_map(b"\\x08\\x01\\x08\\x02")
        {1: 2}
    """
    return dict(fields(buffer))
