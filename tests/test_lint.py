"""lint: what would stop a live model from saving and loading back, checked in process.

Models are built here with real Keras; the custom objects live in tests/fixtures/lint_layers.py,
put on sys.path and imported as ``lint_layers`` like any user module. Classes defined in
``__main__`` need a script of their own, run in a subprocess.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kerascope import Finding
from kerascope._audit.lint import CODES, lint
from tests.conftest import FIXTURES, PYTHON, QUIET_ENV, ROOT

SEED_1 = ROOT / "examples" / "seed_1_custom_layer"
# Every test here starts TensorFlow (live Keras models). Noise from saving and loading in the
# round-trip tests: Keras's TensorFlow backend with numpy 2, and the optimizer of a never-trained
# model.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer"),
]


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    """Keras, imported when a test here first needs it, not when pytest collects the suite."""
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def layers(keras: ModuleType) -> Iterator[ModuleType]:
    """tests/fixtures/lint_layers.py, imported by name from a directory on sys.path."""
    sys.path.insert(0, str(FIXTURES))
    try:
        yield importlib.import_module("lint_layers")
    finally:
        sys.path.remove(str(FIXTURES))


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The repository's seed layer module, custom_layer.py, importable by name."""
    monkeypatch.syspath_prepend(str(SEED_1))
    monkeypatch.delitem(sys.modules, "custom_layer", raising=False)
    return importlib.import_module("custom_layer")


def functional(*layer_list: Any, shape: tuple[int, ...] = (4,)) -> Any:
    import keras

    inputs = keras.Input(shape)
    outputs = inputs
    for layer in layer_list:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs)


