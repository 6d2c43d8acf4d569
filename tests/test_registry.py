"""kerascope.register: one key, one object; re-running a definition is fine; aliases load old
files; registered objects need no sources in a fresh process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from kerascope import RegistryError
from kerascope._resolving.registry import Registry
from tests.conftest import run_python


def test_registry_verbs() -> None:
    registry = Registry()

    def my_loss(y_true: float, y_pred: float) -> float:
        return y_true - y_pred

    registry.register("mypkg>my_loss", my_loss)
    assert registry.contains("mypkg>my_loss")
    assert registry.get("mypkg>my_loss") is my_loss
    assert registry.get_all() == {"mypkg>my_loss": my_loss}
    found = registry.find("mypkg>my_loss")
    assert found is not None and found.qualname.endswith("my_loss")
    assert registry.find("other") is None
    with pytest.raises(LookupError, match="closest: mypkg>my_loss"):
        registry.get("mypkg>my_los")


def test_different_object_under_a_taken_key_is_refused() -> None:
    registry = Registry()
    registry.register("pkg>f", len)
    with pytest.raises(RegistryError, match=r"already registered to builtins\.len"):
        registry.register("pkg>f", abs)


def test_rerunning_the_same_definition_is_accepted() -> None:
    registry = Registry()
    first = type("Scale", (), {"__module__": "__main__", "__qualname__": "Scale"})
    second = type("Scale", (), {"__module__": "__main__", "__qualname__": "Scale"})
    registry.register("pkg>Scale", first)
    registry.register("pkg>Scale", second)  # a notebook cell run twice
    assert registry.get("pkg>Scale") is second


LAYER = """
import keras, kerascope

@kerascope.register(package="{package}"{aliases})
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor
"""


def _python(code: str, cwd: Path) -> str:
    return run_python(code, cwd=cwd).strip().splitlines()[-1]


@pytest.mark.slow
def test_alias_loads_a_file_saved_under_an_old_name(tmp_path: Path) -> None:
    (tmp_path / "old_layers.py").write_text(LAYER.format(package="old", aliases=""))
    (tmp_path / "new_layers.py").write_text(
        LAYER.format(package="new", aliases=', aliases=["old>Scale"]')
    )
    _python(
        "import keras\nfrom old_layers import Scale\n"
        "keras.Sequential([keras.Input((2,)), Scale(3.0)]).save('old.keras')\nprint('ok')",
        tmp_path,
    )
    loaded = _python(
        textwrap.dedent(
            """
            import json, kerascope, numpy as np
            import new_layers  # registers new>Scale with the alias old>Scale
            plan = kerascope.check("old.keras")
            model = kerascope.load_model("old.keras")
            print(json.dumps({"origin": [r.origin for r in plan.resolutions],
                              "module": type(model.layers[0]).__module__,
                              "output": model.predict(np.ones((1, 2)), verbose=0).tolist()}))
            """
        ),
        tmp_path,
    )
    assert json.loads(loaded) == {
        "origin": ["registry"],
        "module": "new_layers",
        "output": [[3.0, 3.0]],
    }


@pytest.mark.slow
def test_registering_a_different_class_under_a_taken_key_fails_in_keras_too(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import keras, kerascope

        @kerascope.register(package="p")
        class A(keras.layers.Layer):
            pass

        try:
            @kerascope.register(package="p", name="A")
            class B(keras.layers.Layer):
                pass
        except kerascope.RegistryError as error:
            print(type(keras.saving.get_custom_objects()["p>A"]).__name__ and
                  keras.saving.get_custom_objects()["p>A"].__name__)
        """
    )
    assert _python(code, tmp_path) == "A"  # Keras's registry was not overwritten either
