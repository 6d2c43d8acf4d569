"""Fuzzing the readers: whatever the bytes, inspect and scan give a result or a ModelFileError,
never another exception, never a hang. `make fuzz` runs these with many more examples."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import h5py
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kerascope
from kerascope._cli.render import render_inspection, render_scan
from tests.conftest import ROOT

NAMES = st.sampled_from(
    [
        "class_name",
        "config",
        "module",
        "registered_name",
        "layers",
        "activation",
        "loss",
        "metrics",
        "compile_config",
        "function",
        "kernel_initializer",
        "optimizer",
        "learning_rate",
        "inbound_nodes",
        "shared_object_id",
        "__lambda__",
        "Lambda",
        "vocabulary",
        "units",
        "batch_shape",
        "StringLookup",
        "TFSMLayer",
        "filepath",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), NAMES, st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(NAMES, st.text(max_size=5)), children, max_size=5),
    ),
    max_leaves=40,
)
MODEL = st.fixed_dictionaries(
    {
        "class_name": st.one_of(NAMES, st.text(max_size=10)),
        "config": st.dictionaries(NAMES, JSON, max_size=5),
    },
    optional={
        "module": st.one_of(st.none(), NAMES),
        "compile_config": JSON,
        "registered_name": SCALARS,
    },
)
MUTATIONS = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8)


def _read_both(path: Path) -> None:
    try:
        result = kerascope.inspect(path)
    except kerascope.ModelFileError:
        pass
    else:
        json.dumps(result.to_dict())
        render_inspection(result)
    report = kerascope.scan(path)  # never raises for an existing file
    json.dumps(report.to_dict())
    render_scan(report)


@given(config=st.one_of(MODEL, JSON))
def test_any_json_config(tmp_path: Path, config: Any) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    path = tmp_path / "fuzz.keras"
    path.write_bytes(buffer.getvalue())
    _read_both(path)


@pytest.fixture(scope="module")
def real_keras(zoo: Path) -> bytes:
    return (zoo / "training.keras").read_bytes()


# Each example may audit the weights in a child process: fewer examples than the JSON fuzzer.
@pytest.mark.slow
@settings(max_examples=1500 if os.environ.get("KERASCOPE_FUZZ") == "long" else 100)
@given(mutations=MUTATIONS, cut=st.integers(min_value=0, max_value=100_000))
def test_mutated_keras_archive(
    tmp_path: Path, real_keras: bytes, mutations: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(real_keras[: max(1, len(real_keras) - cut)] if cut % 3 == 0 else real_keras)
    for position, value in mutations:
        data[position % len(data)] = value
    path = tmp_path / "mutated.keras"
    path.write_bytes(bytes(data))
    _read_both(path)


ATTRIBUTE_VALUES = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    JSON.map(json.dumps),
    MODEL.map(json.dumps),
)


# Each example reads the file in child processes (HDF5 runs isolated): fewer examples.
@settings(max_examples={"long": 1000, "quick": 5}.get(os.environ.get("KERASCOPE_FUZZ", ""), 25))
@given(
    attributes=st.dictionaries(
        st.sampled_from(
            ["model_config", "training_config", "keras_version", "backend", "layer_names"]
        ),
        ATTRIBUTE_VALUES,
        max_size=4,
    )
)
def test_any_h5_attributes(tmp_path: Path, attributes: dict[str, Any]) -> None:
    path = tmp_path / "fuzz.h5"
    with h5py.File(path, "w") as handle:
        for name, value in attributes.items():
            try:
                handle.attrs[name] = value
            except (ValueError, TypeError):  # h5py cannot store it (NUL in a string ...)
                assume(False)
    _read_both(path)


MUTATE_H5 = """
import json, random, sys
import kerascope
source, out, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(source, "rb").read()
rng = random.Random(seed)
outcomes = {"read": 0, "bad file": 0}
for _ in range(count):
    mutated = bytearray(data[: rng.randrange(1, len(data) + 1)] if rng.random() < 0.3 else data)
    for _ in range(rng.randrange(1, 9)):
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    open(out, "wb").write(bytes(mutated))
    try:
        kerascope.inspect(out)
        outcomes["read"] += 1
    except kerascope.ModelFileError:
        outcomes["bad file"] += 1
    kerascope.scan(out)
