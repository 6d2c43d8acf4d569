"""Bundles (issue 10): a model carries its custom code's source, pinned by a digest.

Seed scenario 3 (a layer whose module imports a helper module) is saved with ``bundle=True`` in
directory A, where its code is, and loaded in fresh processes from directory B, where no source
exists. Every load and every ``kerascope bundle`` runs in a fresh subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from kerascope._reading.bundle import Bundle, bundle_digest
from kerascope._reading.manifest import MANIFEST_KEY, parse_manifest
from tests.conftest import PYTHON, QUIET_ENV, ROOT

pytestmark = pytest.mark.slow  # the fixture and the loads start TensorFlow

SEED_3 = ROOT / "examples" / "seed_3_dependent_layer"
SRC = str(ROOT / "src")
ENV = {**QUIET_ENV, "PYTHONPATH": SRC}

BUILD = """
import sys
import keras, kerascope, numpy as np
from custom_layer_dep import MyDependentLayer

model = keras.Sequential([keras.Input((10,)), MyDependentLayer(param=5), keras.layers.Dense(3)])
rows = np.random.default_rng(0).normal(size=(4, 10)).astype("float32")
np.save("x.npy", rows)
np.save("y.npy", model.predict(rows, verbose=0))
for name in ("bundled.keras", "bundled.h5"):
    written = kerascope.save_model(model, name, bundle=True)
for name in ("plain.keras", "plain.h5"):
    model.save(name)
print(written.bundle.trust_name)
"""

LOAD = """
import json, sys
import numpy as np
import kerascope
path, trust, sources = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
try:
    model = kerascope.load_model(path, trust=trust, sources=sources)
except kerascope.KerascopeError as error:
    problems = [(p.reason, p.fix, p.python_fix) for p in getattr(error, "problems", ())]
    print(json.dumps({"error": type(error).__name__, "text": str(error), "problems": problems}))
    sys.exit(0)
rows = np.load(sys.argv[4])
equal = bool(np.array_equal(model.predict(rows, verbose=0), np.load(sys.argv[5])))
origins = {name: (getattr(sys.modules[name].__spec__, "origin", None),
                  getattr(sys.modules[name], "__file__", None))
           for name in ("custom_layer_dep", "custom_base") if name in sys.modules}
print(json.dumps({"equal": equal, "origins": origins}))
"""

# Keras and the backends cannot be imported: `import keras` raises ImportError.
BLOCKED = """
import sys
for name in ("keras", "tensorflow", "jax", "torch"):
    sys.modules[name] = None
from kerascope._cli.commands import main
code = main(sys.argv[1:])
assert all(sys.modules.get(name) is None for name in ("keras", "tensorflow", "jax", "torch"))
assert not any(name.startswith("custom_") for name in sys.modules), "the code was imported"
sys.exit(code)
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Directory A (the code and the models), and the digest of the bundle."""
    place_a = tmp_path_factory.mktemp("A")
    for name in ("custom_layer_dep.py", "custom_base.py"):
        shutil.copy(SEED_3 / name, place_a / name)
    result = subprocess.run(
        [PYTHON, "-c", BUILD],
        cwd=place_a,
        env={**ENV, "PYTHONPATH": f"{SRC}{os.pathsep}{place_a}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"a": place_a, "digest": result.stdout.strip().splitlines()[-1]}


def _place_b(saved: dict[str, object], tmp_path: Path, *names: str) -> Path:
    """A fresh directory B holding copies of the models and data, and no source."""
    place_a = Path(str(saved["a"]))
    place_b = tmp_path / "B"
    place_b.mkdir()
    for name in (*names, "x.npy", "y.npy"):
        shutil.copy(place_a / name, place_b / name)
    return place_b


def _load(
    where: Path, model: str, trust: list[str], sources: list[str] | None = None
) -> dict[str, object]:
    result = subprocess.run(
        [PYTHON, "-c", LOAD, model, json.dumps(trust), json.dumps(sources or []), "x.npy", "y.npy"],
        cwd=where,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def _rewrite_bundle(path: Path, change: object) -> None:
    """Apply ``change`` to the raw manifest dict of a .keras file (as an attacker would)."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                change(metadata[MANIFEST_KEY])  # type: ignore[operator]
                archive.writestr(info, json.dumps(metadata).encode())
            else:
                archive.writestr(info, data)


def _resign(manifest: dict[str, object]) -> str:
    """Recompute the hashes and digest after a change (a consistent, different bundle)."""
    import hashlib

    bundle = manifest["bundle"]
    assert isinstance(bundle, dict)
    for item in bundle["files"]:
        item["sha256"] = hashlib.sha256(item["source"].encode()).hexdigest()
        item["size"] = len(item["source"].encode())
    parsed = parse_manifest(manifest).bundle
    assert isinstance(parsed, Bundle)
    bundle["digest"] = bundle_digest(parsed.files)
    return str(bundle["digest"])


