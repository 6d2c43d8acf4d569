"""``kerascope verify MODEL --backend ...``: one fresh process per backend, outputs compared with
the saving backend's, one row each. Runs in the JAX and the PyTorch suites."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends.conftest import HOST, NEUTRAL, failure, python_for
from tests.conftest import QUIET_ENV

pytestmark = pytest.mark.slow


def verify_on(
    folder: Path, model: str, backends: str, *sources: str
) -> subprocess.CompletedProcess[str]:
    """``kerascope verify`` run by this suite's Python, each backend's Python named by env."""
    env = {**QUIET_ENV, "KERAS_BACKEND": HOST}
    for backend in ("tensorflow", "jax", "torch"):
        env[f"KERASCOPE_BACKEND_PYTHON_{backend.upper()}"] = str(python_for(backend))
    arguments = [str(python_for(HOST)), "-m", "kerascope", "verify", model, "--backend", backends]
    for source in sources:
        arguments += ["--from", source]
    return subprocess.run(
        arguments, cwd=folder, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def rows(output: str) -> dict[str, list[str]]:
    table = output.splitlines()[2:-1]
    return {line.split()[0]: line.split() for line in table}


def test_backend_neutral_model_loads_on_every_backend(saved: Callable[[str], Path]) -> None:
    """manifest.keras records its saving backend (tensorflow), the reference; a file without a
    manifest is compared with the active backend's outputs."""
    result = verify_on(saved("tensorflow"), "manifest.keras", "jax,torch", str(NEUTRAL))
    assert result.returncode == 0, failure(result)
    table = rows(result.stdout)
    assert list(table) == ["tensorflow", "jax", "torch"], result.stdout
    assert table["tensorflow"][1:3] == ["(saved)", "yes"], result.stdout
    for backend in ("jax", "torch"):
        assert table[backend][1] == "yes", result.stdout
        assert float(table[backend][2]) <= 1e-5, result.stdout
    assert result.stdout.rstrip().endswith("OK: every installed backend loads it")


def test_a_backend_without_python_is_not_installed_not_failed(
    saved: Callable[[str], Path], tmp_path: Path
) -> None:
    """The suite's own Python has no torch on JAX (and no jax on torch): with no variable naming
    another Python, that backend is reported as not installed, and verify still passes."""
    other = "torch" if HOST == "jax" else "jax"
    env = {**QUIET_ENV, "KERAS_BACKEND": HOST}
    env["KERASCOPE_BACKEND_PYTHON_TENSORFLOW"] = str(python_for("tensorflow"))
    env.pop(f"KERASCOPE_BACKEND_PYTHON_{other.upper()}", None)
    folder = saved("tensorflow")
    result = subprocess.run(
        [
            str(python_for(HOST)),
            "-m",
            "kerascope",
            "verify",
            "manifest.keras",
            "--backend",
            other,
            "--from",
            str(NEUTRAL),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, failure(result)
    assert f"KERASCOPE_BACKEND_PYTHON_{other.upper()}" in rows(result.stdout)[other], result.stdout
    assert rows(result.stdout)[other][1:3] == ["not", "installed"], result.stdout
    assert os.environ.get("KERAS_BACKEND") == HOST
