"""The manifest format: each version has a reader; what save_model writes follows the schema."""

from __future__ import annotations

import json
import subprocess
import textwrap
import zipfile
from pathlib import Path

import jsonschema
import pytest

import kerascope
from kerascope._reading.manifest import ManifestError, parse_manifest
from tests.conftest import PYTHON, QUIET_ENV, ROOT

SCHEMA = json.loads((ROOT / "docs" / "manifest.schema.json").read_text())

VERSION_1 = {
    "version": 1,
    "kerascope_version": "0.1.0",
    "python_version": "3.11.7",
    "keras_version": "3.15.1",
    "backend": "tensorflow",
    "objects": [
        {
            "key": "mypkg>Scale",
            "kinds": ["layer"],
            "module": "mypkg.layers",
            "qualname": "Scale",
            "file": "mypkg/layers.py",
            "sha256": "0" * 64,
            "distribution": "mypkg",
            "distribution_version": "1.2",
            "a_key_from_the_future": True,
        }
    ],
}


def test_version_1_reader() -> None:
    jsonschema.validate(VERSION_1, SCHEMA)
    manifest = parse_manifest(VERSION_1)
    entry = manifest.find("mypkg>Scale")
    assert entry is not None
    assert (entry.module, entry.qualname, entry.file) == (
        "mypkg.layers",
        "Scale",
        "mypkg/layers.py",
    )
    assert (entry.distribution, entry.distribution_version) == ("mypkg", "1.2")
    assert manifest.find("other") is None
    assert parse_manifest(manifest.to_dict()) == manifest


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**VERSION_1, "version": 2}, "unknown manifest version 2"),
        ([], "not a JSON object"),
        ({**VERSION_1, "objects": {}}, "'objects' is not a list"),
        ({**VERSION_1, "objects": [{"kinds": []}]}, "has no 'key'"),
    ],
)
def test_bad_manifests_are_refused(data: object, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT / "examples" / "seed_2_loss_activation")!r})
        import kerascope
        from create_model import build
        model = build()
        for name in ("m.keras", "m.h5"):
            kerascope.save_model(model, sys.argv[1] + "/" + name)
        """
    )
    result = subprocess.run(
        [PYTHON, "-c", code, str(folder)],
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", ["m.keras", "m.h5"])
def test_written_manifest_follows_the_schema(saved: Path, name: str) -> None:
    inspection = kerascope.inspect(saved / name)
    assert inspection.manifest is not None
    document = inspection.manifest.to_dict()
    jsonschema.validate(document, SCHEMA)
    assert {entry["key"] for entry in document["objects"]} == {
        "my_custom_activation",
        "my_custom_loss",
    }
    assert all(entry["module"] == "custom_functions" for entry in document["objects"])


@pytest.mark.slow
def test_unreadable_manifest_is_reported_not_fatal(saved: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(saved / "m.keras") as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata["kerascope_manifest"] = {"version": 99}
                data = json.dumps(metadata).encode()
            target.writestr(info, data)
    inspection = kerascope.inspect(broken)
    assert inspection.manifest is None
    assert (
        inspection.manifest_problem
        == "unknown manifest version 99 (this kerascope reads version 1)"
    )
    assert kerascope.check(broken, sources=[ROOT / "examples" / "seed_2_loss_activation"]).ok


@pytest.mark.slow
def test_inspect_cli_shows_the_manifest(saved: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("inspect", str(saved / "m.h5"))
    assert result.returncode == 0, result.stderr
    assert "Manifest (kerascope 0.1.0, format 1)" in result.stdout
    assert "custom_functions.my_custom_loss" in result.stdout
