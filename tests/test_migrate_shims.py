"""Keras 2 models whose custom code needs kerascope's Keras 2 shims migrate (issue 13).

The corpus models (tf-keras 2.21, ``keras2_corpus`` in conftest.py) ``positional_add_weight``
(``add_weight("w", ...)``), ``timedistributed_custom`` (a layer without
``compute_output_shape`` under ``TimeDistributed``) and ``lambda_python`` (a Lambda calling
``tf``, needs ``--unsafe``) load in Keras 3 only through kerascope's shims. From each of their
``.h5``, ``.keras`` and SavedModel files, ``kerascope migrate`` writes a Keras 3 ``.keras`` whose
manifest records the shims, proves parity in fresh processes, and says which shims and what code
change would make them unneeded. Then, in a fresh process, kerascope loads the migrated file and
predicts as tf-keras did, while plain ``keras.saving.load_model`` of it fails (so the shim is
really needed), and the model kerascope loaded, saved again with ``kerascope.save_model``, still
records the shims. ``--strict`` refuses, writing nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import FIXTURES, PYTHON, QUIET_ENV, ROOT

pytestmark = pytest.mark.slow

KERAS2 = FIXTURES / "keras2"
ENV = {**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")}
SHIMMED = {
    "positional_add_weight": ("positional-add-weight", "add_weight(name='w', shape=...)"),
    "timedistributed_custom": ("timedistributed-output-shape", "Keras 3 needs the method"),
    "lambda_python": ("lambda-globals-tf", "move its code into a custom layer's call()"),
}
# What plain Keras 3 raises on each migrated file (measured with Keras 3.15.1).
PLAIN_FAILURE = {
    "positional_add_weight": "name` must be passed as a keyword argument",
    "timedistributed_custom": "does not have a `compute_output_shape` method",
    "lambda_python": "name 'tf' is not defined",
}


def _cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "kerascope", *arguments],
        env=ENV, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def _source(corpus: Path, name: str, kind: str) -> tuple[Path, list[str]]:
    entry = json.loads((corpus / "index.json").read_text())["models"][name]
    options = ["--from", str(KERAS2)] + (["--unsafe"] if entry["safe_mode_false_needed"] else [])
    return corpus / entry["files"][kind]["path"], options


@pytest.mark.parametrize("kind", ["h5", "keras", "savedmodel"])
@pytest.mark.parametrize("name", sorted(SHIMMED))
def test_a_model_needing_shims_migrates_and_loads_only_through_kerascope(
    keras2_corpus: Path, tmp_path: Path, name: str, kind: str
) -> None:
    shim, change = SHIMMED[name]
    source, options = _source(keras2_corpus, name, kind)
    target = tmp_path / "new.keras"
    result = _cli("migrate", str(source), str(target), *options)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"{target} needs kerascope's Keras 2 shims: {shim} " in result.stdout, result.stdout
    assert "plain keras.saving.load_model will fail until you change the code:" in result.stdout
    assert change in result.stdout, result.stdout
    parity = next(x for x in result.stdout.splitlines() if x.startswith("parity against"))
    assert float(parity.rsplit(" ", 1)[1]) <= 1e-5, parity
    document = json.loads(_cli("inspect", "--json", str(target)).stdout)
    assert document["manifest"]["version"] == 3
    assert [s["name"] for s in document["manifest"]["shims"]] == [shim]
    shown = _cli("inspect", str(target)).stdout
    assert f"needs kerascope's Keras 2 shims: {shim}" in shown, shown
    loads = subprocess.run(
        [PYTHON, str(KERAS2 / "kerascope_then_plain.py"), str(target),
         str(keras2_corpus / f"{name}.npz"), str(KERAS2), str(tmp_path / "again.keras"),
         *options[2:]],
        env=ENV, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert loads.returncode == 0, loads.stderr[-3000:]
    got = json.loads(loads.stdout.strip().splitlines()[-1])
    assert got["kerascope_diff"] <= 1e-6, got
    assert got["resaved_shims"] == [shim], got  # saved again by kerascope: still recorded
    assert "plain_diff" not in got, got  # plain Keras 3 loaded it: the shim was not needed
    assert PLAIN_FAILURE[name] in got["plain_error"], got


@pytest.mark.parametrize(
    ("name", "kind"),
    [("positional_add_weight", "h5"), ("timedistributed_custom", "keras"),
     ("lambda_python", "savedmodel")],
)  # fmt: skip
def test_strict_refuses_a_model_needing_shims_and_writes_nothing(
    keras2_corpus: Path, tmp_path: Path, name: str, kind: str
) -> None:
    change = SHIMMED[name][1]
    source, options = _source(keras2_corpus, name, kind)
    target = tmp_path / "new.keras"
    result = _cli("migrate", str(source), str(target), *options, "--strict")
    assert result.returncode == 6, result.stdout + result.stderr[-2000:]
    assert "Keras 2 idioms" in result.stderr and change in result.stderr, result.stderr[-2000:]
    assert "parity" not in result.stdout  # refused before the parity processes start
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the target nor the staged file


def test_a_migrated_lambda_needing_tf_is_unsafe_and_tensorflow_only(
    keras2_corpus: Path, tmp_path: Path
) -> None:
    target = tmp_path / "new.keras"
    source, options = _source(keras2_corpus, "lambda_python", "h5")
    assert "--unsafe" in options
    assert _cli("migrate", str(source), str(target), *options).returncode == 0
    safe = _cli("check", str(target), "--from", str(KERAS2))
    assert safe.returncode == 4, safe.stdout + safe.stderr
    assert "lambda" in safe.stdout and "--unsafe" in safe.stdout, safe.stdout
    jax = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", str(target), *options],
        env={**ENV, "KERAS_BACKEND": "jax"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert jax.returncode == 4, jax.stdout + jax.stderr
    assert "lambda-globals-tf provides on the TensorFlow backend only" in jax.stdout, jax.stdout
    assert "KERAS_BACKEND=tensorflow" in jax.stdout
    verified = _cli("verify", str(target), *options)
    assert verified.returncode == 0, verified.stdout + verified.stderr[-3000:]
    assert f"verify {target}: pass" in verified.stdout, verified.stdout
