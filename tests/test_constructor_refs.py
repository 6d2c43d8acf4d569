"""References only a custom class's own constructor reads never block a load (Keras's rule,
docs/keras-rules.md): a layer that stores ``kernel_initializer: "complex"`` in its config and
maps it back itself, as keras-complex 0.4.0 does, loads; the string is reported, not demanded."""

from __future__ import annotations

import json
import textwrap
import zipfile
from pathlib import Path

import pytest

import kerascope
from kerascope._reading.references import find_references
from tests.conftest import run_python

LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="cplx")
class CplxDense(keras.layers.Layer):
    """Keeps its initializer as a plain string in its config and maps it back itself."""

    def __init__(self, units, kernel_initializer="complex", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.init_name = kernel_initializer
        if kernel_initializer == "complex":
            self.kernel_initializer = keras.initializers.Constant(0.5)
        else:
            self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.kernel_initializer
        )

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kernel_initializer": self.init_name}
'''

BUILD = """
import sys, keras
sys.path.insert(0, sys.argv[1])
from cplx_layers import CplxDense
model = keras.Sequential([keras.Input((3,)), CplxDense(2)])
model.layers[0].kernel.assign([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
for extension in (".keras", ".h5"):
    model.save(sys.argv[1] + "/cplx" + extension)
"""

LOAD = """
import json, sys, warnings
import numpy as np
import kerascope
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model = kerascope.load_model(sys.argv[1], sources=[sys.argv[2]])
notes = [str(w.message) for w in caught if issubclass(w.category, kerascope.KerascopeWarning)]
print(json.dumps({"output": model.predict(np.ones((1, 3)), verbose=0).tolist(),
                  "layer": type(model.layers[0]).__name__, "notes": notes}))
"""


@pytest.fixture(scope="module")
def cplx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cplx")
    (folder / "cplx_layers.py").write_text(LAYERS)
    run_python(BUILD, str(folder))
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("extension", [".keras", ".h5"])
def test_string_only_the_layer_reads_does_not_block_the_load(cplx: Path, extension: str) -> None:
    model = cplx / f"cplx{extension}"
    plan = kerascope.check(model, sources=[cplx / "cplx_layers.py"])
    assert plan.ok, plan.problems
    by_key = {r.object.key: r for r in plan.resolutions}
    assert by_key["cplx>CplxDense"].origin == "source"
    complex_init = by_key["complex"]
    assert complex_init.origin == "skipped" and complex_init.problem is None
    assert complex_init.deferred is not None and complex_init.deferred.reason == "missing"
    assert any("'complex' (initializer)" in note and "CplxDense" in note for note in plan.notes)
    # in a fresh process, Keras loads it with the layer's own mapping and the saved weights
    loaded = json.loads(
        run_python(LOAD, str(model), str(cplx / "cplx_layers.py"), cwd=cplx).splitlines()[-1]
    )
    assert loaded["layer"] == "CplxDense"
    assert loaded["output"] == [[9.0, 12.0]]
    assert any("'complex'" in note for note in loaded["notes"]), loaded["notes"]


def _archive(folder: Path, name: str, config: dict[str, object]) -> Path:
    path = folder / f"{name}.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return path


def _entry(module: str, class_name: str, config: dict[str, object]) -> dict[str, object]:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def _sequential(*layers: dict[str, object]) -> dict[str, object]:
    return _entry("keras", "Sequential", {"name": "s", "layers": list(layers)})


def test_the_same_string_in_a_slot_keras_reads_still_blocks(tmp_path: Path) -> None:
    dense = _entry("keras.layers", "Dense", {"units": 2, "kernel_initializer": "complex"})
    plan = kerascope.check(_archive(tmp_path, "builtin", _sequential(dense)))
    (problem,) = plan.problems
    assert problem.key == "complex" and problem.reason == "missing"


def test_keras_read_keys_of_a_custom_class_stay_blocking() -> None:
    from kerascope._resolving.constructor import constructor_owners

    inner = _entry("mylib", "Inner", {"kernel_initializer": "nosuch_init"})
    wrapper = _entry("mylib", "MyWrapper", {"layer": inner, "mode": "fast_init_name"})
    holder = _entry("mylib", "Holder", {"block": _entry("keras.layers", "Dense", {"units": 1})})
    holder["config"]["block"]["config"]["activation"] = "my_act"  # type: ignore[index]
    model = _entry("mylib", "MyModel", {"layers": [wrapper, holder], "units": 3})
    model["compile_config"] = {"loss": "my_loss"}
    owners = constructor_owners(find_references(model))
    # the wrapper's "layer" is deserialized by Keras (Wrapper.from_config); Inner's own
    # config is read by Inner's constructor; Holder's "block" only by Holder's constructor,
    # and so is everything inside it; compile_config is read by Keras.
    assert owners == {
        "$.config.layers[0].config.layer.config.kernel_initializer": "Inner",
        "$.config.layers[1].config.block.config.activation": "Holder",
    }


def test_a_reference_used_also_where_keras_reads_it_blocks(tmp_path: Path) -> None:
    custom = _entry("mylib_missing", "Mine", {"activation": "my_act"})
    dense = _entry("keras.layers", "Dense", {"units": 2, "activation": "my_act"})
    plan = kerascope.check(_archive(tmp_path, "both", _sequential(custom, dense)))
    keys = sorted(problem.key for problem in plan.problems)
    assert keys == ["Mine", "my_act"]


def test_deferred_reference_is_still_provided_when_found(tmp_path: Path) -> None:
    source = tmp_path / "lib.py"
    source.write_text(
        textwrap.dedent(
            """
            class Mine:
                pass


            def my_act(x):
                return x
            """
        )
    )
    custom = _entry("lib", "Mine", {"activation": "my_act"})
    plan = kerascope.check(_archive(tmp_path, "found", _sequential(custom)), sources=[source])
    assert plan.ok
    assert {r.object.key: r.origin for r in plan.resolutions} == {
        "Mine": "source",
        "my_act": "source",
    }
