"""The reference walker on config shapes that are hard to produce with Keras 3.15 itself:
legacy .h5 forms, tf-keras lambdas, every shape of compile config, hostile names."""

from __future__ import annotations

from typing import Any

import pytest

from kerascope._reading.references import Reference, find_references


def _model(*layers: dict[str, Any], compile_config: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "class_name": "Sequential",
        "config": {"name": "s", "layers": list(layers)},
    }
    if compile_config is not None:
        config["compile_config"] = compile_config
    return config


def _layer(class_name: str, **config: Any) -> dict[str, Any]:
    return {
        "class_name": class_name,
        "config": {"name": "x", "trainable": True, "dtype": "float32", **config},
    }


def _custom(references: list[Reference]) -> dict[str, tuple[str, str]]:
    return {r.key: (r.kind, r.json_path) for r in references if r.custom}


def test_legacy_registered_and_custom_prefixes() -> None:
    refs = find_references(_model(_layer("Custom>TCN"), _layer("mypkg>Scale"), _layer("Unreg")))
    assert _custom(refs) == {
        "Custom>TCN": ("layer", "$.config.layers[0]"),
        "mypkg>Scale": ("layer", "$.config.layers[1]"),
        "Unreg": ("layer", "$.config.layers[2]"),
    }
    tcn = next(r for r in refs if r.key == "Custom>TCN")
    assert (tcn.class_name, tcn.registered_name, tcn.module, tcn.legacy) == (
        "TCN",
        "Custom>TCN",
        None,
        True,
    )


def test_legacy_builtin_layer_is_builtin_and_shadowing_is_caught() -> None:
    refs = find_references(
        _model(_layer("Dense", units=3, activation="relu"), _layer("Wrapper", units=3))
    )
    dense = next(r for r in refs if r.class_name == "Dense")
    wrapper = next(r for r in refs if r.class_name == "Wrapper")
    assert not dense.custom and not dense.shadows_builtin
    assert wrapper.custom and wrapper.shadows_builtin


def test_bare_strings_in_lookup_slots() -> None:
    layer = _layer(
        "Dense",
        units=3,
        activation="my_act",
        kernel_initializer="he_normal",
        bias_regularizer="my_reg",
        kernel_constraint="non_neg",
    )
    refs = find_references(_model(layer))
    assert _custom(refs) == {
        "my_act": ("activation", "$.config.layers[0].config.activation"),
        "my_reg": ("regularizer", "$.config.layers[0].config.bias_regularizer"),
    }
    kinds = {r.json_path.rsplit(".", 1)[-1]: r.kind for r in refs if r.legacy and not r.custom}
    assert kinds["kernel_initializer"] == "initializer"
    assert kinds["kernel_constraint"] == "constraint"


def test_strings_outside_lookup_slots_are_data() -> None:
    refs = find_references(_model(_layer("Dense", units=3, padding="my_act", name="relu")))
    assert [r.class_name for r in refs] == ["Sequential", "Dense"]


@pytest.mark.parametrize(
    ("compile_config", "expected"),
    [
        (
            {"loss": "my_loss", "metrics": ["accuracy", "my_metric"]},
            {"my_loss": "loss", "my_metric": "metric"},
        ),
        (
            {"loss": {"out_a": "mse", "out_b": "pkg>my_loss"}, "metrics": {"out_a": ["acc", "f1"]}},
            {"pkg>my_loss": "loss", "f1": "metric"},
        ),
        (
            {"loss": ["mse", "my_loss"], "weighted_metrics": ["wm"]},
            {"my_loss": "loss", "wm": "metric"},
        ),
        (
            {
                "loss": {
                    "module": "builtins",
                    "class_name": "function",
                    "config": "Custom>focal",
                    "registered_name": "function",
                }
            },
            {"Custom>focal": "loss"},
        ),
        ({"optimizer": "adam", "loss": "mse"}, {}),
        (
            {
                "optimizer": {
                    "module": "mypkg.opt",
                    "class_name": "MyOpt",
                    "config": {},
                    "registered_name": "MyOpt",
                }
            },
            {"MyOpt": "optimizer"},
        ),
    ],
    ids=[
        "strings",
        "dict-per-output",
        "lists-and-weighted",
        "registered-function",
        "builtin-strings",
        "optimizer",
    ],
)
def test_every_shape_of_compile_config(
    compile_config: dict[str, Any], expected: dict[str, str]
) -> None:
    refs = find_references(_model(compile_config=compile_config))
    assert {key: kind for key, (kind, _) in _custom(refs).items()} == expected


