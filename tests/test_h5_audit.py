"""audit_h5 reports every hostile HDF5 construct without reading data; FileWindow serves zip members."""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from kerascope._reading.archive import member_data_offset, read_members
from kerascope._reading.hdf5 import H5Issue, H5ReadError, audit_h5
from kerascope._reading.window import FileWindow

CODES = {
    "hdf5-soft-link",
    "hdf5-external-link",
    "hdf5-external-storage",
    "hdf5-virtual-dataset",
    "hdf5-shape-bomb",
    "hdf5-too-many-objects",
    "hdf5-unreadable",
}


def _found(issues: list[H5Issue]) -> list[tuple[str, str]]:
    return [(issue.code, issue.h5_path) for issue in issues]


def _weights_like(handle: h5py.File) -> h5py.Group:
    """The layout Keras writes in model.weights.h5: /layers/<name>/vars/<index>."""
    variables = handle.create_group("layers/dense/vars")
    variables["0"] = np.ones((3, 2), dtype="f4")
    variables["1"] = np.zeros((2,), dtype="f4")
    return variables


# --- one hostile construct at a time ------------------------------------------------------------


def test_soft_link(tmp_path: Path) -> None:
    path = tmp_path / "soft.h5"
    with h5py.File(path, "w") as handle:
        _weights_like(handle)
        handle["layers/dense/vars/2"] = h5py.SoftLink("/layers/dense/vars/0")
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-soft-link", "/layers/dense/vars/2")]
    assert issues[0].message == "soft link to '/layers/dense/vars/0'"


def test_external_link(tmp_path: Path) -> None:
    path = tmp_path / "external_link.h5"
    with h5py.File(path, "w") as handle:
        _weights_like(handle)
        handle["layers/dense/vars/2"] = h5py.ExternalLink("/etc/passwd", "/x")
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-external-link", "/layers/dense/vars/2")]
    assert issues[0].message == "external link to '/etc/passwd:/x'"


def test_external_storage(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 4)
    path = tmp_path / "external_storage.h5"
    with h5py.File(path, "w") as handle:
        variables = _weights_like(handle)
        variables.create_dataset(
            "2", shape=(10,), dtype="f4", external=[(str(secret), 0, h5py.h5f.UNLIMITED)]
        )
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-external-storage", "/layers/dense/vars/2")]
    assert str(secret) in issues[0].message


