"""save_model: atomic (even when killed), a manifest that drives loading, lint before writing,
and verify in a fresh process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

import kerascope
from tests.conftest import PYTHON, QUIET_ENV, ROOT, run_python

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


FIXTURES = ROOT / "tests" / "fixtures"
SEED_1 = ROOT / "examples" / "seed_1_custom_layer"

SAVE = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{fixtures!r}, {seed!r}]
    import keras, kerascope
    from save_layers import SlowConfig
    from custom_layer import MyCustomLayer

    def model(width):
        return keras.Sequential([keras.Input((width,)), keras.layers.Dense(width),
                                 SlowConfig(4), MyCustomLayer(3)])

    path, width, stage = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    import kerascope._keras.save as save_module, kerascope._keras.atomic as atomic_module, time
    def pause(name, real):
        def wrapper(*args, **kwargs):
            if stage == name:
                print("stage:" + name, flush=True)
                time.sleep(30)
            return real(*args, **kwargs)
        return wrapper
    save_module._copy_archive = pause("manifest", save_module._copy_archive)
    atomic_module._fsync_file = pause("rename", atomic_module._fsync_file)
    save_module.save_with_keras = pause("keras", save_module.save_with_keras)
    kerascope.save_model(model(width), path)
    print("stage:done", flush=True)
    """
).format(fixtures=str(FIXTURES), seed=str(SEED_1))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if ".kerascope-tmp" in name)


def _wait_for_no_leftovers(folder: Path) -> list[str]:
    for _ in range(100):
        if not _leftovers(folder):
            return []
        time.sleep(0.05)
    return _leftovers(folder)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("original")
    run_python(SAVE, str(folder / "model.keras"), "8", "none")
    return folder / "model.keras"


@pytest.mark.parametrize("stage", ["get_config", "keras", "manifest", "rename"])
def test_killed_save_leaves_previous_file_and_no_temporary(
    stage: str, original: Path, tmp_path: Path
) -> None:
    target = tmp_path / "model.keras"
    target.write_bytes(original.read_bytes())
    before = _digest(target)
    env = {**QUIET_ENV, "KERASCOPE_TEST_SLOW_CONFIG": "1" if stage == "get_config" else ""}
    child = subprocess.Popen(
        [PYTHON, "-c", SAVE, str(target), "16", stage],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    while line and not line.startswith("stage:"):
        line = child.stdout.readline()
    assert line.strip() == f"stage:{stage}"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert _digest(target) == before
    assert _wait_for_no_leftovers(tmp_path) == []


def test_get_config_failure_keeps_the_previous_file(original: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys, shutil
        sys.path.insert(0, {str(FIXTURES)!r})
        import keras, kerascope
        from save_layers import BrokenConfig
        model = keras.Sequential([keras.Input((3,)), BrokenConfig()])
        for name in ("kerascope.keras", "plain.keras"):
            shutil.copy({str(original)!r}, name)
        try:
            kerascope.save_model(model, "kerascope.keras", lint=False)
        except RuntimeError as error:
            print("kerascope raised:", error)
        try:
            model.save("plain.keras")
        except RuntimeError as error:
            print("keras raised:", error)
        """
    )
    stdout = run_python(code, cwd=tmp_path)
    assert "kerascope raised: get_config is broken" in stdout
    assert "keras raised: get_config is broken" in stdout
    assert _digest(tmp_path / "kerascope.keras") == _digest(original)
    assert (tmp_path / "plain.keras").stat().st_size == 0  # what plain Keras leaves behind
    assert _leftovers(tmp_path) == []


def test_lint_error_stops_the_save_before_writing(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import keras, kerascope

        class Block(keras.layers.Layer):
            def call(self, inputs):
                return inputs

        model = keras.Sequential([keras.Input((3,)), Block()])
        try:
            kerascope.save_model(model, "model.keras")
        except kerascope.LintError as error:
            print(str(error).replace(chr(10), " | "))
        """
    )
    stdout = run_python(code, cwd=tmp_path)
    assert "defined-in-main" in stdout and "Block" in stdout
    assert os.listdir(tmp_path) == []


# --- the manifest ---------------------------------------------------------------------------------

PACKAGE_LAYERS = """
import keras


def shifted_relu(x):
    return keras.activations.relu(x - 0.5)


class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor
"""

BUILD_PACKAGE_MODEL = """
import sys, numpy as np, keras, kerascope
from mypkg.layers import Scale, shifted_relu
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation=shifted_relu), Scale(3.0)])
for name in ("model.keras", "model.h5"):
    kerascope.save_model(model, sys.argv[1] + "/" + name)
x = np.arange(6, dtype="float32").reshape(2, 3)
np.save(sys.argv[1] + "/expected.npy", model.predict(x, verbose=0))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local package directory and models saved from it with kerascope."""
    root = tmp_path_factory.mktemp("project")
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "layers.py").write_text(PACKAGE_LAYERS)
    # A decoy with the same function name elsewhere in the tree: only the manifest tells which.
    (root / "scripts").mkdir()
    (root / "scripts" / "old.py").write_text(
        "def shifted_relu(x):\n    raise RuntimeError('decoy')\n"
    )
    (root / "out").mkdir()
    run_python(BUILD_PACKAGE_MODEL, str(root / "out"), cwd=root)
    return root


