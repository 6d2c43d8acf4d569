"""``kerascope.export``: a code-free artifact (TF SavedModel, ONNX), proven to agree with Keras.

The model is loaded through kerascope (the plan: audit, trust, Lambda refused unless
``safe_mode=False``), exported with Keras's public ``model.export``, and the artifact is run in a
fresh, isolated process (:mod:`kerascope._keras.export_child`) where neither kerascope, nor the
custom code, nor Keras (nor, for ONNX, TensorFlow) can be imported. Its outputs are compared with
the Keras model's on the same inputs. The artifact is built in a hidden temporary directory
beside the target and moved to the target only once parity passed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._resolving.plan import lambda_switch, make_plan
from kerascope.errors import ExportError

if TYPE_CHECKING:
    from typing import Any, Literal

    ExportFormat = Literal["tf_saved_model", "onnx"]

from .atomic import fsync_directory
from .export_inputs import flatten_outputs, parity_inputs
from .export_isolated import blocked_names, run_isolated
from .load import load_with_plan
from .runtime import in_custom_object_scope

__all__ = ["FORMATS", "Export", "export"]

FORMATS = ("tf_saved_model", "onnx")
_ONNX_NEEDS = ("tf2onnx", "onnx", "onnxruntime")


class Export(Record):
    """What ``export`` wrote and how it was proven.

    Attributes:
        source: The model file.
        target: The artifact written (a directory for a SavedModel, a file for ONNX).
        format: ``"tf_saved_model"`` or ``"onnx"``.
        inputs: Where the inputs came from: the sample file, or how they were generated.
        max_abs_diff: The largest absolute difference between the Keras model's and the
            artifact's outputs.
        max_rel_diff: The largest difference relative to the Keras output's magnitude (over the
            elements where that is not 0).
        atol: The tolerance the absolute difference was held to.
        blocked: The top-level modules proven unimportable in the isolated process.
        export_seconds: Time spent in ``model.export``.
        parity_seconds: Time spent in the isolated process (start, load, run).
    """

    source: str
    target: str
    format: str
    inputs: str
    max_abs_diff: float
    max_rel_diff: float
    atol: float
    blocked: tuple[str, ...]
    export_seconds: float
    parity_seconds: float


def export(
    path: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    format: ExportFormat = "tf_saved_model",
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    safe_mode: bool = True,
    allow: Iterable[str] = (),
    strict: bool = False,
    sample: str | os.PathLike[str] | None = None,
    atol: float = 1e-5,
) -> Export:
    """Export a model to a code-free artifact and prove, in an isolated process, that it agrees.

    Args:
        path: A ``.keras`` file, an unzipped ``.keras`` directory or a legacy ``.h5`` file.
        target: Where to write the artifact: a directory (``tf_saved_model``) or a file
            (``onnx``). An existing one is replaced only once the new artifact passed.
        format: ``"tf_saved_model"`` or ``"onnx"`` (needs ``pip install 'kerascope[export]'``).
        sources, trust, allow, strict: As in :func:`kerascope.load_model`.
        safe_mode: ``False`` accepts Lambda bytecode (the artifact is a traced graph, so the
            parity check still applies); refused otherwise.
        sample: An ``.npy`` (one input) or ``.npz`` (one array per input, by input name or in
            order) to compare on. Without it, 4 samples are generated from the input spec with
            a fixed seed; a spec with an unknown non-batch size, or a string input, needs one.
        atol: The largest absolute difference accepted.

    Returns:
        What was written and the differences measured.

    Raises:
        UnresolvedObjectsError: The plan refused the file (missing or untrusted code, Lambda
            bytecode without ``safe_mode=False``, a dangerous finding).
        ExportError: The inputs cannot be sampled, the export failed, the isolated run failed
            or the outputs differ by more than ``atol``. Nothing is written then.

    Example:
        >>> import kerascope
        >>> result = kerascope.export(  # doctest: +SKIP
        ...     "my_model.keras", "served/", sources=["custom_layer.py"]
        ... )
        >>> result.max_abs_diff <= 1e-5  # doctest: +SKIP
        True
    """
    path, target = os.fspath(path), os.fspath(target)
    if format not in FORMATS:
        raise ExportError(target, f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
    if format == "onnx":
        _require_onnx(target)
    if not os.path.isdir(os.path.dirname(os.path.abspath(target))):
        raise ExportError(target, "its directory does not exist")
    if sample is not None and not os.path.isfile(sample):
        raise ExportError(target, f"the sample {os.fspath(sample)} is not a file")
    safe_mode, allow = lambda_switch(safe_mode, allow)
    plan = make_plan(path, sources, trust, compile=False, safe_mode=safe_mode, allow=allow,
                     strict=strict, in_scope=in_custom_object_scope)  # fmt: skip
    model = load_with_plan(plan)
    inputs, described = parity_inputs(model, target, None if sample is None else os.fspath(sample))
    try:
        predicted = model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0)
    except Exception as error:
        raise ExportError(
            target, f"the model failed to predict on {described}: {type(error).__name__}: {error}"
        ) from error
    expected = flatten_outputs(predicted)
    directory = os.path.dirname(os.path.abspath(target))
    name = os.path.basename(os.path.normpath(target))
    workdir = tempfile.mkdtemp(prefix=f".{name}.kerascope-export-", dir=directory)
    try:
        artifact = os.path.join(workdir, name)
        started = time.perf_counter()
        _keras_export(model, artifact, format, target)
        exported = time.perf_counter()
        outcome = run_isolated(format, artifact, inputs, blocked_names(plan, format), target)
        finished = time.perf_counter()
        abs_diff, rel_diff = _differences(expected, outcome.outputs, target)
        if not abs_diff <= atol:
            raise ExportError(
                target,
                f"the {format} artifact's outputs differ from the Keras model's by {abs_diff:.3g} "
                f"(relative {rel_diff:.3g}), above the tolerance {atol:g}, on {described}",
            )
        _move_into_place(artifact, target, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return Export(source=path, target=target, format=format, inputs=described,
                  max_abs_diff=abs_diff, max_rel_diff=rel_diff, atol=atol,
                  blocked=outcome.blocked, export_seconds=exported - started,
                  parity_seconds=finished - exported)  # fmt: skip


def _require_onnx(target: str) -> None:
    import importlib.util

    missing = [name for name in _ONNX_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise ExportError(
            target,
            f"the onnx format needs {', '.join(missing)}, not installed here: "
            "pip install 'kerascope[export]'",
        )


def _keras_export(model: Any, artifact: str, format: str, target: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf2onnx's numpy-2 patch warns about np.object
            model.export(artifact, format=format, verbose=False)
    except Exception as error:
        message = str(error).strip().splitlines()
        raise ExportError(
            target,
            f"Keras's model.export(format={format!r}) failed: {type(error).__name__}: "
            f"{message[-1] if message else ''}",
        ) from error


def _differences(expected: list[Any], actual: list[Any], target: str) -> tuple[float, float]:
    import numpy as np

    if len(expected) != len(actual):
        raise ExportError(
            target, f"the artifact has {len(actual)} outputs, the Keras model {len(expected)}"
        )
    largest_abs, largest_rel = 0.0, 0.0
    for index, (keras_output, artifact_output) in enumerate(zip(expected, actual, strict=True)):
        want, got = np.asarray(keras_output), np.asarray(artifact_output)
        if want.shape != got.shape:
            raise ExportError(
                target,
                f"output {index} has shape {got.shape} in the artifact and {want.shape} in Keras",
            )
        want64, got64 = want.astype(np.float64), got.astype(np.float64)
        diff = np.abs(want64 - got64)
        diff[np.isnan(want64) & np.isnan(got64)] = 0.0
        diff[np.isnan(diff)] = np.inf  # NaN on one side only
        if diff.size:
            largest_abs = max(largest_abs, float(diff.max()))
            scale = np.abs(want64)
            nonzero = scale > 0
            if nonzero.any():
                largest_rel = max(largest_rel, float((diff[nonzero] / scale[nonzero]).max()))
    return largest_abs, largest_rel


def _move_into_place(artifact: str, target: str, workdir: str) -> None:
    """Rename the checked artifact to ``target``; an existing target is moved aside first and
    removed once the new one is in place, so ``target`` never holds a half-written artifact."""
    aside = os.path.join(workdir, "previous")
    had_previous = os.path.lexists(target)
    if had_previous:
        os.rename(target, aside)
    try:
        os.rename(artifact, target)
    except BaseException:
        if had_previous:
            os.rename(aside, target)
        raise
    fsync_directory(os.path.dirname(os.path.abspath(target)))
