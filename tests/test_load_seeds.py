"""The three seed scenarios: created in one fresh process, loaded with kerascope in another,
from a different working directory, as .keras and .h5; same predictions, compile state restored."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PYTHON, QUIET_ENV, ROOT

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


SEEDS = ["seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer"]

CREATE = """
import json, os, runpy, sys
import numpy as np
script, out = sys.argv[1], sys.argv[2]
sys.argv = [script, out]
sys.path.insert(0, os.path.dirname(script))  # as `python create_model.py` would
model = runpy.run_path(script, run_name="__main__")["model"]
x = np.random.RandomState(0).rand(4, 10).astype("float32")
json.dump(model.predict(x, verbose=0).tolist(), open(out + "/expected.json", "w"))
"""

LOAD = """
import json, runpy, sys, contextlib, io
import numpy as np
script, path = sys.argv[1], sys.argv[2]
sys.argv = [script, path]
with contextlib.redirect_stdout(io.StringIO()):
    model = runpy.run_path(script, run_name="__main__")["model"]
x = np.random.RandomState(0).rand(4, 10).astype("float32")
loss = model.loss if model.compiled else None
print(json.dumps({
    "predictions": model.predict(x, verbose=0).tolist(),
    "compiled": bool(model.compiled),
    "optimizer": type(model.optimizer).__name__ if model.compiled else None,
    "loss": loss if isinstance(loss, str) or loss is None else getattr(loss, "__name__", type(loss).__name__),
}))
"""

EXPECTED_LOSS = {
    "seed_1_custom_layer": {"keras": "mse", "h5": "mean_squared_error"},
    "seed_2_loss_activation": {"keras": "my_custom_loss", "h5": "my_custom_loss"},
    "seed_3_dependent_layer": {"keras": "mse", "h5": "mean_squared_error"},
}


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders = {}
    for seed in SEEDS:
        out = tmp_path_factory.mktemp(seed)
        workdir = tmp_path_factory.mktemp("create-cwd")
        script = ROOT / "examples" / seed / "create_model.py"
        result = subprocess.run(
            [PYTHON, "-c", CREATE, str(script), str(out)],
            cwd=workdir,
            env=QUIET_ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        folders[seed] = out
    return folders


@pytest.mark.parametrize("extension", ["keras", "h5"])
@pytest.mark.parametrize("seed", SEEDS)
def test_seed_loads_in_a_fresh_process(
    seed: str, extension: str, created: dict[str, Path], tmp_path: Path
) -> None:
    folder = created[seed]
    script = ROOT / "examples" / seed / "load_model.py"
    result = subprocess.run(
        [PYTHON, "-c", LOAD, str(script), str(folder / f"my_model.{extension}")],
        cwd=tmp_path,
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    expected = json.loads((folder / "expected.json").read_text())
    np.testing.assert_allclose(loaded["predictions"], expected, atol=1e-6)
    assert loaded["compiled"] is True
    assert loaded["optimizer"] == "Adam"
    assert loaded["loss"] == EXPECTED_LOSS[seed][extension]
