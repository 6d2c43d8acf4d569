"""The cross-backend suite: models saved on one Keras backend, loaded in a fresh process on another.

Each backend has its own environment, made by the Makefile: ``.venv`` (TensorFlow),
``.venv-jax`` and ``.venv-torch`` (no TensorFlow in either). The suite runs from the JAX or the
PyTorch environment, with KERAS_BACKEND set by ``make test-jax`` / ``make test-torch``, and
takes the directions that involve that backend (``DIRECTIONS``). From the TensorFlow
environment (the first half of ``make test``) it collects nothing: the other suites cover TF.

Models are built once per backend and run (shared by the xdist workers), and each
(saving backend, loading backend, format) is loaded by one fresh process that records every file's
outcome; the tests read those records. A backend whose environment is absent is skipped, with
the make target that creates it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUIET_ENV, ROOT

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
NEUTRAL = FIXTURES / "neutral.py"
HOST = os.environ.get("KERAS_BACKEND", "tensorflow")
ENVIRONMENTS = {"tensorflow": ".venv", "jax": ".venv-jax", "torch": ".venv-torch"}
CREATED_BY = {
    "tensorflow": "any make target, e.g. `make test`",
    "jax": "`make test-jax`",
    "torch": "`make test-torch`",
}
# (saving backend, loading backend) pairs each suite owns.
DIRECTIONS = {
    "jax": [("tensorflow", "jax"), ("jax", "tensorflow")],
    "torch": [("tensorflow", "torch"), ("torch", "tensorflow"), ("jax", "torch"), ("torch", "jax")],
}.get(HOST, [])
TIMEOUT = 600
TOLERANCE = 1e-5
COMPILED = ("registered", "plain", "subclassed", "manifest")


collect_ignore = ["fixtures"]
if HOST not in ("jax", "torch"):
    collect_ignore_glob = ["test_*.py"]
else:  # test_on_jax.py runs in the JAX suite only, test_on_torch.py in the PyTorch one
    collect_ignore_glob = [f"test_on_{other}.py" for other in ("jax", "torch") if other != HOST]


def python_for(backend: str) -> Path:
    """The Python of ``backend``'s environment, or skip the test when it is absent."""
    venv = ROOT / ENVIRONMENTS[backend]
    if not (venv / ".installed").exists():
        pytest.skip(
            f"{backend} environment absent: {venv.name}/ is missing or incomplete "
            f"({CREATED_BY[backend]} creates it)"
        )
    return venv / "bin" / "python"


def run_on(
    backend: str, arguments: list[str], cwd: Path, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``arguments`` with ``backend``'s Python, KERAS_BACKEND set, in a fresh process."""
    return subprocess.run(
        [str(python_for(backend)), *arguments],
        cwd=cwd,
        env={**QUIET_ENV, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def failure(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"


@contextlib.contextmanager
def locked(base: Path, name: str) -> Iterator[Path]:
    """``base/name``, held under a lock shared by every xdist worker of this run."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield base / name


@pytest.fixture(scope="session")
def shared_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "backends"


@pytest.fixture(scope="session")
def saved(shared_base: Path) -> Callable[[str], Path]:
    """``saved(backend)``: the folder with the neutral models built and saved on ``backend``."""

    def get(backend: str) -> Path:
        python_for(backend)
        with locked(shared_base, f"saved-{backend}") as folder:
            if not (folder / "built.json").exists():
                folder.mkdir(exist_ok=True)
                result = run_on(backend, [str(FIXTURES / "build.py"), str(folder)], cwd=folder)
                assert result.returncode == 0, failure(result)
        return folder

    return get


@pytest.fixture(scope="session")
def loaded(shared_base: Path, saved: Callable[[str], Path]) -> Callable[[str, str, str], Any]:
    """``loaded(source, target, ext)``: what one fresh ``target`` process made of ``source``'s
    ``*.ext`` files (see fixtures/load.py)."""

    def get(source: str, target: str, ext: str) -> Any:
        folder = saved(source)
        python_for(target)
        with locked(shared_base, f"loaded-{source}-{target}-{ext}.json") as record:
            if not record.exists():
                cwd = shared_base / f"cwd-{source}-{target}-{ext}"
                cwd.mkdir(exist_ok=True)
                arguments = [str(FIXTURES / "load.py"), str(folder), ext, str(NEUTRAL)]
                result = run_on(target, arguments, cwd=cwd)
                assert result.returncode == 0, failure(result)
                record.write_text(result.stdout.strip().splitlines()[-1])
            return json.loads(record.read_text())

    return get


def assert_loaded_within_tolerance(outcome: dict[str, Any]) -> None:
    assert "error" not in outcome, outcome["error"]
    assert outcome["shape"] == [4, 1]
    assert outcome["max_diff"] <= TOLERANCE, outcome
