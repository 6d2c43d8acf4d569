"""The variable estimates of kerascope._audit.allocation against what real Keras creates.

Each model is built by Keras 3.15; its config is estimated without Keras, and each estimated
layer must have exactly ``layer.count_params()`` elements, at the path where ``model.save``
stores its variables. Then the config-only bombs: refused by scan, before Keras allocates.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import kerascope
from kerascope._audit.allocation import estimate_variables
from kerascope._audit.scan_allocation import estimate_findings

pytestmark = pytest.mark.slow


def _models() -> dict[str, Any]:
    import keras
    from keras import layers

    def functional() -> Any:
        tokens = keras.Input((12,), dtype="int32")
        image = keras.Input((16, 16, 3))
        embedded = layers.Embedding(50, 8)(tokens)
        attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(embedded, embedded)
        recurrent = layers.Bidirectional(layers.LSTM(5))(attended)
        convolved = layers.Conv2D(6, 3, padding="same")(image)
        convolved = layers.BatchNormalization()(convolved)
        convolved = layers.SeparableConv2D(4, 3, padding="same")(convolved)
        convolved = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(convolved)
        pooled = layers.GlobalAveragePooling2D()(convolved)
        merged = layers.Concatenate()([recurrent, pooled])
        output = layers.Dense(3)(layers.LayerNormalization()(merged))
        return keras.Model([tokens, image], output)

    return {
        "sequential": keras.Sequential(
            [
                keras.Input((10,)),
                layers.Dense(7),
                layers.Dropout(0.1),
                layers.Dense(4, use_bias=False),
                layers.Reshape((2, 2)),
                layers.GRU(3, return_sequences=True),
                layers.SimpleRNN(2),
                layers.Dense(1),
            ]
        ),
        "convolutions": keras.Sequential(
            [
                keras.Input((8, 8, 8, 2)),
                layers.Conv3D(3, 2, padding="same"),
                layers.Conv3DTranspose(2, 2),
                layers.Reshape((9 * 9 * 9, 2)),
                layers.Conv1D(4, 3, groups=2),
                layers.Conv1DTranspose(2, 3),
                layers.Flatten(),
                layers.Dense(2),
            ]
        ),
        "functional": functional(),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, int]]]:
    """Each model saved as .keras, with the parameter count of each of its layers by name."""
    folder = tmp_path_factory.mktemp("allocation")
    result = {}
    for name, model in _models().items():
        path = folder / f"{name}.keras"
        model.save(path)
        result[name] = (path, {layer.name: layer.count_params() for layer in model.layers})
    return result


@pytest.mark.parametrize("name", ["sequential", "convolutions", "functional"])
def test_estimates_match_keras_exactly(
    name: str, saved: dict[str, tuple[Path, dict[str, int]]]
) -> None:
    path, counts = saved[name]
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    estimates = estimate_variables(config)
    assert estimates, config
    for estimate in estimates:
        assert estimate.exact, estimate
        assert estimate.elements == counts[estimate.name], estimate
    expected = {layer for layer, count in counts.items() if count}
    assert {estimate.name for estimate in estimates} == expected


@pytest.mark.parametrize("name", ["sequential", "convolutions", "functional"])
def test_estimates_name_the_paths_keras_stores(
    name: str, saved: dict[str, tuple[Path, dict[str, int]]]
) -> None:
    """Stored shapes under each estimated path add up to the estimate: no mismatch found."""
    import h5py

    path, _ = saved[name]
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = path.with_suffix(".weights.h5")
        weights.write_bytes(archive.read("model.weights.h5"))
    stored: dict[str, tuple[int, ...]] = {}
    with h5py.File(weights, "r") as handle:
        handle.visititems(
            lambda key, item: (
                stored.__setitem__(f"/{key}", item.shape)
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    for estimate in estimate_variables(config):
        prefix = f"/{estimate.keras_path}/"
        kept = sum(
            int(__import__("math").prod(shape))
            for key, shape in stored.items()
            if key.startswith(prefix)
        )
        assert kept >= estimate.elements, (estimate, sorted(stored))
    assert estimate_findings(estimate_variables(config), stored, "keras") == []
    assert [f for f in kerascope.scan(path).findings if f.severity != "info"] == []


def test_dense_bomb_is_refused_from_the_config_alone() -> None:
    source = {"class_name": "InputLayer", "config": {"batch_shape": [None, 2**20]}}
    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 2**20}}
    config = {"class_name": "Sequential", "config": {"layers": [source, dense]}}
    [estimate] = estimate_variables(config)
    assert estimate.bytes == 4 * (2**40 + 2**20)
    findings = estimate_findings([estimate], None, "keras", budget=2**34)
    assert [(f.severity, f.code, f.json_path) for f in findings] == [
        ("high", "allocation-bomb", "$.config.layers[1]")
    ]


def test_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kerascope._common.budget import memory_budget

    monkeypatch.setenv("KERASCOPE_MEMORY_BUDGET", "3M")
    assert memory_budget() == 3 * 2**20
    monkeypatch.setenv("KERASCOPE_MEMORY_BUDGET", "nonsense")
    assert memory_budget() > 2**20  # an unreadable setting is the default, never "no limit"
