"""inspect finds exactly the custom objects of real models saved by Keras 3.15 (.keras and .h5)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import kerascope
from tests.conftest import run_cli

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


# name -> {key: (kinds, module recorded in .keras, json paths in .keras)}
EXPECTED: dict[str, dict[str, tuple[tuple[str, ...], str | None, tuple[str, ...]]]] = {
    "seed_1": {"MyCustomLayer": (("layer",), "custom_layer", ("$.config.layers[2]",))},
    "seed_2": {
        "my_custom_activation": (
            ("activation",),
            "builtins",
            ("$.config.layers[1].config.activation",),
        ),
        "my_custom_loss": (("loss",), "builtins", ("$.compile_config.loss",)),
    },
    "seed_3": {"MyDependentLayer": (("layer",), "custom_layer_dep", ("$.config.layers[1]",))},
    "nested": {
        "Outer": (("layer",), "nested_layers", ("$.config.layers[1]",)),
        "Inner": (("layer",), "nested_layers", ("$.config.layers[1].config.inner",)),
        "MyInit": (
            ("initializer",),
            "nested_layers",
            ("$.config.layers[1].config.inner.config.kernel_initializer",),
        ),
    },
    "shared": {"zoo>Scale": (("layer",), "shared", ("$.config.layers[2]",))},
    "subclassed": {"TinyModel": (("model",), "subclassed", ("$",))},
    "training": {
        "MySchedule": (
            ("learning-rate schedule",),
            "training",
            ("$.compile_config.optimizer.config.learning_rate",),
        ),
        "MyLoss": (("loss",), "training", ("$.compile_config.loss",)),
        "my_metric_fn": (("metric",), "builtins", ("$.compile_config.metrics[0]",)),
        "MyMetric": (("metric",), "training", ("$.compile_config.metrics[1]",)),
    },
    "lambdas": {
        "__lambda__": (("lambda",), None, ("$.config.layers[1].config.function",)),
        "double": (("function",), "builtins", ("$.config.layers[2].config.function",)),
    },
    "main_class": {"MainLayer": (("layer",), None, ("$.config.layers[1]",))},
    "wrappers": {
        "zoo>Scale": (("layer",), "shared", ("$.config.layers[1].config.layers[1].config.layer",)),
        "MyCustomLayer": (("layer",), "custom_layer", ("$.config.layers[1].config.layers[2]",)),
        "zoo>swishish": (
            ("activation",),
            "builtins",
            (
                "$.config.layers[2].config.layer.config.activation",
                "$.config.layers[2].config.backward_layer.config.activation",
            ),
        ),
    },
    "shadow": {"Wrapper": (("layer",), "shadow", ("$.config.layers[1]",))},
}

# In .h5 the compile objects live in training_config, under other names.
H5_PATHS = {
    ("seed_2", "my_custom_loss"): ("$.training_config.loss",),
    ("training", "MySchedule"): ("$.training_config.optimizer_config.config.learning_rate",),
    ("training", "MyLoss"): ("$.training_config.loss",),
    ("training", "my_metric_fn"): ("$.training_config.metrics[0]",),
    ("training", "MyMetric"): ("$.training_config.metrics[1]",),
}

# (code, json_path) of every finding expected, by model and format.
EXPECTED_FINDINGS = {
    ("seed_1", "h5"): {("h5-unrestorable-compile-string", "$.training_config.loss")},
    ("seed_3", "h5"): {("h5-unrestorable-compile-string", "$.training_config.loss")},
    ("subclassed", "h5"): {("h5-subclassed-model", "$")},
    ("lambdas", "keras"): {
        ("lambda", "$.config.layers[1].config.function"),
        ("lambda-bytecode", "$.config.layers[1].config.function"),  # what it reads, as data
    },
    ("lambdas", "h5"): {
        ("lambda", "$.config.layers[1].config.function"),
        ("lambda-bytecode", "$.config.layers[1].config.function"),  # what it reads, as data
    },
    ("main_class", "keras"): {("defined-in-main", "$.config.layers[1]")},
    ("shadow", "h5"): {("h5-shadowed-builtin", "$.config.layers[1]")},
}


@pytest.mark.parametrize("extension", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_inspect_finds_exactly_the_custom_objects(zoo: Path, name: str, extension: str) -> None:
    inspection = kerascope.inspect(zoo / f"{name}{extension}")
    found = {obj.key: obj for obj in inspection.custom_objects}
    assert set(found) == set(EXPECTED[name])
    h5 = extension == ".h5"
    for key, (kinds, module, paths) in EXPECTED[name].items():
        obj = found[key]
        assert obj.kinds == kinds, key
        assert obj.json_paths == (H5_PATHS.get((name, key), paths) if h5 else paths), key
        if not h5:
            assert obj.module == module, key
    findings = {(f.code, f.json_path) for f in inspection.findings}
    assert findings == EXPECTED_FINDINGS.get((name, extension[1:]), set())


def test_seed_3_helper_class_is_not_in_the_file(zoo: Path) -> None:
    # The write-up says CustomBase must be registered too; the saved file never names it.
    for extension in (".keras", ".h5"):
        inspection = kerascope.inspect(zoo / f"seed_3{extension}")
        names = {reference.class_name for reference in inspection.references}
        assert "CustomBase" not in names
        assert "MyDependentLayer" in names


def test_builtins_are_not_reported_as_custom(zoo: Path) -> None:
    inspection = kerascope.inspect(zoo / "wrappers.keras")
    builtin = {reference.class_name for reference in inspection.builtin_references}
    assert {
        "Functional",
        "Sequential",
        "Bidirectional",
        "LSTM",
        "TimeDistributed",
        "Dense",
    } <= builtin
    assert {"GlorotUniform", "Orthogonal", "DTypePolicy", "sigmoid"} <= builtin


def test_file_facts(zoo: Path) -> None:
    keras_file = kerascope.inspect(zoo / "seed_1.keras")
    assert keras_file.format == "keras"
    assert keras_file.keras_version == "3.15.1"
    assert keras_file.weights is not None and keras_file.weights.name == "model.weights.h5"
    assert keras_file.weights.size > 1000
    h5_file = kerascope.inspect(zoo / "seed_1.h5")
    assert (h5_file.format, h5_file.keras_version, h5_file.backend) == (
        "h5",
        "3.15.1",
        "tensorflow",
    )


def test_unzipped_directory_reads_like_the_archive(zoo: Path, tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(zoo / "nested.keras") as archive:
        archive.extractall(tmp_path / "nested")
    from_dir = kerascope.inspect(tmp_path / "nested")
    from_zip = kerascope.inspect(zoo / "nested.keras")
    assert from_dir.format == "keras-dir"
    assert from_dir.references == from_zip.references


def test_format_comes_from_content_not_extension(zoo: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "model.bin"
    renamed.write_bytes((zoo / "seed_2.h5").read_bytes())
    inspection = kerascope.inspect(renamed)
    assert inspection.format == "h5"
    assert {f.code for f in inspection.findings} == {"file-name"}
    assert {obj.key for obj in inspection.custom_objects} == set(EXPECTED["seed_2"])


def test_cli_json_schema(zoo: Path) -> None:
    result = run_cli("inspect", str(zoo / "training.keras"), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema_version"] == 2
    assert document["format"] == "keras"
    assert document["keras_version"] == "3.15.1"
    for entry in document["objects"]:
        assert {
            "json_path",
            "kind",
            "module",
            "class_name",
            "registered_name",
            "custom",
            "lambda",
        } <= set(entry)
        assert isinstance(entry["custom"], bool) and isinstance(entry["lambda"], bool)
    custom = [entry["class_name"] for entry in document["objects"] if entry["custom"]]
    assert sorted(custom) == ["MyLoss", "MyMetric", "MySchedule", "my_metric_fn"]


def test_cli_table_names_each_custom_object_once(zoo: Path) -> None:
    result = run_cli("inspect", str(zoo / "wrappers.keras"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        str(zoo / "wrappers.keras") + ": .keras archive, saved by Keras 3.15.1"
    )
    rows = [
        re.split(r"\s{2,}", line.strip())
        for line in lines
        if line.startswith("  ") and not line.startswith("  NAME")
    ]
    assert [row[0] for row in rows] == ["zoo>Scale", "MyCustomLayer", "zoo>swishish"]
    assert rows[2][1:4] == ["activation", "(not recorded)", "2"]
    assert any(line.startswith("Built-in: ") for line in lines)


def test_cli_flags_lambda(zoo: Path) -> None:
    result = run_cli("inspect", str(zoo / "lambdas.h5"))
    assert result.returncode == 0, result.stderr
    assert "<lambda> (Python bytecode)" in result.stdout
    assert "high: lambda at $.config.layers[1].config.function" in result.stdout
