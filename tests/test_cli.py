"""The command line as a new user meets it: quiet, each problem once, fixes that work when pasted.

Every test runs ``kerascope`` in a fresh process, on models built with real Keras.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import kerascope
from tests.conftest import PYTHON, QUIET_ENV, ROOT, build_once, run_cli_on_terminal

SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")

BUILD = """
import importlib, os, shutil, sys, warnings
warnings.simplefilter("ignore")
import keras
import kerascope
examples, out = sys.argv[1], sys.argv[2]
os.makedirs(out)
for seed in ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer"):
    folder = os.path.join(out, seed)
    shutil.copytree(os.path.join(examples, seed), folder)
    sys.path.insert(0, folder)
    sys.modules.pop("create_model", None)
    model = importlib.import_module("create_model").build()
    for name in ("my_model.keras", "my_model.h5"):
        model.save(os.path.join(folder, name))
    sys.path.remove(folder)
    if seed == "seed_1_custom_layer":  # saved with a manifest, for --strict
        kerascope.save_model(model, os.path.join(folder, "managed.keras"))
        kerascope.save_model(model, os.path.join(folder, "bundled.keras"), bundle=True)

os.makedirs(os.path.join(out, "lambda"))
model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x + 1.0)])
model.save(os.path.join(out, "lambda", "lambda.keras"))

os.makedirs(os.path.join(out, "deep"))
model = keras.Sequential([keras.Input((2,)), *[keras.layers.Dense(2) for _ in range(300)]])
model.save(os.path.join(out, "deep", "deep.keras"))
"""

# What TensorFlow's C++ logging and absl print when they are not held back.
NOISE = re.compile(r"oneDNN|cuda|I0000|E0000|W0000|absl", re.IGNORECASE)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds (with their sources) and a few small models, built once per test run."""
    build = [PYTHON, "-c", BUILD, str(ROOT / "examples")]
    return build_once(tmp_path_factory, "cli-models", build)


def _env(**changes: str) -> dict[str, str]:
    """The environment of a user's shell: no TF_CPP_MIN_LOG_LEVEL, the venv's scripts on PATH."""
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return {**env, **changes}


