"""Save on one Keras backend, load with kerascope in a fresh process on another, compare predictions.

Measured facts these tests keep true (docs/backends.md has the numbers and the exact errors):

- ``.keras`` saved on TensorFlow or JAX loads on every other backend, registered and plain
  objects, functional and subclassed, within 1e-5 of the saving backend's predictions.
- ``.keras`` saved on PyTorch loads everywhere too, compiled. A compiled one records its optimizer
  as ``keras.src.backend.torch.optimizers.torch_adam.Adam``, which only PyTorch can import (plain
  Keras on TensorFlow or JAX fails on it); kerascope builds ``keras.optimizers.Adam`` instead.
- ``.h5`` of a functional model loads in every direction; ``.h5`` of a subclassed model loads in
  none (Keras: "Layer count mismatch ... Model expected 0 layers").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.backends.conftest import (
    DIRECTIONS,
    HOST,
    NEUTRAL,
    assert_loaded_within_tolerance,
    failure,
    run_on,
)

pytestmark = pytest.mark.slow


def _cases(models: tuple[str, ...]) -> list[Any]:
    return [
        pytest.param(source, target, model, id=f"{source}-{target}-{model}")
        for source, target in DIRECTIONS
        for model in models
    ]


@pytest.mark.parametrize(
    ("source", "target", "model"),
    _cases(("registered", "plain", "subclassed", "manifest", "uncompiled")),
)
def test_keras_file_loads_on_another_backend(
    loaded: Callable[..., Any], source: str, target: str, model: str
) -> None:
    outcome = loaded(source, target, "keras")["files"][f"{model}.keras"]
    assert_loaded_within_tolerance(outcome)
    expected_class = "NeutralSubclassed" if model == "subclassed" else "Functional"
    assert outcome["class"] == expected_class
    assert outcome["compiled"] == (model != "uncompiled")


@pytest.mark.parametrize(
    ("source", "target", "model"),
    _cases(("registered", "plain", "uncompiled")),
)
def test_functional_h5_loads_on_another_backend(
    loaded: Callable[..., Any], source: str, target: str, model: str
) -> None:
    outcome = loaded(source, target, "h5")["files"][f"{model}.h5"]
    assert_loaded_within_tolerance(outcome)
    assert outcome["compiled"] == (model != "uncompiled")


@pytest.mark.parametrize(("source", "target"), DIRECTIONS, ids=[f"{s}-{t}" for s, t in DIRECTIONS])
def test_subclassed_h5_does_not_load_on_any_backend(
    loaded: Callable[..., Any], saved: Callable[[str], Path], source: str, target: str
) -> None:
    """Keras saves it (the constructor builds the layers) but cannot restore the weights."""
    built = json.loads((saved(source) / "built.json").read_text())
    assert "predictions" in built["files"]["subclassed.h5"], built["files"]["subclassed.h5"]
    error = loaded(source, target, "h5")["files"]["subclassed.h5"]["error"]
    assert error["type"] == "KerasLoadError"
    assert "Layer count mismatch when loading weights from file" in error["message"]
    assert "Model expected 0 layers, found 3 saved layers" in error["message"]


def test_cli_loads_a_tensorflow_model_on_this_backend(
    saved: Callable[[str], Path], tmp_path: Path
) -> None:
    folder = saved("tensorflow")
    result = run_on(
        HOST,
        ["-m", "kerascope", "load", str(folder / "plain.keras"), "--from", str(NEUTRAL)],
        cwd=tmp_path,
    )
    assert result.returncode == 0, failure(result)
    assert "PlainScale" in result.stdout
    assert "Loaded Functional" in result.stdout, result.stdout


def test_environments_are_what_the_makefile_says(tmp_path: Path) -> None:
    """The environment running this suite has its backend and no TensorFlow."""
    script = (
        "import importlib.util, keras, sys;"
        "print(keras.backend.backend(), keras.__version__,"
        " importlib.util.find_spec('tensorflow') is None)"
    )
    result = run_on(HOST, ["-c", script], cwd=tmp_path)
    assert result.returncode == 0, failure(result)
    assert result.stdout.split() == [HOST, "3.15.1", "True"]
