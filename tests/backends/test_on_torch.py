"""The PyTorch suite's own baseline: compiled models saved on torch, loaded back on torch.

Plain ``keras.saving.load_model`` loads them on torch. Keras records the optimizer under its
torch-specific private module (``keras.src.backend.torch.optimizers.torch_adam.Adam``), which
kerascope once refused as a private Keras object; it now builds the public optimizer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.backends.conftest import COMPILED, assert_loaded_within_tolerance

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", COMPILED)
def test_compiled_keras_file_saved_on_torch_loads_back_on_torch(
    loaded: Callable[..., Any], model: str
) -> None:
    """Plain keras.saving.load_model loads these on torch, and so does kerascope."""
    assert_loaded_within_tolerance(loaded("torch", "torch", "keras")["files"][f"{model}.keras"])