@pytest.mark.parametrize("name", ["model.keras", "model.h5"])
def test_manifest_is_written_and_read(project: Path, name: str) -> None:
    inspection = kerascope.inspect(project / "out" / name)
    manifest = inspection.manifest
    assert manifest is not None and manifest.version == 2 and manifest.bundle is None
    assert manifest.keras_version == "3.15.1" and manifest.backend == "tensorflow"
    entries = {entry.key: entry for entry in manifest.objects}
    assert set(entries) == {"Scale", "shifted_relu"}
    layers = project / "mypkg" / "layers.py"
    for entry in entries.values():
        assert entry.module == "mypkg.layers"
        assert entry.file == "mypkg/layers.py"
        assert entry.sha256 == hashlib.sha256(layers.read_bytes()).hexdigest()
    assert entries["Scale"].kinds == ("layer",) and entries["shifted_relu"].kinds == ("activation",)


def test_manifest_keeps_three_members_and_plain_keras_loads_it(project: Path) -> None:
    path = project / "out" / "model.keras"
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert "kerascope_manifest" in json.loads(archive.read("metadata.json"))
    code = textwrap.dedent(
        f"""
        import sys, keras
        sys.path.insert(0, {str(project)!r})
        from mypkg.layers import Scale, shifted_relu
        model = keras.saving.load_model({str(path)!r},
            custom_objects={{"Scale": Scale, "shifted_relu": shifted_relu}})
        print(type(model.layers[-1]).__name__)
        """
    )
    assert run_python(code).strip() == "Scale"


LOAD_PROJECT = """
import json, sys, warnings, numpy as np, kerascope
path, mode, root = sys.argv[1], sys.argv[2], sys.argv[3]
options = {"sources": [root]} if mode == "from" else {"trust": ["mypkg"]}
strict = len(sys.argv) > 4
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    plan = kerascope.check(path, **options, strict=strict)
    try:
        model = kerascope.load_model(path, **options, strict=strict)
    except kerascope.UnresolvedObjectsError as error:
        print(json.dumps({"problems": [p.reason for p in error.problems]}))
        raise SystemExit
x = np.arange(6, dtype="float32").reshape(2, 3)
print(json.dumps({
    "origins": {r.object.key: r.origin for r in plan.resolutions},
    "modules": {r.object.key: r.module for r in plan.resolutions},
    "output": model.predict(x, verbose=0).tolist(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, kerascope.KerascopeWarning)],
}))
"""


