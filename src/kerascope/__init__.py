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

from ._record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

from ._findings import Finding
from ._inspect import CustomObject, Inspection, inspect
from ._references import Reference
from .errors import (
    KerascopeError,
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
    from ._entrypoints import ENTRY_POINT_GROUP
    from ._load import KerascopeWarning, check, load_model, untrusted
    from ._plan import Plan, Resolution
    from ._registry import REGISTRY, Registry, register
    from ._save import save_model
    from ._scan import ScanFinding, ScanReport, scan
    from ._verify import VerifyReport, verify

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "CustomObject",
    "Finding",
    "Inspection",
    "KerasLoadError",
    "KerascopeError",
    "KerascopeWarning",
    "LintError",
    "ModelFileError",
    "Plan",
    "Problem",
    "Reference",
    "Registry",
    "RegistryError",
    "Resolution",
    "ScanFinding",
    "ScanReport",
    "SourceError",
    "SourceImportError",
    "UnresolvedObjectsError",
    "VerifyReport",
    "__version__",
    "check",
    "inspect",
    "load_model",
    "register",
    "save_model",
    "scan",
    "untrusted",
    "verify",
]

__version__ = "0.1.0"

# Loading support is imported on first use, so that `import kerascope` and inspect stay fast.
_LAZY = {
    "ENTRY_POINT_GROUP": "._entrypoints",
    "KerascopeWarning": "._load",
    "check": "._load",
    "load_model": "._load",
    "untrusted": "._load",
    "Plan": "._plan",
    "Resolution": "._plan",
    "REGISTRY": "._registry",
    "Registry": "._registry",
    "register": "._registry",
    "save_model": "._save",
    "scan": "._scan",
    "ScanFinding": "._scan",
    "ScanReport": "._scan",
    "verify": "._verify",
    "VerifyReport": "._verify",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kerascope' has no attribute '{name}'")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
