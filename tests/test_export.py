"""``kerascope export``: code-free artifacts whose parity is proven in an isolated process.

Every model is built by real Keras in a fresh process; every export runs in a fresh process too
(the command line, or the Python API in a child), and the parity side is the isolated
``python -I`` child that blocks kerascope, the custom sources and Keras.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kerascope._keras.export_isolated import CHILD_SCRIPT, clean_environment
from tests.conftest import PYTHON, QUIET_ENV, ROOT, _shared_dir, write_files

pytestmark = pytest.mark.slow

SEEDS = {
    "seed_1_custom_layer": ("custom_layer", "my_model.keras"),
    "seed_2_loss_activation": ("custom_functions", "my_model.keras"),
    "seed_3_dependent_layer": ("custom_layer_dep", "my_model.h5"),
}
FORMATS = ("tf_saved_model", "onnx")

BUILD_SEEDS = """
import importlib, os, sys
for seed, out in zip(sys.argv[1::2], sys.argv[2::2]):
    folder = os.path.join(os.environ["EXAMPLES"], seed)
    sys.path.insert(0, folder)
    sys.modules.pop("create_model", None)
    model = importlib.import_module("create_model").build()
    for name in ("my_model.keras", "my_model.h5"):
        model.save(os.path.join(out, name))
    sys.path.remove(folder)
"""

EXPORT_ALL = """
import json, os, sys
import kerascope
jobs = json.loads(sys.argv[1])
results = []
for job in jobs:
    result = kerascope.export(job["path"], job["target"], format=job["format"],
                              sources=[job["source"]])
    results.append({**job, "max_abs_diff": result.max_abs_diff, "blocked": list(result.blocked),
                    "inputs": result.inputs})
print(json.dumps(results))
"""


def export_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``kerascope export ...`` in a fresh process (TensorFlow starts twice: allow the time)."""
    return subprocess.run(
        [PYTHON, "-m", "kerascope", "export", *arguments],
        capture_output=True, text=True, cwd=cwd, env=QUIET_ENV, check=False, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="session")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three seed models, built by their own create_model.py in one fresh process (once for
    all xdist workers)."""
    root = _shared_dir(tmp_path_factory, "export-seeds")
    folders = {seed: root / seed for seed in SEEDS}
    with _locked(root):
        if not (root / "done").exists():
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            pairs = [str(part) for seed, folder in folders.items() for part in (seed, folder)]
            result = subprocess.run(
                [PYTHON, "-c", BUILD_SEEDS, *pairs],
                env={**QUIET_ENV, "EXAMPLES": str(ROOT / "examples")},
                capture_output=True, text=True, check=False, timeout=600,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-3000:]
            (root / "done").write_text("ok")
    return folders


@pytest.fixture(scope="session")
def exported(
    seeds: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], dict[str, object]]:
    """Each seed exported in each format, by the Python API, in one fresh process (once for all
    xdist workers)."""
    out = _shared_dir(tmp_path_factory, "export-artifacts")
    with _locked(out):
        if not (out / "results.json").exists():
            jobs = [
                {
                    "seed": seed,
                    "format": format,
                    "path": str(seeds[seed] / filename),
                    "source": str(ROOT / "examples" / seed),
                    "target": str(out / f"{seed}.{'onnx' if format == 'onnx' else 'savedmodel'}"),
                }
                for seed, (_, filename) in SEEDS.items()
                for format in FORMATS
            ]
            result = subprocess.run(
                [PYTHON, "-c", EXPORT_ALL, json.dumps(jobs)],
                cwd=out, env=QUIET_ENV, capture_output=True, text=True, check=False,
                timeout=1800,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-3000:]
            (out / "results.json").write_text(result.stdout.strip().splitlines()[-1])
    results = json.loads((out / "results.json").read_text())
    return {(r["seed"], r["format"]): r for r in results}


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("seed", list(SEEDS))
def test_seed_export_passes_parity_in_an_isolated_process(
    seed: str, format: str, exported: dict[tuple[str, str], dict[str, object]]
) -> None:
    result = exported[(seed, format)]
    assert isinstance(result["max_abs_diff"], float)
    assert result["max_abs_diff"] <= 1e-5
    blocked = set(result["blocked"])  # type: ignore[call-overload]
    module = SEEDS[seed][0]
    assert {"kerascope", "keras", "tf_keras", module} <= blocked
    if format == "onnx":
        assert {"tensorflow", "jax", "torch"} <= blocked
    else:
        assert "tensorflow" not in blocked  # a SavedModel runs on TensorFlow, without Keras
    target = Path(str(result["target"]))
    if format == "onnx":
        assert target.is_file() and target.stat().st_size > 0
    else:
        assert (target / "saved_model.pb").is_file()
    leftovers = [p.name for p in target.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cli_export_prints_the_parity_it_proved(seeds: dict[str, Path], tmp_path: Path) -> None:
    source = ROOT / "examples" / "seed_2_loss_activation"
    model = seeds["seed_2_loss_activation"] / "my_model.h5"
    result = export_cli(str(model), "served", "--from", str(source), "--atol", "1e-6",
                        cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parity in an isolated process" in result.stdout
    assert "largest difference" in result.stdout
    assert "tolerance 1e-06" in result.stdout
    assert (tmp_path / "served" / "saved_model.pb").is_file()


# A layer whose call keeps Python state: Keras's predict traces it once (offset 1), the export
# traces it again (offset 2 or more), so the artifact holds a different constant than the model
# the parity check compares it with. A real way for an export to be wrong, found only by running.
STATEFUL_LAYER = """
import keras

