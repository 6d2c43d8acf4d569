"""``kerascope.migrate``: a Keras 2 file → a Keras 3 ``.keras``, with parity proven elsewhere."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._resolving.plan import Plan, lambda_switch, make_plan
from kerascope.errors import KerasLoadError

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import CompileMode

from .load import load_with_plan
from .runtime import in_custom_object_scope
from .save import save_model
from .savedmodel_parity import REFERENCE_NAME, serving_signature_outputs
from .shims import keras2_idioms
from .smoke import _array, _input_specs

__all__ = ["Migration", "migrate"]

_IMPORTED = frozenset({"source", "module", "package", "entry-point", "manifest"})
_TOLERANCE = 1e-5


class Migration(Record):
    """What ``migrate`` did.

    Attributes:
        source: The Keras 2 file.
        target: The Keras 3 ``.keras`` written.
        rules: One line per translation rule applied.
        reference: ``"tf-keras"``, the SavedModel's serving signature, or None when no
            independent reference was available.
        max_abs_diff: The largest difference between the reference's and the migrated model's
            outputs, each computed in a fresh process; None without a reference.
        note: Why there was no reference, when there was none.
    """

    source: str
    target: str
    rules: tuple[str, ...]
    reference: str | None
    max_abs_diff: float | None
    note: str | None = None


def migrate(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    safe_mode: bool = True,
    compile: CompileMode = "auto",
    allow: Iterable[str] = (),
    strict: bool = False,
) -> Migration:
    """Load a Keras 2 ``.h5`` / tf-keras ``.keras`` / SavedModel, save it as a Keras 3 ``.keras``.

    The file is translated and loaded as :func:`kerascope.load_model` does it (smoke-checked),
    saved with :func:`kerascope.save_model` (manifest) beside the target, then the original is
    run with tf-keras and the new file with kerascope, each in a fresh process, on the same
    inputs; the new file replaces ``target`` only when they agree (nothing is left otherwise).
    A SavedModel directory is rebuilt from its ``keras_metadata.pb`` config and checkpoint
    variables; its reference is its own ``serving_default`` signature, run by TensorFlow alone.
    ``sources``, ``trust``, ``safe_mode``, ``compile``, ``allow`` and ``strict`` mean what they
    mean for :func:`kerascope.load_model`; ``compile=False`` writes a file without a compile
    state.

    When tf-keras cannot load the original itself (tf-keras 2.21 does not reread a custom
    activation function from its own ``.h5``), there is no independent reference: the new file
    is kept, and the result says so in ``note`` with ``reference`` None.

    Raises:
        KerasLoadError: The outputs differ by more than 1e-5, or the migrated file failed.

    Example:
        >>> import kerascope
        >>> kerascope.migrate("old.h5", "new.keras", sources=["layers.py"])  # doctest: +SKIP
        Migration(source='old.h5', target='new.keras', ..., max_abs_diff=0.0, ...)
    """
    source, target = os.fspath(source), os.fspath(target)
    trust = tuple(trust)
    safe_mode, allowed = lambda_switch(safe_mode, allow)
    plan = make_plan(
        source, sources, trust, compile=compile, safe_mode=safe_mode, allow=allowed,
        strict=strict, in_scope=in_custom_object_scope,
    )  # fmt: skip
    model = load_with_plan(plan)
    _refuse_keras2_idioms(source, model)
    translation = plan.inspection.translation
    rules = tuple(a.detail for a in translation.applied) if translation else ()
    # Saved beside the target and renamed over it only once parity held: a failed migration
    # leaves no file that looks migrated.
    folder, name = os.path.split(os.path.abspath(target))
    staged = os.path.join(folder, f".{name}.kerascope-{os.getpid()}.keras")
    try:
        save_model(model, staged)
        if plan.inspection.format == "savedmodel":
            result = _savedmodel_parity(
                source=source, target=target, staged=staged, rules=rules, model=model,
                sources=sources, trust=trust, safe_mode=safe_mode,
            )  # fmt: skip
        else:
            result = _tf_keras_parity(
                plan, source=source, target=target, staged=staged, rules=rules, model=model,
                sources=sources, trust=trust, safe_mode=safe_mode,
            )  # fmt: skip
        os.replace(staged, target)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    return result


def _refuse_keras2_idioms(source: str, model: Any) -> None:
    """A model whose custom code needed a Keras 2 shim would be written as a Keras 3 file that
    Keras 3 cannot load: say what to change in the code, before anything is written."""
    idioms = keras2_idioms(model)
    if idioms:
        listed = "; ".join(idioms)
        raise KerasLoadError(
            source,
            ValueError(
                f"the custom code uses Keras 2 idioms that kerascope accepts only while it reads "
                f"a Keras 2 file, so the migrated file would not load in Keras 3: {listed}. "
                "Change the code as said, then migrate again"
            ),
        )


def _tf_keras_parity(
    plan: Plan,
    *,
    source: str,
    target: str,
    staged: str,
    rules: tuple[str, ...],
    model: Any,
    sources: Sequence[str | os.PathLike[str]],
    trust: tuple[str, ...],
    safe_mode: bool,
) -> Migration:
    """The original loaded by tf-keras against the staged file loaded by kerascope."""
    if importlib.util.find_spec("tf_keras") is None:
        note = "no independent reference: tf-keras is not installed (kerascope[legacy])"
        return Migration(source=source, target=target, rules=rules, reference=None,
                         max_abs_diff=None, note=note)  # fmt: skip
    needed = [r for r in plan.resolutions if r.origin in _IMPORTED and r.module and r.attribute]
    with tempfile.TemporaryDirectory(prefix="kerascope-migrate-") as tmp:
        inputs = _write_inputs(tmp, model)
        common = {
            "inputs": inputs,
            "safe_mode": safe_mode,
            "roots": list(dict.fromkeys(r.root for r in needed if r.root)),
            "objects": {r.object.key: [r.module, r.attribute] for r in needed},
            "sources": [os.fspath(s) for s in sources],
            "trust": list(trust),
        }
        try:
            reference = _side(tmp, {**common, "side": "tf-keras", "path": source})
        except KerasLoadError as failure:  # tf-keras 2.21 cannot reread some of its own .h5
            reason = str(failure.keras_error).removeprefix("tf-keras side failed: ")
            note = f"no independent reference: tf-keras could not load the original: {reason}"
            return Migration(source=source, target=target, rules=rules, reference=None,
                             max_abs_diff=None, note=note.split(". ")[0])  # fmt: skip
        migrated = _side(tmp, {**common, "side": "kerascope", "path": staged, "label": target})
    diff = _largest_difference(target, reference, migrated)
    if not diff <= _TOLERANCE:
        raise KerasLoadError(target, ValueError(f"outputs differ from tf-keras's by {diff:.3g}"))
    return Migration(source=source, target=target, rules=rules, reference="tf-keras",
                     max_abs_diff=diff)  # fmt: skip


def _savedmodel_parity(
    *,
    source: str,
    target: str,
    staged: str,
    rules: tuple[str, ...],
    model: Any,
    sources: Sequence[str | os.PathLike[str]],
    trust: tuple[str, ...],
    safe_mode: bool,
) -> Migration:
    """The migrated file (kerascope, fresh process) against the directory's serving signature
    (TensorFlow alone, another fresh process)."""
    if importlib.util.find_spec("tensorflow") is None:
        note = "no independent reference: TensorFlow is not installed to run the signature"
        return Migration(source=source, target=target, rules=rules, reference=None,
                         max_abs_diff=None, note=note)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="kerascope-migrate-") as tmp:
        inputs = _write_inputs(tmp, model)
        reference = serving_signature_outputs(
            source,
            inputs,
            os.path.join(tmp, "signature.npz"),
            input_names=[
                str(getattr(t, "name", "")).split(":")[0]
                for t in getattr(model, "inputs", None) or []  # a subclassed model has none
            ],
            output_names=[str(name) for name in getattr(model, "output_names", None) or []],
        )
        spec = {
            "inputs": inputs, "safe_mode": safe_mode, "roots": [], "objects": {},
            "sources": [os.fspath(s) for s in sources], "trust": list(trust),
            "side": "kerascope", "path": staged, "label": target,
        }  # fmt: skip
        migrated = _side(tmp, spec)
    diff = _largest_difference(target, reference, migrated)
    if not diff <= _TOLERANCE:
        raise KerasLoadError(
            target, ValueError(f"outputs differ from {REFERENCE_NAME} by {diff:.3g}")
        )
    return Migration(source=source, target=target, rules=rules, reference=REFERENCE_NAME,
                     max_abs_diff=diff)  # fmt: skip


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
