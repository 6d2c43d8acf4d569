"""The JAX suite's own tests: the seed examples, and the seed write-up's TF-bound layer, on JAX.

The seed examples in this repository (examples/seed_*) call keras.ops only, so TensorFlow saves
them and kerascope loads them on JAX (measured). The original write-up's seed 1 layer calls
``tf.matmul`` instead (fixtures/tf_bound): on JAX kerascope reports it before anything is
imported (it used to fail while being imported, with nothing said before).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.backends.conftest import FIXTURES, failure, locked, python_for, run_on
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")
CREATE_ALL = """
import os, runpy, sys
for folder in sys.argv[1:]:
    os.chdir(folder)
    sys.path.insert(0, folder)
    for name in ("custom_layer", "custom_functions", "custom_base", "custom_layer_dep"):
        sys.modules.pop(name, None)
    sys.argv = ["create_model.py", folder]
    runpy.run_path(os.path.join(folder, "create_model.py"), run_name="__main__")
    sys.path.remove(folder)
"""


@pytest.fixture(scope="session")
def tensorflow_examples(shared_base: Path) -> Path:
    """Copies of the three seed folders and of the TF-bound variant, each with its
    my_model.keras and my_model.h5 saved by TensorFlow (one process for all, once per run)."""
    python_for("tensorflow")
    with locked(shared_base, "examples") as base:
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            for seed in SEEDS:
                shutil.copytree(
                    ROOT / "examples" / seed,
                    base / seed,
                    ignore=shutil.ignore_patterns("*.keras", "*.h5", "__pycache__"),
                )
            (base / "tf_bound").mkdir()
            shutil.copy(FIXTURES / "tf_bound" / "custom_layer.py", base / "tf_bound")
            seed_1 = ROOT / "examples" / "seed_1_custom_layer"
            shutil.copy(seed_1 / "create_model.py", base / "tf_bound")
            folders = [str(base / name) for name in (*SEEDS, "tf_bound")]
            result = run_on("tensorflow", ["-c", CREATE_ALL, *folders], cwd=base)
            assert result.returncode == 0, failure(result)
            (base / "done").write_text("ok")
    return base


@pytest.mark.parametrize("seed", SEEDS)
def test_seed_example_loads_on_jax(tensorflow_examples: Path, seed: str) -> None:
    """The seed examples in this repository use keras.ops only: they load on JAX (measured)."""
    result = run_on(
        "jax",
        ["-m", "kerascope", "load", "my_model.keras", "--from", "."],
        cwd=tensorflow_examples / seed,
    )
    assert result.returncode == 0, failure(result)
    assert "Loaded Sequential" in result.stdout


@pytest.mark.parametrize("command", ["check", "load"])
def test_tf_bound_layer_is_reported_on_jax_before_import(
    tensorflow_examples: Path, command: str
) -> None:
    """The write-up's seed 1 layer calls tf.matmul. On JAX, both commands exit 4 before importing
    it, naming the object, the module, the line of the import and the backend (before issue 11:
    `check` said "Would load: yes" and `load` failed with ModuleNotFoundError, exit 5)."""
    result = run_on(
        "jax",
        ["-X", "importtime", "-m", "kerascope", command, "my_model.keras", "--from", "."],
        cwd=tensorflow_examples / "tf_bound",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "ModuleNotFoundError" not in output, output
    assert (
        "MyCustomLayer (custom_layer.py:8) uses tensorflow directly "
        "(custom_layer.py:5: import tensorflow as tf); it loads only on the TensorFlow backend "
        "(active: jax)"
    ) in " ".join(output.split()), output
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()}
    assert "custom_layer" not in imported
    if command == "check":
        assert not {"keras", "jax", "tensorflow"} & imported, sorted(imported)


def test_verify_names_the_tf_bound_layer_on_jax(tensorflow_examples: Path) -> None:
    """verify --backend tensorflow,jax,torch on the TF-bound model (no manifest: the first backend
    named is the reference): TensorFlow loads it, JAX and PyTorch do not, each row saying why;
    exit 10."""
    from tests.backends.test_verify import rows, verify_on

    result = verify_on(
        tensorflow_examples / "tf_bound", "my_model.keras", "tensorflow,jax,torch", "."
    )
    assert result.returncode == 10, failure(result)
    table = rows(result.stdout)
    assert table["tensorflow"][1:3] == ["(saved)", "yes"], result.stdout
    for backend in ("jax", "torch"):
        assert table[backend][1] == "no", result.stdout
        assert "uses tensorflow directly" in " ".join(table[backend]), result.stdout
        assert f"(active: {backend})" in " ".join(table[backend]), result.stdout