class CountingLayer(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = 0

    def call(self, inputs):
        self.calls += 1
        return inputs + float(self.calls)
"""

CANARY_LAYER = """
import os, sys
import keras

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "canary.log"), "a") as log:
    log.write(f"{os.getpid()} isolated={sys.flags.isolated}\\n")


class CanaryLayer(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2.0
"""

BUILD_OTHERS = """
import os, sys
import numpy as np
import keras
out = sys.argv[1]
sys.path.insert(0, os.path.join(out, "src"))
from counting_layer import CountingLayer
from canary_layer import CanaryLayer

def save(model, name):
    model.save(os.path.join(out, name))

save(keras.Sequential([keras.Input((3,)), CountingLayer()]), "stateful.keras")
save(keras.Sequential([keras.Input((3,)), CanaryLayer()]), "canary.keras")
save(keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2.0)]), "lambda.keras")
ragged = keras.Sequential([keras.Input((None, 3)), keras.layers.GlobalAveragePooling1D(),
                           keras.layers.Dense(2)])
save(ragged, "ragged.keras")
np.save(os.path.join(out, "ragged_sample.npy"), np.ones((2, 5, 3), "float32"))
a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
joined = keras.layers.Concatenate()([a, b])
outputs = {"z": keras.layers.Dense(2, name="z")(joined), "y": keras.layers.Dense(1, name="y")(joined)}
save(keras.Model([a, b], outputs), "two_in_two_out.keras")
rng = np.random.default_rng(1)
np.savez(os.path.join(out, "two_in.npz"), b=rng.random((3, 2), "float32"),
         a=rng.random((3, 3), "float32"))