def _load_project(
    project: Path, name: str, mode: str, *, strict: bool = False, pythonpath: bool = False
) -> dict[str, object]:
    # The project goes before any PYTHONPATH already set (a checkout's src/ when not installed).
    paths = [str(project), *filter(None, [QUIET_ENV.get("PYTHONPATH")])]
    env = {**QUIET_ENV, **({"PYTHONPATH": os.pathsep.join(paths)} if pythonpath else {})}
    stdout = run_python(
        LOAD_PROJECT,
        str(project / "out" / name),
        mode,
        str(project),
        *(["strict"] if strict else []),
        cwd=project / "out",
        env=env,
    )
    document: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return document


@pytest.mark.parametrize("name", ["model.keras", "model.h5"])
def test_manifest_guides_loading_from_a_source_tree(project: Path, name: str) -> None:
    import numpy as np

    loaded = _load_project(project, name, "from")
    assert loaded["modules"] == {"shifted_relu": "mypkg.layers", "Scale": "mypkg.layers"}
    np.testing.assert_allclose(
        loaded["output"], np.load(project / "out" / "expected.npy"), atol=1e-6
    )
    assert loaded["warnings"] == []


def test_manifest_names_the_module_of_a_function(project: Path) -> None:
    # A function is saved without its module; with the package trusted and importable,
    # the manifest says where it is.
    loaded = _load_project(project, "model.h5", "trust", pythonpath=True)
    assert loaded["origins"] == {"shifted_relu": "manifest", "Scale": "manifest"}


def test_drift_warns_and_strict_refuses(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    subprocess.run(["cp", "-r", str(project), str(copy)], check=True)
    with open(copy / "mypkg" / "layers.py", "a") as handle:
        handle.write("\n# edited after saving\n")
    loaded = _load_project(copy, "model.keras", "from")
    warnings_seen = loaded["warnings"]
    assert isinstance(warnings_seen, list)
    assert any(
        "'Scale' was saved with mypkg/layers.py" in w and "has changed since" in w
        for w in warnings_seen
    )
    refused = _load_project(copy, "model.keras", "from", strict=True)
    assert refused == {"problems": ["drift", "drift"]}


# --- verify ---------------------------------------------------------------------------------------

VERIFY = """
import json, sys
sys.path.insert(0, {fixtures!r})
import keras, kerascope
from save_layers import DropsFactor, KeepsFactor
layer = {{"drops": DropsFactor, "keeps": KeepsFactor}}[sys.argv[1]](factor=3.0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), layer])
report = kerascope.verify(model, sources=[{fixtures!r} + "/save_layers.py"])
print(json.dumps({{"ok": report.ok, "differences": report.differences, "error": report.error,
                  "text": report.describe()}}))
"""


@pytest.mark.parametrize(("layer", "ok"), [("drops", False), ("keeps", True)])
def test_verify_catches_a_dropped_argument(layer: str, ok: bool, tmp_path: Path) -> None:
    stdout = run_python(VERIFY.format(fixtures=str(FIXTURES)), layer, cwd=tmp_path)
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["ok"] is ok, report["text"]
    if not ok:
        assert report["differences"] and report["differences"][0].startswith(
            "output 0: max abs difference"
        )


SEEDS = ["seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer"]


@pytest.mark.parametrize("seed", SEEDS)
def test_verify_passes_on_the_seeds(seed: str, tmp_path: Path) -> None:
    folder = ROOT / "examples" / seed
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(folder)!r})
        from create_model import build
        from kerascope.testing import assert_roundtrip
        print(assert_roundtrip(build(), sources=[{str(folder)!r}]).describe())
        """
    )
    assert ": pass" in run_python(code, cwd=tmp_path)


def test_verify_cli_on_a_saved_file(project: Path) -> None:
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "kerascope",
            "verify",
            str(project / "out" / "model.keras"),
            "--from",
            str(project),
        ],
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert ": pass" in result.stdout
