"""Child process of ``kerascope migrate``: predict with one side, write the outputs.

``python -m kerascope._keras.parity_child SPEC.json`` where SPEC holds ``side`` (``"tf-keras"``:
load the original with tf-keras, the independent reference; ``"kerascope"``: load the migrated
file with kerascope in Keras 3), the model path, ``objects`` ({key: [module, attribute]}),
``roots`` (for sys.path), ``sources``, ``inputs`` (.npz) and ``out`` (.npz).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any


def _reference(spec: dict[str, Any]) -> Any:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras  # type: ignore[import-untyped, import-not-found, unused-ignore]

    # Custom code written for Keras 2 imports `keras` or `tensorflow.keras`: both are tf-keras here.
    sys.modules["keras"] = tf_keras
    sys.path[:0] = spec["roots"]
    objects = {}
    for key, (module, attribute) in spec["objects"].items():
        value: Any = importlib.import_module(module)
        for part in attribute.split("."):
            value = getattr(value, part)
        objects[key] = value
    return tf_keras.models.load_model(
        spec["path"], custom_objects=objects, compile=False, safe_mode=spec["safe_mode"]
    )


def _migrated(spec: dict[str, Any]) -> Any:
    import kerascope

    return kerascope.load_model(
        spec["path"], sources=spec["sources"], trust=spec["trust"], compile=False,
        safe_mode=spec["safe_mode"],
    )  # fmt: skip


def main() -> None:
    """Run one side and write its outputs (``out_0``, ``out_1``, ...) to ``spec["out"]``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with open(sys.argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    import numpy as np

    model = _reference(spec) if spec["side"] == "tf-keras" else _migrated(spec)
    flat = outputs_on(model, spec["inputs"])
    np.savez(spec["out"], **{f"out_{i}": array for i, array in enumerate(flat)})


def outputs_on(model: Any, inputs_path: str) -> list[Any]:
    """``model.predict`` on the arrays of ``inputs_path`` (``in_0``, ...), as a list of arrays.

    Example:
        >>> [a.shape for a in outputs_on(model, "inputs.npz")]  # doctest: +SKIP
        [(2, 1)]
    """
    import numpy as np

    with np.load(inputs_path) as data:
        inputs = [data[f"in_{i}"] for i in range(len(data.files))]
    outputs = model.predict(inputs[0] if len(inputs) == 1 else inputs, verbose=0)
    flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if isinstance(outputs, dict):
        flat = [outputs[key] for key in sorted(outputs)]
    return [np.asarray(output) for output in flat]


if __name__ == "__main__":
    main()
