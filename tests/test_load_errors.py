"""Loading tells everything at once: missing objects, cycles, __main__ classes, training-only."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

import kerascope
from tests.conftest import PYTHON, ROOT, run_cli, run_python

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


ZOO = ROOT / "tests" / "fixtures" / "zoo"


def test_missing_objects_listed_at_once_and_constructor_only_ones_do_not_block(zoo: Path) -> None:
    # Outer's constructor deserializes Inner, whose constructor reads MyInit: Keras itself
    # looks up only Outer. The other two are reported, and do not stop the load by themselves.
    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        kerascope.load_model(zoo / "nested.keras")
    (problem,) = caught.value.problems
    assert problem.key == "Outer" and problem.reason == "missing"
    assert problem.fix.startswith("--from") and problem.python_fix.startswith("sources=[")
    message = str(caught.value)
    assert message.startswith(f"{zoo / 'nested.keras'} cannot be loaded: 1 problem")
    assert "'Outer' (layer) at $.config.layers[1]" in message
    assert "fix: sources=[" in message and "--from" not in message
    notes = caught.value.notes
    assert any(
        "'MyInit' (initializer) at $.config.layers[1].config.inner.config.kernel_initializer"
        " is read only by the constructor of Inner" in note
        for note in notes
    ), notes
    assert any("'Inner' (layer)" in note and "constructor of Outer" in note for note in notes)


def test_missing_object_suggests_close_names(zoo: Path, tmp_path: Path) -> None:
    source = tmp_path / "layers.py"
    source.write_text("class Outter:\n    pass\n\n\nclass MyInitt:\n    pass\n")
    plan = kerascope.check(zoo / "nested.keras", sources=[source])
    by_key = {problem.key: problem for problem in plan.problems}
    assert by_key["Outer"].candidates == ("Outter",)
    deferred = {r.object.key: r.deferred for r in plan.resolutions if r.deferred is not None}
    assert deferred["MyInit"] is not None
    assert "did you mean 'MyInitt'" in deferred["MyInit"].message


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


BROKEN_LAYER = (
    (ROOT / "examples" / "seed_1_custom_layer" / "custom_layer.py")
    .read_text()
    .replace("def call(self, inputs):", "def call(self inputs):")
)


@pytest.mark.parametrize("extension", [".keras", ".h5"])
def test_syntax_error_in_a_from_file_shows_file_line_and_fix(
    zoo: Path, tmp_path: Path, extension: str
) -> None:
    # .keras records module 'custom_layer' (the broken file's name); .h5 records none and the
    # file's text defines the class. Either way the plan says why the source was not read.
    (tmp_path / "custom_layer.py").write_text(BROKEN_LAYER)
    line = BROKEN_LAYER.splitlines().index("    def call(self inputs):") + 1
    result = run_cli(
        "check", str(zoo / f"seed_1{extension}"), "--from", "custom_layer.py", cwd=tmp_path
    )
    assert result.returncode == 4, result.stderr
    assert f"custom_layer.py:{line}: syntax error: invalid syntax" in result.stdout
    assert "def call(self inputs):" in result.stdout
    assert f"fix: fix the syntax error in custom_layer.py:{line}" in result.stdout
    assert "not installed" not in result.stdout and "FILE.py" not in result.stdout
    plan = kerascope.check(zoo / f"seed_1{extension}", sources=[tmp_path / "custom_layer.py"])
    (problem,) = plan.problems
    assert (problem.key, problem.reason) == ("MyCustomLayer", "unreadable-source")


def test_a_broken_source_nothing_needs_is_a_note(zoo: Path, tmp_path: Path) -> None:
    (tmp_path / "custom_layer.py").write_text(
        (ROOT / "examples" / "seed_1_custom_layer" / "custom_layer.py").read_text()
    )
    (tmp_path / "scratch.py").write_text("def broken(:\n")
    plan = kerascope.check(zoo / "seed_1.keras", sources=[tmp_path])
    assert plan.ok
    assert any("scratch.py: syntax error at line 1" in note for note in plan.notes), plan.notes


def test_missing_object_fix_names_the_file_beside_the_model(zoo: Path, tmp_path: Path) -> None:
    model = tmp_path / "my_model.h5"
    model.write_bytes((zoo / "seed_1.h5").read_bytes())
    (tmp_path / "custom_layer.py").write_text(
        (ROOT / "examples" / "seed_1_custom_layer" / "custom_layer.py").read_text()
    )
    result = run_cli("check", "my_model.h5", cwd=tmp_path)
    assert result.returncode == 4
    assert "custom_layer.py:6, beside the model, defines it" in result.stdout
    assert "fix: --from custom_layer.py\n" in result.stdout
    followed = run_cli("check", "my_model.h5", "--from", "custom_layer.py", cwd=tmp_path)
    assert followed.returncode == 0, followed.stdout
