"""The inputs an export is checked on: the user's sample, or arrays generated from the input spec.

Generation refuses what it cannot do faithfully (an unknown size other than the batch, a string
input) rather than guessing: the parity check would then prove something about inputs the model
never sees.
"""

from __future__ import annotations

import os

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import ExportError

if TYPE_CHECKING:
    from typing import Any

from .smoke import SmokeError, declared_input_specs

__all__ = ["GENERATED_BATCH", "GENERATED_SEED", "flatten_outputs", "parity_inputs"]

GENERATED_BATCH = 4
GENERATED_SEED = 0


def parity_inputs(model: Any, target: str, sample: str | None) -> tuple[list[Any], str]:
    """The model's inputs in flat order, and a phrase saying where they came from.

    Raises:
        ExportError: The sample does not fit the model, or the spec cannot be sampled.

    Example:
        >>> arrays, described = parity_inputs(model, "out", None)  # doctest: +SKIP
        >>> described  # doctest: +SKIP
        '4 samples generated from the input spec (seed 0)'
    """
    try:
        specs = declared_input_specs(model)
    except SmokeError as error:
        raise ExportError(target, f"cannot sample the model's inputs: {error}") from error
    names = _input_names(model, len(specs))
    if sample is not None:
        arrays = _read_sample(sample, names, target)
        for name, array, (shape, dtype) in zip(names, arrays, specs, strict=True):
            _check_fits(name, array, (shape, dtype), target, sample)
        arrays = [a.astype(dtype, copy=False) for a, (_, dtype) in zip(arrays, specs, strict=True)]
        rows = len(arrays[0]) if arrays and arrays[0].ndim else 0
        return arrays, f"the sample {sample} ({rows} rows)"
    return _generated(names, specs, target), (
        f"{GENERATED_BATCH} samples generated from the input spec (seed {GENERATED_SEED})"
    )


def flatten_outputs(outputs: Any) -> list[Any]:
    """Keras outputs as a flat list, dict entries in key order (as TensorFlow flattens them).

    Example:
        >>> flatten_outputs({"b": 2, "a": 1})
        [1, 2]
    """
    if isinstance(outputs, dict):
        return [item for key in sorted(outputs) for item in flatten_outputs(outputs[key])]
    if isinstance(outputs, (list, tuple)):
        return [item for value in outputs for item in flatten_outputs(value)]
    return [outputs]


def _input_names(model: Any, count: int) -> list[str]:
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError):
        inputs = []
    names = [str(getattr(t, "name", "") or "") for t in inputs]
    if len(names) != count or not all(names):
        return [f"input_{i}" for i in range(count)]
    return names


def _generated(
    names: list[str], specs: list[tuple[tuple[int | None, ...], str]], target: str
) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(GENERATED_SEED)
    arrays = []
    for name, (shape, dtype) in zip(names, specs, strict=True):
        if "string" in dtype or dtype in ("str", "object"):
            raise ExportError(
                target,
                f"input '{name}' is a {dtype} input, which kerascope cannot generate: pass "
                "--sample (sample=) with real inputs",
            )
        unknown = [i for i, size in enumerate(shape) if size is None and i > 0]
        if unknown:
            raise ExportError(
                target,
                f"input '{name}' has shape {_shape_text(shape)}: the size of dimension "
                f"{unknown[0]} is unknown, so inputs cannot be generated faithfully; pass "
                "--sample x.npy (.npz for several inputs) with real inputs",
            )
        full = (GENERATED_BATCH, *(size for size in shape[1:] if size is not None))
        if "int" in dtype or "bool" in dtype:
            arrays.append(np.zeros(full, dtype=dtype))  # index 0 is valid for any lookup
        else:
            arrays.append(rng.random(full).astype(dtype))
    return arrays


def _read_sample(sample: str, names: list[str], target: str) -> list[Any]:
    import numpy as np

    if not os.path.isfile(sample):
        raise ExportError(target, f"the sample {sample} is not a file")
    try:
        loaded = np.load(sample, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ExportError(
            target, f"the sample {sample} is not a .npy or .npz file: {error}"
        ) from error
    if isinstance(loaded, np.ndarray):
        if len(names) != 1:
            raise ExportError(
                target,
                f"the model has {len(names)} inputs ({', '.join(names)}): pass an .npz with "
                "one array per input",
            )
        return [loaded]
    with loaded:
        keys = list(loaded.files)
        if set(keys) == set(names):
            return [loaded[name] for name in names]
        positional = [f"in_{i}" for i in range(len(names))], [f"arr_{i}" for i in range(len(names))]
        for order in positional:
            if set(keys) == set(order):
                return [loaded[key] for key in order]
        if len(keys) == len(names) == 1:
            return [loaded[keys[0]]]
    raise ExportError(
        target,
        f"the sample {sample} holds {', '.join(keys) or 'nothing'}; the model's inputs are "
        f"{', '.join(names)}: name the arrays so (or in_0, in_1, ... in order)",
    )


def _check_fits(
    name: str, array: Any, spec: tuple[tuple[int | None, ...], str], target: str, sample: str
) -> None:
    import numpy as np

    shape, dtype = spec
    if "string" in dtype:
        raise ExportError(target, f"input '{name}' is a string input: not supported by export")

    fits = array.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape[1:], array.shape[1:], strict=True)
    )
    if not fits or (array.ndim and array.shape[0] == 0):
        raise ExportError(
            target,
            f"the sample {sample}: input '{name}' has shape {array.shape}, the model expects "
            f"{_shape_text(shape)} (with at least one row)",
        )
    if not np.can_cast(array.dtype, np.dtype(dtype), casting="same_kind"):
        raise ExportError(
            target,
            f"the sample {sample}: input '{name}' is {array.dtype}, the model expects {dtype}",
        )


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"