def _cli(*arguments: str, cwd: Path, script: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m kerascope ...`` (or the ``kerascope`` script) as typed in a shell in ``cwd``."""
    runner = [str(Path(PYTHON).parent / "kerascope")] if script else [PYTHON, "-m", "kerascope"]
    return subprocess.run(
        [*runner, *arguments],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _paste(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _printed_command(stdout: str) -> str:
    commands = [
        line.removeprefix("To load it: ")
        for line in stdout.splitlines()
        if line.startswith("To load it: ")
    ]
    assert len(commands) == 1, stdout
    return commands[0]


# --- no TensorFlow noise ---------------------------------------------------------------------------


@pytest.mark.slow
def test_load_prints_no_tensorflow_noise(built: Path) -> None:
    result = _cli("load", "my_model.keras", "--from", ".", cwd=built / SEEDS[0])
    assert result.returncode == 0, result.stderr
    assert "Loaded Sequential" in result.stdout
    noise = [line for line in (result.stdout + result.stderr).splitlines() if NOISE.search(line)]
    assert noise == []
    assert result.stderr == ""


@pytest.mark.slow
def test_failing_load_shows_what_native_code_wrote(built: Path, tmp_path: Path) -> None:
    shutil.copy(built / SEEDS[0] / "my_model.keras", tmp_path)
    (tmp_path / "custom_layer.py").write_text(
        "import os\n"
        "import keras\n\n\n"
        "class MyCustomLayer(keras.layers.Layer):\n"
        "    def __init__(self, units=32, **kwargs):\n"
        "        os.write(2, b'native-marker: written to fd 2 while loading\\n')\n"
        "        raise ValueError('this layer cannot be built')\n"
    )
    result = _cli("load", "my_model.keras", "--from", ".", cwd=tmp_path)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "native-marker: written to fd 2 while loading" in result.stderr
    assert "this layer cannot be built" in result.stderr


# --- each problem once -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["my_model.keras", "my_model.h5"])
def test_load_prints_each_problem_once(built: Path, tmp_path: Path, name: str) -> None:
    shutil.copy(built / SEEDS[1] / name, tmp_path)  # two missing functions, no sources
    result = _cli("load", name, cwd=tmp_path)
    assert result.returncode == 4
    output = result.stdout + result.stderr
    for key in ("my_custom_loss", "my_custom_activation"):
        assert output.count(f"- '{key}' (") == 1, output


# --- fixes in the syntax of where they are shown ---------------------------------------------------


@pytest.mark.slow
def test_fixes_are_options_on_the_command_line_and_arguments_in_python(built: Path) -> None:
    folder = built / "lambda"
    result = _cli("check", "lambda.keras", cwd=folder)
    assert result.returncode == 4
    assert "fix: --unsafe" in result.stdout
    assert "safe_mode=" not in result.stdout and "allow=" not in result.stdout

    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        kerascope.load_model(folder / "lambda.keras")
    assert "fix: safe_mode=False" in str(caught.value)
    assert "--unsafe" not in str(caught.value)

    result = _cli("check", "my_model.keras", cwd=built / SEEDS[0])
    assert result.returncode == 4
    assert "fix: --trust custom_layer" in result.stdout
    assert "trust=" not in result.stdout
    with pytest.raises(kerascope.UnresolvedObjectsError) as caught:
        kerascope.load_model(built / SEEDS[0] / "my_model.keras")
    assert "fix: sources=[" in str(caught.value) or "fix: trust=[" in str(caught.value)
    assert "--" not in str(caught.value)


def test_a_command_is_offered_only_for_fixes_that_are_options(tmp_path: Path) -> None:
    from kerascope._cli.commands import subcommand
    from kerascope._cli.options import load_command
    from kerascope.errors import Problem

    load = subcommand("load")
    (tmp_path / "layers.py").write_text("")

    def command(*fixes: str) -> str | None:
        problems = [
            Problem(f"k{i}", "layer", (), "missing", "x", fix) for i, fix in enumerate(fixes)
        ]
        given = load.parse_args(["m.keras", "--from", ".", "--compile", "yes"])
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            return load_command("m.keras", given, problems, load)
        finally:
            os.chdir(cwd)

    assert command("--trust keras-tcn", "--from layers.py", "--compile no (then compile)") == (
        "kerascope load m.keras --from . --from layers.py --trust keras-tcn --compile no"
    )
    assert command("--unsafe (only if you trust this file)") == (
        "kerascope load m.keras --from . --unsafe --compile yes"
    )
    assert command("--trust keras-tcn", "--from FILE.py (the file that defines it)") is None
    assert command("--trust keras-tcn", "fix the syntax error in layers.py:7") is None
    assert command("--trust") is None
    assert command("--compile sometimes") is None


@pytest.mark.slow
@pytest.mark.parametrize("script", [True, False], ids=["kerascope", "python-m"])
@pytest.mark.parametrize("name", ["my_model.keras", "my_model.h5"])
@pytest.mark.parametrize("seed", SEEDS)
def test_printed_fix_loads_the_seed_when_pasted(
    built: Path, seed: str, name: str, script: bool
) -> None:
    """``kerascope load my_model.keras`` in the seed's folder, missing its --from.

    Run as the ``kerascope`` script and as ``python -m kerascope``, which also puts the working
    directory on ``sys.path``; the printed command repeats the way it was run.
    """
    folder = built / seed
    result = _cli("load", name, cwd=folder, script=script)
    assert result.returncode == 4, result.stdout + result.stderr
    command = _printed_command(result.stdout)
    runner = ["kerascope"] if script else ["python -m kerascope", f"{PYTHON} -m kerascope"]
    assert command.startswith(tuple(f"{start} load " for start in runner)), command
    pasted = _paste(command, folder)
    assert pasted.returncode == 0, command + "\n" + pasted.stdout + pasted.stderr
    assert "Loaded Sequential" in pasted.stdout


@pytest.mark.slow
def test_printed_lambda_fix_works_when_pasted(built: Path) -> None:
    folder = built / "lambda"
    result = _cli("load", "lambda.keras", cwd=folder, script=True)
    assert result.returncode == 4, result.stdout + result.stderr
    command = _printed_command(result.stdout)
    assert command == "kerascope load lambda.keras --unsafe"
    pasted = _paste(command, folder)
    assert pasted.returncode == 0, command + "\n" + pasted.stdout + pasted.stderr
    assert "Loaded Sequential" in pasted.stdout


# --- --strict, verify --compile --------------------------------------------------------------------


def _drifted_seed(built: Path, tmp_path: Path) -> Path:
    """A copy of the first seed whose custom_layer.py changed after managed.keras was saved."""
    folder = tmp_path / "seed"
    shutil.copytree(built / SEEDS[0], folder)
    source = folder / "custom_layer.py"
    source.write_text(source.read_text() + "\n# changed after saving\n")
    return folder


@pytest.mark.slow
def test_strict_turns_manifest_drift_into_a_problem(built: Path, tmp_path: Path) -> None:
    folder = _drifted_seed(built, tmp_path)
    relaxed = _cli("check", "managed.keras", "--from", ".", cwd=folder)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "Note:" in relaxed.stdout and "custom_layer.py" in relaxed.stdout
    strict = _cli("check", "managed.keras", "--from", ".", "--strict", cwd=folder)
    assert strict.returncode == 4, strict.stdout + strict.stderr
    assert "Cannot load: 1 problem" in strict.stdout
    assert "'MyCustomLayer' (source)" in strict.stdout


@pytest.mark.slow
def test_verify_strict_refuses_manifest_drift(built: Path, tmp_path: Path) -> None:
    folder = _drifted_seed(built, tmp_path)
    relaxed = _cli("verify", "managed.keras", "--from", ".", cwd=folder)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "pass" in relaxed.stdout
    assert "custom_layer.py" in relaxed.stderr and "has changed since" in relaxed.stderr
    strict = _cli("verify", "managed.keras", "--from", ".", "--strict", cwd=folder)
    assert strict.returncode == 4, strict.stdout + strict.stderr
    assert "'MyCustomLayer' (source)" in strict.stderr and "has changed since" in strict.stderr


@pytest.mark.slow
def test_verify_honours_compile(built: Path, tmp_path: Path) -> None:
    folder = built / SEEDS[1]
    only_activation = tmp_path / "activation.py"
    only_activation.write_text(
        "import keras\n\n\ndef my_custom_activation(x):\n    return keras.activations.elu(x)\n"
    )
    arguments = ("verify", "my_model.keras", "--from", str(only_activation))
    inference = _cli(*arguments, "--compile", "no", cwd=folder)
    assert inference.returncode == 0, inference.stdout + inference.stderr
    assert "pass" in inference.stdout
    required = _cli(*arguments, "--compile", "yes", cwd=folder)
    assert required.returncode == 4, required.stdout + required.stderr
    assert "my_custom_loss" in required.stderr


# --- exit codes, pipes, progress -------------------------------------------------------------------


def test_help_lists_every_exit_code() -> None:
    from kerascope._cli.exit_codes import EXIT_CODES

    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "--help"], capture_output=True, text=True, check=True
    )
    listed = re.findall(r"^  (\d+) +(.+)$", result.stdout.split("exit codes:")[1], re.M)
    assert [(int(code), text) for code, text in listed] == list(EXIT_CODES)


@pytest.mark.slow
def test_output_into_a_closed_pipe_exits_quietly(built: Path) -> None:
    result = subprocess.run(
        f"{PYTHON} -m kerascope inspect --json deep.keras | head -1; "
        'echo "status=${PIPESTATUS[0]}"',
        shell=True,
        executable="/bin/bash",
        cwd=built / "deep",
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.splitlines() == ["{", "status=141"]
    assert result.stderr == ""


def _big_tree(top: Path, files: int) -> None:
    for number in range(files):
        folder = top / f"pkg_{number // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod_{number}.py").write_text(
            "".join(f"def function_{i}(x):\n    return x + {i}\n\n" for i in range(20))
        )


@pytest.mark.slow
def test_indexing_a_large_directory_reports_progress_on_a_terminal(
    built: Path, tmp_path: Path
) -> None:
    from kerascope._resolving.source_files import MAX_FILES

    tree = tmp_path / "tree"
    tree.mkdir()
    _big_tree(tree, MAX_FILES + 200)
    command = [PYTHON, "-m", "kerascope", "check", "my_model.h5", "--from", str(tree)]
    cwd = built / SEEDS[0]

    code, _, text = run_cli_on_terminal(command, cwd=cwd)
    assert code == 4
    assert "\r\x1b[K" in text  # one line, redrawn in place, erased at the end
    # The walk may end before the line's 0.2 s delay on a quiet machine; reading 5,000 files
    # takes seconds, so at least that phase is drawn.
    walked = r"indexing .*tree: [\d,]+ directories, [\d,]+ \.py files"
    read = r"reading source files: [\d,]+ of [\d,]+"
    assert re.search(f"{walked}|{read}", text), text
    assert f"stopped after {MAX_FILES} files" in text

    piped = subprocess.run(
        command, cwd=cwd, env=QUIET_ENV, capture_output=True, text=True, check=False
    )
    assert piped.returncode == 4
    assert "\r" not in piped.stderr
    assert piped.stderr.count("kerascope: note: source indexing cut short:") == 1
    assert "directories," not in piped.stderr  # no status line
    assert f"stopped after {MAX_FILES} files" in piped.stderr


# --- every key a --json command prints is documented ----------------------------------------------


def _documented_keys(doc: Path) -> set[tuple[str, str]]:
    """``(where, key)`` for each row of the key tables; ``where`` is the section's `path`."""
    documented: set[tuple[str, str]] = set()
    where: str | None = ""  # the tables under the title describe the top level
    for line in doc.read_text().splitlines():
        heading = re.match(r"^## (?:`([^`]+)`)?", line)
        if heading:
            where = heading.group(1)  # None for sections that are not about a part of the document
            continue
        row = re.match(r"^\| `([a-z_0-9]+)` \|", line)
        if row and where is not None:
            documented.add((where, row.group(1)))
    return documented


def _printed_keys(value: object, where: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add((where, key))
            found |= _printed_keys(item, f"{where}.{key}".lstrip("."))
    elif isinstance(value, list):
        for item in value:
            found |= _printed_keys(item, f"{where}[]")
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("doc", "runs"),
    [
        (
            "inspect-json.md",
            [
                ("inspect", f"{SEEDS[0]}/managed.keras"),  # manifest, weights
                ("inspect", f"{SEEDS[0]}/bundled.keras"),  # a bundle
                ("inspect", f"{SEEDS[0]}/my_model.h5"),  # findings
                ("inspect", "lambda/lambda.keras"),
                ("inspect", "op_layers.keras"),  # a Keras 2 TFOpLambda
            ],
        ),
        ("scan-json.md", [("scan", "lambda/lambda.keras"), ("scan", f"{SEEDS[0]}/my_model.h5")]),
        (
            "check-json.md",
            [
                ("check", f"{SEEDS[0]}/my_model.h5"),  # a problem, a compile fix
                ("check", f"{SEEDS[0]}/my_model.keras", "--from", SEEDS[0]),  # resolved
                ("check", "lambda/lambda.keras"),
            ],
        ),
    ],
)
def test_every_key_printed_by_json_is_documented(
    built: Path, doc: str, runs: list[tuple[str, ...]]
) -> None:
    documented = _documented_keys(ROOT / "docs" / doc)
    _write_op_layer_model(built / "op_layers.keras")
    printed: set[tuple[str, str]] = set()
    for run in runs:
        result = _cli(*run, "--json", cwd=built)
        assert result.returncode in (0, 4, 7, 8), result.stderr
        printed |= _printed_keys(json.loads(result.stdout))
    assert printed - documented == set()
    # the runs above reach every documented part of the document
    assert {where for where, _ in documented} == {where for where, _ in printed}


def _write_op_layer_model(path: Path) -> None:
    """A tf-keras ``.keras`` whose only layer after the input is a ``TFOpLambda`` (config only)."""
    op_layer = {
        "module": "tf_keras.src.layers.core.tf_op_layer",
        "class_name": "TFOpLambda",
        "config": {"name": "tf.math.reduce_sum", "dtype": "float32", "function": "math.reduce_sum"},
        "name": "tf.math.reduce_sum",
        "inbound_nodes": [["x", 0, 0, {"axis": -1}]],
    }
    inputs = {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "x"},
        "name": "x",
        "inbound_nodes": [],
    }
    config = {
        "module": "keras",
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [inputs, op_layer],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["tf.math.reduce_sum", 0, 0]],
        },
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "2.21.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")


@pytest.mark.slow
def test_verify_catches_a_module_found_only_through_the_working_directory(built: Path) -> None:
    """``python -m`` finds custom_layer in the working directory; the fresh process does not."""
    result = _cli("verify", "my_model.keras", "--trust", "custom_layer", cwd=built / SEEDS[0])
    assert result.returncode == 10, result.stdout + result.stderr
    assert "FAIL, the fresh process could not load it" in result.stdout
    assert "module 'custom_layer', which is not installed" in result.stdout
    assert "fix: " in result.stdout and "--from" in result.stdout
    assert "sources=" not in result.stdout
