"""Keras 2 op layers (TFOpLambda / SlicingOpLambda) and Lambdas needing ``tf`` (issue 13).

The fast tests read configs only (no TensorFlow). The slow ones use the tf-keras 2.21 corpus of
tests/fixtures/keras2 (``tfoplambda``, ``lambda_python``) and run kerascope's CLI in fresh
processes: migrate with parity against tf-keras, and a hostile op that must never run.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kerascope._audit.scan_tfops import op_layer_findings
from kerascope._reading.tf_ops import allowed_tf_op, find_op_layers
from kerascope._translate.rules import translate

from .conftest import FIXTURES, PYTHON, QUIET_ENV, ROOT

ENV = {**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")}
KERAS2 = str(FIXTURES / "keras2")


# --- the allowlist and the audit (no TensorFlow) -----------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        "math.reduce_sum",
        "nn.relu",
        "concat",
        "__operators__.getitem",
        "math.multiply",
        "compat.v1.transpose",
        "reshape",
        "gather",
        "stack",
    ],
)
def test_pure_tensor_ops_are_allowed(op: str) -> None:
    assert allowed_tf_op(op)


@pytest.mark.parametrize(
    "op",
    [
        "io.write_file",
        "io.read_file",
        "py_function",
        "numpy_function",
        "compat.v1.py_func",
        "raw_ops.WriteFile",
        "raw_ops.ReadFile",
        "print",
        "io.gfile.GFile",
        "saved_model.load",
        "",
        "math",
        "math.reduce_sum.__globals__",
    ],
)
def test_everything_else_is_refused(op: str) -> None:
    assert not allowed_tf_op(op)
    layer = {"class_name": "TFOpLambda", "config": {"name": "tf.x", "function": op}}
    findings = op_layer_findings({"class_name": "Functional", "config": {"layers": [layer]}})
    assert [(f.severity, f.code, f.json_path) for f in findings] == [
        ("high", "tf-op", "$.config.layers[0]")
    ]
    assert f"tf.{op}" in findings[0].message


def test_an_op_layer_without_a_name_is_refused() -> None:
    layer = {"class_name": "SlicingOpLambda", "config": {"function": {"class_name": "x"}}}
    assert [f.code for f in op_layer_findings({"layers": [layer]})] == ["tf-op"]


def test_the_rule_moves_op_layers_to_kerascopes_module() -> None:
    layer = {
        "module": "tf_keras.src.layers.core.tf_op_layer",
        "class_name": "TFOpLambda",
        "registered_name": "TFOpLambda",
        "config": {"name": "tf.math.reduce_sum", "function": "math.reduce_sum"},
        "inbound_nodes": [["d1", 0, 0, {"axis": -1}]],
    }
    result = translate({"class_name": "Functional", "config": {"layers": [layer]}}, None)
    translated = result.config["config"]["layers"][0]
    assert translated["module"] == "kerascope._keras.op_layers"
    assert translated["inbound_nodes"][0]["kwargs"] == {"axis": -1}
    assert [op.function for op in find_op_layers(result.config)] == ["math.reduce_sum"]
    assert result.rules == ("op-layer-nodes",)


# --- the corpus (tf-keras files, Keras 3 in fresh processes) ---------------------------------


def _cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "kerascope", *arguments],
        env=env or ENV,
        capture_output=True,
        text=True,
        check=False,
    )


OPS = {
    "tfoplambda": ("tf.math.reduce_sum", "tf.__operators__.getitem", "tf.concat"),
    # a * b, then ops whose second tensor is a keyword argument in the config (y=...)
    "tfoplambda_two_tensors": ("tf.math.multiply", "tf.math.maximum", "tf.math.add"),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kind"),
    [("tfoplambda", "h5"), ("tfoplambda", "keras"), ("tfoplambda_two_tensors", "keras")],
)
def test_op_layer_model_migrates_with_parity(
    keras2_corpus: Path, tmp_path: Path, name: str, kind: str
) -> None:
    source = keras2_corpus / f"{name}.{kind}"
    inspected = _cli("inspect", str(source))
    assert inspected.returncode == 0, inspected.stderr[-2000:]
    for op in OPS[name]:
        assert f"Keras 2 tf op layer: {op} (translated)" in inspected.stdout
    plan = _cli("check", str(source), "--from", KERAS2)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "TFOpLambda" not in plan.stdout.split("Custom objects", 1)[1]
    target = tmp_path / "new.keras"
    result = _cli("migrate", str(source), str(target), "--from", KERAS2)
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r"largest difference (\S+)", result.stdout)
    assert found is not None, result.stdout
    assert float(found.group(1)) <= 1e-6
    again = _cli("inspect", str(target))
    assert f"Keras 2 tf op layer: {OPS[name][-1]} (kerascope's op layer)" in again.stdout
    assert "TFOpLambda" not in again.stdout.split("Custom objects", 1)[1].split("TensorFlow")[0]


def _hostile_layers(config: dict[str, Any], canary: str) -> None:
    """The relu op layer becomes tf.io.write_file(canary, "pwned"), on constants only."""
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "TFOpLambda" and layer["config"]["function"] == "nn.relu":
            layer["config"]["function"] = "io.write_file"
            layer["inbound_nodes"] = [["_CONSTANT_VALUE", -1, canary, {"contents": "pwned"}]]
            return
    raise AssertionError("no relu op layer in the corpus model")


def _hostile_keras(source: Path, target: Path, canary: str) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.namelist():
            data = original.read(member)
            if member == "config.json":
                config = json.loads(data)
                _hostile_layers(config, canary)
                data = json.dumps(config).encode()
            copy.writestr(member, data)


def _hostile_h5(source: Path, target: Path, canary: str) -> None:
    import h5py

    shutil.copy(source, target)
    with h5py.File(target, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        _hostile_layers(config, canary)
        handle.attrs["model_config"] = json.dumps(config)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["h5", "keras"])
def test_an_op_off_the_allowlist_never_runs(keras2_corpus: Path, tmp_path: Path, kind: str) -> None:
    canary = tmp_path / "canary.txt"
    hostile = tmp_path / f"hostile.{kind}"
    make = _hostile_h5 if kind == "h5" else _hostile_keras
    make(keras2_corpus / f"tfoplambda.{kind}", hostile, str(canary))
    scanned = _cli("scan", str(hostile))
    assert scanned.returncode == 8, scanned.stdout + scanned.stderr
    assert "high: tf-op at $.config.layers[2]" in scanned.stdout
    assert "tf.io.write_file" in scanned.stdout
    for command in ("check", "load"):
        result = _cli(command, str(hostile), "--from", KERAS2)
        assert result.returncode == 4, (command, result.stdout, result.stderr)
        assert "tf.io.write_file" in result.stdout + result.stderr
        # Allowing the finding does not make kerascope call the op.
        allowed = _cli(command, str(hostile), "--from", KERAS2, "--allow", "tf-op")
        assert allowed.returncode == 4, (command, allowed.stdout, allowed.stderr)
        assert "never call it, even when the finding is allowed" in allowed.stdout + allowed.stderr
    inspected = _cli("inspect", str(hostile))
    assert "tf.io.write_file (not on the allowlist: refused)" in inspected.stdout
    document = json.loads(_cli("inspect", "--json", str(hostile)).stdout)
    refused = [layer for layer in document["op_layers"] if not layer["allowed"]]
    assert [layer["function"] for layer in refused] == ["io.write_file"]
    assert not canary.exists()


LAYER_CHILD = """
import kerascope._keras.op_layers as op_layers
layer = op_layers.op_layer_classes()["TFOpLambda"](function="math.reduce_sum", name="ok")
print("allowed:", layer.get_config()["function"])
try:
    op_layers.op_layer_classes()["TFOpLambda"](function="io.write_file", name="bad")
