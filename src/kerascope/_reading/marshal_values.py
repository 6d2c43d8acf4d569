"""The values of Python's marshal format, read as data, for :mod:`.marshal_code`.

One reader per type code of CPython's ``Python/marshal.c`` (singletons, numbers, bytes and text,
containers), each bounded by the bytes left; the code object itself is read by
:mod:`.marshal_code`. Sets become ``frozenset``, and a set item or dict key must be hashable.
"""

from __future__ import annotations

import struct

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .marshal_code import _Reader

__all__ = ["CONTAINERS", "NULL", "SCALARS", "SINGLETONS", "Malformed"]

_MAX_LONG_DIGITS = 1024  # 15-bit digits: integers up to 2**15360
NULL = object()  # TYPE_NULL: ends a dict


class Malformed(Exception):
    """The data does not fit the layout being tried."""


def _bytes(reader: _Reader) -> bytes:
    return reader.take(reader.size("bytes"))


def _utf8(reader: _Reader) -> str:
    try:
        return reader.take(reader.size("text")).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as error:
        raise Malformed(f"text that is not UTF-8 ({error.reason})") from None


def _ascii(reader: _Reader) -> str:
    return reader.take(reader.size("text")).decode("latin-1")


def _short_ascii(reader: _Reader) -> str:
    return reader.take(reader.byte()).decode("latin-1")


def _int64(reader: _Reader) -> int:
    value: int = struct.unpack("<q", reader.take(8))[0]
    return value


def _long(reader: _Reader) -> int:
    signed = reader.long()
    size = abs(signed)
    if size > _MAX_LONG_DIGITS:
        raise Malformed(f"an integer of {size} digits, over the limit")
    digits = struct.unpack(f"<{size}H", reader.take(2 * size))
    if any(digit >= 1 << 15 for digit in digits) or (digits and digits[-1] == 0):
        raise Malformed("an integer digit out of range")
    value: int = sum(digit << (15 * index) for index, digit in enumerate(digits))
    return -value if signed < 0 else value


def _float_text(reader: _Reader) -> float:
    text = reader.take(reader.byte()).decode("latin-1")
    if not text or not all(c in "0123456789.eE+-infatyINFATY" for c in text):
        raise Malformed(f"a float written as {text!r}")
    try:
        return float(text)
    except ValueError:
        raise Malformed(f"a float written as {text!r}") from None


def _float_binary(reader: _Reader) -> float:
    value: float = struct.unpack("<d", reader.take(8))[0]
    return value


def _tuple(reader: _Reader, depth: int) -> tuple[Any, ...]:
    return tuple(reader.items(depth, reader.size("tuple")))


def _small_tuple(reader: _Reader, depth: int) -> tuple[Any, ...]:
    return tuple(reader.items(depth, reader.byte()))


def _dict(reader: _Reader, depth: int) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    while True:
        key = reader.object(depth)
        if key is NULL:
            return result
        value = reader.object(depth)
        if value is NULL:
            raise Malformed("a dict entry without a value")
        result[_hashable(key)] = value


def _set(reader: _Reader, depth: int) -> frozenset[Any]:
    return frozenset(_hashable(item) for item in reader.items(depth, reader.size("set")))


def _slice(reader: _Reader, depth: int) -> slice:  # marshal version 5 (CPython 3.14)
    start, stop, step = reader.items(depth, 3)
    return slice(start, stop, step)


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        raise Malformed(f"an unhashable {type(value).__name__} as a set item or dict key") from None
    return value


SINGLETONS: dict[str, Any] = {
    "N": None,
    "T": True,
    "F": False,
    ".": ...,
    "S": StopIteration,
    "0": NULL,
}
SCALARS: dict[str, Callable[[_Reader], Any]] = {
    "i": lambda reader: reader.long(),
    "I": _int64,
    "l": _long,
    "f": _float_text,
    "g": _float_binary,
    "x": lambda reader: complex(_float_text(reader), _float_text(reader)),
    "y": lambda reader: complex(_float_binary(reader), _float_binary(reader)),
    "s": _bytes,
    "u": _utf8,
    "t": _utf8,
    "a": _ascii,
    "A": _ascii,
    "z": _short_ascii,
    "Z": _short_ascii,
}
CONTAINERS: dict[str, Callable[[_Reader, int], Any]] = {
    "(": _tuple,
    ")": _small_tuple,
    "[": lambda reader, depth: reader.items(depth, reader.size("list")),
    "{": _dict,
    "<": _set,
    ">": _set,
    ":": _slice,
}
