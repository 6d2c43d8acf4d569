"""The shipped table of Keras built-in names matches the installed Keras."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import QUIET_ENV, ROOT

# Every test here starts TensorFlow (builds, saves or loads models): not in `make test-fast`.
pytestmark = pytest.mark.slow


def test_table_is_regenerated_identically() -> None:
    table = ROOT / "src" / "kerascope" / "_data" / "keras_builtins.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_keras_builtins.py"), str(table), "--check"],
        capture_output=True,
        text=True,
        env=QUIET_ENV,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "up to date" in result.stdout
