"""Before handing a model back: check, eagerly, that its first predict, evaluate and fit can run."""

from __future__ import annotations

import numbers

from kerascope._common.record import TYPE_CHECKING

from .runtime import _keras

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


_STEP_FUNCTIONS = (
    ("predict", "make_predict_function", "predict_function"),
    ("evaluate", "make_test_function", "test_function"),
    ("fit", "make_train_function", "train_function"),
)


def smoke_check(model: Any) -> None:
    """Check, cheaply, that the model's first ``predict``, ``evaluate`` and ``fit`` can run.

    Three steps, on 2 samples built from the input spec, all eager (nothing is traced or
    compiled, so the check costs milliseconds of computation, not a trace of the model):

    1. Make the step function ``predict`` would make, and those of ``evaluate`` and ``fit``
       when the model is compiled (Keras's own ``make_*_function``, cheap: nothing is traced
       until called), then put the model's back. This is where a compile state Keras 3 cannot
       run fails (``steps_per_execution: null`` from tf-keras; more than one step per
       execution on PyTorch).
    2. Run the forward pass (the model's own ``predict_step`` when it overrides it).
    3. When compiled: compute the compiled loss, then update the compiled metrics (the
       model's own ``test_step`` when it overrides it), with the model's own outputs as
       targets or, when that fails, class indices (what sparse categorical losses want); then
       reset the metrics, so that no state of the check's batch is left. When both fail, the
       error is the first one's.

    Not exercised: code that fails only when traced (Keras traced the forward pass already,
    symbolically, while it built the model), and the optimizer's update (its configuration
    was deserialized at load; its variables are made by the first ``fit``, as in Keras).

    Raises:
        SmokeError: A step failed; the message names it and Keras's error.

    Example:
        >>> smoke_check(model)  # doctest: +SKIP
    """
    arrays = [_array(shape, dtype) for shape, dtype in _input_specs(model)]
    x = arrays[0] if len(arrays) == 1 else arrays
    compiled = getattr(model, "compiled", False) and getattr(model, "loss", None) is not None
    _make_step_functions(model, _STEP_FUNCTIONS if compiled else _STEP_FUNCTIONS[:1])
    keras = _keras()
    stateless = keras.backend.backend() == "jax"  # its *_step methods take (state, data)
    own_test_step = not stateless and _overrides(model, "test_step")
    try:
        if not stateless and _overrides(model, "predict_step"):
            outputs = model.predict_step(x)
        else:
            outputs = model(x, training=False)
    except Exception as error:
        raise SmokeError(
            f"the forward pass on {_BATCH} samples failed (so would predict): "
            f"{type(error).__name__}: {error}"
        ) from error
    if not compiled:
        return
    failure: SmokeError | None = None
    for targets in _candidate_targets(keras, outputs):
        try:
            if own_test_step:
                _step("the model's test_step", model.test_step, (x, targets))
            else:
                _step("the compiled loss", _compute_loss, model, x, targets, outputs)
                _step("the compiled metrics", model.compute_metrics, x, targets, outputs, None)
            return
        except SmokeError as error:
            failure = failure or error
        finally:
            model.reset_metrics()
    assert failure is not None
    raise failure


def _candidate_targets(keras: Any, outputs: Any) -> list[Any]:
    """Targets the compiled loss and metrics may accept: the outputs themselves, then class
    indices (0) shaped like the outputs without their last axis, as sparse categorical losses
    and metrics want them."""
    import numpy as np

    indices = keras.tree.map_structure(
        lambda output: np.zeros(tuple(output.shape)[:-1], dtype="int32"), outputs
    )
    return [outputs, indices]


def _make_step_functions(model: Any, uses: tuple[tuple[str, str, str], ...]) -> None:
    for use, make, attribute in uses:
        kept = getattr(model, attribute, None)
        try:
            getattr(model, make)(force=True)
        except Exception as error:
            raise SmokeError(
                f"{use} cannot run: making its step function failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        finally:
            setattr(model, attribute, kept)
    steps = getattr(model, "steps_per_execution", 1)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise SmokeError(
            "predict, evaluate and fit need steps_per_execution to be a positive integer; "
            f"the compile state has {steps!r}"
        )


def _step(what: str, function: Any, *arguments: Any) -> None:
    try:
        function(*arguments)
    except Exception as error:
        raise SmokeError(
            f"{what} failed on the forward pass's outputs (so would evaluate and fit): "
            f"{type(error).__name__}: {error}"
        ) from error


def _compute_loss(model: Any, x: Any, targets: Any, outputs: Any) -> Any:
    """``model.compute_loss`` as ``test_step`` calls it (``training`` only where accepted: the
    argument came with Keras 3.3)."""
    import inspect

    parameters = inspect.signature(model.compute_loss).parameters
    if "training" in parameters:
        return model.compute_loss(x, targets, outputs, None, training=False)
    return model.compute_loss(x, targets, outputs, None)


def _overrides(model: Any, name: str) -> bool:
    """Whether the model's class defines ``name`` itself (outside Keras)."""
    method = getattr(type(model), name, None)
    return method is not None and not str(getattr(method, "__module__", "")).startswith("keras.")
