"""Loading tells everything at once: missing objects, cycles, __main__ classes, training-only."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

import kerascope
from tests.conftest import PYTHON, ROOT, run_python

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


ZOO = ROOT / "tests" / "fixtures" / "zoo"


def test_three_missing_objects_in_one_error(zoo: Path) -> None:
    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        kerascope.load_model(zoo / "nested.keras")
    problems = {problem.key: problem for problem in caught.value.problems}
    assert set(problems) == {"Outer", "Inner", "MyInit"}
    assert problems["MyInit"].json_paths == (
        "$.config.layers[1].config.inner.config.kernel_initializer",
    )
    assert all(
        problem.reason == "missing" and "--from" in problem.fix for problem in problems.values()
    )
    message = str(caught.value)
    assert message.startswith(f"{zoo / 'nested.keras'} cannot be loaded: 3 problems")
    assert "'Outer' (layer) at $.config.layers[1]" in message


def test_missing_object_suggests_close_names(zoo: Path, tmp_path: Path) -> None:
    source = tmp_path / "layers.py"
    source.write_text("class Outter:\n    pass\n\n\nclass MyInitt:\n    pass\n")
    plan = kerascope.check(zoo / "nested.keras", sources=[source])
    by_key = {problem.key: problem for problem in plan.problems}
    assert by_key["Outer"].candidates == ("Outter",)
    assert "did you mean 'MyInitt'" in by_key["MyInit"].message


def test_check_imports_nothing(zoo: Path) -> None:
    code = (
        "import sys, kerascope\n"
        f"plan = kerascope.check({str(zoo / 'nested.keras')!r}, sources=[{str(ZOO)!r}])\n"
        "assert plan.ok, plan.problems\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'nested_layers') if m in sys.modules))"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "[]", result.stderr


def _run(code: str, *arguments: str, cwd: Path | None = None) -> dict[str, object]:
    stdout = run_python(code, *arguments, cwd=cwd)
    document: dict[str, object] = json.loads(stdout.strip().splitlines()[-1])
    return document


LOAD = """
import json, sys, warnings, kerascope
path, sources, compile = sys.argv[1], sys.argv[2:-1], {"auto": "auto", "yes": True, "no": False}[sys.argv[-1]]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        model = kerascope.load_model(path, sources=sources, compile=compile)
    except kerascope.KerascopeError as error:
        print(json.dumps({"error": type(error).__name__, "keys": [p.key for p in getattr(error, "problems", ())]}))
        raise SystemExit
notes = [str(w.message) for w in caught if issubclass(w.category, kerascope.KerascopeWarning)]
print(json.dumps({"layers": [type(l).__name__ for l in model.layers], "compiled": bool(model.compiled),
                  "notes": notes, "imported": sorted(m for m in ("training", "nested_layers") if m in sys.modules)}))
"""


def test_main_class_found_by_name_in_sources(zoo: Path, tmp_path: Path) -> None:
    script = ROOT / "tests" / "fixtures" / "build_models.py"
    loaded = _run(LOAD, str(zoo / "main_class.keras"), str(script), "auto", cwd=tmp_path)
    assert loaded["layers"] == ["MainLayer"]
    missing = _run(LOAD, str(zoo / "main_class.keras"), "auto", cwd=tmp_path)
    assert missing == {"error": "UnresolvedObjectsError", "keys": ["MainLayer"]}


def test_main_class_error_says_the_file_records_no_module(zoo: Path) -> None:
    plan = kerascope.check(zoo / "main_class.keras")
    (problem,) = plan.problems
    assert "records no module" in problem.message
    assert "--from" in problem.fix


def test_training_only_objects_missing_loads_for_inference_and_says_so(
    zoo: Path, tmp_path: Path
) -> None:
    loaded = _run(LOAD, str(zoo / "training.keras"), "auto", cwd=tmp_path)
    assert loaded["compiled"] is False
    (note,) = loaded["notes"]  # type: ignore[misc]
    for name in ("MySchedule", "MyLoss", "my_metric_fn", "MyMetric"):
        assert f"'{name}'" in note
    required = _run(LOAD, str(zoo / "training.keras"), "yes", cwd=tmp_path)
    assert required["error"] == "UnresolvedObjectsError"
    assert sorted(required["keys"]) == ["MyLoss", "MyMetric", "MySchedule", "my_metric_fn"]  # type: ignore[arg-type]


def test_training_objects_restored_when_available(zoo: Path, tmp_path: Path) -> None:
    loaded = _run(LOAD, str(zoo / "training.keras"), str(ZOO), "auto", cwd=tmp_path)
    assert loaded["compiled"] is True and loaded["notes"] == []
    skipped = _run(LOAD, str(zoo / "training.keras"), str(ZOO), "no", cwd=tmp_path)
    assert skipped["compiled"] is False
    assert skipped["imported"] == []  # compile=False never imports training-only code


def test_import_cycle_is_reported_before_importing(tmp_path: Path) -> None:
    sources = tmp_path / "cyclic"
    sources.mkdir()
    marker = tmp_path / "imported"
    (sources / "alpha.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nfrom beta import helper\n\n\nclass CycleLayer:\n    pass\n"
    )
    (sources / "beta.py").write_text("from alpha import CycleLayer\n\n\ndef helper():\n    pass\n")
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "s",
            "layers": [
                {
                    "module": "alpha",
                    "class_name": "CycleLayer",
                    "registered_name": "CycleLayer",
                    "config": {"name": "c", "trainable": True, "dtype": "float32"},
                }
            ],
        },
    }
    model = tmp_path / "cycle.keras"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        kerascope.load_model(model, sources=[sources])
    (problem,) = caught.value.problems
    assert problem.reason == "import-cycle"
    assert "alpha -> beta -> alpha" in problem.message
    assert not marker.exists()


def test_bad_source_is_a_usage_error(zoo: Path) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", str(zoo / "seed_1.keras"), "--from", "no/such/dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kerascope: error: ") and "Traceback" not in result.stderr


def test_cli_check_exit_code_and_fix(zoo: Path) -> None:
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", str(zoo / "seed_2.h5")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 4
    assert "Cannot load: 2 problems" in result.stdout  # everything at once, the loss too
    assert "'my_custom_loss' (loss) at $.training_config.loss" in result.stdout
    assert (
        "'my_custom_activation' (activation) at $.config.layers[1].config.activation"
        in result.stdout
    )
