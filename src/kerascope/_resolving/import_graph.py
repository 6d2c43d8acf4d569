"""Find import cycles among indexed source modules, by reading them, never by running them.

Source modules that import each other in a cycle can fail to import: one of them sees the other
half-initialised. The graph is built with :mod:`ast` from the import statements each module of a
source index (:class:`~kerascope._resolving.sources.SourceIndex`) runs when it is imported, so
that the loading plan can report every cycle as a problem before any user code runs.

Nothing here imports the code it reads, nor Keras.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable

from .sources import SourceIndex, parse_source, top_level_statements

__all__ = ["import_cycles", "imported_modules", "imported_sources"]

_MAX_CYCLES = 1_000
_MAX_CYCLE_STEPS = 1_000_000  # cycle enumeration is exponential on adversarial graphs


def import_cycles(index: SourceIndex, modules: Iterable[str]) -> list[tuple[str, ...]]:
    """The import cycles among the index's modules that ``modules`` can reach.

    Edges come from the imports a module runs when it is imported: module-level ``import`` and
    ``from ... import`` statements, also inside ``if``/``try``/``with`` blocks but not inside
    functions or classes, nor under ``if TYPE_CHECKING:``. Relative imports are resolved against
    the importing module's package; ``from pkg import name`` goes to ``pkg.name`` when that is an
    indexed module and to ``pkg`` otherwise. Only edges to indexed modules are followed, and the
    parent packages an import runs implicitly are not edges (they are always initialised first).

    Returns:
        Each distinct cycle once, in import order, starting at its smallest module name
        (``("a", "b")`` for a -> b -> a), sorted. A module importing itself is not a cycle. On
        pathological graphs enumeration stops after 1,000 cycles.

    Example:
        >>> from kerascope._resolving.sources import index_sources
        >>> index = index_sources(["kerascope"])
        >>> import_cycles(index, ["kerascope._resolving.import_graph"])
        []
    """
    known = index.modules
    graph: dict[str, list[str]] = {}
    pending = [module for module in modules if module in known]
    while pending:
        module = pending.pop()
        if module in graph:
            continue
        graph[module] = sorted(imported_modules(module, known))
        pending.extend(target for target in graph[module] if target not in graph)
    return _cycles(graph)


def imported_sources(index: SourceIndex, module: str) -> list[str]:
    """The indexed modules ``module`` imports, directly or through others, when it is imported.

    Example:
        >>> imported_sources(SourceIndex((), {}, ()), "absent")
        []
    """
    if module not in index.modules:
        return []
    seen: dict[str, None] = {}
    stack = [module]
    while stack and len(seen) < _MAX_CYCLES:
        for target in sorted(imported_modules(stack.pop(), index.modules)):
            if target != module and target not in seen:
                seen[target] = None
                stack.append(target)
    return list(seen)


def imported_modules(module: str, known: dict[str, str], *, anywhere: bool = False) -> set[str]:
    """The indexed modules (``known``: module -> file) that ``module`` imports.

    Those it imports when it is imported (its top-level statements), or, with ``anywhere``,
    those it imports anywhere in its file (a layer may import a helper inside ``call``).

    Example:
        >>> imported_modules("absent", {"absent": "no_such_file.py"}, anywhere=True)
        set()
    """
    path = known[module]
    tree = parse_source(path, module)
    if not isinstance(tree, ast.Module):
        return set()
    is_package = os.path.basename(path) == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree) if anywhere else top_level_statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                targets.add(_longest_known(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bits = package.rsplit(".", node.level - 1)
                if not package or len(bits) < node.level:
                    continue  # beyond the top-level package: Python refuses it
                base = f"{bits[0]}.{node.module}" if node.module else bits[0]
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if alias.name != "*" and submodule in known:
                    targets.add(submodule)
                else:
                    targets.add(_longest_known(base, known))
    targets.discard("")
    targets.discard(module)
    return targets


def _longest_known(name: str, known: dict[str, str]) -> str:
    """``name`` or its longest parent that is indexed (``import a.b`` runs ``a``); else ""."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def _cycles(graph: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Every elementary cycle of the graph, each found once from its smallest node, bounded."""
    reverse: dict[str, list[str]] = {node: [] for node in graph}
    for node, targets in graph.items():
        for target in targets:
            reverse[target].append(node)
    cycles: list[tuple[str, ...]] = []
    budget = [_MAX_CYCLE_STEPS]
    for start in sorted(graph):
        # The nodes >= start on a cycle through start: reachable from it and reaching it.
        component = _reach(start, graph, budget) & _reach(start, reverse, budget)
        if len(component) < 2:
            continue
        path = [start]
        on_path = {start}
        stack = [iter(graph[start])]
        while stack:
            budget[0] -= 1
            if budget[0] < 0:
                return sorted(cycles)
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                on_path.discard(path.pop())
            elif following == start:
                cycles.append(tuple(path))
                if len(cycles) >= _MAX_CYCLES:
                    return sorted(cycles)
            elif following in component and following not in on_path:
                path.append(following)
                on_path.add(following)
                stack.append(iter(graph[following]))
    return sorted(cycles)


def _reach(start: str, edges: dict[str, list[str]], budget: list[int]) -> set[str]:
    """The nodes not smaller than ``start`` that ``start`` reaches through such nodes."""
    seen = {start}
    pending = [start]
    while pending and budget[0] > 0:
        for target in edges[pending.pop()]:
            budget[0] -= 1
            if target >= start and target not in seen:
                seen.add(target)
                pending.append(target)
    return seen
