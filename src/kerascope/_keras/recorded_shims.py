"""Load a Keras 3 file whose manifest records the Keras 2 shims it needs (a migrated file).

``kerascope migrate`` writes a Keras 3 ``.keras`` from a Keras 2 file whose custom code needed
one of kerascope's Keras 2 shims (:mod:`kerascope._keras.shims`,
:mod:`kerascope._keras.lambda_globals`); Keras 3 alone cannot load that file, so its manifest
names the shims (docs/format.md, version 3) and kerascope applies exactly those at every load:

- ``positional-add-weight``: Keras 2's ``add_weight("w", shape, ...)`` accepted while the model
  is built;
- ``timedistributed-output-shape``: each custom layer under ``TimeDistributed`` without a
  ``compute_output_shape`` gets one that runs ``call`` on a symbolic input;
- ``lambda-globals-tf``: Lambda bytecode gets ``tf`` in its globals, only with safe mode off and
  on the TensorFlow backend; the model is then built from the archive's config by kerascope
  (Keras rebuilds a Lambda's function with globals of its own) and its weights loaded with
  ``model.load_weights``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import nullcontext

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.modelfile import read_model_file

if TYPE_CHECKING:
    from typing import Any

    from kerascope._audit.inspect import Inspection

from .lambda_globals import bind_keras2_lambdas
from .runtime import _keras, keras_load_quieted, load_with_keras
from .shims import (
    LAMBDA_GLOBALS_TF,
    POSITIONAL_ADD_WEIGHT,
    TIME_DISTRIBUTED_OUTPUT_SHAPE,
    positional_add_weight,
    record_shim,
    time_distributed_inner,
    with_output_shape,
)

__all__ = ["load_with_recorded_shims"]


def load_with_recorded_shims(
    inspection: Inspection, custom_objects: Mapping[str, Any], compile: bool, safe_mode: bool
) -> Any:
    """Load a Keras 3 file with exactly the Keras 2 shims its manifest records.

    The model remembers the shims (:func:`kerascope._keras.shims.needed_shims`), so that
    saving it again with kerascope records them again.

    Raises:
        ValueError: ``lambda-globals-tf`` is recorded and safe mode is on, or the file is not
            a ``.keras`` archive (the plan refuses the first before anything is imported).
        LambdaBackendError: ``lambda-globals-tf`` on a backend other than TensorFlow.

    Example:
        >>> inspection = kerascope.inspect("migrated.keras")  # doctest: +SKIP
        >>> model = load_with_recorded_shims(inspection, objects, True, True)  # doctest: +SKIP
    """
    assert inspection.manifest is not None
    shims = inspection.manifest.shims
    names = {shim.name for shim in shims}
    objects = dict(custom_objects)
    config: Any = None
    if names & {TIME_DISTRIBUTED_OUTPUT_SHAPE, LAMBDA_GLOBALS_TF}:
        config = read_model_file(inspection.path).config
    if TIME_DISTRIBUTED_OUTPUT_SHAPE in names:
        for key in time_distributed_inner(config):
            if key in objects:
                objects[key] = with_output_shape(objects[key])
    adding = positional_add_weight() if POSITIONAL_ADD_WEIGHT in names else nullcontext()
    with adding:
        if LAMBDA_GLOBALS_TF in names:
            model = _build_with_tf_lambdas(inspection, config, objects, compile, safe_mode)
        else:
            model = load_with_keras(inspection.path, objects, compile, safe_mode)
    for shim in shims:
        record_shim(model, shim.name, shim.changes)
    return model


def _build_with_tf_lambdas(
    inspection: Inspection,
    config: Any,
    objects: dict[str, Any],
    compile: bool,
    safe_mode: bool,
) -> Any:
    """What ``keras.saving.load_model`` does for a ``.keras`` archive (build from the config,
    compile from its compile config, load the weights), with the Lambdas bound by kerascope."""
    if safe_mode:
        raise ValueError(
            "this file's Lambda bytecode needs `tf` (kerascope's shim lambda-globals-tf), "
            "which kerascope provides only with safe_mode=False (--unsafe)"
        )
    if inspection.format != "keras":
        raise ValueError(
            f"kerascope applies the shim lambda-globals-tf to .keras archives only, not to a "
            f"{inspection.format} file"
        )
    keras = _keras()
    config = json.loads(json.dumps(config))
    if not compile:
        config["compile_config"] = None
    objects.update(bind_keras2_lambdas(config))
    with keras_load_quieted():
        with keras.saving.custom_object_scope(objects):
            model = keras.saving.deserialize_keras_object(
                config, custom_objects=objects, safe_mode=safe_mode
            )
        model.load_weights(inspection.path)
    return model
