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
from kerascope._reading.manifest import ManifestError, manifest_version, parse_manifest
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


def test_version_2_reader_computes_the_digest_from_the_text() -> None:
    files = [{"module": "pkg", "path": "pkg/__init__.py", "size": 0, "sha256": "", "source": ""},
             {"module": "pkg.a", "path": "pkg/a.py", "size": 6, "sha256": "", "source": "x = 1\n"}]  # fmt: skip
    data = {**VERSION_1, "version": 2, "bundle": {"digest": "claimed", "files": files}}
    bundle = parse_manifest(data).bundle
    assert bundle is not None
    assert [item.module for item in bundle.files] == ["pkg", "pkg.a"]
    assert bundle.files[0].is_package and not bundle.files[1].is_package
    assert bundle.recorded_digest == "claimed" and len(bundle.digest) == 64
    assert bundle.damage()  # the recorded hashes are not the text's
    written = parse_manifest(data)._replace(bundle=bundle)
    again = parse_manifest(written.to_dict()).bundle
    assert again is not None and again.digest == bundle.digest
    jsonschema.validate(
        {**written.to_dict(), "bundle": {**bundle.to_dict(), "files": [
            {**f, "sha256": "0" * 64} for f in bundle.to_dict()["files"]]}},
        SCHEMA,
    )  # fmt: skip


def test_version_3_reader_reads_the_shims_a_file_needs() -> None:
    shims = [{"name": "positional-add-weight", "changes": ["S calls add_weight('w', ...)"]},
             {"name": "lambda-globals-tf", "changes": [], "a_key_from_the_future": 1}]  # fmt: skip
    data = {**VERSION_1, "version": 3, "bundle": None, "shims": shims}
    jsonschema.validate(data, SCHEMA)
    manifest = parse_manifest(data)
    assert [(shim.name, shim.changes) for shim in manifest.shims] == [
        ("positional-add-weight", ("S calls add_weight('w', ...)",)),
        ("lambda-globals-tf", ()),
    ]
    assert parse_manifest(manifest.to_dict()) == manifest
    jsonschema.validate(manifest.to_dict(), SCHEMA)
    # A writer writes version 3 only for a file that needs shims: older readers keep reading
    # every other manifest.
    assert manifest_version(manifest.shims) == 3 and manifest_version(()) == 2
    assert "shims" not in parse_manifest({**data, "version": 2}).to_dict()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "shims": [{"name": "eval-everything"}]}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VERSION_1, "version": 3, "bundle": None}, SCHEMA)


def test_the_bundle_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    from kerascope._reading.bundle import MAX_BUNDLE_BYTES
    from kerascope._resolving.bundling import make_bundle

    for index in range(5):
        (tmp_path / f"big{index}.py").write_text("#" * (2 * 1024 * 1024 - 10) + "\n")
    files = {f"big{index}": str(tmp_path / f"big{index}.py") for index in range(5)}
    with pytest.raises(kerascope.SourceError, match=f"the limit is {MAX_BUNDLE_BYTES} bytes"):
        make_bundle(files)
    too_many = {"bundle": {"digest": "", "files": [{}] * 1001}}
    with pytest.raises(ManifestError, match="the limit is 1000"):
        parse_manifest({**VERSION_1, "version": 2, **too_many})


TWICE = {"name": "lambda-globals-tf", "changes": []}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**VERSION_1, "version": 4}, "unknown manifest version 4"),
        ({**VERSION_1, "version": 3, "bundle": None}, "'shims' is not a list"),
        (
            {**VERSION_1, "version": 3, "bundle": None, "shims": [{"name": "eval-everything"}]},
            "needs kerascope's Keras 2 shim 'eval-everything', which this kerascope does not know",
        ),
        (
            {**VERSION_1, "version": 3, "bundle": None, "shims": [TWICE, TWICE]},
            "names the shim 'lambda-globals-tf' twice",
        ),
        ({**VERSION_1, "version": 2, "bundle": []}, "bundle is unreadable"),
        (
            {**VERSION_1, "version": 2, "bundle": {"files": [{"module": "m", "path": "../m.py"}]}},
            "path '../m.py' does not match the module",
        ),
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
        for name in ("bundled.keras", "bundled.h5"):
            kerascope.save_model(model, sys.argv[1] + "/" + name, bundle=True)
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
@pytest.mark.parametrize("name", ["m.keras", "m.h5", "bundled.keras", "bundled.h5"])
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
    assert document["version"] == 2
    if name.startswith("bundled"):
        assert [f["path"] for f in document["bundle"]["files"]] == ["custom_functions.py"]
        assert parse_manifest(document) == inspection.manifest
    else:
        assert document["bundle"] is None


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
        == "unknown manifest version 99 (this kerascope reads versions 1, 2 and 3)"
    )
    assert kerascope.check(broken, sources=[ROOT / "examples" / "seed_2_loss_activation"]).ok


@pytest.mark.slow
def test_inspect_cli_shows_the_manifest(saved: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("inspect", str(saved / "m.h5"))
    assert result.returncode == 0, result.stderr
    assert "Manifest (kerascope 0.1.0, format 2)" in result.stdout
    assert "custom_functions.my_custom_loss" in result.stdout
