"""The save lint's check of custom code tied to one Keras backend (see ``lint.py``).

A model whose custom code imports ``tensorflow``, ``jax`` or ``torch`` saves and loads on that
backend only; the lint says so when it is saved, from the imports of the file that defines each
custom class or function (read, not run: :func:`kerascope._common.backend.backend_uses`).
"""

from __future__ import annotations

import ast
import os
import sys
from functools import cache

from kerascope._common.backend import BackendUse, backend_uses, bound_backends, describe_bound
from kerascope._common.record import TYPE_CHECKING

from .findings import Finding
from .lint_common import dotted

if TYPE_CHECKING:
    from typing import Any

__all__ = ["backend_findings"]

_MAX_BYTES = 2 * 1024 * 1024


def backend_findings(target: Any, kind: str) -> list[Finding]:
    """``backend-bound`` (medium) when the module defining ``target`` imports a backend's framework.

    Example:
        >>> class Block(keras.layers.Layer): ...  # doctest: +SKIP
        >>> [f.code for f in backend_findings(Block, "layer")]  # doctest: +SKIP
        ['backend-bound']
    """
    path = getattr(sys.modules.get(str(target.__module__)), "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return []
    try:
        uses = _uses(os.path.realpath(path), os.stat(path).st_mtime_ns)
    except OSError:
        return []
    bound = bound_backends(uses)
    if not bound:
        return []
    use = next(use for use in uses if use.backend in bound and not use.optional)
    if kind == "function":
        what = f"function '{target.__name__}'"
    else:
        what = f"{kind} class '{target.__qualname__}'"
    runs_on = describe_bound(bound)
    return [
        Finding(
            "medium",
            "backend-bound",
            f"{what} is defined in {os.path.relpath(path)}, which imports {use.package} "
            f"(line {use.lineno}: {use.statement}): the model loads only on {runs_on}",
            f"write it with keras.ops instead of {use.package} to load it on every Keras backend",
            object=dotted(target),
        )
    ]


@cache
def _uses(path: str, mtime: int) -> tuple[BackendUse, ...]:  # mtime: an edited file is read again
    try:
        with open(path, "rb") as handle:
            source = handle.read(_MAX_BYTES + 1)
        if len(source) > _MAX_BYTES:
            return ()
        return backend_uses(ast.parse(source, filename=path))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
