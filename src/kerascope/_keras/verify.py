"""``kerascope.verify``: prove that a model loads elsewhere before shipping it.

The model is saved with kerascope to a temporary directory, then loaded in a fresh Python
process that has only the sources and trust given, from another working directory. That process
runs a forward pass on a sample input and returns its outputs and weights, which are compared
with the original's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import Problem

from .runtime import input_shapes, predict, weight_arrays
from .verify_backends import BackendsReport, verify_backends

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from kerascope._resolving.plan import CompileMode

__all__ = ["BackendsReport", "VerifyReport", "verify"]

_CHILD = """
import json, sys, warnings
import numpy as np
import kerascope
from kerascope._keras.runtime import predict, weight_arrays
path, sample_path, out_path = sys.argv[1:4]
options = json.loads(sys.argv[4])
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = kerascope.load_model(path, sources=options["sources"], trust=options["trust"],
                                     allow=options["allow"], compile=options["compile"],
                                     strict=options["strict"])
    with np.load(sample_path) as sample:
        inputs = [sample[f"input_{i}"] for i in range(len(sample.files))]
    outputs = predict(model, inputs)
    arrays = {f"output_{i}": value for i, value in enumerate(outputs)}
    weights = weight_arrays(model)
    arrays.update({f"weight_{i}": value for i, (_, value) in enumerate(weights)})
    np.savez(out_path, **arrays)
    print(json.dumps({"ok": True, "weights": [name for name, _ in weights],
                      "outputs": len(outputs)}))
except kerascope.KerascopeError as error:
    problems = [problem._asdict() for problem in getattr(error, "problems", ())]
    print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}",
                      "problems": problems}))
