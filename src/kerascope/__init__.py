"""kerascope: inspect, audit and load Keras models whose custom objects live in other files.

Reading a model file never imports Keras, TensorFlow, h5py (for .keras files) or user code.

Example:
    >>> import kerascope
    >>> result = kerascope.inspect("model.keras")  # doctest: +SKIP
    >>> [obj.key for obj in result.custom_objects]  # doctest: +SKIP
    ['MyCustomLayer']
"""

from __future__ import annotations

from ._findings import Finding
from ._inspect import CustomObject, Inspection, inspect
from ._references import Reference
from .errors import KerascopeError, ModelFileError

__all__ = [
    "CustomObject",
    "Finding",
    "Inspection",
    "KerascopeError",
    "ModelFileError",
    "Reference",
    "__version__",
    "inspect",
]

__version__ = "0.1.0"
