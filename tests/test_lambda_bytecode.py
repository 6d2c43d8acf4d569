"""Lambda bytecode read as data: what inspect, scan and check say about it, and rule
lambda-named-function (a Keras 2 Lambda over a named function taken from the user's code).

No Keras: the files are tf-keras-shaped .keras archives written here; the bytecode is
marshal.dumps of functions defined below, never run.
"""

from __future__ import annotations

import base64
import json
import marshal
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kerascope
from kerascope._reading.lambda_code import find_lambda_code
from kerascope._translate.lambda_functions import (
    function_reference,
    named_function_lambdas,
    use_named_functions,
)
from kerascope._translate.rules import translate
from tests.conftest import run_cli

PATH = "$.config.layers[1].config.function"


def double_plus_one(x: Any) -> Any:
    return tf.multiply(x, 2.0) + 1.0  # type: ignore[name-defined]  # noqa: F821


def runs_a_command(x: Any) -> Any:
    os.system("true")  # never called: only its bytecode is written
    return x


def _scaled(scale: float) -> Callable[[Any], Any]:
    def scaled(x: Any) -> Any:
        return x * scale

    return scaled


def _code(function: Callable[..., Any]) -> str:
    return base64.b64encode(marshal.dumps(function.__code__)).decode("ascii")


def _keras2_file(
    tmp: Path, function: Callable[..., Any] | str, module: str = "mycode", name: str = "m.keras"
) -> Path:
    """A tf-keras .keras archive: Dense, then Lambda(function) stored as tf-keras stores it."""
    code = function if isinstance(function, str) else _code(function)
    closure = None
    if not isinstance(function, str) and function.__closure__:
        closure = [cell.cell_contents for cell in function.__closure__]
    layers = [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
         "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "in"}},
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                    "function": [code, None, closure], "function_type": "lambda",
                    "module": module, "output_shape": None, "output_shape_type": "raw",
                    "output_shape_module": None, "arguments": {}}},
    ]  # fmt: skip
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "s", "layers": layers},
    }
    path = tmp / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "2.21.0"}))
    return path


def _source(tmp: Path, text: str, module: str = "mycode") -> Path:
    folder = tmp / "src"
    folder.mkdir(exist_ok=True)
    (folder / f"{module}.py").write_text(text)
    return folder


SOURCE = (
    "import tensorflow as tf\n\n\ndef double_plus_one(x):\n    return tf.multiply(x, 2.0) + 1.0\n"
)


# --- what the bytecode reads: inspect, scan, check ------------------------------------------


def test_scan_and_inspect_say_what_the_bytecode_reads(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, double_plus_one)
    for findings in (kerascope.scan(path).findings, kerascope.inspect(path).findings):
        [read] = [f for f in findings if f.code == "lambda-bytecode"]
        assert read.severity == "info" and read.json_path == PATH
        assert "function `double_plus_one` (module mycode)" in read.message
        assert "it reads: tf, multiply" in read.message
        assert read.object == "mycode.double_plus_one"
        assert "lambda-bytecode-dangerous-names" not in {f.code for f in findings}
    problem = next(p for p in kerascope.check(path).problems if p.reason == "lambda")
    assert "the bytecode is function `double_plus_one` (module mycode)" in problem.message


def test_bytecode_reaching_the_system_is_high_and_not_accepted_by_unsafe(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, runs_a_command, module="preprocessing")
    [danger] = [
        f for f in kerascope.scan(path).findings if f.severity == "high" and "names" in f.code
    ]
    assert danger.code == "lambda-bytecode-dangerous-names"
    assert "uses os, system" in danger.message
    assert run_cli("scan", str(path)).returncode == 8
    unsafe = kerascope.check(path, safe_mode=False)
    assert [p.reason for p in unsafe.problems] == ["lambda-bytecode-dangerous-names"]
    assert "--unsafe does not accept it" in run_cli("check", str(path), "--unsafe").stdout
    allowed = kerascope.check(path, safe_mode=False, allow=["lambda-bytecode-dangerous-names"])
    assert allowed.problems == ()


def test_unreadable_bytecode_is_high(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, "4wEAAAA=")
    findings = {f.code: f for f in kerascope.scan(path).findings}
    assert findings["lambda-bytecode-unreadable"].severity == "high"
    assert "cannot read" in findings["lambda-bytecode-unreadable"].message
    reasons = [p.reason for p in kerascope.check(path, safe_mode=False).problems]
    assert reasons == ["lambda-bytecode-unreadable"]


