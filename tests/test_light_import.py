"""Reading a .keras file imports neither Keras, TensorFlow, h5py nor numpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("keras", "tensorflow", "h5py", "numpy", "jax", "torch", "rich")


def _loaded_after(code: str) -> list[str]:
    probe = code + f"\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return result.stdout.split()


def test_import_kerascope_is_light() -> None:
    assert _loaded_after("import kerascope") == []


@pytest.mark.slow
def test_inspect_keras_file_is_light(zoo: Path) -> None:
    path = str(zoo / "wrappers.keras")
    code = f"import kerascope\nassert kerascope.inspect({path!r}).custom_objects"
    assert _loaded_after(code) == []


@pytest.mark.slow
def test_cli_inspect_is_light(zoo: Path) -> None:
    path = str(zoo / "training.keras")
    code = (
        "import contextlib, io\nfrom kerascope._cli.commands import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['inspect', {path!r}]) == 0"
    )
    assert _loaded_after(code) == []


@pytest.mark.slow
def test_inspect_and_scan_of_h5_read_hdf5_in_a_child_process(zoo: Path) -> None:
    code = (
        f"import kerascope\nassert kerascope.inspect({str(zoo / 'seed_2.h5')!r}).custom_objects\n"
        f"kerascope.scan({str(zoo / 'seed_2.h5')!r})\nkerascope.scan({str(zoo / 'seed_2.keras')!r})"
    )
    assert _loaded_after(code) == []