"""


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models that export must refuse or catch, with their source files under src/."""
    out = tmp_path_factory.mktemp("others")
    write_files(out / "src", {"counting_layer.py": STATEFUL_LAYER, "canary_layer.py": CANARY_LAYER})
    result = subprocess.run(
        [PYTHON, "-c", BUILD_OTHERS, str(out)],
        env=QUIET_ENV, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (out / "src" / "canary.log").unlink()  # written while building: start counting afresh
    return out


def test_a_wrong_artifact_fails_the_check_and_nothing_is_written(
    others: Path, tmp_path: Path
) -> None:
    target = tmp_path / "served"
    target.mkdir()
    (target / "previous.txt").write_text("the artifact that was there before")
    result = export_cli(str(others / "stateful.keras"), str(target), "--from",
                        str(others / "src"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 10, result.stderr[-3000:]
    assert "differ from the Keras model's" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["previous.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served"]  # no half artifact left


def test_the_isolated_process_never_imports_the_custom_source(others: Path, tmp_path: Path) -> None:
    result = export_cli(str(others / "canary.keras"), "served.onnx", "--format", "onnx",
                        "--from", str(others / "src"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "canary_layer" in result.stdout  # listed among the names blocked in the child
    lines = (others / "src" / "canary.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("isolated=0")  # the exporting process only


BLOCKER_PROBE = """
import runpy, sys
sys.path.insert(0, sys.argv[1])  # the canary module is importable: only the blocker can stop it
child = runpy.run_path(sys.argv[2])
if sys.argv[3] == "block":
    sys.meta_path.insert(0, child["ImportBlocker"](["canary_layer", "kerascope"]))
for name in ("canary_layer", "kerascope"):
    try:
        __import__(name)
        print(name, "imported")
    except ImportError as error:
        print(name, "blocked")
"""


@pytest.mark.parametrize("mode", ["block", "no-block"])
def test_the_child_blocker_stops_modules_that_are_on_the_path(
    others: Path, tmp_path: Path, mode: str
) -> None:
    source = tmp_path / "src"
    write_files(source, {"canary_layer.py": CANARY_LAYER})
    src = str(ROOT / "src")  # kerascope importable too, as when it is installed
    probe = BLOCKER_PROBE.replace("sys.path.insert(0, sys.argv[1])",
                                  f"sys.path[:0] = [sys.argv[1], {src!r}]")  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(source), CHILD_SCRIPT, mode],
        cwd=tmp_path, env=clean_environment(str(tmp_path)), capture_output=True, text=True,
        check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    expected = "blocked" if mode == "block" else "imported"
    assert result.stdout.split() == ["canary_layer", expected, "kerascope", expected]
    assert (source / "canary.log").exists() is (mode == "no-block")


def test_lambda_bytecode_is_refused_without_unsafe(others: Path, tmp_path: Path) -> None:
    refused = export_cli(str(others / "lambda.keras"), "served", cwd=tmp_path)
    assert refused.returncode == 4, refused.stderr[-3000:]
    assert "--unsafe" in refused.stderr
    assert not (tmp_path / "served").exists()
    allowed = export_cli(str(others / "lambda.keras"), "served", "--unsafe", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert (tmp_path / "served" / "saved_model.pb").is_file()


def test_an_unknown_size_is_refused_without_a_sample(others: Path, tmp_path: Path) -> None:
    refused = export_cli(str(others / "ragged.keras"), "served", cwd=tmp_path)
    assert refused.returncode == 10, refused.stderr[-3000:]
    assert "dimension 1 is unknown" in refused.stderr
    assert "--sample" in refused.stderr
    assert not (tmp_path / "served").exists()
    sample = str(others / "ragged_sample.npy")
    given = export_cli(str(others / "ragged.keras"), "served", "--sample", sample, cwd=tmp_path)
    assert given.returncode == 0, given.stderr[-3000:]
    assert "ragged_sample.npy (2 rows)" in given.stdout


def test_the_child_script_imports_nothing_of_kerascope() -> None:
    text = Path(CHILD_SCRIPT).read_text(encoding="utf-8")
    assert "import kerascope" not in text and "from kerascope" not in text
    assert os.path.basename(CHILD_SCRIPT) == "export_child.py"


@pytest.mark.parametrize("format", FORMATS)
def test_several_inputs_and_named_outputs_match_by_name(
    others: Path, tmp_path: Path, format: str
) -> None:
    # The .npz lists b before a; the outputs are a dict: both must line up with the artifact's.
    target = "served.onnx" if format == "onnx" else "served"
    result = export_cli(str(others / "two_in_two_out.keras"), target, "--format", format,
                        "--sample", str(others / "two_in.npz"), cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "two_in.npz (3 rows)" in result.stdout
