"""The keys of a sliced (partitioned) variable's pieces in a TensorFlow checkpoint, decoded.

A variable saved in slices (``tf.train.experimental.MaxShardSizePolicy``, partitioned
variables) has one index entry under its own key, holding its dtype and full shape, and one
entry per slice under a binary key: ``\\x00``, then the variable's name, its rank and each
dimension's start and length, in TensorFlow's order-preserving encoding ("OrderedCode"):

- the name: its bytes with ``\\x00`` written ``\\x00\\xff`` and ``\\xff`` written ``\\xff\\x00``,
  ended by ``\\x00\\x01``;
- the rank: a length byte, then that many big-endian bytes;
- each start and length: a signed number whose first bits say how many bytes it takes
  (``10xxxxxx`` one byte, ``110xxxxx xxxxxxxx`` two, ...; negative numbers are the complement),
  a length of -1 meaning the whole dimension.
"""

from __future__ import annotations

from .protowire import WireError

__all__ = ["SLICE_KEY_PREFIX", "decode_slice_key"]

SLICE_KEY_PREFIX = b"\x00"
_MAX_RANK = 64
_MAX_SIGNED_BYTES = 7  # 48 bits of value: far beyond any dimension


def decode_slice_key(key: bytes) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``(variable name, ((start, length) per dimension))`` of a slice key.

    Raises:
        WireError: Not a well-formed slice key.

    Example:
        >>> decode_slice_key(b"\\x00kernel\\x00\\x01\\x01\\x02\\x80\\x83\\x80\\xc0@")
        ('kernel', ((0, 3), (0, 64)))
    """
    if not key.startswith(SLICE_KEY_PREFIX):
        raise WireError("not a slice key")
    name, position = _string(key, 1)
    rank, position = _unsigned(key, position)
    if rank > _MAX_RANK:
        raise WireError(f"slice key of '{name}' claims rank {rank}")
    extents = []
    for _ in range(rank):
        start, position = _signed(key, position)
        length, position = _signed(key, position)
        extents.append((start, length))
    if position != len(key):
        raise WireError(f"slice key of '{name}' has {len(key) - position} bytes left over")
    return name, tuple(extents)


def _string(key: bytes, position: int) -> tuple[str, int]:
    out = bytearray()
    while position + 1 < len(key):
        byte, following = key[position], key[position + 1]
        if byte == 0x00 and following == 0x01:
            try:
                return out.decode("utf-8"), position + 2
            except UnicodeDecodeError:
                raise WireError("a slice key's name is not UTF-8") from None
        if byte == 0x00 and following == 0xFF:
            out.append(0x00)
        elif byte == 0xFF and following == 0x00:
            out.append(0xFF)
        elif byte in (0x00, 0xFF):
            raise WireError("bad escape in a slice key's name")
        else:
            out.append(byte)
            position += 1
            continue
        position += 2
    raise WireError("slice key's name is not terminated")


def _unsigned(key: bytes, position: int) -> tuple[int, int]:
    if position >= len(key):
        raise WireError("slice key ends before its rank")
    size = key[position]
    end = position + 1 + size
    if size > 8 or end > len(key):
        raise WireError("bad rank in a slice key")
    return int.from_bytes(key[position + 1 : end], "big"), end


def _signed(key: bytes, position: int) -> tuple[int, int]:
    if position >= len(key):
        raise WireError("slice key ends before its extents")
    first = key[position]
    negative = not first & 0x80
    header = (~first & 0xFF) if negative else first
    size = 0
    while size < 8 and header & (0x80 >> size):
        size += 1
    if not 1 <= size <= _MAX_SIGNED_BYTES or position + size > len(key):
        raise WireError("bad extent in a slice key")
    bits = 8 * size - size - 1
    value = int.from_bytes(key[position : position + size], "big") & ((1 << bits) - 1)
    return (value - (1 << bits) if negative else value), position + size
