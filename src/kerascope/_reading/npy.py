"""The headers of the ``.npy`` arrays of a ``.npz`` file, read without numpy and without eval.

A ``.npz`` is a zip of ``.npy`` members; each starts with ``\\x93NUMPY``, a version, a length and
a Python dict literal such as ``{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }``.
numpy allocates the declared shape before it reads any data, and unpickles ``descr: '|O'``
(object) arrays when allowed to. This module parses only that literal, with a small parser that
accepts strings, numbers, booleans, ``None``, tuples, lists and dicts, bounded in length and
depth, and reads at most one header's worth of bytes per member.
"""

from __future__ import annotations

import math
import re
import struct
import zlib

from kerascope._common.record import TYPE_CHECKING, Record

from .archive import ZipError, ZipMember, member_data_offset, read_members

if TYPE_CHECKING:
    from typing import BinaryIO, ClassVar

__all__ = [
    "MAX_NPY_HEADER",
    "NOT_AN_ARRAY",
    "NpyHeader",
    "NpyHeaderError",
    "parse_npy_header",
    "read_npz_headers",
]

NOT_AN_ARRAY = "is not a .npy array"
MAX_NPY_HEADER = 65_536  # numpy itself refuses headers over 10,000 characters by default
MAX_NPZ_MEMBERS = 10_000
_MAGIC = b"\x93NUMPY"
_MAX_LITERAL_DEPTH = 16
_STORED, _DEFLATED = 0, 8
_SIMPLE_DESCR = re.compile(r"^[<>|=]?([a-zA-Z])(\d*)(\[[a-zA-Z0-9]+\])?$")
_UNICODE_CHARACTER_BYTES = 4


class NpyHeaderError(ValueError):
    """The bytes are not a ``.npy`` header this reader accepts."""


class NpyHeader(Record):
    """What one ``.npy`` member declares.

    Attributes:
        name: The member name inside the ``.npz`` (``layers/dense.npy``).
        descr: The dtype description as written (``'<f4'``, ``'|O'``, or a structured list).
        shape: The declared shape.
        item_size: Bytes per element (0 for object arrays, whose elements are pickles).
        has_objects: True when any field of the dtype is a Python object (a pickle).
        stored: The bytes the archive stores for the member.
    """

    name: str
    descr: str
    shape: tuple[int, ...]
    item_size: int
    has_objects: bool
    stored: int

    @property
    def declared_bytes(self) -> int:
        """The bytes numpy would allocate for the array."""
        return math.prod(self.shape) * self.item_size


def read_npz_headers(
    handle: BinaryIO,
) -> tuple[list[NpyHeader], list[tuple[str, str]], bool]:
    """The headers of every ``.npy`` member of the ``.npz`` in ``handle``.

    Returns:
        The headers; the members that could not be read, as (name, why) (members not named
        ``*.npy`` included); and whether all members were looked at (at most 10,000 are).

    Raises:
        ZipError: The archive itself cannot be read.

    Example:
        >>> import io, zipfile
        >>> buffer = io.BytesIO()
        >>> with zipfile.ZipFile(buffer, "w") as archive:
        ...     header = b"{'descr': '<f4', 'shape': (2,)}"
        ...     magic = b"\\x93NUMPY\\x01\\x00" + bytes([len(header), 0])
        ...     archive.writestr("w.npy", magic + header)
        >>> headers, bad, complete = read_npz_headers(buffer)
        >>> headers[0].shape, headers[0].item_size, bad, complete
        ((2,), 4, [], True)
    """
    members = read_members(handle)
    headers: list[NpyHeader] = []
    problems: list[tuple[str, str]] = []
    for index, (name, member) in enumerate(members.items()):
        if index >= MAX_NPZ_MEMBERS:
            return headers, problems, False
        if not name.endswith(".npy"):
            problems.append((name, NOT_AN_ARRAY))
            continue
        try:
            headers.append(_member_header(handle, name, member))
        except (NpyHeaderError, ZipError) as error:
            problems.append((name, str(error)))
    return headers, problems, True


def _member_header(handle: BinaryIO, name: str, member: ZipMember) -> NpyHeader:
    if member.flags & 0x1:
        raise NpyHeaderError("is encrypted")
    handle.seek(member_data_offset(handle, member))
    raw = handle.read(min(member.compressed_size, MAX_NPY_HEADER + 12))
    if member.method == _DEFLATED:
        try:
            raw = zlib.decompressobj(-15).decompress(raw, MAX_NPY_HEADER + 12)
        except zlib.error as error:
            raise NpyHeaderError(f"cannot be inflated: {error}") from None
    elif member.method != _STORED:
        raise NpyHeaderError(f"uses compression method {member.method}")
    descr, shape, item_size, has_objects = parse_npy_header(raw)
    return NpyHeader(name, descr, shape, item_size, has_objects, member.compressed_size)


