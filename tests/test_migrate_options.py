"""``kerascope migrate`` honours ``--compile``, ``--allow`` and ``--strict`` (CLI and Python API).

Each test runs kerascope in fresh processes (the CLI, or a child script), on real files: the
Keras 2 corpus of tests/fixtures/keras2 (tf-keras 2.21) and a Keras 3 file saved by kerascope.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from .conftest import FIXTURES, PYTHON, QUIET_ENV, ROOT

pytestmark = pytest.mark.slow

ENV = {**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")}
KERAS2 = str(FIXTURES / "keras2")


def _run(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *arguments], env=ENV, capture_output=True, text=True, check=False, cwd=cwd
    )


def _compile_config(path: Path) -> object:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json")).get("compile_config")


def test_migrate_compile_no_writes_a_file_without_compile_state(
    keras2_corpus: Path, tmp_path: Path
) -> None:
    source = keras2_corpus / "lr_schedule_custom.h5"
    compiled, bare = tmp_path / "compiled.keras", tmp_path / "bare.keras"
    result = _run("-m", "kerascope", "migrate", str(source), str(compiled), "--from", KERAS2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _compile_config(compiled), "the default (--compile auto) keeps the compile state"
    result = _run(
        "-m", "kerascope", "migrate", str(source), str(bare), "--from", KERAS2, "--compile", "no"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parity against tf-keras" in result.stdout
    assert not _compile_config(bare)


ALLOW_CHILD = """
import json, shutil, sys
import h5py
import kerascope
source, copy, target = sys.argv[1:4]
shutil.copy(source, copy)
with h5py.File(copy, "r+") as handle:
    training = json.loads(handle.attrs["training_config"])
    training["note"] = "https://example.com/where-this-came-from"
    handle.attrs["training_config"] = json.dumps(training)
try:
    kerascope.migrate(copy, target, sources=[sys.argv[4]])
except kerascope.UnresolvedObjectsError as error:
    print("refused:", [p.reason for p in error.problems])
import os
print("written before allow:", os.path.exists(target))
result = kerascope.migrate(copy, target, sources=[sys.argv[4]], allow=["url"])
print("allowed:", result.reference, result.max_abs_diff <= 1e-6)
"""


def test_migrate_allow_accepts_the_named_finding(keras2_corpus: Path, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(ALLOW_CHILD)
    result = _run(
        str(script),
        str(keras2_corpus / "lr_schedule_custom.h5"),
        str(tmp_path / "with_url.h5"),
        str(tmp_path / "new.keras"),
        KERAS2,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "refused: ['url']" in result.stdout
    assert "written before allow: False" in result.stdout
    assert "allowed: tf-keras True" in result.stdout


SAVE_CHILD = """
import sys
import keras
import kerascope
sys.path.insert(0, sys.argv[1])
from layers import Scale
model = keras.Sequential([keras.Input((3,)), Scale(), keras.layers.Dense(1)])
kerascope.save_model(model, sys.argv[2])
"""

LAYERS = """
import keras


@keras.saving.register_keras_serializable(package="opts")
class Scale(keras.layers.Layer):
    def call(self, x):
        return x * 2.0
"""


def test_migrate_strict_refuses_a_drifted_source(tmp_path: Path) -> None:
    (tmp_path / "layers.py").write_text(textwrap.dedent(LAYERS))
    (tmp_path / "save.py").write_text(SAVE_CHILD)
    saved = _run(str(tmp_path / "save.py"), str(tmp_path), str(tmp_path / "managed.keras"))
    assert saved.returncode == 0, saved.stderr[-3000:]
    with open(tmp_path / "layers.py", "a") as handle:
        handle.write("# changed after saving\n")
    target = tmp_path / "new.keras"
    strict = _run(
        "-m", "kerascope", "migrate", "managed.keras", str(target), "--from", ".", "--strict",
        cwd=tmp_path,
    )  # fmt: skip
    assert strict.returncode == 4, strict.stdout + strict.stderr
    assert "layers.py" in strict.stdout + strict.stderr
    assert not target.exists()
