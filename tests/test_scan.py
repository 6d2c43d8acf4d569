"""The audit's config and archive checks, on small hand-made files (payloads built with real
Keras are in test_malicious.py)."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

import kerascope
from tests.conftest import run_cli


def _model(*layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "s", "layers": list(layers)},
    }


def _layer(class_name: str, module: str | None = "keras.layers", **config: Any) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": class_name,
        "registered_name": None,
        "config": {"name": "x", "trainable": True, "dtype": "float32", **config},
    }


def _archive(
    tmp: Path, config: Any, extra: dict[str, bytes] | None = None, name: str = "m.keras"
) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return path


def _kinds(path: Path) -> dict[str, str]:
    return {finding.code: finding.severity for finding in kerascope.scan(path).findings}


def test_clean_config_reports_nothing(tmp_path: Path) -> None:
    path = _archive(tmp_path, _model(_layer("Dense", units=3, activation="relu")))
    report = kerascope.scan(path)
    assert report.findings == () and report.highest == "none"


@pytest.mark.parametrize(
    ("config", "kind", "severity"),
    [
        (_layer("system", module="os"), "stdlib-object", "high"),
        (
            _layer(
                "Dense",
                units=1,
                activation={
                    "module": "builtins",
                    "class_name": "function",
                    "config": "eval",
                    "registered_name": "function",
                },
            ),
            "dangerous-function",
            "high",
        ),
        (_layer("func_load", module="keras.src.utils.python_utils"), "keras-internal", "high"),
        (
            _layer("TFSMLayer", module="keras.layers", filepath="exported"),
            "outside-loader",
            "high",
        ),
        (_layer("StringLookup", vocabulary="/etc/passwd"), "vocabulary-path", "high"),
        (_layer("Dense", units=1, note="https://example.invalid/x"), "url", "high"),
        (_layer("Dense", units=1, note="/home/user/data/file.txt"), "file-path", "medium"),
        (_layer("TextVectorization", max_tokens=2**40), "absurd-shape", "medium"),
        (_layer("InputLayer", batch_shape=[None, 2**20, 2**20]), "absurd-shape", "medium"),
        (_layer("Dense", units=1, blob="gASV" + "A" * 100), "pickle", "high"),
        (_layer("Mine", module="mylayers"), "custom-object", "info"),
    ],
    ids=[
        "stdlib",
        "eval",
        "keras-internal",
        "tfsm",
        "vocabulary",
        "url",
        "path",
        "units",
        "shape",
        "pickle",
        "custom",
    ],
)
def test_config_findings(tmp_path: Path, config: dict[str, Any], kind: str, severity: str) -> None:
    assert _kinds(_archive(tmp_path, _model(config))) == {kind: severity}


def test_absurd_dense_is_also_an_allocation_bomb(tmp_path: Path) -> None:
    """2**40 units make Keras allocate at least 4 TiB before reading any weight: refused."""
    kinds = _kinds(_archive(tmp_path, _model(_layer("Dense", units=2**40))))
    assert kinds == {"absurd-shape": "medium", "allocation-bomb": "high"}


@pytest.mark.parametrize(
    ("member", "kind", "severity"),
    [
        ("../evil.txt", "path-traversal", "high"),
        ("assets/../../evil.txt", "path-traversal", "high"),
        ("/etc/evil", "path-traversal", "high"),
        ("helpers/run.py", "unexpected-member", "medium"),
        ("state.pkl", "unexpected-member", "medium"),
    ],
)
def test_archive_member_findings(tmp_path: Path, member: str, kind: str, severity: str) -> None:
    path = _archive(tmp_path, _model(), {member: b"x"})
    assert _kinds(path) == {kind: severity}


def test_symlink_member_is_high(tmp_path: Path) -> None:
    path = tmp_path / "link.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(_model()))
        info = zipfile.ZipInfo("assets/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    assert _kinds(path) == {"symlink-member": "high"}


def test_unreadable_config_is_reported_with_the_rest(tmp_path: Path) -> None:
    path = _archive(tmp_path, None, {"../x": b"1"})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("evil.py", b"print(1)")
    kinds = _kinds(path)
    assert kinds["unreadable"] == "high"
    assert kinds["path-traversal"] == "high"
    assert kinds["unexpected-member"] == "medium"


def test_scan_cli_exit_codes_and_json(tmp_path: Path) -> None:
    clean = _archive(tmp_path, _model(_layer("Dense", units=1)), name="clean.keras")
    medium = _archive(
        tmp_path, _model(_layer("TextVectorization", max_tokens=2**40)), name="medium.keras"
    )
    high = _archive(tmp_path, _model(_layer("system", module="os")), name="high.keras")
    assert run_cli("scan", str(clean)).returncode == 0
    assert run_cli("scan", str(medium)).returncode == 7
    result = run_cli("scan", str(high), "--json")
    assert result.returncode == 8
    document = json.loads(result.stdout)
    assert document["highest"] == "high"
    finding = document["findings"][0]
    assert finding["code"] == finding["kind"] == "stdlib-object"
    assert finding["object"] == "system"
    assert set(finding) == {"severity", "code", "kind", "json_path", "object", "message", "fix"}


def test_scan_of_a_missing_file_is_a_bad_file(tmp_path: Path) -> None:
    result = run_cli("scan", str(tmp_path / "none.keras"))
    assert result.returncode == 3
    assert "no such file" in result.stderr and "Traceback" not in result.stderr


def _torch_compiled(class_name: str) -> dict[str, Any]:
    """A model compiled on PyTorch, as Keras 3.15.1 writes it (measured: docs/backends.md)."""
    config = _model(_layer("Dense", units=1))
    optimizer = {
        "module": "keras.src.backend.torch.optimizers.torch_" + class_name.lower(),
        "class_name": class_name,
        "registered_name": class_name,
        "config": {"name": class_name.lower(), "learning_rate": 0.001},
    }
    config["compile_config"] = {"optimizer": optimizer, "loss": "mse"}
    return config


def test_torch_optimizer_is_the_public_optimizer(tmp_path: Path) -> None:
    """keras.src.backend.torch.optimizers.torch_adam.Adam is keras.optimizers.Adam on PyTorch:
    not a private object, and the plan builds the public class where torch is absent."""
    path = _archive(tmp_path, _torch_compiled("Adam"))
    assert "keras-internal" not in _kinds(path)
    plan = kerascope.check(path)
    assert plan.ok, plan.problems
    assert plan.optimizer_fixes == {"Adam": "keras.optimizers.Adam"}
    assert kerascope.check(path, compile=False).optimizer_fixes == {}


def test_unknown_class_in_a_backend_optimizer_module_is_still_internal(tmp_path: Path) -> None:
    path = _archive(tmp_path, _torch_compiled("TorchOptimizer"))
    assert _kinds(path).get("keras-internal") == "high"
