"""Read one Python source file into a syntax tree, or say precisely why it cannot be read.

Used by the definition index (:mod:`.sources`) and the import graph; nothing is run.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator, Sequence

from kerascope._common.record import Record

__all__ = ["DEFINITIONS", "MAX_FILE_BYTES", "UnreadFile", "parse_source", "top_level_statements"]

MAX_FILE_BYTES = 2 * 1024 * 1024  # larger .py files are generated data, not layer definitions
DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


class UnreadFile(Record):
    """A source file that was found but could not be read as Python.

    Attributes:
        path: The absolute path of the file.
        module: The module name it would be imported under.
        why: ``"syntax"``, ``"encoding"``, ``"size"``, ``"unreadable"`` or ``"depth"``.
        message: What went wrong, as Python or the file system said it.
        line: The line of a syntax error.
        text: The source line of a syntax error, stripped.
    """

    path: str
    module: str
    why: str
    message: str
    line: int | None = None
    text: str = ""

    def describe(self) -> str:
        """One line, without the path.

        Example:
            >>> UnreadFile("/p/l.py", "l", "syntax", "invalid syntax", 7, "def f(a b):").describe()
            'syntax error at line 7: invalid syntax'
        """
        if self.why == "syntax":
            return f"syntax error at line {self.line}: {self.message}"
        return self.message


def parse_source(path: str, module: str = "") -> ast.Module | UnreadFile:
    """The file's syntax tree, or why there is none (too large, unreadable, a syntax error).

    Example:
        >>> parse_source("no_such_file.py").describe()
        'cannot be read: No such file or directory'
    """
    limit = f"{MAX_FILE_BYTES // (1024 * 1024)} MB"
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            return UnreadFile(
                path, module, "size", f"not indexed: larger than {limit} ({size} bytes)"
            )
        with open(path, "rb") as handle:
            source = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return UnreadFile(path, module, "unreadable", f"cannot be read: {error.strerror or error}")
    if len(source) > MAX_FILE_BYTES:
        return UnreadFile(path, module, "size", f"not indexed: larger than {limit}")
    try:
        return ast.parse(source, filename=path)
    except SyntaxError as error:
        message = error.msg or str(error)
        if "unicode error" in message or "encoding" in message or "null bytes" in message:
            return UnreadFile(path, module, "encoding", f"cannot be decoded: {message}")
        text = (error.text or "").strip()
        return UnreadFile(path, module, "syntax", message, error.lineno, text)
    except ValueError as error:  # Python 3.10: null bytes
        return UnreadFile(path, module, "encoding", f"cannot be decoded: {error}")
    except (RecursionError, MemoryError):
        return UnreadFile(path, module, "depth", "cannot be parsed: nested too deeply")


def top_level_statements(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements a module runs when imported, outside functions and classes.

    Descends into ``if``, ``try``, ``with``, loops and ``match``, but not into the body of
    ``if TYPE_CHECKING:``, which never runs.

    Example:
        >>> tree = ast.parse("import a\\nif TYPE_CHECKING:\\n    import b\\ndef f(): import c")
        >>> [type(node).__name__ for node in top_level_statements(tree.body)]
        ['Import', 'If', 'FunctionDef']
    """
    for node in body:
        yield node
        if isinstance(node, DEFINITIONS):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from top_level_statements(node.orelse)
            continue
        yield from top_level_statements(getattr(node, "body", ()))
        for clause in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):
            yield from top_level_statements(clause.body)
        yield from top_level_statements(getattr(node, "orelse", ()))
        yield from top_level_statements(getattr(node, "finalbody", ()))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
