"""Python's marshal format, read as data: what a Lambda's code object says, with nothing run.

Keras (2 and 3) stores a Lambda's Python function as ``base64(marshal.dumps(fn.__code__))``.
``marshal.loads`` is not meant for untrusted input and reads only the running Python's layout;
this reader never calls it, never evaluates or imports anything, and reads the code object
layouts of CPython 3.6-3.7, 3.8-3.10 and 3.11-3.13 (told apart by the data itself). The type
codes and layouts are those of CPython's ``Python/marshal.c``; what it returns is a
:class:`CodeFacts` record: the function's name, qualified name (3.11+), file, argument counts,
the names its bytecode reads (globals and attributes), its local and free variable names, its
constants and its nested code objects.

Every read is bounded (bytes, nesting depth, object count, lengths against what is left);
anything malformed, truncated, ambiguous or unknown is a :class:`BytecodeError` (a
:class:`~kerascope.errors.ModelFileError`), never another exception.
"""

from __future__ import annotations

import base64
import binascii
import keyword
import struct

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import ModelFileError

from .marshal_values import CONTAINERS, NULL, SCALARS, SINGLETONS, Malformed

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_OBJECTS",
    "BytecodeError",
    "CodeFacts",
    "read_base64_code",
    "read_code",
]

MAX_BYTES = 1 << 20  # a Lambda's code object is a few hundred bytes to a few KiB
MAX_DEPTH = 100  # nested tuples and code objects; CPython's own limit is 2000
MAX_OBJECTS = 100_000
_FLAG_REF = 0x80
_FAST_LOCAL, _FAST_FREE = 0x20, 0x80  # CPython 3.11+ ``co_localspluskinds``: local, free
_LAYOUTS = ("3.11-3.13", "3.8-3.10", "3.6-3.7")


class BytecodeError(ModelFileError):
    """Bytes that are not a marshalled code object kerascope can read.

    Example:
        >>> str(BytecodeError("ends early"))
        'Lambda bytecode: ends early'
    """

    def __init__(self, problem: str, path: str = "Lambda bytecode") -> None:
        super().__init__(path, problem)


class CodeFacts(Record):
    """What a marshalled code object says about its function, read as data.

    Attributes:
        name: ``co_name``: the function's name, ``<lambda>`` for a lambda.
        qualname: ``co_qualname`` (CPython 3.11+), else None.
        filename: ``co_filename``: the file the function was compiled from.
        first_line: ``co_firstlineno``.
        argcount: Positional arguments (``co_argcount``).
        kwonly_argcount: Keyword-only arguments.
        flags: ``co_flags``.
        names: ``co_names``: the global, attribute and imported names the bytecode reads.
        local_names: Argument and local variable names.
        free_names: Names of the closure variables the function needs (``co_freevars``).
        constants: ``co_consts``, nested code objects as :class:`CodeFacts`.
        layout: The code object layout found: ``"3.6-3.7"``, ``"3.8-3.10"`` or ``"3.11-3.13"``.
    """

    name: str
    qualname: str | None
    filename: str
    first_line: int
    argcount: int
    kwonly_argcount: int
    flags: int
    names: tuple[str, ...]
    local_names: tuple[str, ...]
    free_names: tuple[str, ...]
    constants: tuple[Any, ...]
    layout: str

    @property
    def nested(self) -> tuple[CodeFacts, ...]:
        """The code objects among the constants (inner functions, lambdas, comprehensions)."""
        return tuple(c for c in self.constants if isinstance(c, CodeFacts))

    @property
    def all_names(self) -> tuple[str, ...]:
        """``names`` of this code object and of every nested one, each once, in order.

        Example:
            >>> read_base64_code(_EXAMPLE).all_names
            ('tf', 'abs')
        """
        found: dict[str, None] = {}
        stack = [self]
        while stack:
            code = stack.pop(0)
            found.update(dict.fromkeys(code.names))
            stack.extend(code.nested)
        return tuple(found)

    @property
    def is_named_function(self) -> bool:
        """True for a ``def`` (an identifier name), False for a lambda or a comprehension.

        Example:
            >>> read_base64_code(_EXAMPLE).is_named_function
            False
        """
        return self.name.isidentifier() and not keyword.iskeyword(self.name)


