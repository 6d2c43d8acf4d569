"""Custom code tied to one Keras backend, named from its imports before anything is imported.

The model files are written by hand (a config, and a manifest where needed): ``check`` reads
them and the sources without importing Keras or the code, in a fresh process whose backend is
chosen by KERAS_BACKEND or keras.json, as Keras chooses it. tests/backends runs the same on a real
JAX environment with a model saved by TensorFlow.
"""

from __future__ import annotations

import ast
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kerascope._common.backend import backend_uses, bound_backends
from tests.conftest import PYTHON, QUIET_ENV, write_files

TF_LAYER = """\
    import keras
    import numpy as np
    import tensorflow as tf


    class MyCustomLayer(keras.layers.Layer):
        def call(self, inputs):
            return tf.nn.relu(inputs)
"""
NEUTRAL_LAYER = """\
    import keras


    class MyCustomLayer(keras.layers.Layer):
        def call(self, inputs):
            return keras.ops.relu(inputs)
"""


def _model_file(folder: Path, manifest: dict[str, Any] | None = None) -> Path:
    layer = {
        "module": "custom_layer",
        "class_name": "MyCustomLayer",
        "registered_name": "MyCustomLayer",
        "config": {"name": "mine", "trainable": True, "dtype": "float32"},
    }
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "s", "layers": [layer]},
    }
    metadata: dict[str, Any] = {"keras_version": "3.15.1"}
    if manifest is not None:
        metadata["kerascope_manifest"] = manifest
    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps(metadata))
    return path


def _check(
    folder: Path, *options: str, backend: str | None = "jax", home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in QUIET_ENV.items() if key != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(home or folder / "no-keras-home")
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    code = (
        "import sys\n"
        "from kerascope._cli.commands import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = {'keras', 'tensorflow', 'jax', 'torch', 'custom_layer', 'base'}\n"
        "print('imported:', sorted(heavy & set(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [PYTHON, "-c", code, "check", "model.keras", "--from", ".", *options],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_imports_are_read_at_every_depth() -> None:
    source = """\
import numpy as np
from tensorflow import keras as tfk
import keras

try:
    import torch
except ImportError:
    torch = None

class Layer:
    def call(self, x):
        import jax.numpy as jnp
        if keras.backend.backend() == "torch":
            import torch.nn
        return jnp.tanh(x)
"""
    uses = backend_uses(ast.parse(source))
    assert [(u.backend, u.lineno, u.statement, u.scope, u.optional) for u in uses] == [
        ("numpy", 1, "import numpy as np", "", False),
        ("tensorflow", 2, "from tensorflow import keras as tfk", "", False),
        ("torch", 6, "import torch", "", True),
        ("jax", 12, "import jax.numpy as jnp", "Layer.call", False),
        ("torch", 14, "import torch.nn", "Layer.call", True),
    ]
    assert bound_backends(uses) == ("jax", "tensorflow")


def test_tf_bound_layer_is_named_on_jax_before_anything_is_imported(tmp_path: Path) -> None:
    write_files(tmp_path, {"custom_layer.py": TF_LAYER})
    _model_file(tmp_path)
    result = _check(tmp_path)
    assert result.returncode == 4, _said(result)
    assert (
        "MyCustomLayer (custom_layer.py:6) uses tensorflow directly "
        "(custom_layer.py:3: import tensorflow as tf); it loads only on the TensorFlow backend "
        "(active: jax)"
    ) in _said(result)
    assert "KERAS_BACKEND=tensorflow" in _said(result)
    assert "imported: []" in result.stdout


def test_the_same_layer_is_fine_on_tensorflow(tmp_path: Path) -> None:
    write_files(tmp_path, {"custom_layer.py": TF_LAYER})
    _model_file(tmp_path)
    result = _check(tmp_path, backend="tensorflow")
    assert result.returncode == 0, _said(result)
    assert "Would load: yes" in result.stdout


def test_backend_comes_from_keras_json_without_the_variable(tmp_path: Path) -> None:
    """Keras: KERAS_BACKEND, else keras.json in KERAS_HOME, else tensorflow."""
    write_files(tmp_path, {"custom_layer.py": TF_LAYER, "home/keras.json": '{"backend": "torch"}'})
    _model_file(tmp_path)
    result = _check(tmp_path, backend=None, home=tmp_path / "home")
    assert result.returncode == 4, _said(result)
    assert "(active: torch)" in _said(result)
    assert _check(tmp_path, backend=None).returncode == 0


def test_a_helper_module_that_imports_torch_is_named(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "base.py": "import torch\n\ndef helper(x):\n    return x\n",
            "custom_layer.py": "import keras\nfrom base import helper\n\n\n"
            "class MyCustomLayer(keras.layers.Layer):\n    pass\n",
        },
    )
    _model_file(tmp_path)
    result = _check(tmp_path, backend="tensorflow")
    assert result.returncode == 4, _said(result)
    assert (
        "MyCustomLayer (custom_layer.py:5) uses torch directly "
        "(base.py:1: import torch, imported by it); it loads only on the PyTorch backend "
        "(active: tensorflow)"
    ) in _said(result)
    assert _check(tmp_path, backend="torch").returncode == 0


def test_allowing_backend_bound_code_turns_the_problem_into_a_note(tmp_path: Path) -> None:
    write_files(tmp_path, {"custom_layer.py": TF_LAYER})
    _model_file(tmp_path)
    result = _check(tmp_path, "--allow", "backend-bound")
    assert result.returncode == 0, _said(result)
    assert "uses tensorflow directly" in _said(result) and "(allowed)" in _said(result)


@pytest.mark.parametrize(
    ("layer", "said"),
    [
        (NEUTRAL_LAYER, "the custom code was found backend-neutral"),
        (TF_LAYER, "the custom code is tied to a backend: MyCustomLayer (tensorflow)"),
    ],
    ids=["neutral", "tf-bound"],
)
def test_manifest_backend_note_says_whether_the_code_is_neutral(
    tmp_path: Path, layer: str, said: str
) -> None:
    write_files(tmp_path, {"custom_layer.py": layer})
    manifest = {
        "version": 1,
        "kerascope_version": "0.1.0",
        "python_version": "3.11.7",
        "keras_version": "3.15.1",
        "backend": "tensorflow",
        "objects": [],
    }
    _model_file(tmp_path, manifest)
    result = _check(tmp_path, "--allow", "backend-bound")
    notes = [line for line in result.stdout.splitlines() if "saved with the tensorflow" in line]
    assert len(notes) == 1, result.stdout
    assert "this process uses jax" in notes[0] and said in notes[0]
