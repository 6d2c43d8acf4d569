"""SavedModels whose variables are saved in slices over several data shards, and multi-input
SavedModels: read without TensorFlow, and migrated with parity against their signature."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kerascope._reading.checkpoint import open_checkpoint
from kerascope._reading.protowire import WireError
from kerascope._reading.slice_keys import decode_slice_key

from .conftest import PYTHON, QUIET_ENV, ROOT


def test_slice_keys_decode_names_ranks_and_signed_extents() -> None:
    assert decode_slice_key(b"\x00bias\x00\x01\x01\x01\x80\x8d") == ("bias", ((0, 13),))
    two_bytes = b"\x00k\x00\x01\x01\x02\x80\x83\x80\xc0@"  # 64 needs two bytes
    assert decode_slice_key(two_bytes) == ("k", ((0, 3), (0, 64)))
    whole = b"\x00k\x00\x01\x01\x01\x85\x7f"  # length -1: the whole dimension
    assert decode_slice_key(whole) == ("k", ((5, -1),))
    escaped = b"\x00a\x00\xffb\xff\x00c\x00\x01\x00"  # rank 0; name "a\x00b\xffc" is not UTF-8
    with pytest.raises(WireError):
        decode_slice_key(escaped)
    assert decode_slice_key(b"\x00a\x00\xffb\x00\x01\x00") == ("a\x00b", ())


@pytest.mark.parametrize(
    "key",
    [
        b"bias",  # no prefix
        b"\x00bias",  # unterminated name
        b"\x00bias\x00\x01",  # no rank
        b"\x00bias\x00\x01\x01\x01\x80",  # one extent number missing
        b"\x00bias\x00\x01\x01\x01\x80\x8d\x00",  # bytes left over
        b"\x00bias\x00\x01\x01\x01\xff\xff\x80",  # an extent longer than 7 bytes
        b"\x00bias\x00\x01\x01\x50",  # a rank of absurd length
        b"\x00b\x00\x07",  # a bad escape
    ],
)
def test_malformed_slice_keys_are_wire_errors(key: bytes) -> None:
    with pytest.raises(WireError):
        decode_slice_key(key)


@given(st.binary(max_size=64))
def test_the_slice_key_decoder_raises_only_wire_errors(data: bytes) -> None:
    try:
        name, extents = decode_slice_key(b"\x00" + data)
    except WireError:
        return
    assert isinstance(name, str) and all(len(extent) == 2 for extent in extents)


_BUILD = """
import sys
import tensorflow as tf
import tf_keras as keras

a = keras.Input((6,), name="a")
b = keras.Input((3,), name="b")
x = keras.layers.Concatenate()([keras.layers.Dense(64, name="wide")(a), b])
x = keras.layers.Dense(32, activation="relu", name="hidden")(x)
model = keras.Model([a, b], keras.layers.Dense(2, name="out")(x))
model.compile("adam", "mse")
policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=800)
options = tf.saved_model.SaveOptions(experimental_sharding_callback=policy)
model.save(sys.argv[1], save_format="tf", options=options)
"""

_TENSORFLOW_READS = """
import json, sys
import numpy as np
import tensorflow as tf
reader = tf.train.load_checkpoint(sys.argv[1] + "/variables/variables")
keys = [k for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
np.savez(sys.argv[2], **{str(i): reader.get_tensor(k) for i, k in enumerate(keys)})
print(json.dumps(keys))
"""


@pytest.fixture(scope="module")
def sliced_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tf_keras")
    directory = tmp_path_factory.mktemp("sliced") / "model_savedmodel"
    subprocess.run(
        [PYTHON, "-c", _BUILD, str(directory)],
        env={**QUIET_ENV, "TF_USE_LEGACY_KERAS": "1"}, check=True, capture_output=True,
    )  # fmt: skip
    return directory


@pytest.mark.slow
def test_sliced_variables_read_as_tensorflow_reads_them(
    sliced_savedmodel: Path, tmp_path: Path
) -> None:
    import numpy as np

    shards = list((sliced_savedmodel / "variables").glob("variables.data-*"))
    assert len(shards) > 1
    checkpoint = open_checkpoint(str(sliced_savedmodel))
    assert checkpoint.slices  # the wide kernels are saved in slices
    out = tmp_path / "expected.npz"
    result = subprocess.run(
        [PYTHON, "-c", _TENSORFLOW_READS, str(sliced_savedmodel), str(out)],
        env=QUIET_ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    keys = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(checkpoint.slices) <= set(keys)
    with np.load(out) as expected:
        for i, key in enumerate(keys):
            assert np.array_equal(checkpoint.read_array(key), expected[str(i)]), key


@pytest.mark.slow
def test_a_sliced_multi_input_savedmodel_migrates_with_parity(
    sliced_savedmodel: Path, tmp_path: Path
) -> None:
    target = tmp_path / "new.keras"
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "migrate", str(sliced_savedmodel), str(target)],
        env={**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("parity against"))
    assert "serving_default signature" in line
    assert float(line.rsplit(" ", 1)[1]) <= 1e-5, line
    assert target.is_file()


@pytest.mark.slow
def test_a_truncated_shard_is_a_bad_file_not_a_keras_failure(
    sliced_savedmodel: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "damaged_savedmodel"
    shutil.copytree(sliced_savedmodel, copy)
    shard = max((copy / "variables").glob("variables.data-*"), key=lambda p: p.stat().st_size)
    shard.write_bytes(shard.read_bytes()[:10])
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "load", str(copy)],
        env={**QUIET_ENV, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]  # a bad file
    assert "truncated" in result.stderr and "Keras failed" not in result.stderr
    assert "Traceback" not in result.stderr
