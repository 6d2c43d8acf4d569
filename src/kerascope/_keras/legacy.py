"""Load a Keras 2 file in Keras 3: build from the translated config, load weights, compile.

Keras 3 files keep going through ``keras.saving.load_model``. For files written by tf.keras /
tf-keras 2.x, kerascope builds the model from the config its translation rules rewrote
(``kerascope._translate``), with Keras's public API, then loads the weights with
``model.load_weights`` and restores the compile state from the translated training config.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import KerascopeWarning

if TYPE_CHECKING:
    from typing import Any

    from kerascope._audit.inspect import Inspection

from .lambda_globals import bind_keras2_lambdas
from .runtime import _keras, absl_errors_only
from .savedmodel_weights import load_savedmodel_weights
from .shims import (
    POSITIONAL_ADD_WEIGHT,
    TIME_DISTRIBUTED_OUTPUT_SHAPE,
    positional_add_weight,
    record_shim,
    time_distributed_inner,
    with_output_shape,
)
from .zip_weights import load_h5_file_weights, load_keras_file_weights

__all__ = ["load_keras2"]

SLOTS_NOTE = (
    "optimizer slot variables (Adam moments and the like) do not carry over from Keras 2: "
    "the optimizer restarts with the saved hyperparameters"
)


def load_keras2(
    inspection: Inspection, custom_objects: Mapping[str, Any], compile: bool, safe_mode: bool
) -> Any:
    """Build, fill and compile a Keras 3 model from a Keras 2 file's translated config.

    Example:
        >>> model = load_keras2(inspect("old.h5"), {"Scale": Scale}, True, True)  # doctest: +SKIP
    """
    assert inspection.translation is not None
    keras = _keras()
    objects = dict(custom_objects)
    config = dict(inspection.translation.config)
    if not safe_mode:  # the Lambda opt-in: bytecode needing `tf` gets it (TensorFlow only)
        config = json.loads(json.dumps(config))
        objects.update(bind_keras2_lambdas(config))
    output_shapes: set[str] = set()  # what each shim accepted: the code change it stands for
    named_first: set[str] = set()
    for key in time_distributed_inner(config):
        if key in objects:
            shimmed = with_output_shape(objects[key])
            if shimmed is not objects[key]:
                output_shapes.add(
                    f"{key} has no compute_output_shape and is wrapped by TimeDistributed "
                    "(Keras 2 inferred it): Keras 3 needs the method"
                )
            objects[key] = shimmed
    compile_config = config.pop("compile_config", None)
    with (
        absl_errors_only(),
        keras.saving.custom_object_scope(objects),
        positional_add_weight(named_first),
    ):
        model = _build(keras, inspection.format, config, objects, safe_mode)
        if inspection.format == "savedmodel":
            load_savedmodel_weights(model, inspection.path)
        elif inspection.format == "keras":
            load_keras_file_weights(model, inspection.path)
        else:
            load_h5_file_weights(model, inspection.path)
        if compile:
            if compile_config:
                model.compile_from_config(compile_config)
            elif inspection.translation.training_config:
                model.compile(
                    **_compile_args(keras, inspection.translation.training_config, objects)
                )
    if getattr(model, "optimizer", None) is not None and compile:
        warnings.warn(SLOTS_NOTE, KerascopeWarning, stacklevel=4)
    for shim, changes in (
        (TIME_DISTRIBUTED_OUTPUT_SHAPE, output_shapes),
        (POSITIONAL_ADD_WEIGHT, named_first),
    ):
        if changes:
            record_shim(model, shim, changes)
    return model


def _build(
    keras: Any, file_format: str, config: dict[str, Any], objects: dict[str, Any], safe_mode: bool
) -> Any:
    if file_format in ("h5", "savedmodel"):
        # The legacy (module-less) format: Keras's public legacy deserializer, as Keras's own
        # .h5 reader uses it, over every built-in layer and model class.
        module_objects = {
            name: value
            for name in dir(keras.layers)
            if isinstance(value := getattr(keras.layers, name), type)
        }
        module_objects.update(
            Functional=keras.Model, Model=keras.Model, Sequential=keras.Sequential
        )
        return keras.legacy.saving.deserialize_keras_object(
            config, module_objects=module_objects, custom_objects=objects
        )
    return keras.saving.deserialize_keras_object(
        config, custom_objects=objects, safe_mode=safe_mode
    )


def _compile_args(keras: Any, training: dict[str, Any], objects: dict[str, Any]) -> dict[str, Any]:
    """``model.compile`` arguments from a translated .h5 ``training_config``."""
    args: dict[str, Any] = {}
    optimizer = training.get("optimizer_config")
    if optimizer is not None:
        args["optimizer"] = keras.optimizers.deserialize(optimizer, custom_objects=objects)
    if training.get("loss") is not None:
        args["loss"] = _structure(training["loss"], lambda item: _loss(keras, item, objects))
    for key in ("metrics", "weighted_metrics"):
        if training.get(key) is not None:
            args[key] = _structure(training[key], lambda item: _metric(keras, item, objects))
    if training.get("loss_weights") is not None:
        args["loss_weights"] = training["loss_weights"]
    return args


def _structure(value: Any, convert: Any) -> Any:
    if isinstance(value, list):
        return [_structure(item, convert) for item in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {key: _structure(item, convert) for key, item in value.items()}
    return convert(value)


def _loss(keras: Any, item: Any, objects: dict[str, Any]) -> Any:
    if item is None:
        return None
    if isinstance(item, str):
        return objects.get(item) or keras.losses.get(item)
    return keras.losses.deserialize(item, custom_objects=objects)


def _metric(keras: Any, item: Any, objects: dict[str, Any]) -> Any:
    if item is None or isinstance(item, str):
        return objects.get(item, item) if isinstance(item, str) else item
    config = item.get("config") if isinstance(item, dict) else None
    if item.get("class_name") == "MeanMetricWrapper" and isinstance(config, dict):
        fn_name = config.get("fn")
        if isinstance(fn_name, str):
            custom = objects.get(fn_name)
            if custom is not None and config.get("name") == getattr(custom, "__name__", None):
                # The user's own function, named after itself: hand Keras the function, which
                # it wraps and names the same way. A wrapper would be saved with that name,
                # which Keras 3 resolves through custom_objects (to the function) when the
                # migrated file is loaded again: "'function' object has no attribute 'replace'".
                return custom
            fn = custom or _builtin_function(keras, fn_name)
            return keras.metrics.MeanMetricWrapper(
                fn=fn, name=config.get("name"), dtype=config.get("dtype")
            )
    return keras.metrics.deserialize(item, custom_objects=objects)


def _builtin_function(keras: Any, name: str) -> Any:
    """The metric *function* (``keras.metrics.get`` would give a stateful metric class)."""
    for namespace in (keras.metrics, keras.losses):
        candidate = getattr(namespace, name, None)
        if callable(candidate) and not isinstance(candidate, type):
            return candidate
    return keras.metrics.get(name)
