"""``kerascope.verify(path, backends=[...])``: load a model on each Keras backend, compare outputs.

Each backend gets a fresh process with ``KERAS_BACKEND`` set, run by the Python that has that
backend: ``$KERASCOPE_BACKEND_PYTHON_<BACKEND>`` (``KERASCOPE_BACKEND_PYTHON_JAX=.venv-jax/bin/
python``) when set, else this interpreter when the backend's framework is installed in it. That
process runs the kerascope of this one (its directory goes first on ``PYTHONPATH``), loads the
model with the sources and trust given, and predicts on the same seeded input. The outputs are
compared with those of the backend that saved the model: the one its kerascope manifest records,
else the first backend named (a ``.keras`` file records no backend of its own).
A backend without such a Python is reported as not installed, not as a failure of the model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

from kerascope._common.backend import BACKEND_NAMES
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

__all__ = ["BackendRow", "BackendsReport", "backend_python", "verify_backends"]

_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
_TIMEOUT = 900

_CHILD = """
import importlib.util, json, sys, warnings
path, out_path, package, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
if importlib.util.find_spec(package) is None or importlib.util.find_spec("keras") is None:
    print(json.dumps({"status": "not-installed",
                      "why": f"{package} or keras is not installed in {sys.executable}"}))
    sys.exit(0)
import numpy as np
import kerascope
from kerascope._keras.runtime import input_shapes, predict
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = kerascope.load_model(path, sources=options["sources"], trust=options["trust"],
                                     allow=options["allow"], compile=False,
                                     strict=options["strict"])
        rng = np.random.RandomState(0)
        inputs = []
        for shape, dtype in input_shapes(model):
            concrete = [2 if size is None else size for size in shape]
            if "int" in dtype:
                inputs.append(rng.randint(0, 10, size=concrete).astype(dtype))
            else:
                inputs.append(rng.standard_normal(concrete).astype(dtype))
        outputs = predict(model, inputs)
    np.savez(out_path, *outputs)
    print(json.dumps({"status": "loaded"}))
except Exception as error:
    problems = getattr(error, "problems", ())
    why = problems[0].message if problems else f"{type(error).__name__}: {error}"
    print(json.dumps({"status": "failed", "why": why.splitlines()[0][:500]}))