@pytest.mark.parametrize("name", ["bundled.keras", "bundled.h5"])
def test_bundled_in_a_loads_in_b_from_memory_with_only_the_digest_trusted(
    saved: dict[str, object], tmp_path: Path, name: str
) -> None:
    place_b = _place_b(saved, tmp_path, name)
    before = sorted(os.listdir(place_b))
    answer = _load(place_b, name, [str(saved["digest"])])
    assert answer.get("equal") is True, answer
    origins = answer["origins"]
    assert isinstance(origins, dict) and sorted(origins) == ["custom_base", "custom_layer_dep"]
    for origin, file in origins.values():
        assert origin.startswith("<kerascope bundle sha256:"), origin
        assert file is None  # imported from memory
    assert sorted(os.listdir(place_b)) == before  # nothing written


@pytest.mark.parametrize("name", ["bundled.keras", "bundled.h5"])
def test_without_trust_it_is_refused_naming_the_digest_files_and_the_fix(
    saved: dict[str, object], tmp_path: Path, name: str
) -> None:
    place_b = _place_b(saved, tmp_path, name)
    digest = str(saved["digest"])
    # Trusting the package names of the bundled modules never trusts the bundle.
    for trust in ([], ["custom_layer_dep", "custom_base"]):
        answer = _load(place_b, name, trust)
        assert answer["error"] == "UnresolvedObjectsError", answer
        assert [tuple(p) for p in answer["problems"]] == [  # type: ignore[union-attr]
            ("untrusted-bundle", f"--trust {digest}", f"trust=[{digest!r}]")
        ]
        text = str(answer["text"])
        assert digest in text and "custom_layer_dep.py" in text and "custom_base.py" in text
        assert "imports custom_base, keras" in text
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "check", name],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 4 and f"--trust {digest}" in result.stdout, result.stdout


def test_one_byte_of_bundled_code_changed_is_refused(
    saved: dict[str, object], tmp_path: Path
) -> None:
    place_b = _place_b(saved, tmp_path, "bundled.keras")
    digest = str(saved["digest"])

    def one_byte(manifest: dict[str, object]) -> None:
        bundle = manifest["bundle"]
        assert isinstance(bundle, dict)
        for item in bundle["files"]:
            if item["module"] == "custom_layer_dep":
                assert "inputs + self.base.param" in item["source"]
                item["source"] = item["source"].replace("inputs + self", "inputs - self")

    _rewrite_bundle(place_b / "bundled.keras", one_byte)
    answer = _load(place_b, "bundled.keras", [digest])
    assert answer["error"] == "UnresolvedObjectsError", answer
    assert [p[0] for p in answer["problems"]] == ["bundle-damaged"]  # type: ignore[union-attr]

    # The same change with every hash and the digest recomputed: a different bundle, whose
    # digest nobody trusted.
    new_digest: list[str] = []
    _rewrite_bundle(place_b / "bundled.keras", lambda m: new_digest.append(_resign(m)))
    assert f"sha256:{new_digest[0]}" != digest
    answer = _load(place_b, "bundled.keras", [digest])
    assert [p[0] for p in answer["problems"]] == ["untrusted-bundle"]  # type: ignore[union-attr]
    assert f"sha256:{new_digest[0]}" in str(answer["text"])


