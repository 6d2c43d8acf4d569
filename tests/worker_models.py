"""The models of ``tests/fixtures/worker_models.py``, built once per test run, and fresh copies
of their sources for tests that change them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, PYTHON, build_once


def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding pkg.keras, blocks.keras, inputs.npy and their sources."""
    build = [PYTHON, str(FIXTURES / "worker_models.py")]
    return build_once(tmp_path_factory, "worker_models", build, timeout=600)


def private_copy(models: Path, into: Path) -> Path:
    """A copy of the models and their sources that a test may change."""
    shutil.copytree(models, into, ignore=shutil.ignore_patterns("done", "__pycache__"))
    return into