except op_layers.OpLayerError as error:
    print("refused:", error)
"""


@pytest.mark.slow
def test_the_layer_itself_refuses_an_op_off_the_allowlist() -> None:
    result = subprocess.run(
        [PYTHON, "-c", LAYER_CHILD], env=ENV, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "allowed: math.reduce_sum" in result.stdout
    assert "refused: the op layer calls tf.io.write_file" in result.stdout


@pytest.mark.slow
def test_op_layers_say_they_need_tensorflow(keras2_corpus: Path) -> None:
    env = {**ENV, "KERAS_BACKEND": "jax"}
    result = _cli("check", str(keras2_corpus / "tfoplambda.h5"), "--from", KERAS2, env=env)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "TensorFlow backend only (active backend: jax)" in result.stdout
    assert "KERAS_BACKEND=tensorflow" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["h5", "keras"])
def test_a_keras2_lambda_needs_unsafe_and_says_so(keras2_corpus: Path, kind: str) -> None:
    result = _cli("load", str(keras2_corpus / f"lambda_python.{kind}"))
    assert result.returncode == 4, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "Keras 2 (tf-keras) Lambda" in output and "--unsafe" in output
    unsafe = _cli("load", str(keras2_corpus / f"lambda_python.{kind}"), "--unsafe")
    assert unsafe.returncode == 0, unsafe.stdout + unsafe.stderr


@pytest.mark.slow
def test_the_allowlist_matches_the_installed_tensorflow() -> None:
    result = subprocess.run(
        [PYTHON, str(ROOT / "tools" / "gen_tf_ops.py"), str(ROOT / "src/kerascope/_data/tf_ops.json"),
         "--check"],
        env=QUIET_ENV, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
