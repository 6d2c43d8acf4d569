"""Custom code tied to one Keras backend, reported before it is imported on another.

For each custom object that will be imported from a file, the imports of that file and of the
source modules it imports (see :mod:`kerascope._common.backend`) say which backends the
code can run on. On any other backend, the plan carries a ``backend-bound`` problem naming the
object, the file, the line and the active backend, instead of letting the import fail.

Nothing here imports the code it reads, nor Keras.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from kerascope._common.backend import (
    BACKEND_NAMES,
    BackendUse,
    backend_uses,
    bound_backends,
    describe_bound,
)
from kerascope._common.record import Record
from kerascope.errors import Problem

from .import_graph import imported_sources
from .resolution import Resolution, relative
from .sources import SourceIndex, parse_source

__all__ = ["REASON", "BackendCode", "backend_code", "backend_problem"]

REASON = "backend-bound"
_IMPORTED = frozenset({"source", "module", "package", "entry-point", "manifest"})


class BackendCode(Record):
    """What the code behind one custom object imports of the backends' frameworks.

    Attributes:
        key: The custom object's key.
        where: Where it is defined (``custom_layer.py:6``).
        file: The file that defines it.
        uses: ``(file, use)`` for each import in that file and in the source modules it imports.
        bound: The backends it can run on; empty when it is backend-neutral.
    """

    key: str
    where: str
    file: str
    uses: tuple[tuple[str, BackendUse], ...]
    bound: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the ``backend.objects`` entries of ``check --json``).

        Example:
            >>> code = BackendCode("L", "l.py:3", "/p/l.py", (), ())
            >>> code.to_dict()["neutral"]
            True
        """
        return {
            "key": self.key,
            "where": self.where,
            "file": self.file,
            "neutral": not self.bound,
            "runs_on": list(self.bound) or None,
            "uses": [{"file": file, **use.to_dict()} for file, use in self.uses],
        }


def backend_code(index: SourceIndex, resolutions: Sequence[Resolution]) -> list[BackendCode]:
    """The backend facts of every object the plan imports from a file.

    Example:
        >>> backend_code(SourceIndex((), {}, ()), [])
        []
    """
    found = []
    for resolution in resolutions:
        if resolution.origin not in _IMPORTED or not resolution.file:
            continue
        uses = [
            (resolution.file, use) for use in _uses_of(index, resolution.module, resolution.file)
        ]
        if resolution.origin == "source" and resolution.module:
            for module in imported_sources(index, resolution.module):
                uses += [(index.modules[module], use) for use in index.backend_uses.get(module, ())]
        bound = bound_backends([use for _, use in uses])
        found.append(
            BackendCode(
                resolution.object.key, resolution.where, resolution.file, tuple(uses), bound
            )
        )
    return found


def _uses_of(index: SourceIndex, module: str | None, file: str) -> tuple[BackendUse, ...]:
    if module is not None and index.modules.get(module) == file:
        return index.backend_uses.get(module, ())
    tree = parse_source(file)
    return () if not hasattr(tree, "body") else backend_uses(tree)  # type: ignore[arg-type]


def backend_problem(
    code: BackendCode, active: str, kinds: Sequence[str], json_paths: Sequence[str] = ()
) -> Problem | None:
    """The problem of code that cannot run on ``active``, or None when it can.

    Example:
        >>> use = BackendUse("torch", "torch", 1, "import torch")
        >>> code = BackendCode("L", "l.py:6", "/p/l.py", (("/p/l.py", use),), ("torch",))
        >>> for part in backend_problem(code, "jax", ["layer"]).message.split("; "):
        ...     print(part)
        L (l.py:6) uses torch directly (/p/l.py:1: import torch)
        it loads only on the PyTorch backend (active: jax)
        >>> backend_problem(code, "torch", ["layer"]) is None
        True
    """
    if not code.bound or active in code.bound:
        return None
    file, use = next(
        (file, use) for file, use in code.uses if use.backend in code.bound and not use.optional
    )
    shown = relative(file)
    via = "" if os.path.realpath(file) == os.path.realpath(code.file) else ", imported by it"
    within = f" in {use.scope}" if use.scope else ""
    runs_on = describe_bound(code.bound)
    message = (
        f"{code.key} ({code.where}) uses {use.package} directly "
        f"({shown}:{use.lineno}{within}: {use.statement}{via}); it loads only on {runs_on} "
        f"(active: {active})"
    )
    target = code.bound[0]
    name = BACKEND_NAMES.get(target, target)
    fix = f"load it with KERAS_BACKEND={target} (with {name} installed), or rewrite {shown}"
    fix += " with keras.ops"
    return Problem(code.key, "/".join(kinds), tuple(json_paths), REASON, message, fix)