# base64(marshal.dumps((lambda x: tf.abs(x)).__code__)) written by CPython 3.11
_EXAMPLE = (
    "4wEAAAAAAAAAAAAAAAMAAAADAAAA8zYAAACXAHQAAAAAAAAAAAAAAKABAAAAAAAAAAAAAAAAAAAAAAAAAAB8AKYBAACr"
    "AQAAAAAAAAAAUwApAU4pAtoCdGbaA2FicykB2gF4cwEAAAAg+gg8c3RyaW5nPvoIPGxhbWJkYT5yBgAAAAMAAABzEAAA"
    "AIAAjVKPVopWkEGJWYxZgADzAAAAAA=="
)


def read_base64_code(text: str) -> CodeFacts:
    """Read the facts of a code object stored as base64 text, as Keras stores a Lambda.

    Whitespace (Keras 3 writes a newline every 76 characters) is ignored; any other character
    outside the base64 alphabet is an error.

    Raises:
        BytecodeError: Not base64, too large, or not a code object kerascope can read.

    Example:
        >>> facts = read_base64_code(_EXAMPLE)
        >>> facts.name, facts.names, facts.argcount, facts.layout
        ('<lambda>', ('tf', 'abs'), 1, '3.11-3.13')
    """
    if not isinstance(text, str):
        raise BytecodeError(f"is a {type(text).__name__}, not base64 text")
    if len(text) > MAX_BYTES * 2:
        raise BytecodeError(f"is {len(text):,} characters long, over the limit")
    compact = "".join(text.split())
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise BytecodeError(f"is not base64 ({error})") from None
    return read_code(data)


def read_code(data: bytes) -> CodeFacts:
    """Read the facts of one marshalled code object (``marshal.dumps(fn.__code__)``).

    The code object layout is found from the data: each known layout is tried on its own,
    and exactly one must read the whole of ``data``.

    Raises:
        BytecodeError: Malformed, truncated, followed by extra bytes, ambiguous, over a limit,
            or not a code object.

    Example:
        >>> read_code(b"N")
        Traceback (most recent call last):
        ...
        kerascope._reading.marshal_code.BytecodeError: Lambda bytecode: is not a code object \
(its first type code is 'N')
    """
    if len(data) > MAX_BYTES:
        raise BytecodeError(f"is {len(data):,} bytes long, over the limit of {MAX_BYTES:,}")
    if not data or data[0] & ~_FLAG_REF != ord("c"):
        first = repr(chr(data[0] & ~_FLAG_REF)) if data else "nothing"
        raise BytecodeError(f"is not a code object (its first type code is {first})")
    read: list[CodeFacts] = []
    failures: list[tuple[int, str]] = []
    for layout in _LAYOUTS:
        reader = _Reader(data, layout)
        try:
            value = reader.object(0)
            if reader.position != len(data):
                raise Malformed(f"{len(data) - reader.position} bytes follow the code object")
        except Malformed as error:
            failures.append((reader.position, f"{error} (at byte {reader.position})"))
            continue
        assert isinstance(value, CodeFacts)  # the first type code is "c"
        read.append(value)
    if len(read) == 1:
        return read[0]
    if read:
        layouts = " and ".join(code.layout for code in read)
        raise BytecodeError(f"reads as a code object of more than one layout ({layouts})")
    raise BytecodeError(max(failures)[1])


_PENDING = object()  # a reference slot reserved for an object still being read