# --- rule lambda-named-function --------------------------------------------------------------


def test_a_named_function_from_your_code_replaces_the_bytecode(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, double_plus_one)
    sources = _source(tmp_path, SOURCE)
    plan = kerascope.check(path, sources=[str(sources)])
    assert plan.problems == (), [p.describe() for p in plan.problems]
    [resolution] = plan.resolutions
    assert (resolution.object.key, resolution.object.kinds) == ("double_plus_one", ("function",))
    assert resolution.origin == "source" and resolution.module == "mycode"
    translation = plan.inspection.translation
    assert translation is not None
    [layer] = [x for x in translation.config["config"]["layers"] if x["class_name"] == "Lambda"]
    assert layer["config"]["function"] == function_reference("double_plus_one")
    details = [a.detail for a in translation.applied]
    assert (
        "Lambda bytecode of `double_plus_one` → function `mycode.double_plus_one` from your "
        f"code ({resolution.where}); the bytecode is not run"
    ) in details, details
    assert resolution.where.endswith("mycode.py:4")
    assert "lambda-legacy-format" not in translation.rules  # no bytecode left
    # The scan still reports the file's bytecode: the file holds it.
    assert "lambda" in {f.code for f in plan.scan.findings}
    shown = run_cli("check", str(path), "--from", str(sources))
    assert shown.returncode == 0, shown.stdout
    assert "applied: Lambda bytecode of `double_plus_one` → function `mycode.double_plus_one`" in (
        shown.stdout
    )


def test_custom_objects_provide_the_named_function_too(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, double_plus_one)
    plan = kerascope.check(path, custom_objects=["double_plus_one"])
    assert plan.problems == ()
    assert [r.origin for r in plan.resolutions] == ["custom-objects"]


def test_without_the_code_the_bytecode_route_stays(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, double_plus_one)
    plan = kerascope.check(path)
    assert [p.reason for p in plan.problems] == ["lambda"]
    assert [r.origin for r in plan.resolutions] == ["bytecode"]
    assert "lambda-named-function" not in (plan.inspection.translation or ()).rules  # type: ignore[union-attr]
    assert kerascope.check(path, safe_mode=False).problems == ()


def test_an_untrusted_module_is_not_imported_for_it(tmp_path: Path) -> None:
    """The recorded module resolves only under the trust policy, as for custom objects."""
    path = _keras2_file(tmp_path, double_plus_one, module="json")  # a module that exists
    plan = kerascope.check(path)
    assert [r.origin for r in plan.resolutions] == ["bytecode"]


def test_a_closure_keeps_the_bytecode(tmp_path: Path) -> None:
    path = _keras2_file(tmp_path, _scaled(2.0))
    sources = _source(tmp_path, "def scaled(x):\n    return x\n")
    plan = kerascope.check(path, sources=[str(sources)])
    assert [r.origin for r in plan.resolutions] == ["bytecode"]
    assert [p.reason for p in plan.problems] == ["lambda"]


def test_the_rule_is_pure_and_rewrites_only_what_it_is_given() -> None:
    config = json.loads(_keras2_config_text())
    translation = translate(config, None)
    [candidate] = named_function_lambdas(translation)
    assert candidate.json_path == PATH and candidate.module == "mycode"
    untouched = use_named_functions(translation, {})
    assert untouched is translation
    rewritten = use_named_functions(translation, {PATH: ("double_plus_one", "here")})
    assert rewritten.config["config"]["layers"][1]["config"]["function"]["config"] == (
        "double_plus_one"
    )
    assert translation.config["config"]["layers"][1]["config"]["function"]["class_name"] == (
        "__lambda__"
    )  # the original translation is not modified
    assert find_lambda_code(rewritten.config) == []


def _keras2_config_text() -> str:
    layers = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3]}},
        {"class_name": "Lambda",
         "config": {"function": [_code(double_plus_one), None, None], "function_type": "lambda",
                    "module": "mycode", "output_shape_type": "raw"}},
    ]  # fmt: skip
    return json.dumps({"class_name": "Sequential", "config": {"layers": layers}})
