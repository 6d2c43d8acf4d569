"""The independent reference for a migrated SavedModel: its own ``serving_default`` signature.

The signature is run by TensorFlow alone in a fresh, isolated process (``python -I``: no
``PYTHONPATH``, no kerascope, no Keras 3 model objects, none of the user's custom code), on the
inputs the migration chose; its outputs are written to an ``.npz`` for the parent to compare.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import KerasLoadError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["REFERENCE_NAME", "serving_signature_outputs"]

REFERENCE_NAME = "the SavedModel's serving_default signature, run by TensorFlow alone"

# Run with `python -I -c`: only TensorFlow and numpy are imported.
_REFERENCE_SCRIPT = """
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
with open(sys.argv[1], encoding="utf-8") as handle:
    spec = json.load(handle)
import numpy as np
import tensorflow as tf

function = tf.saved_model.load(spec["path"]).signatures.get("serving_default")
if function is None:
    sys.exit("the SavedModel has no serving_default signature")
_, signature = function.structured_input_signature
with np.load(spec["inputs"]) as data:
    arrays = [data[f"in_{i}"] for i in range(len(data.files))]
names = sorted(signature)
if len(names) != len(arrays):
    sys.exit(f"the signature takes {len(names)} inputs ({names}), the model {len(arrays)}")
if len(names) > 1:
    if sorted(spec["input_names"]) != names:
        sys.exit(f"signature inputs {names} do not match model inputs {spec['input_names']}")
    names = spec["input_names"]
feed = {n: tf.constant(a, dtype=signature[n].dtype) for n, a in zip(names, arrays)}
outputs = function(**feed)
keys = sorted(outputs)
order = spec["output_names"] if sorted(spec["output_names"] or []) == keys else keys
np.savez(spec["out"], **{f"out_{i}": outputs[k].numpy() for i, k in enumerate(order)})
"""


def serving_signature_outputs(
    directory: str,
    inputs: str,
    out: str,
    *,
    input_names: list[str],
    output_names: list[str],
    timeout: float = 600,
) -> list[Any]:
    """Run ``directory``'s ``serving_default`` with TensorFlow alone on ``inputs`` (.npz).

    Returns:
        The outputs, ordered like ``output_names`` when they name the signature's outputs,
        else by output name.

    Raises:
        KerasLoadError: TensorFlow is missing, or the signature failed.

    Example:
        >>> serving_signature_outputs(  # doctest: +SKIP
        ...     "sm", "in.npz", "out.npz", input_names=["x"], output_names=["y"]
        ... )
        [array([[0.1, ...]], dtype=float32)]
    """
    import numpy as np

    spec_path = out + ".json"
    with open(spec_path, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "path": os.path.abspath(directory),
                "inputs": inputs,
                "out": out,
                "input_names": input_names,
                "output_names": output_names,
            },
            handle,
        )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    result = subprocess.run(
        [sys.executable, "-I", "-c", _REFERENCE_SCRIPT, spec_path],
        env=env, capture_output=True, text=True, check=False, timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise KerasLoadError(directory, RuntimeError(f"serving signature failed: {tail[0]}"))
    with np.load(out) as data:
        return [data[f"out_{i}"] for i in range(len(data.files))]
