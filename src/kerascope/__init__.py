"""kerascope: inspect, audit and load Keras models whose custom objects live in other files.

Reading a model file never imports Keras, TensorFlow or user code; loading imports only what the
file needs, from places the user named or trusts, and then lets Keras build the model.

Example:
    >>> import kerascope
    >>> result = kerascope.inspect("model.keras")  # doctest: +SKIP
    >>> [obj.key for obj in result.custom_objects]  # doctest: +SKIP
    ['MyCustomLayer']
    >>> model = kerascope.load_model("model.keras", sources=["layers.py"])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from ._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

from ._audit.findings import Finding
from ._audit.inspect import CustomObject, Inspection, inspect
from ._reading.references import Reference
from .errors import (
    ExportError,
    KerascopeError,
    KerascopeWarning,
    KerasLoadError,
    LintError,
    ModelFileError,
    Problem,
    RegistryError,
    SourceError,
    SourceImportError,
    UnresolvedObjectsError,
)

if TYPE_CHECKING:
    from ._audit.scan import ScanReport, scan
    from ._audit.store import StoreReport, scan_paths
    from ._keras.bundle_file import bundle, unbundle
    from ._keras.export import Export, export
    from ._keras.load import load_model
    from ._keras.migrate import Migration, migrate
    from ._keras.ref import ModelRef, worker_initializer, worker_model
    from ._keras.registration import register
    from ._keras.save import save_model
    from ._keras.verify import BackendsReport, VerifyReport, verify
    from ._resolving.entrypoints import ENTRY_POINT_GROUP
    from ._resolving.plan import Plan, Resolution, check, untrusted
    from ._resolving.registry import REGISTRY, Registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "BackendsReport",
    "CustomObject",
    "Export",
    "ExportError",
    "Finding",
    "Inspection",
    "KerasLoadError",
    "KerascopeError",
    "KerascopeWarning",
    "LintError",
    "Migration",
    "ModelFileError",
    "ModelRef",
    "Plan",
    "Problem",
    "Reference",
    "Registry",
    "RegistryError",
    "Resolution",
    "ScanReport",
    "SourceError",
    "SourceImportError",
    "StoreReport",
    "UnresolvedObjectsError",
    "VerifyReport",
    "__version__",
    "bundle",
    "check",
    "export",
    "inspect",
    "load_model",
    "migrate",
    "register",
    "save_model",
    "scan",
    "scan_paths",
    "unbundle",
    "untrusted",
    "verify",
    "worker_initializer",
    "worker_model",
]

__version__ = "0.1.0"

# Loading support is imported on first use, so that `import kerascope` and inspect stay fast.
_LAZY = {
    "ENTRY_POINT_GROUP": "._resolving.entrypoints",
    "check": "._resolving.plan",
    "untrusted": "._resolving.plan",
    "Plan": "._resolving.plan",
    "Resolution": "._resolving.plan",
    "REGISTRY": "._resolving.registry",
    "Registry": "._resolving.registry",
    "register": "._keras.registration",
    "load_model": "._keras.load",
    "ModelRef": "._keras.ref",
    "worker_initializer": "._keras.ref",
    "worker_model": "._keras.ref",
    "save_model": "._keras.save",
    "migrate": "._keras.migrate",
    "export": "._keras.export",
    "Export": "._keras.export",
    "Migration": "._keras.migrate",
    "verify": "._keras.verify",
    "VerifyReport": "._keras.verify",
    "BackendsReport": "._keras.verify",
    "scan": "._audit.scan",
    "bundle": "._keras.bundle_file",
    "unbundle": "._keras.bundle_file",
    "ScanReport": "._audit.scan",
    "scan_paths": "._audit.store",
    "StoreReport": "._audit.store",
}


# Old names kept working, with a DeprecationWarning: name -> what replaces it.
_DEPRECATED = {"ScanFinding": "Finding"}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        import warnings

        replacement = _DEPRECATED[name]
        warnings.warn(
            f"kerascope.{name} is deprecated: use kerascope.{replacement}, the one findings "
            "record of inspect, scan and the save lint",
            DeprecationWarning,
            stacklevel=2,
        )
        return globals()[replacement]
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kerascope' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
