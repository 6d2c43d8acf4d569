"""The models of ``tests/fixtures/worker_models.py``, built once per test run, and fresh copies
of their sources for tests that change them."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PYTHON, QUIET_ENV


def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding pkg.keras, blocks.keras, inputs.npy and their sources."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / "worker_models"
    with open(base / "worker_models.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            result = subprocess.run(
                [PYTHON, str(FIXTURES / "worker_models.py"), str(folder)],
                env=QUIET_ENV,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert result.returncode == 0, result.stderr[-4000:]
            (folder / "done").write_text("ok")
    return folder


def private_copy(models: Path, into: Path) -> Path:
    """A copy of the models and their sources that a test may change."""
    shutil.copytree(models, into, ignore=shutil.ignore_patterns("done", "__pycache__"))
    return into
