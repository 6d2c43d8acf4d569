"""Run an exported artifact in a fresh, isolated process and bring its outputs back.

The child is :mod:`kerascope._keras.export_child`, run as a script (``python -I``, so neither
the working directory, ``PYTHONPATH`` nor user site-packages count) from an empty temporary
directory with a minimal environment. It blocks the names :func:`blocked_names` lists and proves
the block before it loads the artifact; this side checks that proof.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import ExportError

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import Plan

__all__ = ["CHILD_SCRIPT", "Isolated", "blocked_names", "run_isolated"]

CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "export_child.py")

_ALWAYS_BLOCKED = ("kerascope", "keras", "tf_keras")
_FRAMEWORKS = ("tensorflow", "jax", "jaxlib", "torch")
_IMPORTED_ORIGINS = frozenset({"source", "module", "package", "entry-point", "manifest"})
_TIMEOUT_SECONDS = 600


class Isolated(Record):
    """The isolated run's outcome.

    Attributes:
        outputs: The artifact's outputs, flat, as numpy arrays.
        blocked: The top-level names the child proved it could not import.
        attempts: Blocked modules the artifact's runtime itself tried to import (TensorFlow
            looks for Keras when it starts, for instance), all refused.
    """

    outputs: list[Any]
    blocked: tuple[str, ...]
    attempts: tuple[str, ...]


def blocked_names(plan: Plan, format: str) -> list[str]:
    """The top-level modules the isolated process must not import: kerascope, Keras, tf-keras,
    every module of the custom code the plan imports and every module beside the source files,
    and for ONNX the frameworks too.

    Example:
        >>> plan = make_plan("my_model.keras", ["custom_layer.py"])  # doctest: +SKIP
        >>> blocked_names(plan, "onnx")  # doctest: +SKIP
        ['custom_layer', 'jax', 'jaxlib', 'keras', 'kerascope', 'tensorflow', 'tf_keras', 'torch']
    """
    names = set(_ALWAYS_BLOCKED)
    if format == "onnx":
        names.update(_FRAMEWORKS)
    for resolution in plan.resolutions:
        if resolution.origin not in _IMPORTED_ORIGINS or not resolution.module:
            continue
        names.add(resolution.module.partition(".")[0])
        if resolution.origin == "source" and resolution.root:
            names.update(_modules_in(resolution.root))
    needed = {"numpy", "onnxruntime"} if format == "onnx" else {"numpy", "tensorflow"}
    stdlib: frozenset[str] = getattr(sys, "stdlib_module_names", frozenset())
    return sorted(names - needed - set(stdlib))


def _modules_in(root: str) -> set[str]:
    """The top-level modules and packages directly in ``root`` (a user's source directory)."""
    found: set[str] = set()
    try:
        entries = os.listdir(root)
    except OSError:
        return found
    for entry in entries:
        stem, extension = os.path.splitext(entry)
        if extension == ".py" and stem.isidentifier():
            found.add(stem)
        elif entry.isidentifier() and os.path.isfile(os.path.join(root, entry, "__init__.py")):
            found.add(entry)
    return found


def run_isolated(
    format: str, artifact: str, inputs: list[Any], blocked: list[str], target: str
) -> Isolated:
    """Run ``artifact`` on ``inputs`` in the isolated child; check its proof of isolation.

    Raises:
        ExportError: The child failed, or could import a name it had to block.

    Example:
        >>> run_isolated("onnx", "m.onnx", [x], ["kerascope"], "m.onnx").outputs  # doctest: +SKIP
        [array([[0.1]], dtype=float32)]
    """
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="kerascope-parity-") as scratch:
        workdir = os.path.join(scratch, "cwd")
        os.mkdir(workdir)
        spec: dict[str, Any] = {
            "format": format,
            "artifact": os.path.abspath(artifact),
            "inputs": os.path.join(scratch, "inputs.npz"),
            "out": os.path.join(scratch, "outputs.npz"),
            "report": os.path.join(scratch, "report.json"),
            "blocked": blocked,
        }
        arrays: dict[str, Any] = {f"in_{i}": a for i, a in enumerate(inputs)}
        np.savez(spec["inputs"], **arrays)
        spec_path = os.path.join(scratch, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        result = subprocess.run(
            [sys.executable, "-I", CHILD_SCRIPT, spec_path],
            cwd=workdir, env=clean_environment(scratch), capture_output=True, text=True,
            check=False, timeout=_TIMEOUT_SECONDS,
        )  # fmt: skip
        if result.returncode != 0:
            lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise ExportError(
                target,
                f"the {format} artifact failed in the isolated process: "
                f"{lines[-1] if lines else f'exit {result.returncode}'}",
            )
        with open(spec["report"], encoding="utf-8") as handle:
            report = json.load(handle)
        _check_isolation(report, blocked, target)
        with np.load(spec["out"]) as data:
            outputs = [data[f"out_{i}"] for i in range(len(data.files))]
    return Isolated(outputs=outputs, blocked=tuple(sorted(report["blocked"])),
                    attempts=tuple(report["attempts"]))  # fmt: skip


def clean_environment(home: str) -> dict[str, str]:
    """The child's environment: a plain PATH, a scratch HOME, TensorFlow's logs quiet.

    Example:
        >>> sorted(clean_environment("/tmp/x"))
        ['HOME', 'PATH', 'TF_CPP_MIN_LOG_LEVEL']
    """
    return {"PATH": os.defpath, "HOME": home, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _check_isolation(report: dict[str, Any], blocked: list[str], target: str) -> None:
    importable = [name for name in blocked if report["blocked"].get(name) != "blocked"]
    if importable or report["leaked"] or not report["isolated"]:
        raise ExportError(
            target,
            "the parity process was not isolated: "
            f"importable {importable}, imported {report['leaked']}, "
            f"isolated mode {report['isolated']}",
        )
