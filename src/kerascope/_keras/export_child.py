"""The isolated side of ``kerascope export``: run an exported artifact, with no Keras code at hand.

A standalone script, not a kerascope module at run time: ``kerascope.export`` starts it as
``python -I export_child.py SPEC.json`` from an empty temporary directory with a minimal
environment, so that neither the working directory, ``PYTHONPATH`` nor the user's
site-packages are on ``sys.path``. It imports only the standard library, numpy and the
artifact's runtime (TensorFlow for a SavedModel, onnxruntime for ONNX).

Before anything else it installs an import blocker (first on ``sys.meta_path``) for the
top-level names in ``spec["blocked"]``: kerascope, the custom code's modules, Keras and
tf-keras, and for ONNX TensorFlow, JAX and torch as well. Then it proves the block: each name
is imported once and must fail. A library that merely looks a blocked name up
(``importlib.util.find_spec``) gets a spec without an origin, which TensorFlow's own optional
Keras lookup takes as "not installed".

SPEC holds ``format`` (``"tf_saved_model"`` or ``"onnx"``), ``artifact``, ``inputs`` (an
``.npz`` of ``in_0``, ``in_1``, ... in the model's flat input order), ``out`` (the ``.npz`` to
write, ``out_0``, ...), ``report`` (a JSON file) and ``blocked``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
from typing import Any

__all__ = ["ImportBlocker", "main"]


class ImportBlocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Make every module under the given top-level names fail to import, and record the tries.

    Example:
        >>> blocker = ImportBlocker(["no_such_module_here"])
        >>> blocker.blocks("no_such_module_here.sub")
        True
    """

    def __init__(self, names: list[str]) -> None:
        self.names = frozenset(names)
        self.attempts: list[str] = []

    def blocks(self, fullname: str) -> bool:
        """Whether ``fullname`` lies under one of the blocked top-level names."""
        return fullname.partition(".")[0] in self.names

    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec whose loader fails, for a blocked name; None (not ours) otherwise."""
        if not self.blocks(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """Default module creation; the failure comes in :meth:`exec_module`."""
        return None

    def exec_module(self, module: Any) -> None:
        """Refuse the import (the import system then drops the half-made module)."""
        self.attempts.append(module.__name__)
        raise ModuleNotFoundError(
            f"{module.__name__} is blocked in kerascope's isolated parity check",
            name=module.__name__,
        )


def _prove_blocked(blocker: ImportBlocker) -> dict[str, str]:
    proof: dict[str, str] = {}
    for name in sorted(blocker.names):
        try:
            importlib.import_module(name)
        except ImportError:
            proof[name] = "blocked"
        else:
            proof[name] = "IMPORTED"
    return proof


def _run_saved_model(artifact: str, inputs: list[Any]) -> list[Any]:
    import tensorflow as tf  # type: ignore[import-untyped, import-not-found, unused-ignore]

    loaded = tf.saved_model.load(artifact)
    signature = loaded.serve.concrete_functions[0].structured_input_signature
    specs = tf.nest.flatten(signature)
    if len(specs) != len(inputs):
        raise SystemExit(f"the SavedModel takes {len(specs)} inputs, {len(inputs)} were given")
    tensors = [tf.constant(x) for x in inputs]
    args, kwargs = tf.nest.pack_sequence_as(signature, tensors)
    outputs = loaded.serve(*args, **kwargs)
    return [t.numpy() for t in tf.nest.flatten(outputs)]


def _run_onnx(artifact: str, inputs: list[Any]) -> list[Any]:
    import onnxruntime  # type: ignore[import-untyped, import-not-found, unused-ignore]

    session = onnxruntime.InferenceSession(artifact, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if len(names) != len(inputs):
        raise SystemExit(f"the ONNX model takes {len(names)} inputs, {len(inputs)} were given")
    return list(session.run(None, dict(zip(names, inputs, strict=True))))


def main(argv: list[str] | None = None) -> None:
    """Block, prove the block, run the artifact on the inputs, write outputs and a report."""
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    blocker = ImportBlocker(spec["blocked"])
    sys.meta_path.insert(0, blocker)
    proof = _prove_blocked(blocker)
    proven = len(blocker.attempts)
    import numpy as np

    with np.load(spec["inputs"]) as data:
        inputs = [data[f"in_{i}"] for i in range(len(data.files))]
    run = _run_onnx if spec["format"] == "onnx" else _run_saved_model
    outputs = run(spec["artifact"], inputs)
    arrays: dict[str, Any] = {f"out_{i}": np.asarray(o) for i, o in enumerate(outputs)}
    np.savez(spec["out"], **arrays)
    leaked = sorted(m for m in sys.modules if blocker.blocks(m))
    report = {
        "blocked": proof,
        "attempts": sorted(set(blocker.attempts[proven:])),  # tries by the runtime itself
        "leaked": leaked,
        "isolated": bool(sys.flags.isolated),
        "cwd": os.getcwd(),
        "sys_path": sys.path,
    }
    with open(spec["report"], "w", encoding="utf-8") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main()
