"""Keras 2 legacy optimizers (``keras.optimizers.legacy``, ``decay``) keep training as Keras 2 did.

tf-keras 2.21 writes a model compiled with ``optimizers.legacy.SGD(0.1, decay=0.5,
momentum=0.9)`` (before any step), then trains it 3 steps. kerascope loads the saved ``.h5`` and
``.keras`` in Keras 3 (fresh processes) and trains the same 3 steps: the weights must match.
Without the ``optimizer-decay`` rule Keras 3 warns that ``decay`` is ignored and trains at the
undecayed rate; the test checks that this would give other weights.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kerascope._translate.rules import translate

from .conftest import PYTHON, QUIET_ENV, ROOT

_WRITE = """
import sys, numpy as np
from tensorflow import keras
rng = np.random.RandomState(0)
x = rng.rand(3, 8, 4).astype("float32"); y = rng.rand(3, 8, 1).astype("float32")
model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.legacy.SGD(learning_rate=0.1, decay=0.5, momentum=0.9), "mse")
model.save(sys.argv[1] + "/legacy_sgd.h5"); model.save(sys.argv[1] + "/legacy_sgd.keras")
for step in range(3):
    model.train_on_batch(x[step], y[step])
np.savez(sys.argv[1] + "/reference.npz", x=x, y=y, *model.get_weights())
"""

_TRAIN = """
import json, sys, warnings
import numpy as np
import kerascope
reference = np.load(sys.argv[2])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = kerascope.load_model(sys.argv[1])
    if sys.argv[3] == "undecayed":  # what Keras 3 does with `decay` on its own
        import keras
        model.compile(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), "mse")
    for step in range(3):
        model.train_on_batch(reference["x"][step], reference["y"][step])
diff = max(
    float(np.abs(w - reference[f"arr_{i}"]).max()) for i, w in enumerate(model.get_weights())
)
print(json.dumps({"diff": diff, "warnings": [str(w.message) for w in caught]}))
"""


@pytest.fixture(scope="module")
def legacy_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tf_keras")
    folder = tmp_path_factory.mktemp("legacy_optimizer")
    subprocess.run(
        [PYTHON, "-c", _WRITE, str(folder)],
        env={**QUIET_ENV, "TF_USE_LEGACY_KERAS": "1"}, check=True, capture_output=True,
    )  # fmt: skip
    return folder


def _train(path: Path, reference: Path, mode: str) -> dict[str, object]:
    result = subprocess.run(
        [PYTHON, "-c", _TRAIN, str(path), str(reference), mode],
        env={**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_legacy_optimizer_with_decay_trains_as_keras_2_did(
    legacy_files: Path, suffix: str
) -> None:
    path, reference = legacy_files / f"legacy_sgd{suffix}", legacy_files / "reference.npz"
    decayed = _train(path, reference, "as-loaded")
    assert decayed["diff"] <= 1e-6, decayed  # type: ignore[operator]
    assert not [w for w in decayed["warnings"] if "decay" in w], decayed  # type: ignore[attr-defined]
    undecayed = _train(path, reference, "undecayed")
    assert undecayed["diff"] > 1e-3, undecayed  # type: ignore[operator]


def test_decay_becomes_an_inverse_time_schedule_and_zero_decay_is_dropped() -> None:
    config = {
        "class_name": "Sequential",
        "config": {"layers": []},
        "compile_config": {
            "optimizer": {
                "module": "keras.optimizers.legacy",
                "class_name": "Adam",
                "config": {"learning_rate": 0.01, "decay": 1e-4, "beta_1": 0.9},
            }
        },
    }
    translation = translate(config, None)
    optimizer = translation.config["compile_config"]["optimizer"]
    assert optimizer["module"] == "keras.optimizers"
    assert "decay" not in optimizer["config"]
    schedule = optimizer["config"]["learning_rate"]
    assert schedule["class_name"] == "InverseTimeDecay"
    assert schedule["config"]["initial_learning_rate"] == 0.01
    assert schedule["config"]["decay_rate"] == 1e-4 and schedule["config"]["decay_steps"] == 1
    assert {"module-path", "optimizer-decay"} <= set(translation.rules)
    training = {"optimizer_config": {"class_name": "SGD", "config": {"learning_rate": 0.1}}}
    training["optimizer_config"]["config"]["decay"] = 0.0  # type: ignore[index]
    h5 = translate({"class_name": "Sequential", "config": {"layers": []}}, training)
    assert h5.training_config is not None
    assert h5.training_config["optimizer_config"]["config"] == {"learning_rate": 0.1}


def test_decay_of_a_custom_optimizer_or_with_a_schedule_is_left_alone() -> None:
    custom = {"class_name": "MyOptimizer", "config": {"learning_rate": 0.1, "decay": 0.5}}
    scheduled = {
        "class_name": "SGD",
        "config": {"learning_rate": {"class_name": "ExponentialDecay", "config": {}}, "decay": 0.5},
    }
    for optimizer in (custom, scheduled):
        training = {"optimizer_config": optimizer}
        result = translate({"class_name": "Sequential", "config": {"layers": []}}, training)
        assert result.training_config is not None
        assert result.training_config["optimizer_config"]["config"]["decay"] == 0.5