def parse_npy_header(data: bytes) -> tuple[str, tuple[int, ...], int, bool]:
    """``(descr, shape, item size, has objects)`` from the first bytes of a ``.npy`` file.

    Raises:
        NpyHeaderError: No magic, a truncated or oversized header, or a header that is not a
            dict with ``descr`` and ``shape``.

    Example:
        >>> parse_npy_header(b"\\x93NUMPY\\x01\\x00\\x1e\\x00{'descr': '|O', 'shape': (), }")
        ('|O', (), 0, True)
    """
    if data[:6] != _MAGIC or len(data) < 10:
        raise NpyHeaderError("is not a .npy array (no \\x93NUMPY magic)")
    major = data[6]
    if major == 1:
        (length,), start = struct.unpack("<H", data[8:10]), 10
    elif major in (2, 3) and len(data) >= 12:
        (length,), start = struct.unpack("<I", data[8:12]), 12
    else:
        raise NpyHeaderError(f"has .npy format version {major}, which numpy never wrote")
    if length > MAX_NPY_HEADER:
        raise NpyHeaderError(f"declares a {length:,}-byte header")
    text_bytes = data[start : start + length]
    if len(text_bytes) < length:
        raise NpyHeaderError("has a truncated header")
    try:
        header = _Literal(text_bytes.decode("utf-8" if major == 3 else "latin-1")).parse()
    except (ValueError, IndexError) as error:
        raise NpyHeaderError(f"has a header that is not a plain literal: {error}") from None
    if not isinstance(header, dict) or "descr" not in header or "shape" not in header:
        raise NpyHeaderError("has a header without 'descr' and 'shape'")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise NpyHeaderError(f"declares the shape {str(shape)[:80]}, not a tuple of sizes")
    item_size, has_objects = _item_size(header["descr"], 0)
    return str(header["descr"])[:200], shape, item_size, has_objects


def _item_size(descr: object, depth: int) -> tuple[int, bool]:
    """Bytes per element and whether a field is an object, for a dtype description."""
    if depth > _MAX_LITERAL_DEPTH:
        raise NpyHeaderError("has a dtype nested too deeply")
    if isinstance(descr, str):
        match = _SIMPLE_DESCR.match(descr)
        if match is None:
            raise NpyHeaderError(f"has the dtype {descr[:40]!r}, which numpy does not write")
        code, digits = match.group(1), match.group(2)
        if code == "O":
            return 0, True
        size = int(digits) if digits else (1 if code in "b?BS" else 0)
        return size * (_UNICODE_CHARACTER_BYTES if code == "U" else 1), False
    if isinstance(descr, list):  # structured: [(name, descr[, shape]), ...]
        total, objects = 0, False
        for field in descr:
            if not isinstance(field, tuple) or len(field) < 2:
                raise NpyHeaderError("has a structured dtype with a malformed field")
            size, has = _item_size(field[1], depth + 1)
            count = math.prod(field[2]) if len(field) > 2 and isinstance(field[2], tuple) else 1
            total, objects = total + size * count, objects or has
        return total, objects
    raise NpyHeaderError("has a dtype description that is neither a string nor a list")


class _Literal:
    """A parser for the Python literals of ``.npy`` headers; never evaluates anything."""

    _NUMBER = re.compile(r"-?\d+")
    _WORDS: ClassVar[dict[str, object]] = {"True": True, "False": False, "None": None}

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parse(self) -> object:
        value = self.value(0)
        self.skip()
        if self.position < len(self.text) and self.text[self.position :].strip():
            raise ValueError(f"unexpected text at {self.position}")
        return value

    def skip(self) -> None:
        while self.position < len(self.text) and self.text[self.position] in " \t\r\n":
            self.position += 1

    def value(self, depth: int) -> object:
        if depth > _MAX_LITERAL_DEPTH:
            raise ValueError("nested too deeply")
        self.skip()
        char = self.text[self.position]
        if char in "'\"":
            return self.string(char)
        if char in "([{":
            return self.sequence(char, depth)
        number = self._NUMBER.match(self.text, self.position)
        if number is not None:
            self.position = number.end()
            if self.text[self.position : self.position + 1] == "L":
                self.position += 1  # Python 2 long
            digits = number.group()
            if len(digits) > 40:
                raise ValueError("a number too long")
            return int(digits)
        for word, meaning in self._WORDS.items():
            if self.text.startswith(word, self.position):
                self.position += len(word)
                return meaning
        raise ValueError(f"unexpected {char!r} at {self.position}")

    def string(self, quote: str) -> str:
        end = self.text.find(quote, self.position + 1)
        if end < 0:
            raise ValueError("an unterminated string")
        text = self.text[self.position + 1 : end]
        self.position = end + 1
        return text

    def sequence(self, opening: str, depth: int) -> object:
        closing = {"(": ")", "[": "]", "{": "}"}[opening]
        self.position += 1
        items: list[object] = []
        pairs: dict[object, object] = {}
        while True:
            self.skip()
            if self.text[self.position] == closing:
                self.position += 1
                break
            item = self.value(depth + 1)
            if opening == "{":
                self.skip()
                if self.text[self.position] != ":":
                    raise ValueError(f"expected ':' at {self.position}")
                self.position += 1
                if not isinstance(item, (str, int)):
                    raise ValueError("a dict key that is not a string")
                pairs[item] = self.value(depth + 1)
            else:
                items.append(item)
            self.skip()
            if self.text[self.position] == ",":
                self.position += 1
            elif self.text[self.position] != closing:
                raise ValueError(f"expected ',' or {closing!r} at {self.position}")
        if opening == "{":
            return pairs
        return tuple(items) if opening == "(" else items
