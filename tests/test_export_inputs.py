"""The inputs an export is checked on, without Keras: what generation refuses, how a sample
is matched to the inputs, how outputs are flattened."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerascope._keras.export_inputs import _generated, _read_sample, flatten_outputs
from kerascope.errors import ExportError


def test_a_string_input_cannot_be_generated() -> None:
    with pytest.raises(ExportError, match="string input") as caught:
        _generated(["text"], [((None, 1), "string")], "out")
    assert caught.value.exit_code == 10


def test_an_unknown_size_other_than_the_batch_cannot_be_generated() -> None:
    with pytest.raises(ExportError, match=r"dimension 2 is unknown.*--sample"):
        _generated(["x"], [((None, 3, None), "float32")], "out")


def test_generated_inputs_are_fixed_by_the_seed() -> None:
    specs: list[tuple[tuple[int | None, ...], str]] = [((None, 3), "float32"), ((None,), "int32")]
    first, second = _generated(["a", "b"], specs, "out"), _generated(["a", "b"], specs, "out")
    assert first[0].shape == (4, 3) and first[0].dtype == np.float32
    assert first[1].tolist() == [0, 0, 0, 0]
    np.testing.assert_array_equal(first[0], second[0])


def test_an_npz_sample_is_matched_by_input_name_or_order(tmp_path: Path) -> None:
    a, b = np.ones((2, 3), "float32"), np.zeros((2, 4), "float32")
    np.savez(tmp_path / "named.npz", b=b, a=a)
    np.savez(tmp_path / "ordered.npz", a, b)
    for name in ("named.npz", "ordered.npz"):
        got = _read_sample(str(tmp_path / name), ["a", "b"], "out")
        assert [x.shape for x in got] == [(2, 3), (2, 4)]
    with pytest.raises(ExportError, match="the model's inputs are a, b"):
        np.savez(tmp_path / "wrong.npz", c=a, d=b)
        _read_sample(str(tmp_path / "wrong.npz"), ["a", "b"], "out")
    with pytest.raises(ExportError, match="one array per input"):
        np.save(tmp_path / "one.npy", a)
        _read_sample(str(tmp_path / "one.npy"), ["a", "b"], "out")


def test_outputs_flatten_as_tensorflow_flattens_them() -> None:
    assert flatten_outputs({"z": 1, "y": [2, 3]}) == [2, 3, 1]
    assert flatten_outputs(5) == [5]


def test_export_refuses_a_missing_directory_or_sample_before_loading(tmp_path: Path) -> None:
    import kerascope

    with pytest.raises(ExportError, match="its directory does not exist"):
        kerascope.export("missing.keras", tmp_path / "nowhere" / "served")
    with pytest.raises(ExportError, match="is not a file"):
        kerascope.export("missing.keras", tmp_path / "served", sample=tmp_path / "x.npy")
    with pytest.raises(ExportError, match="unknown format"):
        kerascope.export("missing.keras", tmp_path / "served", format="tflite")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
