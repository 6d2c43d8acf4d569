"""Parity of a migration: the original run by an independent reference, the migrated file run by
kerascope, each in a fresh process, on the same inputs.

The reference is tf-keras loading the original ``.h5`` / ``.keras`` (``kerascope[legacy]``), or,
for a SavedModel directory, its own ``serving_default`` signature run by TensorFlow alone
(:mod:`kerascope._keras.savedmodel_parity`). The migrated side is ``kerascope.load_model`` of the
staged file (:mod:`kerascope._keras.parity_child`), so it applies the Keras 2 shims the file's
manifest records, as every later load will.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._resolving.plan import Plan
from kerascope.errors import KerasLoadError

if TYPE_CHECKING:
    from typing import Any

from .parity_child import outputs_on
from .savedmodel_parity import REFERENCE_NAME, serving_signature_outputs
from .smoke import _array, _input_specs

__all__ = ["Parity", "prove_parity"]

_IMPORTED = frozenset({"source", "module", "package", "entry-point", "manifest"})
_TOLERANCE = 1e-5
_TF_KERAS = "tf-keras"


class Parity(Record):
    """What the parity check found.

    Attributes:
        reference: ``"tf-keras"``, the SavedModel's serving signature, or None when no
            independent reference was available.
        max_abs_diff: The largest difference between the reference's outputs and the migrated
            model's; without an independent reference, between the original as loaded in this
            process and the migrated file loaded in a fresh one.
        note: Why there was no independent reference, and what was compared instead.
    """

    reference: str | None
    max_abs_diff: float | None
    note: str | None = None


def prove_parity(
    plan: Plan,
    *,
    source: str,
    target: str,
    staged: str,
    model: Any,
    sources: Sequence[str | os.PathLike[str]],
    trust: tuple[str, ...],
    safe_mode: bool,
) -> Parity:
    """Run the reference on ``source`` and kerascope on ``staged``, in fresh processes.

    ``model`` (the loaded original) gives the input spec; ``target`` names the migrated file
    in messages. ``sources``, ``trust`` and ``safe_mode`` are passed to both sides.

    Raises:
        KerasLoadError: The outputs differ by more than 1e-5, the migrated file failed, or
            the SavedModel's signature failed.

    Example:
        >>> prove_parity(plan, source="old.h5", target="new.keras",  # doctest: +SKIP
        ...              staged=".new.keras.kerascope-1.keras", model=model, sources=["l.py"],
        ...              trust=(), safe_mode=True).max_abs_diff
        0.0
    """
    savedmodel = plan.inspection.format == "savedmodel"
    with tempfile.TemporaryDirectory(prefix="kerascope-migrate-") as tmp:
        inputs = _write_inputs(tmp, model)
        common = {
            "inputs": inputs,
            "safe_mode": safe_mode,
            "sources": [os.fspath(s) for s in sources],
            "trust": list(trust),
        }
        reference, note = None, None
        if importlib.util.find_spec("tensorflow" if savedmodel else "tf_keras") is None:
            missing = (
                "TensorFlow is not installed to run the signature"
                if savedmodel
                else "tf-keras is not installed (kerascope[legacy])"
            )
            note = f"no independent reference: {missing}"
        elif savedmodel:
            reference = _signature_outputs(source, inputs, tmp, model)
        else:
            try:
                reference = _side(tmp, {**common, **_tf_keras_spec(plan, source)})
            except KerasLoadError as failure:  # tf-keras 2.21 cannot reread some of its own .h5
                reason = str(failure.keras_error).removeprefix(f"{_TF_KERAS} side failed: ")
                note = f"no independent reference: tf-keras could not load the original: {reason}"
                note = note.split(". ", 1)[0]
        migrated = _side(tmp, {**common, "side": "kerascope", "path": staged, "label": target})
        if reference is None:
            # Not independent, but it still proves the new file loads in another process and
            # computes what the original, as kerascope loaded it here, computes.
            diff = _largest_difference(target, outputs_on(model, inputs), migrated)
            if not diff <= _TOLERANCE:
                raise KerasLoadError(
                    target,
                    ValueError(f"loaded in a fresh process, it differs by {diff:.3g} from the "
                               "original as kerascope loaded it"),
                )  # fmt: skip
            note = (
                f"{note}; the new file, loaded by kerascope in a fresh process, matches the "
                f"original as loaded here: largest difference {diff:g}"
            )
            return Parity(reference=None, max_abs_diff=diff, note=note)
    name = REFERENCE_NAME if savedmodel else _TF_KERAS
    diff = _largest_difference(target, reference, migrated)
    if not diff <= _TOLERANCE:
        differ = name if savedmodel else f"{name}'s"
        raise KerasLoadError(target, ValueError(f"outputs differ from {differ} by {diff:.3g}"))
    return Parity(reference=name, max_abs_diff=diff)


def _tf_keras_spec(plan: Plan, source: str) -> dict[str, Any]:
    """tf-keras loads the original with the custom objects kerascope imported for it."""
    needed = [r for r in plan.resolutions if r.origin in _IMPORTED and r.module and r.attribute]
    return {
        "side": _TF_KERAS,
        "path": source,
        "roots": list(dict.fromkeys(r.root for r in needed if r.root)),
        "objects": {r.object.key: [r.module, r.attribute] for r in needed},
    }


def _signature_outputs(source: str, inputs: str, tmp: str, model: Any) -> list[Any]:
    return serving_signature_outputs(
        source,
        inputs,
        os.path.join(tmp, "signature.npz"),
        input_names=[
            str(getattr(t, "name", "")).split(":")[0]
            for t in getattr(model, "inputs", None) or []  # a subclassed model has none
        ],
        output_names=[str(name) for name in getattr(model, "output_names", None) or []],
    )


def _write_inputs(tmp: str, model: Any) -> str:
    import numpy as np

    inputs = os.path.join(tmp, "inputs.npz")
    arrays = [_array(shape, dtype) for shape, dtype in _input_specs(model)]
    named: dict[str, Any] = {f"in_{i}": a for i, a in enumerate(arrays)}
    np.savez(inputs, **named)
    return inputs


def _largest_difference(target: str, reference: list[Any], migrated: list[Any]) -> float:
    import numpy as np

    if len(reference) != len(migrated):
        raise KerasLoadError(
            target,
            ValueError(f"the reference gave {len(reference)} outputs, the migrated model "
                       f"{len(migrated)}"),
        )  # fmt: skip
    diffs = []
    for a, b in zip(reference, migrated, strict=True):
        if a.shape != b.shape:
            raise KerasLoadError(
                target, ValueError(f"output shapes differ: {a.shape} and {b.shape}")
            )
        diffs.append(float(np.max(np.abs(a.astype("float64") - b.astype("float64")))))
    return max(diffs)


def _side(tmp: str, spec: dict[str, Any]) -> list[Any]:
    import numpy as np

    name = spec["side"]
    spec["out"] = os.path.join(tmp, f"{name}.npz")
    spec_path = os.path.join(tmp, f"{name}.json")
    with open(spec_path, "w", encoding="utf-8") as handle:
        json.dump(spec, handle)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run(
        [sys.executable, "-m", "kerascope._keras.parity_child", spec_path],
        env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        label = spec.get("label", spec["path"])  # the target, not the staged file's name
        raise KerasLoadError(label, RuntimeError(f"{name} side failed: {tail[0]}"))
    with np.load(spec["out"]) as data:
        return [data[f"out_{i}"] for i in range(len(data.files))]
