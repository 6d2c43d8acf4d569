"""Bad input gets one clear kerascope line and exit code 3 from the CLI: never a traceback."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import pytest

from tests.conftest import run_cli


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def missing(tmp: Path, zoo: Path) -> Path:
    return tmp / "nothing-here.keras"


def empty(tmp: Path, zoo: Path) -> Path:
    (tmp / "empty.keras").write_bytes(b"")
    return tmp / "empty.keras"


def truncated_zip(tmp: Path, zoo: Path) -> Path:
    data = (zoo / "seed_1.keras").read_bytes()
    (tmp / "cut.keras").write_bytes(data[: len(data) // 2])
    return tmp / "cut.keras"


def text_file(tmp: Path, zoo: Path) -> Path:
    (tmp / "notes.keras").write_text("hello, this is not a model\n")
    return tmp / "notes.keras"


def zip_without_config(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "other.keras", {"readme.txt": b"hi"})


def zip_with_weights_only(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "weights.keras", {"model.weights.h5": b"\x89HDF\r\n\x1a\n"})


def empty_zip(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "nothing.keras", {})


def malformed_json(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "bad.keras", {"config.json": b'{"class_name": "Sequential", "config": {'})


def json_list(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "list.keras", {"config.json": b"[1, 2, 3]"})


def json_not_a_model(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "object.keras", {"config.json": b'{"hello": "world"}'})


def json_not_utf8(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "latin.keras", {"config.json": b'{"class_name": "\xff\xfe"}'})


def json_nested_too_deep(tmp: Path, zoo: Path) -> Path:
    return _zip(tmp / "deep.keras", {"config.json": b"[" * 200_000 + b"]" * 200_000})


def config_nested_too_deep(tmp: Path, zoo: Path) -> Path:
    inner: dict[str, object] = {}
    config: dict[str, object] = {"class_name": "Sequential", "config": inner}
    for _ in range(900):
        inner["x"] = {}
        inner = inner["x"]  # type: ignore[assignment]
    return _zip(tmp / "deep2.keras", {"config.json": json.dumps(config).encode()})


def savedmodel_dir(tmp: Path, zoo: Path) -> Path:
    folder = tmp / "exported"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    return folder


def savedmodel_damaged_metadata(tmp: Path, zoo: Path) -> Path:
    folder = savedmodel_dir(tmp, zoo)
    (folder / "keras_metadata.pb").write_bytes(b"\x0a\x80")
    return folder


def plain_dir(tmp: Path, zoo: Path) -> Path:
    (tmp / "folder").mkdir()
    return tmp / "folder"


def weights_only_h5(tmp: Path, zoo: Path) -> Path:
    path = tmp / "model.weights.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("layers/dense/vars").create_dataset("0", data=[1.0, 2.0])
        handle.create_group("vars")
    return path


def failed_save_h5(tmp: Path, zoo: Path) -> Path:
    path = tmp / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "3.15.1"
        handle.attrs["backend"] = "tensorflow"
    return path


def h5_malformed_json(tmp: Path, zoo: Path) -> Path:
    path = tmp / "json.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = '{"class_name": '
    return path


def h5_numeric_config(tmp: Path, zoo: Path) -> Path:
    path = tmp / "number.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = 42
    return path


def truncated_h5(tmp: Path, zoo: Path) -> Path:
    data = (zoo / "seed_1.h5").read_bytes()
    (tmp / "cut.h5").write_bytes(data[:1000])
    return tmp / "cut.h5"


CASES: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "missing": (missing, "no such file or directory"),
    "empty": (empty, "is empty (0 bytes)"),
    "truncated zip": (truncated_zip, "damaged .keras archive"),
    "text file": (text_file, "is not a Keras model"),
    "zip without config": (zip_without_config, "without config.json"),
    "zip with weights only": (zip_with_weights_only, "weights but no config.json"),
    "empty zip": (empty_zip, "empty zip archive"),
    "malformed json": (malformed_json, "config.json is not valid JSON"),
    "json list": (json_list, "holds a JSON list"),
    "json not a model": (json_not_a_model, "is not a Keras model config"),
    "json not utf-8": (json_not_utf8, "not UTF-8"),
    "json nested too deep": (json_nested_too_deep, "nested too deeply"),
    "config nested too deep": (config_nested_too_deep, "nested deeper than"),
    "SavedModel directory": (savedmodel_dir, "not a Keras SavedModel: no Keras config"),
    "SavedModel with damaged Keras metadata": (
        savedmodel_damaged_metadata,
        "keras_metadata.pb is truncated or not Keras metadata",
    ),
    "plain directory": (plain_dir, "directory without config.json"),
    "weights-only h5": (weights_only_h5, "weights-only HDF5 file"),
    "failed-save h5": (failed_save_h5, "failed half-way"),
    "h5 malformed json": (h5_malformed_json, "model_config is not valid JSON"),
    "h5 numeric config": (h5_numeric_config, "damaged or unreadable HDF5 file"),
    "truncated h5": (truncated_h5, "damaged or unreadable HDF5 file"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_line_and_exit_3(case: str, tmp_path: Path, zoo: Path) -> None:
    make, expected = CASES[case]
    path = make(tmp_path, zoo)
    result = run_cli("inspect", str(path))
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kerascope: error: {path}: ")
    assert expected in lines[0]


def test_usage_error_exits_2() -> None:
    result = run_cli("inspect")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
