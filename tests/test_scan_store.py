"""``kerascope scan`` over a store: files and directories walked, models recognised by content,
scanned in a pool of worker processes with the findings each file gets alone; JSON, SARIF,
``--fail-on``, ``--exclude``, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import h5py
import jsonschema
import pytest

import kerascope
from kerascope._audit.store import StoreReport
from tests.conftest import PYTHON, QUIET_ENV, run_cli, run_cli_on_terminal, run_python

SARIF_SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
PAYLOAD_MODULE = "tests.malicious.payloads"
ROOT = Path(__file__).resolve().parent.parent


def _model(*layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "s", "layers": list(layers)},
    }


def _layer(class_name: str, module: str = "keras.layers", **config: Any) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": class_name,
        "registered_name": None,
        "config": {"name": "x", "trainable": True, "dtype": "float32", **config},
    }


CLEAN = _model(_layer("Dense", units=3))
INFO = _model(_layer("Mine", module="mylayers"))  # custom-object: info
MEDIUM = _model(_layer("Dense", units=1, note="/home/user/data/file.txt"))  # file-path: medium
HIGH = _model(_layer("system", module="os"))  # stdlib-object: high


def _archive(path: Path, config: Any, extra: dict[str, bytes] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        for member, data in (extra or {}).items():
            archive.writestr(member, data)
    return path


def _h5(path: Path, config: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.attrs["keras_version"] = "3.15.1"
        handle.create_group("model_weights")
    return path


def _unzipped(path: Path, config: Any) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    (path / "metadata.json").write_text(json.dumps({"keras_version": "3.15.1"}))
    return path


def _mixed_store(root: Path) -> Path:
    """Models of every form and severity, nested; a SavedModel; files that are not models."""
    _archive(root / "clean.keras", CLEAN)
    _archive(root / "renamed.bin", HIGH)  # a .keras archive by content, whatever its name
    _h5(root / "legacy.h5", MEDIUM)
    _h5(root / "nested" / "deeper" / "info.hdf5", INFO)
    _unzipped(root / "nested" / "unzipped_model", HIGH)
    _archive(root / "nested" / "deeper" / "deepest" / "medium.keras", MEDIUM)
    saved_model = root / "exported"
    (saved_model / "variables").mkdir(parents=True)
    (saved_model / "saved_model.pb").write_bytes(b"\x08\x01")
    (root / "README.md").write_text("models\n")
    (root / "nested" / "data.json").write_text("{}")
    with zipfile.ZipFile(root / "nested" / "bundle.zip", "w") as archive:
        archive.writestr("readme.txt", "not a model")
    (root / "empty.keras").write_bytes(b"")
    _archive(root / "old" / "stale.keras", HIGH)  # left out by --exclude 'old/*'
    _archive(root / "nested" / "scratch.keras.tmp", HIGH)  # left out by --exclude '*.tmp'
    (root / "link.keras").symlink_to(root / "clean.keras")  # not followed by the walk
    return root


EXCLUDE = ("old/*", "*.tmp")
EXCLUDE_ARGUMENTS = [argument for glob in EXCLUDE for argument in ("--exclude", glob)]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return _mixed_store(tmp_path / "store")


def _relative(report: StoreReport, root: Path) -> list[tuple[str, str | None]]:
    return [(str(Path(r.path).relative_to(root)), r.format) for r in report.reports]


def test_models_are_found_by_content_in_sorted_order(store: Path) -> None:
    report = kerascope.scan_paths(store, jobs=2, exclude=EXCLUDE)
    assert _relative(report, store) == [
        ("clean.keras", "keras"),
        ("legacy.h5", "h5"),
        ("nested/deeper/deepest/medium.keras", "keras"),
        ("nested/deeper/info.hdf5", "h5"),
        ("nested/unzipped_model", "keras-dir"),
        ("renamed.bin", "keras"),
    ]
    assert [Path(item.path).name for item in report.not_audited] == ["exported"]
    assert "TensorFlow SavedModel" in report.not_audited[0].problem
    # README.md, data.json, bundle.zip, empty.keras, the symbolic link
    assert (report.skipped, report.excluded, report.errors) == (5, 2, ())
    summary = report.summary()
    assert summary["by_format"] == [
        {"format": "keras", "files": 3},
        {"format": "keras-dir", "files": 1},
        {"format": "h5", "files": 2},
    ]
    assert summary["findings"] == {"high": 2, "medium": 2, "low": 0, "info": 1}
    assert summary["worst_file"] == str(store / "nested" / "unzipped_model")


def test_each_file_gets_the_findings_it_gets_alone(store: Path) -> None:
    report = kerascope.scan_paths([store], jobs=2, exclude=EXCLUDE)
    assert len(report.reports) == 6
    for scanned in report.reports:
        assert scanned == kerascope.scan(scanned.path), scanned.path
    assert report.reports == kerascope.scan_paths([store], jobs=1, exclude=EXCLUDE).reports


def test_jobs_1_and_jobs_2_print_the_same(store: Path) -> None:
    for output in ([], ["--json"]):
        one = run_cli("scan", str(store), *EXCLUDE_ARGUMENTS, "--jobs", "1", *output)
        two = run_cli("scan", str(store), *EXCLUDE_ARGUMENTS, "--jobs", "2", *output)
        assert (one.returncode, one.stdout, one.stderr) == (two.returncode, two.stdout, "")
        assert one.returncode == 8
    document = json.loads(two.stdout)
    assert document["schema_version"] == 2
    assert [entry["path"] for entry in document["files"]] == [
        r.path for r in kerascope.scan_paths(store, exclude=EXCLUDE).reports
    ]
    text = run_cli("scan", str(store), *EXCLUDE_ARGUMENTS).stdout
    assert "models scanned  6 of 6 (3 .keras, 1 unzipped .keras, 2 .h5)" in text
    assert "findings        2 high, 2 medium, 1 info (in 5 files)" in text
    assert "exported: not a Keras file, not audited: is a TensorFlow SavedModel" in text
    assert "clean.keras" not in text  # files without findings are only counted


def test_sarif_validates_against_the_sarif_2_1_0_schema(store: Path, tmp_path: Path) -> None:
    sarif = tmp_path / "scan.sarif"
    result = run_cli("scan", str(store), "--sarif", str(sarif), "--exclude", "old/*")
    assert result.returncode == 8, result.stderr
    log = json.loads(sarif.read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["stdlib-object"]["defaultConfiguration"]["level"] == "error"
    assert rules["file-path"]["defaultConfiguration"]["level"] == "warning"
    assert rules["custom-object"]["defaultConfiguration"]["level"] == "note"
    # renamed.bin, unzipped_model and scratch.keras.tmp hold a high finding each
    high = [r for r in run["results"] if r["ruleId"] == "stdlib-object"]
    assert len(high) == 3 and {r["level"] for r in high} == {"error"}
    where = high[0]["locations"][0]
    assert where["physicalLocation"]["artifactLocation"]["uri"].startswith("file:///")
    assert where["logicalLocations"][0]["fullyQualifiedName"].startswith("$.config.layers[0]")
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert "not audited" in notes[0]["message"]["text"]
    # relative paths stay relative, and '-' writes to stdout
    relative = run_cli("scan", "store", "--sarif", "-", cwd=tmp_path)
    log = json.loads(relative.stdout)
    jsonschema.Draft4Validator(schema).validate(log)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert "store/renamed.bin" in uris


_WORKER_READS = """
import sys
from kerascope._audit.store_worker import _answer
from kerascope._reading import hdf5_child
hdf5_child.read_in_process(sys.argv[2] == "in-process")
answer = _answer(sys.argv[1])
print(sorted(answer["report"]), "h5py" in sys.modules)
"""


def test_a_worker_reads_hdf5_itself_and_a_single_scan_in_a_child(tmp_path: Path) -> None:
    """The pool's workers import h5py once and keep it; a single scan never imports it."""
    model = _h5(tmp_path / "m.h5", MEDIUM)
    alone = run_python(_WORKER_READS, str(model), "isolated")
    worker = run_python(_WORKER_READS, str(model), "in-process")
    assert alone == "['findings', 'format', 'path'] False\n"
    assert worker == "['findings', 'format', 'path'] True\n"