def test_virtual_dataset(tmp_path: Path) -> None:
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as handle:
        handle["data"] = np.arange(10, dtype="f4")
    path = tmp_path / "virtual.h5"
    with h5py.File(path, "w") as handle:
        variables = _weights_like(handle)
        layout = h5py.VirtualLayout(shape=(10,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(source), "data", shape=(10,))
        variables.create_virtual_dataset("2", layout)
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-virtual-dataset", "/layers/dense/vars/2")]
    assert f"{source}:data" in issues[0].message


def test_shape_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as handle:
        variables = _weights_like(handle)
        bomb = variables.create_dataset("2", shape=(2**20, 2**13), dtype="f8", chunks=(1024, 1024))
        assert bomb.size * bomb.dtype.itemsize > 2**32
    assert path.stat().st_size < 100_000
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-shape-bomb", "/layers/dense/vars/2")]
    assert issues[0].message == "declares 68.7 GB but stores 0 B"


def test_compressed_shape_bomb(tmp_path: Path) -> None:
    path = tmp_path / "zeros.h5"
    with h5py.File(path, "w") as handle:
        bomb = handle.create_dataset(
            "zeros", shape=(2**17, 2**13), dtype="f8", chunks=(2**10, 2**13), compression="gzip"
        )
        bomb[: 2**10] = 0.0  # one real chunk, compressed to almost nothing
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-shape-bomb", "/zeros")]
    assert issues[0].message.startswith("declares 8.59 GB but stores ")


def test_sparse_dataset_under_the_low_floor_is_not_a_bomb(tmp_path: Path) -> None:
    path = tmp_path / "floor.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("floor", shape=(2**11, 2**10), dtype="f8", chunks=(1024, 512))
    assert audit_h5(str(path)) == []  # 16 MiB declared: at kerascope's floor


def test_shape_bomb_below_keras_threshold(tmp_path: Path) -> None:
    """4 GiB declared, nothing stored: Keras's own check (over 4 GiB) lets it through."""
    path = tmp_path / "floor.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("floor", shape=(2**20, 2**9), dtype="f8", chunks=(1024, 512))
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-shape-bomb", "/floor")]
    assert issues[0].message == "declares 4.29 GB but stores 0 B"


def test_dataset_over_the_memory_budget_is_a_bomb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stored.h5"
    with h5py.File(path, "w") as handle:
        handle["kernel"] = np.ones((256, 256), dtype="f4")  # 256 KiB, all stored
    assert audit_h5(str(path)) == []
    monkeypatch.setenv("KERASCOPE_MEMORY_BUDGET", "64K")
    assert _found(audit_h5(str(path))) == [("hdf5-shape-bomb", "/kernel")]


def test_too_many_objects(tmp_path: Path) -> None:
    path = tmp_path / "many.h5"
    with h5py.File(path, "w") as handle:
        for index in range(20):
            handle[f"d{index:02d}"] = np.zeros(1)
    issues = audit_h5(str(path), max_objects=5)
    assert _found(issues) == [("hdf5-too-many-objects", "/d05")]
    assert audit_h5(str(path), max_objects=20) == []


def test_unreadable_group(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("g")["d"] = np.ones(3)
    data = bytearray(path.read_bytes())
    trees = [match.start() for match in re.finditer(b"TREE", data)]
    assert len(trees) == 2  # the root's symbol table, then /g's
    data[trees[1] : trees[1] + 4] = b"XXXX"
    path.write_bytes(data)
    issues = audit_h5(str(path))
    assert _found(issues) == [("hdf5-unreadable", "/g")]
    assert issues[0].message.startswith("could not be read: ")


# --- walking -----------------------------------------------------------------------------------


def test_reports_everything_at_once_in_path_order(tmp_path: Path) -> None:
    path = tmp_path / "all.h5"
    with h5py.File(path, "w") as handle:
        handle["b/soft"] = h5py.SoftLink("/nowhere")
        handle["a/external"] = h5py.ExternalLink("other.h5", "/d")
        handle.create_dataset("a/b/bomb", shape=(2**40,), dtype="u1", chunks=(2**20,))
        handle["c"] = h5py.SoftLink("/a")
    assert _found(audit_h5(str(path))) == [
        ("hdf5-shape-bomb", "/a/b/bomb"),
        ("hdf5-external-link", "/a/external"),
        ("hdf5-soft-link", "/b/soft"),
        ("hdf5-soft-link", "/c"),
    ]


def test_hard_link_cycles_end(tmp_path: Path) -> None:
    path = tmp_path / "cycle.h5"
    with h5py.File(path, "w") as handle:
        group = handle.create_group("a/b")
        group["root"] = handle["/"]
        group["self"] = group
        group.create_dataset("bomb", shape=(2**33,), dtype="u1", chunks=(2**20,))
        handle["bomb_again"] = group["bomb"]
    # Each object is audited once, at the first path that reaches it; links back to a group
    # on the path are cycles.
    assert _found(audit_h5(str(path))) == [
        ("hdf5-shape-bomb", "/a/b/bomb"),
        ("hdf5-group-cycle", "/a/b/root"),
        ("hdf5-group-cycle", "/a/b/self"),
    ]


def test_group_reached_twice_without_a_cycle_is_no_finding(tmp_path: Path) -> None:
    path = tmp_path / "shared.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("a/b")["d"] = np.ones(2)
        handle["c"] = handle["a/b"]
    assert audit_h5(str(path)) == []


def test_deep_nesting_is_reported_not_walked(tmp_path: Path) -> None:
    path = tmp_path / "deep.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("/".join(["g"] * 105))["soft"] = h5py.SoftLink("/x")
        handle.create_group("/".join(["h"] * 99))["soft"] = h5py.SoftLink("/x")
    assert _found(audit_h5(str(path))) == [
        ("hdf5-too-many-objects", "/g" * 100),
        ("hdf5-soft-link", "/h" * 99 + "/soft"),
    ]


def test_long_names_are_shortened_in_paths_and_messages(tmp_path: Path) -> None:
    path = tmp_path / "long.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("a" * 5000)["b" * 5000] = h5py.SoftLink("/" + "c" * 5000)
    [issue] = audit_h5(str(path))
    assert issue.code == "hdf5-soft-link"
    assert issue.h5_path == f"/{'a' * 200}.../{'b' * 200}..."
    assert len(issue.message) < 250


def test_audits_a_file_object(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle["link"] = h5py.SoftLink("/x")
    assert _found(audit_h5(buffer)) == [("hdf5-soft-link", "/link")]


def test_not_hdf5_raises_h5_read_error(tmp_path: Path) -> None:
    path = tmp_path / "text.h5"
    path.write_text("not an HDF5 file")
    with pytest.raises(H5ReadError):
        audit_h5(str(path))
    with pytest.raises(H5ReadError):
        audit_h5(io.BytesIO(b"not an HDF5 file"))
    with pytest.raises(H5ReadError):
        audit_h5(str(tmp_path / "missing.h5"))


def test_damaged_files_never_raise_anything_else(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        _weights_like(handle)
        handle["layers/dense/vars/2"] = h5py.SoftLink("/x")
        handle.create_group("optimizer/vars")
    data = buffer.getvalue()
    outcomes: set[str] = set()
    damaged = [data[:size] for size in range(0, len(data), 97)]
    for offset in range(0, len(data), 16):
        corrupt = bytearray(data)
        corrupt[offset : offset + 8] = b"\xff" * 8
        damaged.append(bytes(corrupt))
    for sample in damaged:
        try:
            issues = audit_h5(io.BytesIO(sample))
        except H5ReadError:
            outcomes.add("H5ReadError")
        else:
            assert all(isinstance(issue, H5Issue) and issue.code in CODES for issue in issues)
            outcomes.update(issue.code for issue in issues)
    assert {"H5ReadError", "hdf5-unreadable"} <= outcomes


# --- real Keras files are clean ------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = pytest.importorskip("keras")
    folder = tmp_path_factory.mktemp("keras_files")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorFlow's own deprecation noise
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        model.save(folder / "tiny.keras")
        model.save(folder / "tiny.h5")
    return folder


@pytest.mark.slow
def test_keras_h5_is_clean(keras_files: Path) -> None:
    assert audit_h5(str(keras_files / "tiny.h5")) == []


@pytest.mark.slow
def test_keras_weights_member_is_clean_through_a_window(keras_files: Path) -> None:
    path = str(keras_files / "tiny.keras")
    with open(path, "rb") as archive:
        member = read_members(archive)["model.weights.h5"]
        assert member.method == zipfile.ZIP_STORED
        offset = member_data_offset(archive, member)
        with FileWindow(archive, offset, member.compressed_size) as window:
            assert audit_h5(window) == []
        assert not archive.closed
    with FileWindow(path, offset, member.compressed_size) as window:
        with h5py.File(window, "r") as weights:
            assert "layers" in weights
        assert audit_h5(window) == []
    with zipfile.ZipFile(path) as reference:
        expected = reference.read("model.weights.h5")
    with FileWindow(path, offset, member.compressed_size) as window:
        assert window.read() == expected


# --- FileWindow and member_data_offset ----------------------------------------------------------


def test_window_reads_and_seeks_within_bounds(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(100)))
    window = FileWindow(str(path), 10, 20)
    assert window.readable() and window.seekable() and not window.writable()
    assert window.read(5) == bytes(range(10, 15))
    assert window.tell() == 5
    assert window.read() == bytes(range(15, 30))
    assert window.read(1) == b""
    assert window.seek(-3, io.SEEK_END) == 17
    assert window.read(100) == bytes(range(27, 30))
    assert window.seek(-2, io.SEEK_CUR) == 18
    assert window.read(1) == bytes([28])
    assert window.seek(50) == 50
    assert window.read(10) == b""
    assert window.tell() == 50
    buffer = bytearray(8)
    window.seek(16)
    assert window.readinto(buffer) == 4
    assert bytes(buffer[:4]) == bytes(range(26, 30))
    with pytest.raises(ValueError, match="negative"):
        window.seek(-1)
    with pytest.raises(ValueError, match="whence"):
        window.seek(0, 3)
    window.close()
    assert window.closed
    with pytest.raises(ValueError):
        window.read(1)
    window.close()


def test_window_shares_an_open_file_and_leaves_it_open() -> None:
    handle = io.BytesIO(b"0123456789")
    first = FileWindow(handle, 0, 4)
    second = FileWindow(handle, 6, 4)
    assert first.read(2) == b"01"
    assert second.read(2) == b"67"
    assert first.read() == b"23"
    first.close()
    second.close()
    assert not handle.closed


def test_window_past_the_end_of_the_file_reads_short() -> None:
    window = FileWindow(io.BytesIO(b"0123456789"), 8, 10)
    assert window.read() == b"89"
    assert window.read() == b""


def test_window_refuses_negative_bounds_and_closes_cleanly() -> None:
    with pytest.raises(ValueError):
        FileWindow(io.BytesIO(b""), -1, 1)
    with pytest.raises(ValueError):
        FileWindow(io.BytesIO(b""), 0, -1)
    with pytest.raises(FileNotFoundError):
        FileWindow("/nonexistent/kerascope/file", 0, 1)


def test_member_data_offset_reads_the_local_header() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("a.bin", "w", force_zip64=True) as member:
            member.write(b"payload")
        archive.writestr("b.bin", b"second")
    members = read_members(buffer)
    for name, expected in (("a.bin", b"payload"), ("b.bin", b"second")):
        offset = member_data_offset(buffer, members[name])
        buffer.seek(offset)
        assert buffer.read(members[name].compressed_size) == expected