@pytest.mark.parametrize("name", ["bundled.keras", "bundled.h5"])
def test_plain_keras_with_the_code_present_still_loads_the_bundled_file(
    saved: dict[str, object], name: str
) -> None:
    code = textwrap.dedent(
        f"""
        import keras, numpy as np
        from custom_layer_dep import MyDependentLayer
        model = keras.saving.load_model(
            {name!r}, custom_objects={{"MyDependentLayer": MyDependentLayer}}
        )
        assert np.array_equal(model.predict(np.load("x.npy"), verbose=0), np.load("y.npy"))
        print("ok")
        """
    )
    result = subprocess.run(
        [PYTHON, "-c", code],
        cwd=Path(str(saved["a"])),
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.stdout.strip().endswith("ok"), result.stderr[-3000:]


@pytest.mark.parametrize("module", ["json", "keras", "numpy", "custom_layer_dep"])
def test_a_bundle_providing_a_module_that_exists_here_is_refused(
    saved: dict[str, object], tmp_path: Path, module: str
) -> None:
    place_b = _place_b(saved, tmp_path, "bundled.keras")
    digest: list[str] = []

    def add(manifest: dict[str, object]) -> None:
        bundle = manifest["bundle"]
        assert isinstance(bundle, dict)
        bundle["files"].append(
            {"module": module, "path": f"{module}.py", "size": 0, "sha256": "", "source": ""}
        )
        digest.append(_resign(manifest))

    if module == "custom_layer_dep":  # the user's own module, on sys.path (the cwd) here
        (place_b / "custom_layer_dep.py").write_text("# the user's own module\n")
    else:
        _rewrite_bundle(place_b / "bundled.keras", add)
    trust = [f"sha256:{digest[0]}"] if digest else [str(saved["digest"])]
    code = textwrap.dedent(
        """
        import json, sys, kerascope
        plan = kerascope.check(sys.argv[1], trust=json.loads(sys.argv[2]))
        print(json.dumps([(p.key, p.reason, p.message) for p in plan.problems]))
        """
    )
    result = subprocess.run(
        [PYTHON, "-c", code, "bundled.keras", json.dumps(trust)],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    assert [(key, reason) for key, reason, _ in problems] == [(module, "bundle-spoofing")]
    assert "exists here" in problems[0][2]


def test_the_users_own_source_given_with_from_wins_and_drift_is_reported(
    saved: dict[str, object], tmp_path: Path
) -> None:
    place_b = _place_b(saved, tmp_path, "bundled.keras")
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copy(SEED_3 / "custom_layer_dep.py", mine / "custom_layer_dep.py")
    shutil.copy(SEED_3 / "custom_base.py", mine / "custom_base.py")
    with open(mine / "custom_base.py", "a") as handle:
        handle.write("# my own edit\n")
    answer = _load(place_b, "bundled.keras", [], [str(mine)])
    assert answer.get("equal") is True, answer
    origins = answer["origins"]
    assert isinstance(origins, dict)
    assert origins["custom_base"][1] == str(mine / "custom_base.py")
    code = "import kerascope, sys; print(kerascope.check(sys.argv[1], sources=[sys.argv[2]]).notes)"
    result = subprocess.run(
        [PYTHON, "-c", code, "bundled.keras", str(mine)],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "drift: your source" in result.stdout and "custom_base.py" in result.stdout


def test_scan_reports_os_system_at_import_in_bundled_code_and_nothing_runs(
    saved: dict[str, object], tmp_path: Path
) -> None:
    place_b = _place_b(saved, tmp_path, "bundled.keras")
    canary = tmp_path / "CANARY"

    def hostile(manifest: dict[str, object]) -> None:
        bundle = manifest["bundle"]
        assert isinstance(bundle, dict)
        for item in bundle["files"]:
            if item["module"] == "custom_base":
                item["source"] = f"import os\nos.system('touch {canary}')\n" + item["source"]
        _resign(manifest)

    _rewrite_bundle(place_b / "bundled.keras", hostile)
    for command in (["scan", "bundled.keras", "--json"], ["check", "bundled.keras"]):
        result = subprocess.run(
            [PYTHON, "-m", "kerascope", *command],
            cwd=place_b,
            env=ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        if command[0] == "scan":
            assert result.returncode == 7, result.stderr  # review
            found = {(f["code"], f["json_path"]) for f in json.loads(result.stdout)["findings"]}
            assert ("bundle-process", "bundle:custom_base.py:2") in found
            assert ("bundle-import-time-code", "bundle:custom_base.py:2") in found
            report = json.loads(result.stdout)["findings"]
            message = next(f["message"] for f in report if f["code"] == "bundle-process")
            assert "os.system (at import)" in message
        else:
            assert result.returncode == 4  # not trusted: refused, nothing imported
    assert not canary.exists()


@pytest.mark.parametrize("name", ["plain.keras", "plain.h5"])
def test_kerascope_bundle_adds_a_bundle_without_keras_then_it_loads_elsewhere(
    saved: dict[str, object], tmp_path: Path, name: str
) -> None:
    place_a = Path(str(saved["a"]))
    out = tmp_path / f"out{Path(name).suffix}"
    result = subprocess.run(
        [PYTHON, "-c", BLOCKED, "bundle", name, "--from", str(place_a), "-o", str(out)],
        cwd=place_a,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    digest = str(saved["digest"])
    assert f"digest: {digest}" in result.stdout  # the same code: the digest save_model wrote
    if name.endswith(".keras"):
        with zipfile.ZipFile(place_a / name) as before, zipfile.ZipFile(out) as after:
            assert [(i.filename, i.compress_type) for i in before.infolist()] == [
                (i.filename, i.compress_type) for i in after.infolist()
            ]
    place_b = _place_b(saved, tmp_path, "x.npy")
    shutil.copy(out, place_b / out.name)
    answer = _load(place_b, out.name, [digest])
    assert answer.get("equal") is True, answer


def test_unbundle_writes_the_sources_for_review_and_inspect_lists_them(
    saved: dict[str, object], tmp_path: Path
) -> None:
    place_b = _place_b(saved, tmp_path, "bundled.keras")
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "unbundle", "bundled.keras", "review"],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in ("custom_layer_dep.py", "custom_base.py"):
        assert (place_b / "review" / name).read_bytes() == (SEED_3 / name).read_bytes()
    inspected = subprocess.run(
        [PYTHON, "-m", "kerascope", "inspect", "bundled.keras", "--json"],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    bundle = json.loads(inspected.stdout)["manifest"]["bundle"]
    assert f"sha256:{bundle['digest']}" == saved["digest"]
    assert [(f["path"], f["size"]) for f in bundle["files"]] == [
        (name, (SEED_3 / name).stat().st_size) for name in ("custom_base.py", "custom_layer_dep.py")
    ]
    text = subprocess.run(
        [PYTHON, "-m", "kerascope", "inspect", "bundled.keras"],
        cwd=place_b,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert f"Bundle {saved['digest']}" in text and "custom_layer_dep.py" in text
