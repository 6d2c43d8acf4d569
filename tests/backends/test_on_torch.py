"""The PyTorch suite's own baseline: compiled models saved on torch, loaded back on torch.

Plain ``keras.saving.load_model`` loads them on torch. kerascope refuses them, on torch as on
the other backends, because Keras records the optimizer under its torch-specific private module
(``keras.src.backend.torch.optimizers.torch_adam.Adam``): xfail until issue 11 is done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.backends.conftest import COMPILED, TORCH_OPTIMIZER, assert_loaded_within_tolerance

pytestmark = pytest.mark.slow


@TORCH_OPTIMIZER
@pytest.mark.parametrize("model", COMPILED)
def test_compiled_keras_file_saved_on_torch_loads_back_on_torch(
    loaded: Callable[..., Any], model: str
) -> None:
    """Plain keras.saving.load_model loads these on torch; kerascope refuses them (measured)."""
    assert_loaded_within_tolerance(loaded("torch", "torch", "keras")["files"][f"{model}.keras"])
