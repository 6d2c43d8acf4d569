"""An HDF5 model file named ``.keras``: keras 2.12 wrote ``model.save("m.keras")`` as HDF5.

Measured with TensorFlow 2.12.1 (keras 2.12.0) on the Keras 2 corpus: every such file failed in
kerascope with "Keras failed to load it: BadZipFile", because Keras 3 picks its reader by the
file name. The same bytes are made here from a tf-keras ``.h5`` renamed to ``.keras``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import FIXTURES, PYTHON, QUIET_ENV, ROOT

_LOAD = """
import json, sys
import numpy as np
import kerascope
data = np.load(sys.argv[2])
model = kerascope.load_model(sys.argv[1], sources=[sys.argv[3]])
prediction = model.predict(data["x_sample"], verbose=0)
print(json.dumps({"diff": float(np.abs(prediction - data["y_pred"]).max())}))
"""


@pytest.mark.slow
def test_an_hdf5_file_named_keras_loads_like_the_h5(keras2_corpus: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "saved_by_keras_2_12.keras"
    shutil.copyfile(keras2_corpus / "seed1_custom_layer.h5", renamed)
    inspected = subprocess.run(
        [PYTHON, "-m", "kerascope", "inspect", "--json", str(renamed)],
        env={**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(inspected.stdout)["format"] == "h5"  # told by its content, not its name
    result = subprocess.run(
        [PYTHON, "-c", _LOAD, str(renamed), str(keras2_corpus / "seed1_custom_layer.npz"),
         str(FIXTURES / "keras2")],
        env={**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["diff"] <= 1e-6
