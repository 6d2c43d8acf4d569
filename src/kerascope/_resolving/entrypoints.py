"""Installed packages that declare their Keras objects through an entry point.

A package lists, in the entry-point group ``kerascope.modules``, the modules that define its Keras
objects::

    [project.entry-points."kerascope.modules"]
    tcn = "tcn.tcn"

The name is free (conventionally the package); the value is a module. kerascope reads the group
only when a model file needs a name nothing else provides, and never imports the module unless
its distribution is trusted.
"""

from __future__ import annotations

from functools import cache

from kerascope._common.record import Record

__all__ = ["ENTRY_POINT_GROUP", "DeclaredModule", "declared_modules"]

ENTRY_POINT_GROUP = "kerascope.modules"


class DeclaredModule(Record):
    """A module an installed distribution declares as defining Keras objects."""

    module: str
    distribution: str


@cache
def declared_modules() -> tuple[DeclaredModule, ...]:
    """Every module declared in the ``kerascope.modules`` entry-point group.

    Example:
        >>> [declared.module for declared in declared_modules()]  # doctest: +SKIP
        ['tcn.tcn']
    """
    from importlib import metadata

    declared = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist is not None else "?"
        module = entry_point.value.split(":", 1)[0].strip()
        declared.append(DeclaredModule(module, distribution))
    return tuple(declared)