def test_usage_errors_are_reported_before_scanning(tmp_path: Path) -> None:
    model = _archive(tmp_path / "m.keras", HIGH)
    unwritable = tmp_path / "no such directory" / "scan.sarif"
    for arguments, message in (
        (["--sarif", str(unwritable)], "cannot write the SARIF log"),
        (["--json", "--sarif", "-"], "both write to stdout"),
        (["--jobs", "0"], "expected a whole number of at least 1"),
        (["--fail-on", "severe"], "invalid choice"),
    ):
        result = run_cli("scan", str(model), *arguments)
        assert result.returncode == 2, arguments
        assert message in result.stderr and result.stdout == "", result.stderr


@pytest.mark.parametrize(
    ("files", "fail_on", "code"),
    [
        ({"a.keras": CLEAN, "b.keras": INFO}, None, 0),
        ({"a.keras": CLEAN, "b.keras": INFO}, "info", 7),
        ({"a.keras": CLEAN, "b.keras": INFO}, "low", 0),
        ({"a.keras": INFO, "b.keras": MEDIUM}, None, 7),
        ({"a.keras": INFO, "b.keras": MEDIUM}, "medium", 7),
        ({"a.keras": INFO, "b.keras": MEDIUM}, "high", 0),
        ({"a.keras": MEDIUM, "b.keras": HIGH}, "high", 8),
        ({"a.keras": MEDIUM, "b.keras": HIGH}, "info", 8),
        ({"a.keras": CLEAN}, "info", 0),
    ],
)
def test_fail_on_sets_the_exit_code(
    tmp_path: Path, files: dict[str, Any], fail_on: str | None, code: int
) -> None:
    for name, config in files.items():
        _archive(tmp_path / "store" / name, config)
    extra = [] if fail_on is None else ["--fail-on", fail_on]
    result = run_cli("scan", str(tmp_path / "store"), *extra)
    assert result.returncode == code, result.stdout + result.stderr


