"""What Keras users pass out of habit works as in Keras: ``custom_objects=``, an active
``custom_object_scope``, and ``safe_mode=False`` as the one switch for Lambda bytecode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import kerascope
from tests.conftest import ROOT, run_cli, run_python

pytestmark = pytest.mark.slow  # builds and loads models with Keras

SEED_1 = ROOT / "examples" / "seed_1_custom_layer"

# The layer class is imported by the script itself (not through kerascope); the model file is
# then loaded with the class handed over in one of the ways Keras users know.
HANDED_OVER = """
import json, sys, warnings
sys.path.insert(0, sys.argv[2])
import keras, kerascope
import custom_layer
from custom_layer import MyCustomLayer

class MyCustomLayer(custom_layer.MyCustomLayer):  # the user's own version, defined here
    pass

path, how = sys.argv[1], sys.argv[3]
warnings.simplefilter("error", kerascope.KerascopeWarning)
if how == "custom_objects":
    model = kerascope.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer})
elif how == "saving_scope":
    with keras.saving.custom_object_scope({"MyCustomLayer": MyCustomLayer}):
        model = kerascope.load_model(path)
elif how == "utils_scope":
    with keras.utils.custom_object_scope({"MyCustomLayer": MyCustomLayer}):
        model = kerascope.load_model(path)
elif how == "over_sources":  # the user's object wins over what kerascope finds, as in Keras
    model = kerascope.load_model(path, sources=[sys.argv[2]],
                                 custom_objects={"MyCustomLayer": MyCustomLayer})
print(json.dumps({"layers": [type(layer).__name__ for layer in model.layers],
                  "defined_in": type(model.layers[1]).__module__,
                  "compiled": bool(model.compiled)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["custom_objects", "saving_scope", "utils_scope"])
@pytest.mark.parametrize("extension", [".keras", ".h5"])
def test_handed_over_objects_need_no_source(
    zoo: Path, tmp_path: Path, how: str, extension: str
) -> None:
    output = run_python(
        HANDED_OVER, str(zoo / f"seed_1{extension}"), str(SEED_1), how, cwd=tmp_path
    )
    loaded = json.loads(output.splitlines()[-1])
    assert loaded == {
        "layers": ["Dense", "MyCustomLayer", "Dense"],
        "defined_in": "__main__",
        "compiled": True,
    }


@pytest.mark.slow
def test_handed_over_object_wins_over_sources(zoo: Path, tmp_path: Path) -> None:
    output = run_python(HANDED_OVER, str(zoo / "seed_1.keras"), str(SEED_1), "over_sources")
    assert json.loads(output.splitlines()[-1])["defined_in"] == "__main__"


def test_check_plans_with_the_custom_objects_keys(zoo: Path) -> None:
    plan = kerascope.check(zoo / "seed_1.h5", custom_objects={"MyCustomLayer": object})
    assert plan.ok
    (resolution,) = [r for r in plan.resolutions if r.object.key == "MyCustomLayer"]
    assert resolution.origin == "custom-objects"
    assert resolution.where == "custom_objects['MyCustomLayer']"


# --- one switch for Lambda bytecode ---------------------------------------------------------------

LAMBDAS = """
import json, sys, warnings
import numpy as np
import kerascope
path, mode = sys.argv[1], sys.argv[2]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        if mode == "default":
            model = kerascope.load_model(path, sources=[sys.argv[3]])
        elif mode == "safe_mode":
            model = kerascope.load_model(path, sources=[sys.argv[3]], safe_mode=False)
        else:
            model = kerascope.load_model(path, sources=[sys.argv[3]], allow=["lambda"])
    except kerascope.UnresolvedObjectsError as error:
        print(json.dumps({"error": str(error), "reasons": [p.reason for p in error.problems]}))
        raise SystemExit
deprecations = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)
                and "lambda" in str(w.message)]
print(json.dumps({"output": model.predict(np.ones((1, 3)), verbose=0).tolist(),
                  "deprecations": deprecations}))
"""


def _lambdas(zoo: Path, mode: str) -> dict[str, object]:
    sources = ROOT / "tests" / "fixtures" / "zoo" / "functions.py"
    output = run_python(LAMBDAS, str(zoo / "lambdas.keras"), mode, str(sources))
    document: dict[str, object] = json.loads(output.splitlines()[-1])
    return document


def test_lambda_refused_with_the_python_switch_as_fix(zoo: Path) -> None:
    refused = _lambdas(zoo, "default")
    assert refused["reasons"] == ["lambda"]
    error = refused["error"]
    assert isinstance(error, str)
    assert "fix: safe_mode=False" in error
    assert "--unsafe" not in error and "allow=" not in error


@pytest.mark.slow
def test_safe_mode_false_is_the_switch(zoo: Path) -> None:
    loaded = _lambdas(zoo, "safe_mode")
    assert loaded == {"output": [[4.0, 4.0, 4.0]], "deprecations": []}


@pytest.mark.slow
def test_allow_lambda_is_a_deprecated_alias(zoo: Path) -> None:
    loaded = _lambdas(zoo, "allow")
    assert loaded["output"] == [[4.0, 4.0, 4.0]]
    (deprecation,) = loaded["deprecations"]  # type: ignore[misc]
    assert "safe_mode=False" in deprecation


def test_cli_lambda_fix_and_flag(zoo: Path) -> None:
    sources = str(ROOT / "tests" / "fixtures" / "zoo" / "functions.py")
    refused = run_cli("check", str(zoo / "lambdas.keras"), "--from", sources)
    assert refused.returncode == 4
    assert "fix: --unsafe" in refused.stdout
    assert "safe_mode" not in refused.stdout and "allow=" not in refused.stdout
    accepted = run_cli("check", str(zoo / "lambdas.keras"), "--from", sources, "--unsafe")
    assert accepted.returncode == 0, accepted.stdout
    alias = run_cli("check", str(zoo / "lambdas.keras"), "--from", sources, "--allow", "lambda")
    assert alias.returncode == 0, alias.stdout
    assert "--allow lambda is deprecated: use --unsafe" in alias.stderr
