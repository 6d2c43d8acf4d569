"""keras 2.15's module paths (TensorFlow 2.15's tf.keras): recognised as built-ins, translated."""

from __future__ import annotations

from kerascope._audit.scan_config import config_findings
from kerascope._reading.keras2_names import is_keras2_builtin_location
from kerascope._translate.rules import translate


def _functional(module: str, optimizer_module: str) -> dict[str, object]:
    return {
        "module": module,
        "class_name": "Functional",
        "config": {"layers": []},
        "compile_config": {
            "optimizer": {"module": optimizer_module, "class_name": "SGD", "config": {}},
            "loss": "mse",
        },
    }


def test_keras2_locations_of_builtins_are_known_and_nothing_else() -> None:
    assert is_keras2_builtin_location("keras.src.engine.functional", "Functional")
    assert is_keras2_builtin_location("keras.engine.sequential", "Sequential")
    assert is_keras2_builtin_location("tf_keras.src.engine.functional", "Functional")
    assert is_keras2_builtin_location("keras.optimizers.experimental", "RMSprop")
    assert is_keras2_builtin_location("keras.src.layers.core.tf_op_layer", "TFOpLambda")
    assert not is_keras2_builtin_location("keras.src.engine.functional", "eval")
    assert not is_keras2_builtin_location("keras.src.saving.saving_lib", "load_model")
    assert not is_keras2_builtin_location("keras.optimizers.experimental", "Custom")
    assert not is_keras2_builtin_location(None, "Functional")


def test_keras_2_15_module_paths_are_translated_to_keras_3() -> None:
    config = _functional("keras.src.engine.functional", "keras.optimizers.experimental")
    translation = translate(config, None)
    assert translation.config["module"] == "keras.src.models.functional"
    optimizer = translation.config["compile_config"]["optimizer"]
    assert optimizer["module"] == "keras.optimizers"
    assert "module-path" in translation.rules
    details = " ".join(applied.detail for applied in translation.applied)
    assert "`keras.src.engine.functional.Functional` → Keras 3 `Functional`" in details
    assert config["module"] == "keras.src.engine.functional"  # the input is not touched


def test_an_unknown_optimizer_under_the_keras2_module_is_left_for_keras_to_refuse() -> None:
    config = _functional("keras.src.engine.functional", "keras.optimizers.experimental")
    config["compile_config"]["optimizer"]["class_name"] = "MyOptimizer"  # type: ignore[index]
    translation = translate(config, None)
    optimizer = translation.config["compile_config"]["optimizer"]
    assert optimizer["module"] == "keras.optimizers.experimental"


def test_the_audit_reports_nothing_for_keras2_builtins_but_still_flags_keras_internals() -> None:
    clean = _functional("keras.src.engine.functional", "keras.optimizers.experimental")
    assert [f.code for f in config_findings(clean, None) if f.severity == "high"] == []
    hostile = _functional("keras.src.saving.saving_lib", "keras.optimizers.experimental")
    hostile["class_name"] = "load_model"
    assert "keras-internal" in {f.code for f in config_findings(hostile, None)}
