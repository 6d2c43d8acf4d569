"""The readers behind the issue-9 attack classes, without Keras: directory members, .npy
headers, .npz weights, the non-modeling callables table."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

import kerascope
from kerascope._reading.directory import (
    NotARegularFileError,
    list_members,
    read_regular_file,
)
from kerascope._reading.keras_names import non_modeling_callable
from kerascope._reading.npy import NpyHeaderError, parse_npy_header

_MODEL = {"class_name": "Sequential", "config": {"name": "s", "layers": []}}


def _npy(header: str, data: bytes = b"") -> bytes:
    text = header.encode("latin-1") + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def _model_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(_MODEL))
    return directory


# --- the directory form --------------------------------------------------------------------------


def test_a_fifo_is_listed_and_never_opened(tmp_path: Path) -> None:
    directory = _model_dir(tmp_path)
    os.mkfifo(directory / "model.weights.h5")
    members, complete = list_members(str(directory))
    assert complete and ("model.weights.h5", "fifo") in [(m.name, m.kind) for m in members]
    with pytest.raises(NotARegularFileError, match="FIFO"):
        read_regular_file(str(directory), "model.weights.h5", 100)
    codes = [f.code for f in kerascope.scan(directory).findings]
    assert codes == ["directory-special-file"]


def test_a_symlinked_config_is_refused_not_followed(tmp_path: Path) -> None:
    directory = tmp_path / "model"
    directory.mkdir()
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(_MODEL))
    (directory / "config.json").symlink_to(outside)
    with pytest.raises(kerascope.ModelFileError, match="symbolic link"):
        kerascope.inspect(directory)
    assert {f.code for f in kerascope.scan(directory).findings} == {
        "unreadable",
        "directory-symlink",
    }


def test_symlink_inside_the_directory_counts_too(tmp_path: Path) -> None:
    directory = _model_dir(tmp_path)
    (directory / "assets").mkdir()
    (directory / "assets" / "real.txt").write_text("a")
    (directory / "assets" / "alias.txt").symlink_to(directory / "assets" / "real.txt")
    (directory / "assets" / "loop").symlink_to(directory)  # never walked into
    findings = kerascope.scan(directory).findings
    assert sorted((f.code, f.json_path) for f in findings) == [
        ("directory-symlink", "member:assets/alias.txt"),
        ("directory-symlink", "member:assets/loop"),
    ]


def test_hard_link_is_refused_and_plain_directory_is_clean(tmp_path: Path) -> None:
    directory = _model_dir(tmp_path)
    (directory / "metadata.json").write_text("{}")
    assert kerascope.scan(directory).findings == ()
    os.link(directory / "metadata.json", tmp_path / "elsewhere.json")
    codes = {f.code for f in kerascope.scan(directory).findings}
    assert codes == {"unreadable", "directory-hard-link"}  # the reader does not open it either


# --- .npy headers and .npz weights ---------------------------------------------------------------


def test_header_is_parsed_without_evaluating_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = f"__import__('os').system('touch {marker}')"
    with pytest.raises(NpyHeaderError):
        parse_npy_header(_npy(hostile))
    with pytest.raises(NpyHeaderError):
        parse_npy_header(_npy("{'descr': '<f4', 'shape': (" * 40 + ")" * 40 + "}"))
    assert not marker.exists()


def test_header_fields() -> None:
    assert parse_npy_header(
        _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }")
    ) == (
        "<f8",
        (3, 4),
        8,
        False,
    )
    structured = "{'descr': [('a', '<i4'), ('b', '|O')], 'shape': (2,)}"
    assert parse_npy_header(_npy(structured))[3] is True
    assert parse_npy_header(_npy("{'descr': '<U3', 'shape': ()}"))[2] == 12


def _keras_with_npz(tmp_path: Path, arrays: dict[str, bytes]) -> Path:
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w") as archive:
        for name, data in arrays.items():
            archive.writestr(name, data)
    path = tmp_path / "npz.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(_MODEL))
        archive.writestr("model.weights.npz", npz.getvalue())
    return path


def test_npz_findings(tmp_path: Path) -> None:
    path = _keras_with_npz(
        tmp_path,
        {
            "layers/dense.npy": _npy("{'descr': '|O', 'shape': ()}", b"\x80\x04N."),
            "layers/big.npy": _npy("{'descr': '<f4', 'shape': (1048576, 1048576)}"),
            "../escape.npy": _npy("{'descr': '<f4', 'shape': (1,)}", bytes(4)),
            "notes.txt": b"hello",
            "layers/ok.npy": _npy("{'descr': '<f4', 'shape': (2, 2)}", bytes(16)),
        },
    )
    found = sorted((f.severity, f.code, f.json_path) for f in kerascope.scan(path).findings)
    assert found == [
        ("high", "npz-pickle", "npz:layers/dense.npy"),
        ("high", "npz-shape-bomb", "npz:layers/big.npy"),
        ("medium", "npz-unexpected-member", "npz:../escape.npy"),
        ("medium", "npz-unexpected-member", "npz:notes.txt"),
    ]


# --- Keras callables -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name", "flagged"),
    [
        ("keras.applications.resnet50", "ResNet50", True),
        ("keras.datasets.mnist", "load_data", True),
        ("keras.utils", "plot_model", True),
        ("keras.utils", "get_file", False),  # Keras's own list: non-modeling-api instead
        ("keras.layers", "Dense", False),
        ("keras.activations", "relu", False),
        ("keras.ops", "add", False),
        ("keras.optimizers.schedules", "ExponentialDecay", False),
        ("keras.applications.resnet50", "preprocess_input", False),
        ("keras.utils", "FeatureSpace", False),  # a saveable layer exported under utils
        ("keras.src.applications.resnet", "ResNet50", False),  # Keras refuses it itself
        ("keras", "Sequential", False),
        ("mypackage", "load_data", False),
    ],
)
def test_non_modeling_callables(module: str, name: str, flagged: bool) -> None:
    assert (non_modeling_callable(module, name) is not None) is flagged