class _Reader:
    def __init__(self, data: bytes, layout: str) -> None:
        self.data = data
        self.layout = layout
        self.position = 0
        self.refs: list[Any] = []
        self.count = 0

    def take(self, size: int) -> bytes:
        if size < 0 or size > len(self.data) - self.position:
            raise Malformed(f"needs {size} bytes, {len(self.data) - self.position} are left")
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def long(self) -> int:
        value: int = struct.unpack("<i", self.take(4))[0]
        return value

    def size(self, what: str, per_item: int = 1) -> int:
        size = self.long()
        if size < 0 or size * per_item > len(self.data) - self.position:
            raise Malformed(f"{what} of size {size} in {len(self.data) - self.position} bytes")
        return size

    def reserve(self, flagged: bool) -> int:
        if not flagged:
            return -1
        self.refs.append(_PENDING)
        return len(self.refs) - 1

    def fill(self, index: int, value: Any) -> Any:
        if index >= 0:
            self.refs[index] = value
        return value

    def object(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
        self.count += 1
        if self.count > MAX_OBJECTS:
            raise Malformed(f"holds more than {MAX_OBJECTS:,} objects")
        code = self.byte()
        flagged, kind = bool(code & _FLAG_REF), chr(code & ~_FLAG_REF)
        if kind in SINGLETONS:
            return SINGLETONS[kind]
        if kind == "r":
            return self.reference()
        if kind in SCALARS:
            return self.fill(self.reserve(flagged), SCALARS[kind](self))
        if kind in CONTAINERS:
            index = self.reserve(flagged)
            return self.fill(index, CONTAINERS[kind](self, depth + 1))
        if kind == "c":
            index = self.reserve(flagged)
            return self.fill(index, self.code(depth + 1))
        raise Malformed(f"unknown type code {kind!r}")

    def reference(self) -> Any:
        index = self.long()
        if not 0 <= index < len(self.refs) or self.refs[index] is _PENDING:
            raise Malformed(f"invalid reference {index}")
        return self.refs[index]

    def items(self, depth: int, size: int) -> list[Any]:
        values = [self.object(depth) for _ in range(size)]
        if any(value is NULL for value in values):
            raise Malformed("a NULL object inside a container")
        return values

    def code(self, depth: int) -> CodeFacts:
        if self.layout == "3.11-3.13":
            return self.code_311(depth)
        six = self.layout == "3.8-3.10"
        argcount = self.count_field()
        if six:
            self.count_field()  # co_posonlyargcount
        kwonly, _nlocals, _stacksize, flags = (self.count_field() for _ in range(4))
        self.typed(depth, bytes, "co_code")
        constants = self.typed(depth, tuple, "co_consts")
        names = self.names(depth, "co_names")
        local_names = self.names(depth, "co_varnames")
        free_names = self.names(depth, "co_freevars")
        self.names(depth, "co_cellvars")
        filename = self.typed(depth, str, "co_filename")
        name = self.typed(depth, str, "co_name")
        first_line = self.long()
        self.typed(depth, bytes, "co_lnotab")
        if argcount + kwonly > len(local_names):
            raise Malformed("more arguments than local names")
        return CodeFacts(
            name, None, filename, first_line, argcount, kwonly, flags, names, local_names,
            free_names, constants, self.layout,
        )  # fmt: skip

    def code_311(self, depth: int) -> CodeFacts:
        argcount, _posonly, kwonly, _stacksize, flags = (self.count_field() for _ in range(5))
        self.typed(depth, bytes, "co_code")
        constants = self.typed(depth, tuple, "co_consts")
        names = self.names(depth, "co_names")
        locals_plus = self.names(depth, "co_localsplusnames")
        kinds = self.typed(depth, bytes, "co_localspluskinds")
        filename = self.typed(depth, str, "co_filename")
        name = self.typed(depth, str, "co_name")
        qualname = self.typed(depth, str, "co_qualname")
        first_line = self.long()
        self.typed(depth, bytes, "co_linetable")
        self.typed(depth, bytes, "co_exceptiontable")
        if len(kinds) != len(locals_plus):
            raise Malformed("co_localspluskinds and co_localsplusnames differ in length")
        if argcount + kwonly > len(locals_plus):
            raise Malformed("more arguments than local names")
        local_names = tuple(
            n for n, kind in zip(locals_plus, kinds, strict=True) if kind & _FAST_LOCAL
        )
        free = tuple(n for n, kind in zip(locals_plus, kinds, strict=True) if kind & _FAST_FREE)
        return CodeFacts(
            name, qualname, filename, first_line, argcount, kwonly, flags, names, local_names,
            free, constants, self.layout,
        )  # fmt: skip

    def count_field(self) -> int:
        value = self.long()
        if value < 0:
            raise Malformed(f"a negative count ({value}) in a code object")
        return value

    def typed(self, depth: int, expected: type, field: str) -> Any:
        value = self.object(depth)
        if not isinstance(value, expected) or isinstance(value, CodeFacts) != (
            expected is CodeFacts
        ):
            raise Malformed(f"{field} is a {type(value).__name__}, not a {expected.__name__}")
        return value

    def names(self, depth: int, field: str) -> tuple[str, ...]:
        value = self.typed(depth, tuple, field)
        if not all(isinstance(item, str) for item in value):
            raise Malformed(f"{field} holds something other than names")
        return value  # type: ignore[no-any-return]
