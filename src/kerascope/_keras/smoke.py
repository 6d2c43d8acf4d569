"""One tiny forward pass (and one evaluation step when compiled) before handing a model back."""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["SmokeError", "declared_input_specs", "smoke_check"]

_BATCH = 2


def _input_specs(model: Any) -> list[tuple[tuple[int, ...], str]]:
    """Shapes (batch of 2, unknown sizes 4) and dtypes of the inputs, from the input spec or,
    for a subclassed model, the build config."""
    return [
        (tuple(_BATCH if i == 0 else (4 if d is None else int(d)) for i, d in enumerate(s)), dt)
        for s, dt in declared_input_specs(model)
    ]


def declared_input_specs(model: Any) -> list[tuple[tuple[int | None, ...], str]]:
    """The inputs' shapes as declared (None where unknown, the batch included) and dtypes.

    Read from the input spec or, for a subclassed model, the build config.

    Raises:
        SmokeError: The model was never built, so it declares no input.

    Example:
        >>> declared_input_specs(model)  # doctest: +SKIP
        [((None, 10), 'float32')]
    """
    inputs = getattr(model, "inputs", None) if _has_inputs(model) else None
    if inputs:
        specs = [(tuple(t.shape), str(getattr(t.dtype, "name", t.dtype))) for t in inputs]
    else:
        build = model.get_build_config() if getattr(model, "built", False) else None
        shape = (build or {}).get("input_shape")
        if not shape:
            raise SmokeError("the model was not built: it has no input spec to run it on")
        shapes = (
            shape
            if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple))
            else [shape]
        )
        specs = [(tuple(s), "float32") for s in shapes]
    return [(tuple(None if d is None else int(d) for d in s), dt) for s, dt in specs]


def _has_inputs(model: Any) -> bool:
    try:
        return bool(model.inputs)
    except (AttributeError, ValueError):
        return False


def _array(shape: tuple[int, ...], dtype: str) -> Any:
    import numpy as np

    if "int" in dtype or "bool" in dtype:
        return np.zeros(shape, dtype=dtype)
    return np.random.default_rng(0).random(shape).astype(dtype)


class SmokeError(Exception):
    """The model failed its first use; the message names the step and Keras's error."""


def smoke_check(model: Any) -> None:
    """Run one prediction on 2 samples built from the input spec, then one ``test_on_batch``
    with the model's own outputs as targets when it is compiled.

    Raises:
        SmokeError: Either step failed.

    Example:
        >>> smoke_check(model)  # doctest: +SKIP
    """
    arrays = [_array(shape, dtype) for shape, dtype in _input_specs(model)]
    x = arrays[0] if len(arrays) == 1 else arrays
    try:
        outputs = model.predict(x, verbose=0, batch_size=_BATCH)
    except Exception as error:
        raise SmokeError(f"the first predict failed: {type(error).__name__}: {error}") from error
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        return
    try:
        model.test_on_batch(x, outputs)
    except Exception as error:
        raise SmokeError(
            f"the compiled model failed one evaluation step: {type(error).__name__}: {error}"
        ) from error
