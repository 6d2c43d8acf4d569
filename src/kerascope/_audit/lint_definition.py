"""The save lint's check of where custom objects are defined: a fresh process loading the
file must be able to find each one, by its registered name or by its module and name
(see :mod:`kerascope._audit.lint`)."""

from __future__ import annotations

import os
import sys

from kerascope._common.pythonpath import locate_module
from kerascope._common.record import TYPE_CHECKING

from . import lint_walk
from .findings import Finding
from .lint_common import dotted

if TYPE_CHECKING:
    from typing import Any

__all__ = ["definition_findings"]


def definition_findings(target: Any, kind: str) -> list[Finding]:
    """Where ``target`` is defined, if a fresh process could not find it there.

    ``defined-in-main`` (high) for a class or function defined in ``__main__``; ``not-findable``
    (medium) for one that is neither registered with Keras nor importable by its module and name.

    Args:
        target: A class, or a function.
        kind: What the saved config uses it as (``"layer"``, ``"function"``, ...).

    Example:
        >>> class Block(keras.layers.Layer): ...  # doctest: +SKIP
        >>> [f.code for f in definition_findings(Block, "layer")]  # doctest: +SKIP
        ['defined-in-main']
    """
    module = str(target.__module__)
    name = str(target.__name__)
    what = _what(target, kind)
    # --from finds top-level definitions only: a class made inside a function needs moving.
    top_level = "<locals>" not in str(getattr(target, "__qualname__", name))
    if module == "__main__":
        script = _main_script()
        place = script or "a script or notebook"
        saved = "only its name" if kind == "function" else "it with module null"
        beside = f" beside {script}" if script else ""
        load = f"`kerascope load MODEL --from {script}`" if script else "--from that script"
        keep = f", or keep it where it is and load with {load}" if top_level else ""
        return [
            Finding(
                "high",
                "defined-in-main",
                f"{what} is defined in __main__ ({place}): Keras saves {saved}, and a fresh "
                "process cannot import __main__ to find it",
                f"move {name} to the top level of an importable module (e.g. a file "
                f"custom_objects.py{beside}, then `from custom_objects import {name}`){keep}",
                object=dotted(target),
            )
        ]
    if lint_walk.lint_registered_name(target) is not None:
        return []
    problem = _unfindable(target, module)
    if problem is None:
        return []
    loaded_from = getattr(sys.modules.get(module), "__file__", None)
    source = ""
    if loaded_from and top_level:
        source = f", or load with `kerascope load MODEL --from {loaded_from}`"
    return [
        Finding(
            "medium",
            "not-findable",
            f"{what} is not registered with Keras and {problem}",
            f"put {name} at the top level of a module a fresh process can import (a .py file "
            f"on sys.path or an installed package), or register it with "
            f"@kerascope.register(package='...') in a module that is imported before "
            f"loading{source}",
            object=dotted(target),
        )
    ]


def _unfindable(target: Any, module: str) -> str | None:
    """Why a fresh process cannot import ``target`` by its module and name, if it cannot."""
    name = str(target.__name__)
    qualname = str(getattr(target, "__qualname__", name))
    if "<locals>" in qualname:
        return (
            f"it is defined inside a function ({qualname}), so module '{module}' has no "
            f"top-level name '{name}'"
        )
    if locate_module(module) is None:
        loaded_from = getattr(sys.modules.get(module), "__file__", None)
        origin = f" (it was loaded from {loaded_from})" if loaded_from else ""
        return (
            f"its module '{module}' cannot be imported by name from a fresh process: no such "
            f"module on sys.path{origin}"
        )
    loaded = sys.modules.get(module)
    if loaded is not None and vars(loaded).get(name) is None:
        return f"module '{module}' has no top-level name '{name}'"
    return None


def _main_script() -> str | None:
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not isinstance(path, str):
        return None
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _what(target: Any, kind: str) -> str:
    if kind == "function":
        return f"function '{target.__name__}'"
    return f"{kind} class '{target.__qualname__}'"
