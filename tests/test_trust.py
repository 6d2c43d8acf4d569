"""Trust by distribution name reaches every lookup, hints name the distribution to trust, and
``kerascope.untrusted`` returns the names to pass back to ``trust=``.

Two small distributions are pip-installed into a temporary directory, each named unlike the
package it installs (as keras-complex installs complexnn): ``keras-cplx`` installs ``cplxnn``,
``wavenet-blocks`` installs ``wavenet``. Neither declares an entry point, so objects that the
file records no module for (everything in ``.h5``, and functions) are found only by reading the
trusted packages.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PYTHON, pip_install_throwaway, site_env

pytestmark = pytest.mark.slow  # builds and loads models with Keras

CPLX = """
import keras


@keras.saving.register_keras_serializable(package="cplxnn")
class Scale(keras.layers.Layer):
    def __init__(self, gain=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gain = gain

    def call(self, inputs):
        return inputs * self.gain

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


@keras.saving.register_keras_serializable(package="cplxnn")
def crelu(x):
    return keras.ops.relu(x) + 1.0
"""

WAVENET = """
import keras


@keras.saving.register_keras_serializable()
class Wavenet(keras.layers.Layer):
    def call(self, inputs):
        return inputs - 1.0
"""

DISTRIBUTIONS = {
    # distribution: (import package, module, code)
    "keras-cplx": ("cplxnn", "layers", CPLX),
    "wavenet-blocks": ("wavenet", "blocks", WAVENET),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("dists") / "site"
    for distribution, (package, module, code) in DISTRIBUTIONS.items():
        files = {f"{package}/__init__.py": "", f"{package}/{module}.py": code}
        pip_install_throwaway(target, distribution, files)
    return target


def _run(site: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *arguments],
        env=site_env(site),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


BUILD = """
import sys, keras
from cplxnn.layers import Scale, crelu
from wavenet.blocks import Wavenet
cplx = keras.Sequential([keras.Input((2,)), Scale(3.0), keras.layers.Activation(crelu)])
wave = keras.Sequential([keras.Input((2,)), Wavenet()])
for extension in (".keras", ".h5"):
    cplx.save(sys.argv[1] + "/cplx" + extension)
wave.save(sys.argv[1] + "/wave.h5")
"""


@pytest.fixture(scope="module")
def models(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    result = _run(site, "-c", BUILD, str(folder), cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


LOAD_ALL = """
import json, sys, kerascope
import numpy as np
results = {}
for case in sys.argv[1:]:
    path, trust = case.split("|")
    try:
        model = kerascope.load_model(path, trust=[trust])
        results[case] = model.predict(np.ones((1, 2)), verbose=0).tolist()
    except kerascope.KerascopeError as error:
        results[case] = str(error)
print(json.dumps(results))
"""


@pytest.mark.slow
def test_distribution_names_reach_the_by_name_search(site: Path, models: Path) -> None:
    cases = {
        # .h5 records no module; the function records none in .keras either
        f"{models / 'cplx.h5'}|keras-cplx": [[4.0, 4.0]],
        f"{models / 'cplx.keras'}|keras-cplx": [[4.0, 4.0]],
        f"{models / 'wave.h5'}|wavenet-blocks": [[0.0, 0.0]],
        # the import package itself, as before
        f"{models / 'cplx.h5'}|cplxnn": [[4.0, 4.0]],
    }
    result = _run(site, "-c", LOAD_ALL, *cases, cwd=models)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == cases


CHECK = """
import json, sys, kerascope
plan = kerascope.check(sys.argv[1])
print(json.dumps([p._asdict() for p in plan.problems]))
"""


@pytest.mark.parametrize(
    ("model", "keys", "module", "distribution"),
    [
        ("cplx.h5", ["cplxnn>Scale", "cplxnn>crelu"], "cplxnn.layers", "keras-cplx"),
        ("cplx.keras", ["cplxnn>Scale", "cplxnn>crelu"], "cplxnn.layers", "keras-cplx"),
        ("wave.h5", ["Custom>Wavenet"], "wavenet.blocks", "wavenet-blocks"),
    ],
)
def test_hints_name_the_distribution_to_trust(
    site: Path, models: Path, model: str, keys: list[str], module: str, distribution: str
) -> None:
    result = _run(site, "-c", CHECK, str(models / model), cwd=models)
    assert result.returncode == 0, result.stderr[-3000:]
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    assert [p["key"] for p in problems] == keys
    for problem in problems:
        assert problem["reason"] == "untrusted"
        assert f"module '{module}' (distribution {distribution})" in problem["message"]
        assert problem["fix"] == f"--trust {distribution}"
        assert problem["python_fix"] == f"trust=[{distribution!r}]"
    cli = _run(site, "-m", "kerascope", "check", str(models / model), cwd=models)
    assert cli.returncode == 4
    assert f"fix: --trust {distribution}\n" in cli.stdout and "trust=[" not in cli.stdout


def test_a_prefix_naming_a_package_that_is_not_installed_says_so(
    site: Path, tmp_path: Path
) -> None:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "s",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "registered_name": None,
                    "config": {"units": 1, "activation": "kgcnnx>shifted_softplus"},
                }
            ],
        },
    }
    path = tmp_path / "gnn.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    result = _run(site, "-c", CHECK, str(path), cwd=tmp_path)
    (problem,) = json.loads(result.stdout.strip().splitlines()[-1])
    assert problem["reason"] == "missing"
    assert "its key names a package 'kgcnnx', which is not installed here" in problem["message"]


UNTRUSTED = """
import json, sys, kerascope
names = {path: kerascope.untrusted(path) for path in sys.argv[1:]}
again = {path: kerascope.untrusted(path, trust=found) for path, found in names.items()}
print(json.dumps([names, again]))
"""


def test_untrusted_returns_the_names_to_pass_to_trust(site: Path, models: Path) -> None:
    paths = [str(models / name) for name in ("cplx.h5", "cplx.keras", "wave.h5")]
    result = _run(site, "-c", UNTRUSTED, *paths, cwd=models)
    assert result.returncode == 0, result.stderr[-3000:]
    names, again = json.loads(result.stdout.strip().splitlines()[-1])
    assert names == dict(
        zip(paths, [["keras-cplx"], ["keras-cplx"], ["wavenet-blocks"]], strict=True)
    )
    assert again == {path: [] for path in paths}


BIG = """
import json, sys, kerascope
from kerascope._resolving import hints
hints.MAX_PACKAGE_FILES = 0  # every installed package is now too big to read unasked
plan = kerascope.check(sys.argv[1])
trusted = kerascope.check(sys.argv[1], trust=["keras-cplx"])
print(json.dumps([[p._asdict() for p in plan.problems], trusted.ok]))
"""


def test_a_prefix_naming_a_package_too_big_to_read_unasked_suggests_trusting_it(
    site: Path, models: Path
) -> None:
    result = _run(site, "-c", BIG, str(models / "cplx.h5"), cwd=models)
    assert result.returncode == 0, result.stderr[-3000:]
    problems, trusted_ok = json.loads(result.stdout.strip().splitlines()[-1])
    assert [p["fix"] for p in problems] == ["--trust keras-cplx", "--trust keras-cplx"]
    assert all("its key names the installed package 'cplxnn'" in p["message"] for p in problems)
    assert trusted_ok  # once trusted, the package is read whole
