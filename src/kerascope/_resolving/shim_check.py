"""The Keras 2 shims a Keras 3 file's manifest records, in a plan (docs/format.md, version 3).

A file written by ``kerascope migrate`` from a Keras 2 model whose custom code needed one of
kerascope's Keras 2 shims records them; kerascope applies exactly those at every load. The plan
says so (a note), and refuses, before anything is imported, what would fail at load:
``lambda-globals-tf`` gives Lambda bytecode TensorFlow's ``tf``, so on another backend it is a
``backend-bound`` problem. Its need for safe mode off is the audit's ``lambda`` finding, which
the file's Lambda bytecode has anyway.
"""

from __future__ import annotations

from kerascope._audit.inspect import Inspection
from kerascope._reading.manifest import LAMBDA_GLOBALS_TF
from kerascope.errors import Problem

from .backend_check import REASON

__all__ = ["shim_notes_and_problems"]

_TENSORFLOW_ONLY = frozenset({LAMBDA_GLOBALS_TF})


def shim_notes_and_problems(
    inspection: Inspection, backend: str
) -> tuple[list[str], list[Problem]]:
    """What the plan says about the shims ``inspection``'s manifest records, and what stops it.

    Example:
        >>> inspection = kerascope.inspect("migrated.keras")  # doctest: +SKIP
        >>> notes, problems = shim_notes_and_problems(inspection, "jax")  # doctest: +SKIP
        >>> problems[0].fix  # doctest: +SKIP
        'KERAS_BACKEND=tensorflow'
    """
    manifest = inspection.manifest
    if manifest is None or not manifest.shims or inspection.translation is not None:
        return [], []
    names = [shim.name for shim in manifest.shims]
    notes = [
        f"this file needs kerascope's Keras 2 shims ({', '.join(names)}), recorded by "
        "kerascope migrate: kerascope applies them; plain keras.saving.load_model cannot load it"
    ]
    bound = [name for name in names if name in _TENSORFLOW_ONLY]
    problems = []
    if bound and backend != "tensorflow":
        problems.append(
            Problem(
                key="Lambda",
                kind="layer",
                json_paths=(),
                reason=REASON,
                message=f"this file's Lambda bytecode calls TensorFlow (`tf`), which kerascope's "
                f"shim {bound[0]} provides on the TensorFlow backend only (active backend: "
                f"{backend})",
                fix="KERAS_BACKEND=tensorflow",
            )
        )
    return notes, problems