"""


class VerifyReport(Record):
    """The result of a round trip.

    Attributes:
        ok: True when the model loaded in a fresh process and matched.
        path: The file that was loaded.
        output_difference: The largest absolute difference between outputs, when compared.
        weight_difference: The largest absolute difference between weights, when compared.
        differences: Every difference found, one line each.
        error: Why the fresh process could not load the model, if it could not.
        problems: What stopped that load, when it was missing or untrusted objects (as
            :class:`kerascope.UnresolvedObjectsError` lists them).
    """

    ok: bool
    path: str
    output_difference: float | None
    weight_difference: float | None
    differences: tuple[str, ...]
    error: str | None = None
    problems: tuple[Problem, ...] = ()

    def describe(self) -> str:
        """A short report.

        Example:
            >>> print(VerifyReport(True, "m.keras", 0.0, 0.0, ()).describe())
            verify m.keras: pass (largest output difference 0, largest weight difference 0)
        """
        if self.error:
            return f"verify {self.path}: FAIL, the fresh process could not load it:\n{self.error}"
        head = (
            f"verify {self.path}: {'pass' if self.ok else 'FAIL'} (largest output difference "
            f"{self.output_difference:.3g}, largest weight difference {self.weight_difference:.3g})"
        )
        return "\n".join([head, *(f"  - {line}" for line in self.differences)])


def verify(
    model_or_path: Any,
    sample: Sequence[Any] | Any | None = None,
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    allow: Iterable[str] = (),
    compile: CompileMode = "auto",
    strict: bool = False,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    backends: Sequence[str] | None = None,
) -> VerifyReport | BackendsReport:
    """Save (if given a model), load in a fresh process, and compare outputs and weights.

    With ``backends`` (``["jax", "torch", "tensorflow"]``), load a saved file on each of those
    Keras backends instead, one fresh process each, and compare the outputs with the saving
    backend's: a :class:`BackendsReport` (see :mod:`kerascope._keras.verify_backends` for which
    Python runs each backend). A live model is first saved with :func:`kerascope.save_model`.

    Args:
        model_or_path: A Keras model (saved with :func:`kerascope.save_model` to a temporary
            ``.keras`` file, removed afterwards) or the path of a saved model (loaded here with
            the same sources and trust, as the reference).
        sample: Input for the forward pass: an array or a list of arrays. By default one is
            built from the model's input spec (batch of 2, seeded random values).
        sources: The ``--from`` sources the fresh process may use.
        trust: The packages the fresh process may import.
        allow: Audit findings to accept (as for :func:`kerascope.load_model`).
        compile: Passed to both loads of a path, and to the fresh process's load of a model
            (as for :func:`kerascope.load_model`): ``True`` requires the training objects,
            ``False`` never imports them. Outputs and weights are compared either way.
        strict: Refuse, instead of warning, when a defining file differs from the one the
            file's manifest recorded: in the load here and in the fresh process (as for
            :func:`kerascope.load_model`).
        atol: Absolute tolerance for outputs and weights.
        rtol: Relative tolerance for outputs and weights.
        backends: Keras backends to load the file on, each in its own fresh process.

    Example:
        >>> report = kerascope.verify(model, sources=["mylayers.py"])  # doctest: +SKIP
        >>> report.ok  # doctest: +SKIP
        True
    """
    if backends is not None:
        return _on_backends(model_or_path, backends, sources, trust, allow, atol, strict=strict)
    with tempfile.TemporaryDirectory(prefix="kerascope-verify-") as workdir:
        return _verify_in(
            workdir,
            model_or_path,
            sample,
            sources=[os.path.abspath(os.fspath(source)) for source in sources],
            trust=list(trust),
            allow=list(allow),
            compile=compile,
            strict=strict,
            atol=atol,
            rtol=rtol,
        )


def _on_backends(  # noqa: PLR0917 (a private helper of verify, called once)
    model_or_path: Any,
    backends: Sequence[str],
    sources: Sequence[str | os.PathLike[str]],
    trust: Iterable[str],
    allow: Iterable[str],
    atol: float,
    *,
    strict: bool,
) -> BackendsReport:
    if isinstance(model_or_path, (str, os.PathLike)):
        return verify_backends(
            model_or_path,
            backends,
            sources=sources,
            trust=trust,
            allow=allow,
            atol=atol,
            strict=strict,
        )
    from .save import save_model

    with tempfile.TemporaryDirectory(prefix="kerascope-verify-") as workdir:
        path = os.path.join(workdir, "model.keras")
        save_model(model_or_path, path)
        return verify_backends(
            path, backends, sources=sources, trust=trust, allow=allow, atol=atol, strict=strict
        )


def _verify_in(
    workdir: str,
    model_or_path: Any,
    sample: Sequence[Any] | Any | None,
    *,
    sources: list[str],
    trust: list[str],
    allow: list[str],
    compile: CompileMode,
    strict: bool,
    atol: float,
    rtol: float,
) -> VerifyReport:
    import numpy as np

    if isinstance(model_or_path, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model_or_path))
        from .load import load_model

        model = load_model(
            path, sources=sources, trust=trust, allow=allow, compile=compile, strict=strict
        )
    else:
        from .save import save_model

        model = model_or_path
        path = os.path.join(workdir, "model.keras")
        save_model(model, path)
    inputs = _sample_inputs(model, sample)
    sample_path = os.path.join(workdir, "sample.npz")
    np.savez(sample_path, **{f"input_{i}": value for i, value in enumerate(inputs)})
    out_path = os.path.join(workdir, "loaded.npz")
    options = {
        "sources": sources,
        "trust": trust,
        "allow": allow,
        "compile": compile,
        "strict": strict,
    }
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, path, sample_path, out_path, json.dumps(options)],
        cwd=workdir,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=False,
    )
    status = _child_status(result)
    if not status.get("ok"):
        problems = tuple(_problem(fields) for fields in status.get("problems") or ())
        return VerifyReport(False, path, None, None, (), str(status.get("error")), problems)
    with np.load(out_path) as loaded:
        return _compare(model, inputs, loaded, path, atol=atol, rtol=rtol)


def _child_status(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = result.stdout.strip().splitlines()
    try:
        status: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        status = {}
    if not status:
        tail = result.stderr.strip().splitlines()[-5:]
        status = {"ok": False, "error": "\n".join(tail) or f"exit code {result.returncode}"}
    return status


def _problem(fields: dict[str, Any]) -> Problem:
    """A problem of the fresh process, back from JSON."""
    return Problem(
        key=fields["key"],
        kind=fields["kind"],
        json_paths=tuple(fields["json_paths"]),
        reason=fields["reason"],
        message=fields["message"],
        fix=fields["fix"],
        candidates=tuple(fields.get("candidates", ())),
        python_fix=fields.get("python_fix", ""),
    )


def _sample_inputs(model: Any, sample: Sequence[Any] | Any | None) -> list[Any]:
    import numpy as np

    if sample is not None:
        return [np.asarray(x) for x in (sample if isinstance(sample, (list, tuple)) else [sample])]
    rng = np.random.default_rng(0)
    inputs = []
    for shape, dtype in input_shapes(model):
        concrete = tuple(2 if dimension is None else dimension for dimension in shape)
        if "int" in dtype:
            inputs.append(rng.integers(0, 10, size=concrete).astype(dtype))
        else:
            inputs.append(rng.standard_normal(concrete).astype(dtype))
    if not inputs:
        raise ValueError("the model has no input spec: pass sample=")
    return inputs


def _compare(
    model: Any, inputs: list[Any], loaded: Any, path: str, *, atol: float, rtol: float
) -> VerifyReport:
    differences: list[str] = []
    expected_outputs = predict(model, inputs)
    got_outputs = [loaded[f"output_{i}"] for i in range(len(expected_outputs))]
    output_difference = _max_difference(
        expected_outputs, got_outputs, "output", differences, atol=atol, rtol=rtol
    )
    expected_weights = weight_arrays(model)
    got_weights = [
        loaded[name] for name in sorted(loaded.files, key=_index) if name.startswith("weight_")
    ]
    if len(got_weights) != len(expected_weights):
        differences.append(
            f"the loaded model has {len(got_weights)} weights, the original {len(expected_weights)}"
        )
    weight_difference = _max_difference(
        [value for _, value in expected_weights][: len(got_weights)],
        got_weights[: len(expected_weights)],
        "weight",
        differences,
        atol=atol,
        rtol=rtol,
        names=[name for name, _ in expected_weights],
    )
    return VerifyReport(
        not differences, path, output_difference, weight_difference, tuple(differences)
    )


def _index(name: str) -> int:
    return int(name.rsplit("_", 1)[1])


def _max_difference(
    expected: list[Any],
    got: list[Any],
    what: str,
    differences: list[str],
    *,
    atol: float,
    rtol: float,
    names: list[str] | None = None,
) -> float:
    import numpy as np

    largest = 0.0
    if len(expected) != len(got):
        differences.append(f"{len(got)} {what}s after loading, {len(expected)} before")
    for index, (before, after) in enumerate(zip(expected, got, strict=False)):
        label = f"{what} {index}" + (f" ({names[index]})" if names else "")
        if before.shape != after.shape:
            differences.append(f"{label}: shape {after.shape} after loading, {before.shape} before")
            continue
        if before.size == 0:
            continue
        difference = float(np.max(np.abs(before.astype("float64") - after.astype("float64"))))
        largest = max(largest, difference)
        if not np.allclose(before, after, atol=atol, rtol=rtol):
            differences.append(f"{label}: max abs difference {difference:.3g} (atol {atol:g})")
    return largest
