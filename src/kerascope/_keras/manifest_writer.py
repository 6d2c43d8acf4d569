"""Write side of the manifest: describe the live objects a saving process used.

The format itself (records, parsing, version) lives in :mod:`kerascope._reading.manifest`;
this module needs live classes and functions, so it belongs to the Keras adapter.
"""

from __future__ import annotations

import os
import sys

from kerascope._audit.inspect import CustomObject
from kerascope._common.files import file_sha256
from kerascope._reading.manifest import ManifestObject

__all__ = ["describe_object"]


def describe_object(obj: CustomObject, live: object) -> ManifestObject:
    """The manifest entry for a custom object and the live class or function behind it.

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> from kerascope._common.files import file_sha256
        >>> entry = describe_object(CustomObject("f", ("loss",), None, "f", None, (), False),
        ...                         file_sha256)
        >>> entry.module, entry.qualname, entry.file
        ('kerascope._common.files', 'file_sha256', 'kerascope/_common/files.py')
    """
    module_name = getattr(live, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    path = getattr(module, "__file__", None) if module is not None else None
    relative = digest = distribution = version = None
    if isinstance(path, str) and os.path.isfile(path):
        relative = _relative_to_root(path, module_name or "")
        digest = file_sha256(path)
        distribution, version = _distribution_of(module_name or "", path)
    return ManifestObject(
        key=obj.key,
        kinds=tuple(obj.kinds),
        module=module_name if isinstance(module_name, str) else None,
        qualname=getattr(live, "__qualname__", None),
        file=relative,
        sha256=digest,
        distribution=distribution,
        distribution_version=version,
    )


def _relative_to_root(path: str, module: str) -> str:
    parts = module.split(".") if module and module != "__main__" else []
    is_package = os.path.basename(path) == "__init__.py"
    depth = len(parts) if is_package else max(len(parts) - 1, 0)
    root = os.path.dirname(os.path.abspath(path))
    for _ in range(depth):
        root = os.path.dirname(root)
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def _distribution_of(module: str, path: str) -> tuple[str | None, str | None]:
    from importlib import metadata

    from kerascope._resolving.trust import distributions_providing

    for name in distributions_providing(module.split(".", maxsplit=1)[0]) if module else []:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        root = os.path.realpath(str(dist.locate_file("")))
        if os.path.realpath(path).startswith(root + os.sep):
            return dist.metadata["Name"], dist.version
    return None, None