def test_h5_training_config() -> None:
    training = {
        "loss": "my_loss",
        "metrics": [{"class_name": "MyMetric", "config": {"name": "m"}}, "mae"],
        "optimizer_config": {
            "class_name": "Adam",
            "config": {"learning_rate": {"class_name": "MySched", "config": {}}},
        },
    }
    refs = find_references(_model(), training)
    assert _custom(refs) == {
        "my_loss": ("loss", "$.training_config.loss"),
        "MyMetric": ("metric", "$.training_config.metrics[0]"),
        "MySched": (
            "learning-rate schedule",
            "$.training_config.optimizer_config.config.learning_rate",
        ),
    }


def test_tf_keras_lambda_forms() -> None:
    bytecode = _layer("Lambda", function=["4wEAAAAA", None, None], function_type="lambda")
    named = _layer("Lambda", function="my_fn", function_type="function")
    refs = find_references(_model(bytecode, named))
    lambdas = [r for r in refs if r.is_lambda]
    assert [r.json_path for r in lambdas] == ["$.config.layers[0].config.function"]
    assert _custom(refs)["my_fn"] == ("function", "$.config.layers[1].config.function")


def test_main_module_and_keras_internal_modules() -> None:
    main = {
        "module": None,
        "class_name": "Mine",
        "config": {"trainable": True, "dtype": "float32"},
        "registered_name": "Mine",
    }
    functional = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {"layers": []},
        "registered_name": None,
    }
    hub = {
        "module": "keras_hub.src.models.bert",
        "class_name": "BertBackbone",
        "config": {},
        "registered_name": "keras_hub>BertBackbone",
    }
    refs = find_references(_model(main, functional, hub))
    by_name = {r.class_name: r for r in refs}
    assert by_name["Mine"].custom and by_name["Mine"].module is None
    assert not by_name["Functional"].custom and by_name["Functional"].kind == "model"
    assert (
        by_name["BertBackbone"].custom and by_name["BertBackbone"].key == "keras_hub>BertBackbone"
    )


def test_non_modeling_api_is_not_builtin() -> None:
    getter = {
        "module": "keras.utils",
        "class_name": "function",
        "config": "get_file",
        "registered_name": "function",
    }
    refs = find_references(_model(_layer("Dense", units=1, activation=getter)))
    assert _custom(refs) == {"get_file": ("activation", "$.config.layers[0].config.activation")}


def test_sentinels_are_data_not_objects() -> None:
    values = [
        {
            "class_name": "__keras_tensor__",
            "config": {"shape": [None, 3], "keras_history": ["x", 0, 0]},
        },
        {"class_name": "__numpy__", "config": {"value": [1], "dtype": "int32"}},
        {"class_name": "__bytes__", "config": {"value": "abc"}},
    ]
    refs = find_references(_model(_layer("Dense", units=1, extra=values)))
    assert [r.class_name for r in refs] == ["Sequential", "Dense"]


def test_shared_object_is_listed_at_each_place() -> None:
    shared = {
        "module": "m",
        "class_name": "MyInit",
        "config": {},
        "registered_name": "MyInit",
        "shared_object_id": 1,
    }
    refs = find_references(
        _model(_layer("Dense", units=1, kernel_initializer=shared, bias_initializer=shared))
    )
    assert [r.json_path for r in refs if r.custom] == [
        "$.config.layers[0].config.kernel_initializer",
        "$.config.layers[0].config.bias_initializer",
    ]


def test_too_deep_config_is_refused() -> None:
    config: dict[str, Any] = {}
    inner = config
    for _ in range(300):
        inner["x"] = {}
        inner = inner["x"]
    with pytest.raises(ValueError, match="nested deeper than"):
        find_references({"class_name": "Sequential", "config": config})


def test_odd_keys_are_quoted_in_paths() -> None:
    refs = find_references(_model(compile_config={"loss": {"out 1": "my_loss"}}))
    assert _custom(refs) == {"my_loss": ("loss", "$.compile_config.loss['out 1']")}
