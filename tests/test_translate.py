"""The Keras 2 → Keras 3 translation rules: pure functions on config dicts (no Keras)."""

from __future__ import annotations

import copy
from typing import Any

from kerascope._reading.keras_names import builtin_layer_names
from kerascope._reading.modelfile import ModelFile
from kerascope._reading.provenance import KERAS2, KERAS3, provenance
from kerascope._translate.rules import RULES, translate

FUNCTIONAL = {
    "class_name": "Functional",
    "module": "tf_keras.src.engine.functional",
    "config": {
        "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 3]}},
            {
                "class_name": "Bidirectional",
                "config": {
                    "batch_input_shape": [None, 5, 3],
                    "layer": {
                        "class_name": "LSTM",
                        "config": {"units": 4, "time_major": False, "unknown_key": 1},
                    },
                },
            },
        ]
    },
    "compile_config": {
        "optimizer": {
            "class_name": "Adam",
            "config": {"learning_rate": 0.01, "jit_compile": False, "is_legacy_optimizer": False},
        },
        "loss": {"class_name": "MeanSquaredError", "config": {"reduction": "auto"}},
        "steps_per_execution": None,
        "run_eagerly": None,
    },
}

TRAINING = {
    "optimizer_config": {
        "class_name": "Custom>Adam",
        "config": {"learning_rate": {"class_name": "WarmupDecay", "config": {}}},
    },
    "loss": "mse",
    "metrics": [[{"class_name": "MeanMetricWrapper", "config": {"name": "mae", "fn": "mae"}}]],
}


def test_rules_rewrite_keras2_keys_and_report_each_once() -> None:
    original = copy.deepcopy(FUNCTIONAL)
    result = translate(FUNCTIONAL, TRAINING, builtin_layer_names())
    assert original == FUNCTIONAL  # a copy is translated
    config: dict[str, Any] = result.config
    assert config["module"] == "keras.src.models.functional"
    inner = config["config"]["layers"][1]
    assert "batch_input_shape" not in inner["config"]
    assert config["config"]["layers"][0]["config"]["batch_input_shape"] == [None, 5, 3]
    lstm = inner["config"]["layer"]
    assert lstm["module"] == "keras.layers"
    assert "time_major" not in lstm["config"]
    assert lstm["config"]["unknown_key"] == 1  # what no rule knows still reaches Keras
    compiled = config["compile_config"]
    assert compiled["optimizer"]["config"] == {"learning_rate": 0.01}
    assert compiled["loss"]["config"]["reduction"] == "sum_over_batch_size"
    assert compiled["steps_per_execution"] == 1
    assert compiled["run_eagerly"] is False
    training = result.training_config
    assert training is not None
    assert training["optimizer_config"]["class_name"] == "Adam"
    assert training["loss"] == "mean_squared_error"
    assert training["metrics"][0]["class_name"] == "MeanMetricWrapper"
    assert len(result.rules) == len(set(result.rules))
    assert set(result.rules) <= set(RULES)
    details = {applied.rule: applied.detail for applied in result.applied}
    assert details["optimizer-name"] == (
        "optimizer `Custom>Adam` → `Adam`, learning-rate schedule kept"
    )


def test_a_custom_optimizer_keeps_its_prefix() -> None:
    training = {"optimizer_config": {"class_name": "Custom>MyOpt", "config": {}}}
    result = translate({"class_name": "Sequential", "config": {}}, training)
    assert result.training_config == training
    assert result.rules == ()


def test_op_layer_nodes_become_keras3_node_dicts() -> None:
    layer = {
        "class_name": "TFOpLambda",
        "config": {"function": "math.add"},
        "inbound_nodes": [["dense", 0, 0, {"y": ["dense_1", 0, 0], "name": None}]],
    }
    node = translate(layer, None).config["inbound_nodes"][0]
    assert node["args"][0]["config"]["keras_history"] == ["dense", 0, 0]
    assert node["kwargs"]["y"]["config"]["keras_history"] == ["dense_1", 0, 0]
    assert node["kwargs"]["name"] is None


def _file(version: str | None, config: dict[str, Any]) -> ModelFile:
    return ModelFile(path="m", format="keras", config=config, keras_version=version)


def test_provenance_from_version_and_module_paths() -> None:
    assert provenance(_file("2.21.0", {"class_name": "Sequential"})).writer == KERAS2
    assert provenance(_file("3.15.1", {"class_name": "Sequential"})).writer == KERAS3
    assert provenance(_file(None, FUNCTIONAL)).writer == KERAS2
    assert provenance(_file(None, {"class_name": "Sequential"})).writer == "unknown"


def test_inspect_lists_the_function_inside_an_h5_metric_wrapper() -> None:
    from kerascope._reading.references import find_references

    training = {
        "metrics": [{"class_name": "MeanMetricWrapper", "config": {"name": "r", "fn": "rmse"}}]
    }
    references = find_references({"class_name": "Sequential", "config": {}}, training)
    wrapped = [r for r in references if r.json_path.endswith(".config.fn")]
    assert [(r.key, r.kind, r.custom) for r in wrapped] == [("rmse", "metric", True)]