def only(findings: list[Finding], code: str) -> Finding:
    matching = [finding for finding in findings if finding.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def assert_well_formed(finding: Finding, *words: str) -> None:
    # the one findings record of inspect, scan and lint, naming a live object, not a file place
    assert type(finding) is Finding and finding.json_path is None and finding.object
    assert finding.code in CODES
    assert finding.severity in ("low", "medium", "high")
    for word in words:
        assert word in finding.message, (word, finding.message)
    assert finding.fix.strip()


# --- correct models: nothing to say ---------------------------------------------------------


def test_correct_model_has_no_findings(
    layers: ModuleType, seed: ModuleType, keras: ModuleType
) -> None:
    inner = functional(layers.Good(3.0), shape=(8,))
    model = functional(
        seed.MyCustomLayer(8),
        layers.Good(),
        layers.AutoConfig(units=5),
        layers.Registered(),
        layers.Outer(layers.Good(1.5)),
        inner,
        keras.layers.Dense(2, activation=layers.good_activation),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(layers.GoodSchedule(0.01)),
        loss=layers.good_loss,
        metrics=[layers.GoodMetric(2.0), "mae"],
    )
    assert lint(model) == []
    assert lint(model, format="h5") == []
    sequential = keras.Sequential([keras.Input((10,)), seed.MyCustomLayer(4), layers.Good()])
    assert lint(sequential) == []


def test_subclass_of_a_keras_class_is_not_blamed_for_keras(
    layers: ModuleType, keras: ModuleType
) -> None:
    """Dense.get_config() leaves out lora_rank, Huber's leaves out delta: Keras's choice."""
    model = functional(layers.MyDense(2))
    model.compile(optimizer="adam", loss=layers.MyHuber())
    assert lint(model) == []


def test_correct_model_round_trips(
    layers: ModuleType, seed: ModuleType, tmp_path: Path, keras: ModuleType
) -> None:
    """No findings, and Keras agrees: the model saves and loads back."""
    model = functional(seed.MyCustomLayer(4), layers.Good(3.0), layers.AutoConfig(units=5))
    model.compile(optimizer="adam", loss=layers.good_loss, metrics=[layers.GoodMetric(2.0)])
    assert lint(model) == []
    model.save(tmp_path / "model.keras")
    custom = {
        name: getattr(module, name)
        for module, names in (
            (seed, ["MyCustomLayer"]),
            (layers, ["Good", "AutoConfig", "good_loss", "GoodMetric"]),
        )
        for name in names
    }
    loaded = keras.saving.load_model(tmp_path / "model.keras", custom_objects=custom)
    assert loaded.layers[2].factor == 3.0 and loaded.layers[3].units == 5


def test_lint_neither_builds_nor_calls_the_model(layers: ModuleType) -> None:
    model = layers.Subclassed()
    lint(model)
    lint(model, format="h5")
    assert not model.built


def test_lint_is_quiet_and_import_is_light(layers: ModuleType, keras: ModuleType) -> None:
    """Serializing warns about lambdas; lint is not saving. Importing it imports no Keras."""
    model = functional(keras.layers.Dense(2, activation=lambda x: x), layers.Good())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lint(model) == []
    probe = "import sys, kerascope._audit.lint; print('keras' in sys.modules)"
    result = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- get_config() and the constructor ----------------------------------------------------------


def test_required_argument_missing_from_config_is_an_error(layers: ModuleType) -> None:
    finding = only(lint(functional(layers.DropsRequired(3))), "config-drops-argument")
    assert finding.severity == "high"
    assert finding.object == "lint_layers.DropsRequired"
    assert_well_formed(finding, "DropsRequired", "'units'")
    assert "self.units" in finding.fix


def test_argument_with_default_missing_from_config_is_low(layers: ModuleType) -> None:
    finding = only(lint(functional(layers.DropsDefault(3, offset=1.0))), "config-missing-default")
    assert finding.severity == "low"
    assert_well_formed(finding, "DropsDefault", "'offset'", "0.5")


def test_highest_come_first_and_each_problem_once(layers: ModuleType) -> None:
    model = functional(layers.DropsDefault(3), layers.DropsRequired(3), layers.DropsRequired(4))
    assert [(f.severity, f.code) for f in lint(model)] == [
        ("high", "config-drops-argument"),
        ("low", "config-missing-default"),
    ]


def test_dropped_arguments_match_keras(
    layers: ModuleType, tmp_path: Path, keras: ModuleType
) -> None:
    """What lint calls an error is what Keras fails on; the warning is a silent change."""
    model = functional(layers.DropsRequired(3))
    model.save(tmp_path / "required.keras")
    with pytest.raises(TypeError, match="units"):
        keras.saving.load_model(
            tmp_path / "required.keras", custom_objects={"DropsRequired": layers.DropsRequired}
        )
    functional(layers.DropsDefault(3, offset=1.0)).save(tmp_path / "default.keras")
    loaded = keras.saving.load_model(
        tmp_path / "default.keras", custom_objects={"DropsDefault": layers.DropsDefault}
    )
    assert loaded.layers[1].offset == 0.5


def test_plain_object_argument_without_get_config_is_an_error(layers: ModuleType) -> None:
    model = functional(layers.PlainArgument(layers.Helper(2.5)))
    finding = only(lint(model), "no-config")
    assert finding.severity == "high"
    assert_well_formed(finding, "PlainArgument", "argument 'base' is a Helper instance")
    assert "get_config" in finding.fix and "from_config" in finding.fix


def test_config_value_json_cannot_hold_is_an_error(layers: ModuleType, keras: ModuleType) -> None:
    finding = only(
        lint(functional(layers.ReturnsObject(layers.Helper(1.0)))), "not-json-serializable"
    )
    assert finding.severity == "high"
    assert_well_formed(finding, "ReturnsObject", "'base'", "Helper instance")
    assert "keras.saving.serialize_keras_object" in finding.fix


def test_config_keys_init_refuses_are_an_error(
    layers: ModuleType, tmp_path: Path, keras: ModuleType
) -> None:
    model = functional(layers.NoKwargs())
    finding = only(lint(model), "config-unexpected-argument")
    assert_well_formed(finding, "NoKwargs", "'trainable'", "'dtype'")
    assert "**kwargs" in finding.fix
    model.save(tmp_path / "model.keras")
    with pytest.raises(TypeError, match="trainable"):
        keras.saving.load_model(
            tmp_path / "model.keras", custom_objects={"NoKwargs": layers.NoKwargs}
        )


def test_compile_objects_are_checked(layers: ModuleType, keras: ModuleType) -> None:
    model = functional(keras.layers.Dense(2, kernel_initializer=layers.ForgetfulInitializer(0.5)))
    model.compile(
        optimizer=keras.optimizers.SGD(layers.ForgetfulSchedule(0.1)),
        loss="mse",
        metrics=[layers.ForgetfulMetric(3.0)],
    )
    found = {(f.code, f.object.split(".")[-1]) for f in lint(model)}
    assert found == {
        ("config-drops-argument", "ForgetfulInitializer"),
        ("config-drops-argument", "ForgetfulSchedule"),
        ("config-missing-default", "ForgetfulMetric"),
    }


def test_unserializable_object_held_by_a_keras_layer_is_named(
    layers: ModuleType, keras: ModuleType
) -> None:
    dense = keras.layers.Dense(2, kernel_initializer=layers.CallableInitializer())
    finding = only(lint(functional(dense)), "no-config")
    assert finding.object == "keras.src.layers.core.dense.Dense"
    assert_well_formed(finding, "Dense", "CallableInitializer")


# --- every depth ---------------------------------------------------------------------------------


def test_layer_inside_a_custom_layer_is_checked(layers: ModuleType) -> None:
    finding = only(lint(functional(layers.Outer(layers.DropsRequired(3)))), "config-drops-argument")
    assert finding.object == "lint_layers.DropsRequired"


def test_nested_model_and_wrapped_layer_are_checked(layers: ModuleType, keras: ModuleType) -> None:
    nested = functional(functional(layers.DropsDefault(2)))
    assert only(lint(nested), "config-missing-default").object == "lint_layers.DropsDefault"
    wrapped = functional(keras.layers.TimeDistributed(layers.DropsRequired(2)), shape=(3, 4))
    assert only(lint(wrapped), "config-drops-argument").object == "lint_layers.DropsRequired"


def test_layer_a_custom_layer_builds_itself_is_not_in_the_file(
    layers: ModuleType, tmp_path: Path, keras: ModuleType
) -> None:
    """BuildsInner creates a DropsRequired in __init__: rebuilt on load, never written."""
    model = functional(layers.BuildsInner(units=3))
    assert lint(model) == []
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(
        tmp_path / "model.keras", custom_objects={"BuildsInner": layers.BuildsInner}
    )
    assert loaded.layers[1].inner.units == 3


# --- where objects are defined ------------------------------------------------------------------

MAIN_SCRIPT = """
import json, sys
import keras
from kerascope._audit.lint import lint

class Block(keras.layers.Layer):
    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "units": self.units}

def swish2(x):
    return x * keras.ops.sigmoid(x)

inputs = keras.Input((3,))
model = keras.Model(inputs, keras.layers.Dense(2, activation=swish2)(Block()(inputs)))
print(json.dumps([finding.to_dict() for finding in lint(model)]))
"""


def test_class_and_function_defined_in_main_are_errors(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(MAIN_SCRIPT)
    result = subprocess.run(
        [PYTHON, str(script)],
        cwd=tmp_path,
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    findings = [Finding(**item) for item in json.loads(result.stdout.splitlines()[-1])]
    assert [(f.severity, f.code, f.object) for f in findings] == [
        ("high", "defined-in-main", "__main__.Block"),
        ("high", "defined-in-main", "__main__.swish2"),
    ]
    for finding, name in zip(findings, ("Block", "swish2"), strict=True):
        assert_well_formed(finding, name, "__main__", "train.py")
        assert "--from train.py" in finding.fix and "custom_objects.py" in finding.fix


def test_class_from_a_module_not_on_sys_path_is_not_findable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keras: ModuleType
) -> None:
    path = tmp_path / "hidden" / "hidden_layers.py"
    path.parent.mkdir()
    path.write_text(
        textwrap.dedent(
            """
            import keras

            class Hidden(keras.layers.Layer):
                def call(self, inputs):
                    return inputs
            """
        )
    )
    spec = importlib.util.spec_from_file_location("hidden_layers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hidden_layers", module)
    spec.loader.exec_module(module)
    finding = only(lint(functional(module.Hidden())), "not-findable")
    assert finding.severity == "medium"
    assert finding.object == "hidden_layers.Hidden"
    assert_well_formed(finding, "Hidden", "hidden_layers", str(path))
    assert "kerascope.register" in finding.fix and f"--from {path}" in finding.fix


def test_class_defined_inside_a_function_is_not_findable(keras: ModuleType) -> None:
    class Local(keras.layers.Layer):
        def call(self, inputs: Any) -> Any:
            return inputs

    finding = only(lint(functional(Local())), "not-findable")
    assert_well_formed(finding, "Local", "<locals>")


def test_registered_class_is_findable_wherever_it_lives(
    monkeypatch: pytest.MonkeyPatch, keras: ModuleType
) -> None:
    class Local(keras.layers.Layer):
        def call(self, inputs: Any) -> Any:
            return inputs

    monkeypatch.setattr(Local, "__module__", "nowhere_to_be_found")
    keras.saving.register_keras_serializable(package="lint_test")(Local)
    assert lint(functional(Local())) == []


# --- formats -------------------------------------------------------------------------------------


def test_subclassed_model_as_h5_is_an_error(layers: ModuleType) -> None:
    model = layers.Subclassed()
    finding = only(lint(model, format="h5"), "subclassed-model-h5")
    assert finding.severity == "high"
    assert_well_formed(finding, "Subclassed", ".h5")
    assert ".keras" in finding.fix
    assert lint(model, format="keras") == []


def test_model_subclass_that_builds_a_graph_is_fine_as_h5(
    layers: ModuleType, tmp_path: Path, keras: ModuleType
) -> None:
    """Measured: a keras.Model subclass whose __init__ builds a Functional graph reloads from .h5."""
    model = layers.GraphModel(units=5)
    assert lint(model, format="h5") == []
    model.save(tmp_path / "graph.h5")
    loaded = keras.saving.load_model(
        tmp_path / "graph.h5", custom_objects={"GraphModel": layers.GraphModel}
    )
    assert loaded.units == 5


def test_bad_arguments(layers: ModuleType) -> None:
    with pytest.raises(ValueError, match="format"):
        lint(functional(layers.Good()), format="tf")
    with pytest.raises(TypeError, match="Keras model"):
        lint(object())


def test_custom_code_tied_to_one_backend_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The write-up's seed 1 layer imports tensorflow: the model loads on TensorFlow only."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "backends" / "fixtures" / "tf_bound"))
    monkeypatch.delitem(sys.modules, "custom_layer", raising=False)
    tf_bound = importlib.import_module("custom_layer")
    finding = only(lint(functional(tf_bound.MyCustomLayer(2))), "backend-bound")
    assert finding.severity == "medium"
    assert_well_formed(
        finding,
        "layer class 'MyCustomLayer' is defined in ",
        "custom_layer.py, which imports tensorflow (line 5: import tensorflow as tf): the "
        "model loads only on the TensorFlow backend",
    )
    assert "keras.ops" in finding.fix


def test_backend_neutral_custom_code_is_not_blamed(seed: ModuleType) -> None:
    assert lint(functional(seed.MyCustomLayer(2))) == []