def test_a_file_that_is_not_a_model_gets_the_answer_inspect_gives(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.txt", "a")
    for path in (text, archive, tmp_path / "missing.keras"):
        scanned = run_cli("scan", str(path))
        inspected = run_cli("inspect", str(path))
        assert (scanned.returncode, scanned.stderr) == (inspected.returncode, inspected.stderr)
        assert scanned.returncode == 3 and scanned.stdout == ""
        assert scanned.stderr.startswith(f"kerascope: error: {path}: ")
    # named among others: the same error, the rest is scanned
    high = _archive(tmp_path / "high.keras", HIGH)
    mixed = run_cli("scan", str(text), str(high))
    assert mixed.returncode == 8
    assert mixed.stderr == run_cli("inspect", str(text)).stderr
    assert "errors          1 (named paths missing or not models)" in mixed.stdout
    assert run_cli("scan", str(text), str(tmp_path / "clean.keras")).returncode == 3


def test_one_model_prints_as_before_stores(tmp_path: Path) -> None:
    path = _archive(tmp_path / "m.keras", MEDIUM)
    result = run_cli("scan", str(path), "--json")
    assert result.returncode == 7
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1 and document["path"] == str(path)
    text = run_cli("scan", str(path)).stdout
    assert text.startswith(f"{path}: .keras archive: 1 medium") and "Summary" not in text
    clean = _archive(tmp_path / "clean.keras", CLEAN)
    assert run_cli("scan", str(clean)).stdout == f"{clean}: .keras archive: nothing found\n"


def test_exclude_globs_match_relative_paths_and_names(store: Path) -> None:
    names = {Path(r.path).name for r in kerascope.scan_paths(store).reports}
    assert {"stale.keras", "scratch.keras.tmp"} <= names
    kept = kerascope.scan_paths(store, exclude=["nested", "*.h5"])
    assert _relative(kept, store) == [
        ("clean.keras", "keras"),
        ("old/stale.keras", "keras"),
        ("renamed.bin", "keras"),
    ]
    assert kept.excluded == 2
    only = kerascope.scan_paths(store, exclude=["nested/deeper/*"])
    assert "nested/deeper/info.hdf5" not in {p for p, _ in _relative(only, store)}


def test_a_model_that_hangs_the_scan_is_killed_and_reported(tmp_path: Path) -> None:
    """An HDF5 file on which h5py never returns (tests/fixtures/hostile): the pool kills the
    worker after the time limit, tries again in isolation, then reports the file and goes on.
    (A named pipe among a model directory's members no longer blocks anything: scan refuses
    it without opening it, tests/test_attack_classes.py.)"""
    store = tmp_path / "store"
    store.mkdir()
    hanging = ROOT / "tests" / "fixtures" / "hostile" / "hdf5_hang.h5"
    (store / "hanging_model.h5").write_bytes(hanging.read_bytes())
    _archive(store / "z.keras", HIGH)
    env = {**QUIET_ENV, "KERASCOPE_HDF5_TIMEOUT": "1"}
    started = time.monotonic()
    result = subprocess.run(
        [PYTHON, "-m", "kerascope", "scan", str(store), "--jobs", "2", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 30
    document = json.loads(result.stdout)
    hung, other = document["files"]
    assert hung["path"].endswith("hanging_model.h5") and hung["highest"] == "high"
    assert [f["code"] for f in other["findings"]] == ["stdlib-object"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            found.append(int(entry))
    return found


def test_ctrl_c_stops_the_workers_and_prints_a_partial_summary(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for index in range(1500):  # every file has a finding, so each prints as it is scanned
        _h5(store / f"d{index // 100:02d}" / f"m{index:04d}.h5", MEDIUM)
    process = subprocess.Popen(
        [PYTHON, "-m", "kerascope", "scan", str(store), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=QUIET_ENV,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the scan is under way
    assert first.endswith(": legacy HDF5 (.h5): 1 medium\n"), first
    workers = _children(process.pid)
    assert workers, "no worker process"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr == "kerascope: interrupted\n"
    assert "Summary: highest finding medium (interrupted: partial)" in stdout
    scanned = next(line for line in stdout.splitlines() if "models scanned" in line)
    done = int(scanned.split()[2])
    assert 1 <= done < 1500 and "of 1500" in scanned
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} is still running"


def test_progress_is_drawn_on_a_terminal_and_erased(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for index in range(400):
        _h5(store / f"m{index:04d}.h5", CLEAN)
    command = [PYTHON, "-m", "kerascope", "scan", str(store), "--jobs", "2"]
    _, stdout, text = run_cli_on_terminal(command)
    assert stdout.decode().startswith("\nSummary: nothing found")
    assert re.search(r"\r\x1b\[Kscanning: \d+ of 400 models \(\d+ s\)", text), text
    assert text.endswith("\r\x1b[K")  # erased before the summary
    piped = run_cli("scan", str(store), "--jobs", "2")
    assert piped.returncode == 0 and piped.stderr == ""


def test_a_worker_that_dies_is_replaced_and_its_file_scanned_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    for index in range(600):
        _h5(store / f"d{index // 100}" / f"m{index:04d}.h5", MEDIUM)
    process = subprocess.Popen(
        [PYTHON, "-m", "kerascope", "scan", str(store), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=QUIET_ENV,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the workers are scanning
    original = set(_children(process.pid))
    victim = min(original)
    os.kill(victim, signal.SIGKILL)
    replaced = False
    deadline = time.monotonic() + 30
    while not replaced and process.poll() is None and time.monotonic() < deadline:
        replaced = bool(set(_children(process.pid)) - original)  # a replacement is started
        time.sleep(0.01)
    # Not communicate(): it reads the pipes' file descriptors and would lose what readline()
    # above has already buffered (lines went missing that way on a loaded machine).
    rest = process.stdout.read()
    assert process.stderr is not None
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 7 and stderr == ""
    assert replaced, "no replacement worker was seen"
    reports = [line for line in (first + rest).splitlines() if line.startswith(str(store))]
    assert len(reports) == 600
    assert all(line.endswith(": legacy HDF5 (.h5): 1 medium") for line in reports)
    assert "scan-failed" not in rest


@pytest.mark.slow
def test_a_store_of_payloads_gets_the_findings_of_single_scans(tmp_path: Path) -> None:
    """The harmless attack payloads of tests/malicious and their legitimate lookalikes (real
    Keras saves), with nested copies and an unzipped one: scanned as a store and alone."""
    built = tmp_path / "payloads"
    result = subprocess.run(
        [sys.executable, "-m", PAYLOAD_MODULE, str(built)],
        cwd=ROOT,
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    store = _mixed_store(tmp_path / "store")
    manifest = json.loads((built / "manifest.json").read_text())
    for group, folder in (("payloads", "hostile"), ("lookalikes", "good/nested")):
        for entry in manifest[group]:
            if entry.get("cwd"):  # the spoofing attack is the directory it runs from, not the file
                continue
            target = store / folder / Path(entry["path"]).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if Path(entry["path"]).is_dir():  # moved, not copied: its links stay what they are
                os.rename(entry["path"], target)
            else:
                target.write_bytes(Path(entry["path"]).read_bytes())
    lookalike = Path(manifest["lookalikes"][0]["path"])
    with zipfile.ZipFile(lookalike) as archive:
        archive.extractall(store / "good" / "unzipped")
    report = kerascope.scan_paths(store, jobs=2, exclude=EXCLUDE)
    assert len(report.reports) >= len(manifest["payloads"]) + len(manifest["lookalikes"]) + 6
    for scanned in report.reports:
        assert scanned == kerascope.scan(scanned.path), scanned.path
    hostile = [r for r in report.reports if "/hostile/" in r.path]
    assert all(r.highest == "high" for r in hostile), [
        r.path for r in hostile if r.highest != "high"
    ]
    # the command line prints the same document (--jobs 1 against 2: the small store above)
    two = run_cli("scan", str(store), *EXCLUDE_ARGUMENTS, "--jobs", "2", "--json")
    assert two.returncode == 8 and json.loads(two.stdout) == report.to_dict()


def test_every_key_of_the_store_document_is_documented(store: Path) -> None:
    from tests.test_cli import _documented_keys, _printed_keys

    documented = _documented_keys(ROOT / "docs" / "scan-store-json.md")
    result = run_cli("scan", str(store), str(store / "missing.keras"), "--json")
    assert result.returncode == 8, result.stderr
    printed = _printed_keys(json.loads(result.stdout))
    assert printed - documented == set()
    assert {where for where, _ in documented} == {where for where, _ in printed}


def test_weights_without_a_model_are_audited_not_called_unreadable(tmp_path: Path) -> None:
    import h5py
    import numpy as np

    store = tmp_path / "weights"
    store.mkdir()
    with h5py.File(store / "dense.weights.h5", "w") as handle:
        handle.create_group("layers/dense/vars").create_dataset("0", data=np.zeros((3, 4)))
    np.savez(store / "plain.weights.npz", kernel=np.zeros(3))
    np.savez(store / "pickled.weights.npz", kernel=np.array([object()], dtype=object))
    report = kerascope.scan_paths(store, jobs=1)
    found = {
        Path(r.path).name: (r.format, sorted(f.code for f in r.findings)) for r in report.reports
    }
    assert found == {
        "dense.weights.h5": ("weights-h5", ["weights-only"]),
        "plain.weights.npz": ("weights-npz", ["weights-only"]),
        "pickled.weights.npz": ("weights-npz", ["npz-pickle", "weights-only"]),
    }
    assert kerascope.scan(store / "dense.weights.h5").highest == "info"