print(json.dumps(outcomes))
"""


@pytest.mark.slow
def test_mutated_h5_files_in_a_child_process(zoo: Path, tmp_path: Path) -> None:
    # HDF5 is C code: a crash would kill pytest itself, so the loop runs in a child process.
    count = 1500 if os.environ.get("KERASCOPE_FUZZ") == "long" else 40
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            MUTATE_H5,
            str(zoo / "training.h5"),
            str(tmp_path / "m.h5"),
            "7",
            str(count),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={**os.environ, "KERASCOPE_HDF5_TIMEOUT": "5"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    assert outcomes["read"] + outcomes["bad file"] == count


def test_hdf5_file_that_hangs_the_library_is_refused_in_bounded_time(tmp_path: Path) -> None:
    # Found by test_mutated_h5_files_in_a_child_process (seed 7, case 455): h5py 3.14 never
    # returns from reading a root attribute of this file.
    hanging = ROOT / "tests" / "fixtures" / "hostile" / "hdf5_hang.h5"
    code = (
        "import sys, time, kerascope\n"
        "started = time.perf_counter()\n"
        "try:\n    kerascope.inspect(sys.argv[1])\nexcept kerascope.ModelFileError as error:\n"
        "    print('refused:', error)\n"
        "report = kerascope.scan(sys.argv[1])\n"
        "print('scan:', report.highest, round(time.perf_counter() - started))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(hanging)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KERASCOPE_HDF5_TIMEOUT": "3"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "did not finish reading the file in 3 s" in result.stdout
    assert "scan: high" in result.stdout


# --- .npz weights and the directory form (issue 9) ----------------------------------------------

NPY_HEADERS = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda descr, shape, extra: (
            f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, {extra}}}"
        ).encode("latin-1", errors="replace"),
        st.one_of(
            st.sampled_from(["<f4", "|O", "<U5", "|b1", "<M8[ns]", "V8", "<c16", "bogus"]),
            st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["<f4", "|O"]))),
            st.text(max_size=6),
        ),
        st.one_of(
            st.tuples(),
            st.tuples(st.integers(-5, 2**64)),
            st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)),
            st.text(max_size=5),
        ),
        st.sampled_from(["", "'x': [1, (2, {'y': None})], ", "(((((", "'''", "1e5"]),
    ),
)


def _npy_bytes(header: bytes, version: int, payload: bytes) -> bytes:
    length = len(header).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + length + header + payload


@given(header=NPY_HEADERS, version=st.sampled_from([1, 2, 3, 9]), payload=st.binary(max_size=16))
def test_any_npy_header(header: bytes, version: int, payload: bytes) -> None:
    from kerascope._reading.npy import NpyHeaderError, parse_npy_header

    try:
        descr, shape, item_size, _ = parse_npy_header(_npy_bytes(header, version, payload))
    except NpyHeaderError:
        return
    assert isinstance(descr, str) and item_size >= 0
    assert all(isinstance(dimension, int) and dimension >= 0 for dimension in shape)


# Each example may audit the weights in a child process: fewer examples than the JSON fuzzer.
@settings(max_examples=1000 if os.environ.get("KERASCOPE_FUZZ") == "long" else 60)
@given(
    members=st.dictionaries(
        st.one_of(
            st.sampled_from(["layers/dense.npy", "__root__.npy", "../x.npy"]),
            st.text(min_size=1).filter(lambda name: "\x00" not in name),  # zipfile cuts at NUL
        ),
        st.tuples(NPY_HEADERS, st.sampled_from([1, 2, 3]), st.binary(max_size=32)),
        max_size=4,
    ),
    mutations=MUTATIONS,
)
def test_npz_weights_member(
    tmp_path: Path,
    members: dict[str, tuple[bytes, int, bytes]],
    mutations: list[tuple[int, int]],
) -> None:
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as archive:
        for name, (header, version, payload) in members.items():
            archive.writestr(name, _npy_bytes(header, version, payload))
    data = bytearray(npz.getvalue())
    for position, value in mutations:
        data[position % len(data)] = value
    model = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}
    path = tmp_path / "fuzz.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(model))
        archive.writestr("model.weights.npz", bytes(data))
    _read_both(path)
    (tmp_path / "fuzz.npz").write_bytes(bytes(data))
    kerascope.scan(tmp_path / "fuzz.npz")


DIRECTORY_ENTRY_KINDS = st.sampled_from(
    ["file", "symlink-inside", "symlink-outside", "dangling", "hard-link", "fifo", "directory"]
)


def _make_entry(directory: Path, name: str, kind: str, data: bytes) -> None:
    target = directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    outside = directory.parent / "outside.bin"
    outside.write_bytes(data)
    if kind == "file":
        target.write_bytes(data)
    elif kind == "symlink-inside":
        (directory / "inside.bin").write_bytes(data)
        target.symlink_to(directory / "inside.bin")
    elif kind == "symlink-outside":
        target.symlink_to(outside)
    elif kind == "dangling":
        target.symlink_to(directory / "nowhere")
    elif kind == "hard-link":
        os.link(outside, target)
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir(exist_ok=True)


# Never blocks: a FIFO among the members would hang a reader that opened it.
@settings(max_examples=1000 if os.environ.get("KERASCOPE_FUZZ") == "long" else 40)
@given(
    config=st.one_of(MODEL, JSON),
    entries=st.dictionaries(
        st.sampled_from(
            [
                "config.json",
                "metadata.json",
                "model.weights.h5",
                "model.weights.npz",
                "assets/a.txt",
                "assets/deep/b.txt",
            ]
        ),
        st.tuples(DIRECTORY_ENTRY_KINDS, st.binary(max_size=64)),
        max_size=4,
    ),
)
def test_directory_form(tmp_path: Path, config: Any, entries: dict[str, tuple[str, bytes]]) -> None:
    import signal
    import tempfile

    directory = Path(tempfile.mkdtemp(dir=tmp_path)) / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    for name, (kind, data) in entries.items():
        if name == "config.json":
            (directory / name).unlink()
        _make_entry(directory, name, kind, data)

    def hang(signum: int, frame: Any) -> None:
        raise TimeoutError("reading the directory form hung")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        _read_both(directory)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    report = kerascope.scan(directory)
    unsafe = {kind for kind, _ in entries.values()} - {"file", "directory"}
    if unsafe:
        assert report.highest == "high", report.findings
