"""Every fix is written in the syntax of where it is shown: the command line's options in
``kerascope inspect`` and ``kerascope check`` (``--from``, ``--trust``, ``--unsafe``,
``--compile``), Python arguments in the Python API's messages (``sources=[...]``,
``trust=[...]``, ``safe_mode=False``, ``compile=...``, ``custom_objects={...}``).

One folder per kind of problem, each with a model of the zoo (``tests/fixtures/build_models.py``)
and what sits beside it; the CLI runs in fresh processes, the Python API in one fresh process.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli, run_python

pytestmark = pytest.mark.slow  # builds the zoo and loads models with Keras

# A keyword argument of kerascope's Python API, as a fix would write it.
PYTHON_SYNTAX = re.compile(
    r"\b(?:sources|trust|safe_mode|allow|compile|custom_objects|strict)\s*=\s*[\[{'\"(TF]"
)

# folder: (zoo model, files beside it, a fix the CLI shows, the same fix in Python)
CASES = {
    "missing": ("seed_1.keras", (), "--from custom_layer.py", "sources=['custom_layer.py']"),
    "untrusted": ("seed_1.keras", ("custom_layer.py",), "--trust custom_layer", "trust=["),
    "main": ("main_class.keras", (), "--from FILE.py", "sources=['FILE.py']"),
    "lambda": ("lambdas.keras", (), "--unsafe", "safe_mode=False"),
    "training": ("training.keras", (), "--compile yes", "compile=True"),
}

# Every model tests/fixtures/build_models.py builds, in both formats.
ZOO_FILES = sorted(
    f"{name}{suffix}"
    for name in (
        "seed_1",
        "seed_2",
        "seed_3",
        "nested",
        "shared",
        "subclassed",
        "training",
        "lambdas",
        "main_class",
        "wrappers",
        "shadow",
    )
    for suffix in (".keras", ".h5")
)

# zoo model: (a fix `kerascope inspect` shows, the same fix in Python)
FINDINGS = {
    "main_class.keras": ("--from FILE.py", "custom_objects={"),
    "shadow.h5": ("--from FILE.py", "custom_objects={"),
    "seed_1.h5": ("--compile no", "compile=False"),
}

# In a fresh process, in each case's folder: the message of kerascope.load_model's error (or
# the plan's notes, when it loads), and the fixes of the findings of kerascope.inspect.
PYTHON_SIDE = """
import json, os, sys, warnings
warnings.simplefilter("ignore")
import kerascope
root, zoo, cases, files = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:]
out = {"load": {}, "findings": {}}
for case, model in cases.items():
    os.chdir(os.path.join(root, case))
    try:
        kerascope.load_model(model)
        out["load"][case] = "\\n".join(kerascope.check(model).notes)
    except kerascope.UnresolvedObjectsError as error:
        out["load"][case] = str(error)
for name in files:
    found = kerascope.inspect(os.path.join(zoo, name)).findings
    out["findings"][name] = [finding.fix_for("python") for finding in found]
print(json.dumps(out))
"""


def python_fixes(report: str) -> list[str]:
    """The lines of a CLI report that say what to do (fixes, notes, the command to run) and
    write it as Python arguments."""
    said = ("fix:", "Note:", "To load it:")
    lines = [line for line in report.splitlines() if line.strip().startswith(said)]
    return [line for line in lines if PYTHON_SYNTAX.search(line)]


@pytest.fixture(scope="module")
def cases(zoo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fix-syntax")
    for case, (model, beside, _, _) in CASES.items():
        (root / case).mkdir()
        shutil.copy(zoo / model, root / case / model)
        for name in beside:
            shutil.copy(ROOT / "examples" / "seed_1_custom_layer" / name, root / case / name)
    return root


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_shows_each_fix_as_an_option(cases: Path, case: str) -> None:
    model, _, option, _ = CASES[case]
    result = run_cli("check", model, cwd=cases / case)
    assert option in result.stdout, result.stdout + result.stderr
    assert not python_fixes(result.stdout), result.stdout


@pytest.mark.parametrize(
    "model",
    [
        *ZOO_FILES,
    ],
)
def test_inspect_shows_no_python_arguments(zoo: Path, model: str) -> None:
    result = run_cli("inspect", model, cwd=zoo)
    assert result.returncode == 0, result.stderr
    assert not python_fixes(result.stdout), f"{model}:\n{result.stdout}"
    if model in FINDINGS:
        assert FINDINGS[model][0] in result.stdout, f"{model}:\n{result.stdout}"


def test_the_python_api_keeps_the_python_form(cases: Path, zoo: Path) -> None:
    models = {case: model for case, (model, *_) in CASES.items()}
    output = run_python(PYTHON_SIDE, str(cases), str(zoo), json.dumps(models), *FINDINGS)
    found = json.loads(output.splitlines()[-1])
    for case, (_, _, option, python_form) in CASES.items():
        message = found["load"][case]
        assert python_form in message, f"{case}:\n{message}"
        assert option not in message, f"{case}:\n{message}"
    for model, (option, python_form) in FINDINGS.items():
        fixes = " | ".join(found["findings"][model])
        assert python_form in fixes and option not in fixes, f"{model}: {fixes}"