"""


class BackendRow(Record):
    """What one backend made of the model.

    Attributes:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``.
        status: ``"loaded"`` (and matched), ``"different"`` (loaded, outputs differ beyond the
            tolerance), ``"failed"`` (did not load) or ``"not-installed"``.
        why: Why it failed or differs, or why the backend is not available; empty when loaded.
        max_difference: The largest absolute difference from the reference's outputs.
        python: The interpreter that ran it, when there was one.
        reference: True for the backend the others are compared with.
    """

    backend: str
    status: str
    why: str = ""
    max_difference: float | None = None
    python: str | None = None
    reference: bool = False


class BackendsReport(Record):
    """One model loaded on several backends.

    Attributes:
        ok: True when every installed backend loaded the model and matched the reference.
        path: The model file.
        reference: The backend the outputs are compared with (the saving backend).
        rows: The reference first (run even when not asked for), then one per backend asked for.
    """

    ok: bool
    path: str
    reference: str
    rows: tuple[BackendRow, ...]

    def describe(self) -> str:
        """One line per backend: loaded or not, why, the largest difference.

        Example:
            >>> rows = (BackendRow("tensorflow", "loaded", reference=True),
            ...         BackendRow("jax", "loaded", "", 3e-8, "/j/python"),
            ...         BackendRow("torch", "not-installed", "no Python with torch"))
            >>> print(BackendsReport(True, "m.keras", "tensorflow", rows).describe())
            m.keras, compared with the outputs on tensorflow (the saving backend):
              BACKEND             LOADED         MAX DIFF  WHY
              tensorflow (saved)  yes            -
              jax                 yes            3e-08
              torch               not installed  -         no Python with torch
            OK: every installed backend loads it
        """
        lines = [
            f"{self.path}, compared with the outputs on {self.reference} (the saving backend):"
        ]
        table = [("BACKEND", "LOADED", "MAX DIFF", "WHY")]
        for row in self.rows:
            loaded = {"loaded": "yes", "different": "yes", "failed": "no"}.get(row.status, "")
            loaded = loaded or "not installed"
            difference = "-" if row.max_difference is None else f"{row.max_difference:.3g}"
            name = f"{row.backend} (saved)" if row.reference else row.backend
            table.append((name, loaded, difference, row.why))
        widths = [max(len(cells[i]) for cells in table) for i in range(3)]
        for cells in table:
            lines.append(
                "  "
                + "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True))
                + f"  {cells[3]}".rstrip()
            )
        lines.append(
            "OK: every installed backend loads it"
            if self.ok
            else "FAILED: a backend did not load it, or its outputs differ"
        )
        return "\n".join(line.rstrip() for line in lines)


def backend_python(backend: str) -> str | None:
    """The Python to run ``backend`` with: ``$KERASCOPE_BACKEND_PYTHON_<BACKEND>``, else this
    interpreter when the backend's framework is installed in it, else None.

    Example:
        >>> backend_python("no-such-backend") is None
        True
    """
    chosen = os.environ.get(f"KERASCOPE_BACKEND_PYTHON_{backend.upper()}")
    if chosen:
        return chosen
    package = _PACKAGES.get(backend)
    if package is not None and importlib.util.find_spec(package) is not None:
        return sys.executable
    return None


def verify_backends(
    path: str | os.PathLike[str],
    backends: Sequence[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    allow: Iterable[str] = (),
    atol: float = 1e-5,
    strict: bool = False,
) -> BackendsReport:
    """Load ``path`` in a fresh process on each backend; compare outputs with the saving one's.

    Example:
        >>> report = verify_backends("model.keras", ["jax", "torch"])  # doctest: +SKIP
        >>> [(row.backend, row.status) for row in report.rows]  # doctest: +SKIP
        [('tensorflow', 'loaded'), ('jax', 'loaded'), ('torch', 'not-installed')]
    """
    import numpy as np

    from kerascope._audit.inspect import inspect

    unknown = [backend for backend in backends if backend not in _PACKAGES]
    if unknown:
        raise ValueError(f"unknown backend {unknown[0]!r}: use {', '.join(_PACKAGES)}")
    path = os.path.abspath(os.fspath(path))
    manifest = inspect(path).manifest
    named = list(dict.fromkeys(backends))
    if not named:
        raise ValueError("name at least one backend")
    reference = manifest.backend if manifest is not None and manifest.backend else named[0]
    order = [reference, *(b for b in named if b != reference)]
    options = {
        "sources": [os.path.abspath(os.fspath(source)) for source in sources],
        "trust": list(trust),
        "allow": list(allow),
        "strict": strict,
    }
    runs: dict[str, tuple[BackendRow, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kerascope-backends-") as workdir:
        for backend in order:
            runs[backend] = _run(path, backend, options, workdir)
        expected = runs[reference][1]
        rows = []
        for backend in order:
            row, outputs = runs[backend]
            if backend == reference:
                row = row._replace(reference=True)
            elif outputs is not None and expected is not None:
                row = _compare(row, expected, outputs, atol, np)
            elif outputs is not None:
                name = BACKEND_NAMES.get(reference, reference)
                row = row._replace(why=f"not compared: the model did not load on {name}")
            rows.append(row)
    ok = all(row.status in ("loaded", "not-installed") for row in rows)
    return BackendsReport(ok, path, reference, tuple(rows))


def _run(path: str, backend: str, options: dict[str, Any], workdir: str) -> tuple[BackendRow, Any]:
    import numpy as np

    python = backend_python(backend)
    if python is None:
        why = (
            f"no Python with {_PACKAGES[backend]}: install it, or set "
            f"KERASCOPE_BACKEND_PYTHON_{backend.upper()}"
        )
        return BackendRow(backend, "not-installed", why), None
    out = os.path.join(workdir, f"{backend}.npz")
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    arguments = [python, "-c", _CHILD, path, out, _PACKAGES[backend], json.dumps(options)]
    try:
        result = subprocess.run(
            arguments,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return BackendRow(
            backend, "failed", f"could not run {python}: {error}", python=python
        ), None
    lines = result.stdout.strip().splitlines()
    try:
        status = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        return BackendRow(backend, "failed", f"the process failed: {tail[0]}", python=python), None
    row = BackendRow(backend, status["status"], status.get("why", ""), python=python)
    if row.status != "loaded":
        return row, None
    with np.load(out) as saved:
        return row, [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _compare(
    row: BackendRow, expected: list[Any], got: list[Any], atol: float, np: Any
) -> BackendRow:
    if len(expected) != len(got) or any(
        a.shape != b.shape for a, b in zip(expected, got, strict=False)
    ):
        return row._replace(status="different", why="the outputs have other shapes")
    largest = max(
        (
            float(np.max(np.abs(a.astype("float64") - b.astype("float64"))))
            for a, b in zip(expected, got, strict=True)
            if a.size
        ),
        default=0.0,
    )
    if largest > atol:
        return row._replace(
            status="different",
            why=f"outputs differ by {largest:.3g} (atol {atol:g})",
            max_difference=largest,
        )
    return row._replace(max_difference=largest)
