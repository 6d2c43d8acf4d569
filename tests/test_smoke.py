"""The smoke check (``kerascope load --smoke``, ``load_model(smoke=True)``, always on for Keras 2
files): every model that loads but fails its first use is refused with the cause, and a sound
model comes back exactly as it would without the check.

The models (tests/fixtures/smoke/build_smoke_models.py) are Keras 3 files that
``keras.saving.load_model`` loads without complaint; each fails on its first real batch in a
different place: the predict machinery (``steps_per_execution: null``, as tf-keras writes it),
the forward pass, the compiled loss, a compiled metric.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kerascope.errors import EXIT_KERAS

from .conftest import FIXTURES, PYTHON, QUIET_ENV, run_cli, run_python

pytestmark = pytest.mark.slow

SMOKE = FIXTURES / "smoke"

# file: words the error must contain (the failing step and Keras's own explanation)
BROKEN = {
    "steps_null.keras": ("predict", "'>' not supported between instances of 'NoneType' and 'int'"),
    "forward_fails.keras": ("BreaksOnABatch",),
    "loss_fails.keras": ("loss", "reshape"),
    "metric_fails.keras": ("metrics", "reshape"),
}


@pytest.fixture(scope="module")
def smoke_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("smoke_models")
    result = subprocess.run(
        [PYTHON, str(SMOKE / "build_smoke_models.py"), str(folder)],
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_model_failing_its_first_use_is_refused_with_the_cause(
    smoke_models: Path, name: str
) -> None:
    path = str(smoke_models / name)
    plain = run_cli("load", path, "--from", str(SMOKE))
    assert plain.returncode == 0, plain.stderr[-2000:]  # Keras loads it: only the check refuses
    checked = run_cli("load", path, "--from", str(SMOKE), "--smoke")
    assert checked.returncode == EXIT_KERAS, checked.stdout + checked.stderr[-2000:]
    message = checked.stderr.strip().splitlines()[-1]
    assert message.startswith(f"kerascope: error: {path}: Keras failed to load it: SmokeError: ")
    for words in BROKEN[name]:
        assert words.lower() in message.lower(), message
    assert "Traceback" not in checked.stderr


@pytest.mark.parametrize("name", ["sound.keras", "sparse.keras"])
def test_a_sound_model_passes(smoke_models: Path, name: str) -> None:
    # sparse.keras: the check must not take the model's outputs for the only possible targets
    # (sparse categorical cross-entropy wants class indices).
    checked = run_cli("load", str(smoke_models / name), "--from", str(SMOKE), "--smoke")
    assert checked.returncode == 0, checked.stderr[-2000:]


LOAD_BROKEN = """
import json, sys, kerascope
try:
    kerascope.load_model(sys.argv[1], sources=[sys.argv[2]], smoke=True)
except kerascope.KerasLoadError as error:
    cause = error.keras_error
    print(json.dumps([type(cause).__name__, type(cause.__cause__).__name__]))
"""


def test_the_python_api_raises_keras_load_error_with_the_smoke_error_and_its_cause(
    smoke_models: Path,
) -> None:
    stdout = run_python(LOAD_BROKEN, str(smoke_models / "forward_fails.keras"), str(SMOKE))
    smoke, cause = json.loads(stdout.strip().splitlines()[-1])
    assert smoke == "SmokeError"
    assert cause not in ("NoneType", "SmokeError")


# Load the sound model with and without the check; both must be the same model, in the same
# state: predictions, evaluation, weights, optimizer step, no metric state left over from the
# check's batch; and fit works.
SAME_MODEL = """
import json, sys
import numpy as np
import kerascope

path, source = sys.argv[1], sys.argv[2]
x = np.random.default_rng(1).random((5, 4), dtype=np.float32)
y = np.random.default_rng(2).random((5, 1), dtype=np.float32)
found = {}
for smoke in (False, True):
    model = kerascope.load_model(path, sources=[source], smoke=smoke)
    found[smoke] = {
        "predict": model.predict(x, verbose=0).tolist(),
        "weights": [w.tolist() for w in model.get_weights()],
        "iterations": int(model.optimizer.iterations.numpy()),
        "metric_state": sum(float(np.abs(np.asarray(v)).sum()) for v in model.metrics_variables),
        "evaluate": model.evaluate(x, y, verbose=0, return_dict=True),
        "run_eagerly": model.run_eagerly,
    }
    history = model.fit(x, y, epochs=1, verbose=0)
    found[smoke]["fit_loss"] = history.history["loss"]
print(json.dumps([found[False], found[True]]))
"""


def test_a_sound_model_comes_back_as_it_would_without_the_check(smoke_models: Path) -> None:
    stdout = run_python(SAME_MODEL, str(smoke_models / "sound.keras"), str(SMOKE))
    plain, checked = json.loads(stdout.strip().splitlines()[-1])
    assert checked == plain
    assert plain["iterations"] == 0 and plain["run_eagerly"] is False
    assert plain["metric_state"] == 0
    assert set(plain["evaluate"]) == {"loss", "sound_metric"}
