"""Models built on installed layer packages: Keras >= 3.9 no longer imports the module named in
the file; kerascope does, once the package is trusted, and says which distribution to trust."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import PYTHON, pip_install_throwaway, site_env

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


LAYER_CODE = """
import keras


@keras.saving.register_keras_serializable(package="{package}")
class {cls}(keras.layers.Layer):
    def __init__(self, gain=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gain = gain

    def call(self, inputs):
        return inputs * self.gain
"""

PACKAGES = {
    # distribution: (import package, class, entry point?)
    "tiny-layers": ("tinylayers", "Gain", True),
    "plain-layers": ("plainlayers", "Boost", False),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where both packages are pip-installed, with their metadata."""
    target = tmp_path_factory.mktemp("packages") / "site"
    for distribution, (package, cls, entry_point) in PACKAGES.items():
        files = {
            f"{package}/__init__.py": "",
            f"{package}/blocks.py": LAYER_CODE.format(package=package, cls=cls),
        }
        entry = f'\n[project.entry-points."kerascope.modules"]\n{package} = "{package}.blocks"\n'
        pip_install_throwaway(
            target, distribution, files, pyproject_extra=entry if entry_point else ""
        )
    return target


@pytest.fixture(scope="module")
def models(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    code = textwrap.dedent(
        """
        import sys, keras
        from tinylayers.blocks import Gain
        from plainlayers.blocks import Boost
        for name, layer in (("tiny", Gain(3.0)), ("plain", Boost(4.0))):
            model = keras.Sequential([keras.Input((2,)), layer])
            for extension in (".keras", ".h5"):
                model.save(sys.argv[1] + "/" + name + extension)
        """
    )
    result = subprocess.run(
        [PYTHON, "-c", code, str(folder)],
        env=site_env(site),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


LOAD = textwrap.dedent(
    """
    import json, sys, kerascope
    path, trust = sys.argv[1], sys.argv[2:]
    try:
        model = kerascope.load_model(path, trust=trust)
    except kerascope.UnresolvedObjectsError as error:
        print(json.dumps({"error": str(error), "problems": [p._asdict() for p in error.problems]}))
    else:
        import numpy as np
        print(json.dumps({"output": model.predict(np.ones((1, 2)), verbose=0).tolist(),
                          "class": type(model.layers[0]).__module__}))
    """
)


def _load(site: Path, path: Path, *trust: str) -> dict[str, object]:
    result = subprocess.run(
        [PYTHON, "-c", LOAD, str(path), *trust],
        env=site_env(site),
        cwd=path.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


@pytest.mark.parametrize(
    ("name", "extension", "trust", "gain", "module"),
    [
        ("tiny", ".keras", "tiny-layers", 3.0, "tinylayers.blocks"),
        ("tiny", ".keras", "tinylayers", 3.0, "tinylayers.blocks"),
        ("tiny", ".h5", "tiny-layers", 3.0, "tinylayers.blocks"),
        ("plain", ".keras", "plain-layers", 4.0, "plainlayers.blocks"),
        ("plain", ".h5", "plainlayers", 4.0, "plainlayers.blocks"),
        # .h5 records no module: found by name in what the trusted distribution installs
        ("plain", ".h5", "plain-layers", 4.0, "plainlayers.blocks"),
    ],
)
def test_loads_once_trusted(
    site: Path, models: Path, name: str, extension: str, trust: str, gain: float, module: str
) -> None:
    loaded = _load(site, models / f"{name}{extension}", trust)
    assert loaded.get("output") == [[gain, gain]], loaded
    assert loaded["class"] == module


@pytest.mark.parametrize(
    ("name", "extension", "key", "distribution"),
    [
        ("tiny", ".keras", "tinylayers>Gain", "tiny-layers"),
        ("tiny", ".h5", "tinylayers>Gain", "tiny-layers"),  # found through the entry point
        ("plain", ".keras", "plainlayers>Boost", "plain-layers"),
    ],
)
def test_untrusted_names_class_module_and_distribution(
    site: Path, models: Path, name: str, extension: str, key: str, distribution: str
) -> None:
    loaded = _load(site, models / f"{name}{extension}")
    problems = loaded["problems"]
    assert isinstance(problems, list) and len(problems) == 1
    problem = problems[0]
    assert problem["key"] == key
    assert problem["reason"] == "untrusted"
    assert f"{name}layers.blocks" in problem["message"]
    assert distribution in problem["message"]
    # each fix in the syntax of where it is shown: the Python error says trust=[...]
    assert problem["fix"] == f"--trust {distribution}"
    assert problem["python_fix"] == f"trust=[{distribution!r}]"
    error = loaded["error"]
    assert isinstance(error, str)
    assert f"fix: trust=[{distribution!r}]" in error and "--trust" not in error


def test_h5_key_prefix_names_the_distribution_to_trust(site: Path, models: Path) -> None:
    # plain.h5 records no module and plain-layers declares no entry point: the key's prefix
    # (plainlayers>Boost) names an installed package, which kerascope reads (without importing
    # it) and finds Boost in
    loaded = _load(site, models / "plain.h5")
    problems = loaded["problems"]
    assert isinstance(problems, list) and [p["key"] for p in problems] == ["plainlayers>Boost"]
    assert problems[0]["reason"] == "untrusted"
    assert "module 'plainlayers.blocks' (distribution plain-layers)" in problems[0]["message"]
    assert problems[0]["fix"] == "--trust plain-layers"


def test_nothing_untrusted_is_imported(site: Path, models: Path) -> None:
    code = (
        "import sys, kerascope\n"
        "try:\n    kerascope.load_model(sys.argv[1])\nexcept kerascope.UnresolvedObjectsError:\n    pass\n"
        "print('tinylayers' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [PYTHON, "-c", code, str(models / "tiny.keras")],
        env=site_env(site),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]


def test_check_lists_the_plan_without_importing(site: Path, models: Path) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", str(models / "tiny.keras"), "--trust", "tiny-layers"],
        env=site_env(site),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tinylayers>Gain" in result.stdout and "module tinylayers.blocks" in result.stdout
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", str(models / "tiny.keras")],
        env=site_env(site),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 4
    assert "--trust tiny-layers" in result.stdout


def test_untrusted_lists_the_names_to_trust(site: Path, models: Path) -> None:
    code = (
        "import sys, kerascope\n"
        "names = kerascope.untrusted(sys.argv[1])\n"
        "print(names, kerascope.untrusted(sys.argv[1], trust=names))"
    )
    result = subprocess.run(
        [PYTHON, "-c", code, str(models / "tiny.keras")],
        env=site_env(site),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "['tiny-layers'] []", result.stderr[-2000:]
