"""Every payload of tests/malicious: scan reports it, load_model refuses it before anything runs,
and what plain Keras does with the same file is measured for SECURITY.md.

The payloads are built twice, once for kerascope and once for plain Keras, because plain Keras is
asked to run some of them (``safe_mode=False`` on Lambda payloads) while kerascope's tests check
that the markers never appear. Plain Keras runs in background processes (one per working
directory, each load in a fresh thread so a payload flipping Keras's thread-local safe-mode flag
cannot affect the next one) while the kerascope tests run.

Set KERASCOPE_SECURITY_RESULTS to keep the measured outcomes; ``tools/security_table.py`` turns
them into SECURITY.md. Run without ``-n`` for that: under pytest-xdist each worker writes only
its share, to ``$KERASCOPE_SECURITY_RESULTS.<worker>``.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import kerascope
from tests.conftest import PYTHON, QUIET_ENV, ROOT, run_cli
from tests.malicious.payloads import LOOKALIKES, PAYLOADS, Payload

pytestmark = pytest.mark.slow

EXIT_HIGH = 8
SCANNED = [p for p in PAYLOADS if p.kinds]
SPOOF = next(p for p in PAYLOADS if p.from_sandbox)
OUTCOME = re.compile(
    r"^(loaded|loaded and ran the payload \(marker created\)|loaded and read the outside file .*"
    r"|(ran the payload \(marker created\), then |read the outside file \(.*\), then )?"
    r"refused: \w+.*)( \(it also wrote in Keras's home directory: .*\))?$"
)
# Plain Keras runs with downloads blocked (every proxy is a closed local port) and its home, and
# Keras's, in the payload tree: nothing it does can reach the network or the real home directory.
_BLOCKED = "http://127.0.0.1:9"

_BUILD = """
import sys
from tests.malicious.payloads import build_all
for folder in sys.argv[1:]:
    build_all(folder)
"""

# Plain Keras, default arguments (and safe_mode=False for Lambda payloads), one payload after
# another; markers are distinct per payload and removed after each load.
_KERAS_CHILD = r"""
import json, os, sys, tempfile, threading
jobs = json.load(open(sys.argv[1]))
import keras
import numpy as np

def first_line(error):
    # Keras wraps the real reason: keep it, drop the kilobytes of config around it.
    text = str(error).strip()
    if "Exception encountered: " in text:
        text = text.rsplit("Exception encountered: ", 1)[1]
    elif text.startswith("A total of") and ":\n\n" in text:
        text = text.split(":\n\n", 1)[1]
    for cut in (" Full object config:", "\n\nconfig=", " using config="):
        text = text.split(cut, 1)[0]
    text = text.strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")

def home_tree():
    # What exists in Keras's home (a directory of the payload tree): a payload whose callable
    # runs while loading may write there (get_file creates its cache directory first).
    found = set()
    for folder, directories, files in os.walk(os.environ["KERAS_HOME"]):
        relative = os.path.relpath(folder, os.environ["KERAS_HOME"])
        found.update(os.path.normpath(os.path.join(relative, n)) for n in directories + files)
    return found

def attempt(job, safe_mode):
    home_before = home_tree()
    outcome = attempt_once(job, safe_mode)
    written = sorted(home_tree() - home_before)
    if written:
        outcome += " (it also wrote in Keras's home directory: " + ", ".join(written[:3]) + ")"
    return outcome

def attempt_once(job, safe_mode):
    state = {}
    canary = job.get("canary")
    if canary:  # an access time in the past: reading the file moves it to now
        status = os.stat(canary)
        os.utime(canary, (status.st_mtime - 1000, status.st_mtime))
        accessed = os.stat(canary).st_atime
    def run():
        try:
            kwargs = {} if safe_mode is None else {"safe_mode": safe_mode}
            model = keras.saving.load_model(job["path"], **kwargs)
        except BaseException as error:
            state["error"] = first_line(error)
        else:
            leak = job["leak_value"]
            state["leaked"] = leak is not None and any(
                bool(np.any(np.asarray(w) == leak)) for w in model.get_weights())
    tempfile.tempdir = job["tmpdir"]
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    ran = os.path.exists(job["marker"])
    if ran:
        os.remove(job["marker"])
    read = bool(canary) and os.stat(canary).st_atime > accessed
    if "error" in state:
        refused = "refused: " + state["error"]
        if read:
            return "read the outside file (its access time changed), then " + refused
        return "ran the payload (marker created), then " + refused if ran else refused
    if ran:
        return "loaded and ran the payload (marker created)"
    if state.get("leaked"):
        return "loaded and read the outside file (its values are in the weights)"
    if read:
        return "loaded and read the outside file (its access time changed)"
    return "loaded"

results = {"keras_version": keras.__version__, "outcomes": {}}
for job in jobs:
    outcome = {"default": attempt(job, None)}
    if job["try_unsafe"]:
        outcome["safe_mode=False"] = attempt(job, False)
    results["outcomes"][job["name"]] = outcome
with open(sys.argv[2], "w") as handle:
    json.dump(results, handle)
"""

_KERASCOPE_CHILD = r"""
import json, sys, tempfile
tempfile.tempdir = sys.argv[2]
import kerascope
result = {"error": None, "reasons": [], "message": ""}
try:
    kerascope.load_model(sys.argv[1], safe_mode=sys.argv[3] != "unsafe")
except kerascope.UnresolvedObjectsError as error:
    result.update(error="UnresolvedObjectsError", reasons=[p.reason for p in error.problems],
                  message=str(error).splitlines()[0])
except Exception as error:
    result.update(error=type(error).__name__, message=(str(error).splitlines() or [""])[0])
result["keras_imported"] = "keras" in sys.modules
print(json.dumps(result))
"""


class Payloads(NamedTuple):
    """The built payload trees and the plain-Keras processes measuring the second one."""

    mine: Path  # kerascope's copy
    theirs: Path  # plain Keras's copy
    children: list[tuple[subprocess.Popen[bytes], Path]]


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Any]]:
    """Everything measured in this module, written out as JSON at the end."""
    collected: dict[str, Any] = {
        "generated": datetime.date.today().isoformat(),
        "keras_version": None,
        "kerascope_version": kerascope.__version__,
        "python": sys.version.split()[0],
        "payloads": {
            p.name: {
                "file": p.filename,
                "advisory": p.advisory,
                "attack": p.attack,
                "expected_kinds": list(p.kinds),
                "expected_reasons": list(p.reasons),
                "does": p.does,
                "try_unsafe": p.try_unsafe,
            }
            for p in PAYLOADS
        },
        "lookalikes": {
            p.name: {"file": p.filename, "attack": p.attack, "does": p.does} for p in LOOKALIKES
        },
    }
    yield collected
    target = os.environ.get("KERASCOPE_SECURITY_RESULTS") or os.path.join(
        tempfile.gettempdir(), "kerascope-security-results.json"
    )
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker saw only part of the module
        target += "." + os.environ["PYTEST_XDIST_WORKER"]
    Path(target).write_text(json.dumps(collected, indent=2) + "\n")


@pytest.fixture(scope="module")
def payloads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Payloads]:
    """Build every payload twice, then start plain Keras on the second copy in the background."""
    base = tmp_path_factory.mktemp("malicious")
    mine, theirs = base / "payloads-kerascope", base / "payloads-keras"
    built = subprocess.run(
        [PYTHON, "-c", _BUILD, str(mine), str(theirs)],
        cwd=ROOT,
        env=QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for payload in PAYLOADS + LOOKALIKES:
        entry = payload.to_dict(theirs)
        groups.setdefault(entry["cwd"], []).append(entry)
    children = []
    for index, (cwd, jobs) in enumerate(groups.items()):
        jobs_file, results_file = base / f"jobs-{index}.json", base / f"keras-{index}.json"
        jobs_file.write_text(json.dumps(jobs))
        home = base / "keras-home"
        home.mkdir(exist_ok=True)
        proxies = {key: _BLOCKED for key in ("http_proxy", "https_proxy", "ftp_proxy")}
        proxies |= {key.upper(): value for key, value in proxies.items()}
        env = {**QUIET_ENV, **proxies, "HOME": str(home), "KERAS_HOME": str(home / ".keras")}
        env |= {"no_proxy": "", "NO_PROXY": ""}
        with open(base / f"keras-{index}.log", "w") as log:
            child = subprocess.Popen(
                [PYTHON, "-c", _KERAS_CHILD, str(jobs_file), str(results_file)],
                cwd=cwd or theirs,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        children.append((child, results_file))
    yield Payloads(mine, theirs, children)
    for child, _ in children:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.fixture(scope="module")
def keras_outcomes(payloads: Payloads, results: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What plain ``keras.saving.load_model`` did with each payload."""
    outcomes: dict[str, dict[str, str]] = {}
    for child, results_file in payloads.children:
        child.wait(timeout=300)
        log = results_file.with_suffix(".log").read_text()
        assert child.returncode == 0, log[-4000:]
        measured = json.loads(results_file.read_text())
        results["keras_version"] = measured["keras_version"]
        outcomes.update(measured["outcomes"])
    by_name = {p.name: p for p in PAYLOADS + LOOKALIKES}
    return {
        name: {run: _anonymous(text, by_name[name], payloads.theirs) for run, text in runs.items()}
        for name, runs in outcomes.items()
    }


def _anonymous(text: str, payload: Payload, folder: Path) -> str:
    """The text without this run's temporary paths."""
    return text.replace(str(payload.sandbox(folder)), "<sandbox>").replace(f"{folder}{os.sep}", "")


_LOADS: dict[tuple[str, bool], dict[str, Any]] = {}


def _kerascope_load(payload: Payload, folder: Path, unsafe: bool = False) -> dict[str, Any]:
    """``kerascope.load_model`` on the payload in a fresh process (once per payload and mode;
    ``unsafe``: with ``safe_mode=False``)."""
    if (payload.name, unsafe) not in _LOADS:
        entry = payload.to_dict(folder)
        mode = "unsafe" if unsafe else "safe"
        child = subprocess.run(
            [PYTHON, "-c", _KERASCOPE_CHILD, entry["path"], entry["tmpdir"], mode],
            cwd=entry["cwd"] or folder,
            env=QUIET_ENV,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert child.returncode == 0, child.stderr[-4000:]
        loaded = json.loads(child.stdout.strip().splitlines()[-1])
        loaded["message"] = _anonymous(loaded["message"], payload, folder)
        loaded["marker"] = payload.marker(folder).exists()
        _LOADS[payload.name, unsafe] = loaded
    return _LOADS[payload.name, unsafe]


def _high_kinds(report: kerascope.ScanReport) -> set[str]:
    return {finding.code for finding in report.findings if finding.severity == "high"}


# --- scan ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", SCANNED, ids=lambda p: p.name)
def test_scan_reports_payload(
    payload: Payload, payloads: Payloads, results: dict[str, Any]
) -> None:
    path = payload.path(payloads.mine)
    report = kerascope.scan(path)
    cli = run_cli("scan", str(path), "--json")
    results["payloads"][payload.name]["scan"] = {
        "high_kinds": sorted(_high_kinds(report)),
        "other": sorted(
            {f"{f.severity}:{f.code}" for f in report.findings if f.severity != "high"}
        ),
        "exit_code": cli.returncode,
    }
    assert set(payload.kinds) <= _high_kinds(report), report.findings
    assert cli.returncode == EXIT_HIGH, cli.stderr
    assert {f["code"] for f in json.loads(cli.stdout)["findings"]} >= set(payload.kinds)


def test_scan_sees_only_the_file_of_a_spoofing_attack(
    payloads: Payloads, results: dict[str, Any]
) -> None:
    """The spoofing payload is an ordinary file: the attack is the directory next to it."""
    path = SPOOF.path(payloads.mine)
    report = kerascope.scan(path)
    cli = run_cli("scan", str(path), cwd=SPOOF.sandbox(payloads.mine))
    results["payloads"][SPOOF.name]["scan"] = {
        "high_kinds": sorted(_high_kinds(report)),
        "other": sorted(
            {f"{f.severity}:{f.code}" for f in report.findings if f.severity != "high"}
        ),
        "exit_code": cli.returncode,
    }
    assert [f.code for f in report.findings if f.severity == "info"] == ["keras-package"]
    assert cli.returncode == 0, cli.stderr


# --- load_model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_load_model_lists_every_problem(
    payload: Payload, payloads: Payloads, results: dict[str, Any]
) -> None:
    loaded = _kerascope_load(payload, payloads.mine)
    results["payloads"][payload.name]["kerascope_load"] = loaded
    if payload.name.startswith("deep-"):
        # A config too deep to walk is refused as an unreadable file, before any audit.
        assert loaded["error"] == "ModelFileError", loaded
        return
    assert loaded["error"] == "UnresolvedObjectsError", loaded
    assert set(payload.reasons) <= set(loaded["reasons"]), loaded


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_load_model_never_runs_the_payload(payload: Payload, payloads: Payloads) -> None:
    loaded = _kerascope_load(payload, payloads.mine)
    assert loaded["error"] in ("UnresolvedObjectsError", "ModelFileError"), loaded
    assert not loaded["keras_imported"], "refused, but only after importing Keras"
    assert not loaded["marker"], f"{payload.marker(payloads.mine)} was created"


DANGEROUS_BYTECODE = [p for p in PAYLOADS if "lambda-bytecode-dangerous-names" in p.kinds]


@pytest.mark.parametrize("payload", DANGEROUS_BYTECODE, ids=lambda p: p.name)
def test_unsafe_does_not_accept_bytecode_that_reaches_the_system(
    payload: Payload, payloads: Payloads, results: dict[str, Any]
) -> None:
    """``safe_mode=False`` accepts Lambda bytecode, but not bytecode naming os, open, eval, ...
    (read as data by kerascope._reading.marshal_code): refused before Keras is imported."""
    loaded = _kerascope_load(payload, payloads.mine, unsafe=True)
    results["payloads"][payload.name]["kerascope_load_unsafe"] = loaded
    assert loaded["error"] == "UnresolvedObjectsError", loaded
    assert "lambda-bytecode-dangerous-names" in loaded["reasons"], loaded
    assert "lambda" not in loaded["reasons"], loaded  # accepted by safe_mode=False
    assert not loaded["keras_imported"] and not loaded["marker"], loaded


# --- plain Keras, for SECURITY.md ------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_plain_keras_outcome_is_recorded(
    payload: Payload, keras_outcomes: dict[str, dict[str, str]], results: dict[str, Any]
) -> None:
    outcome = keras_outcomes[payload.name]
    results["payloads"][payload.name]["keras"] = outcome
    expected = ["default", "safe_mode=False"] if payload.try_unsafe else ["default"]
    assert list(outcome) == expected
    for text in outcome.values():
        assert OUTCOME.match(text), text


# --- no false alarms -----------------------------------------------------------------------------


def test_zoo_scans_clean(zoo: Path) -> None:
    """The normal models of the test zoo raise nothing above info (only the bytecode lambda)."""
    models = sorted(p for p in zoo.iterdir() if p.suffix in (".keras", ".h5"))
    assert len(models) >= 10
    for path in models:
        report = kerascope.scan(path)
        above = [(f.code, f.json_path) for f in report.findings if f.severity != "info"]
        expected = 0
        if path.stem == "lambdas":  # Lambda(lambda x: x + 1.0), then Lambda(a named function)
            assert [kind for kind, _ in above] == ["lambda"], (path.name, above)
            expected = EXIT_HIGH
        else:
            assert above == [], (path.name, above)
        assert run_cli("scan", str(path)).returncode == expected, path.name


def test_readme_describes_every_payload() -> None:
    readme = (ROOT / "tests" / "malicious" / "README.md").read_text()
    assert [p.name for p in PAYLOADS if f"`{p.name}`" not in readme] == []


# Legitimate models that look like payloads: no false alarm, and kerascope loads them.
@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=lambda p: p.name)
def test_lookalike_scans_clean(
    lookalike: Payload, payloads: Payloads, results: dict[str, Any]
) -> None:
    path = lookalike.path(payloads.mine)
    report = kerascope.scan(path)
    above = sorted({f"{f.severity}:{f.code}" for f in report.findings if f.severity != "info"})
    results["lookalikes"][lookalike.name]["scan"] = above
    assert above == [], [f for f in report.findings if f.severity != "info"]


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=lambda p: p.name)
def test_lookalike_load_plan_is_clear(
    lookalike: Payload, payloads: Payloads, results: dict[str, Any]
) -> None:
    plan = kerascope.check(lookalike.path(payloads.mine))
    results["lookalikes"][lookalike.name]["load_problems"] = sorted(
        {p.reason if p.key == p.reason else f"{p.reason}: {p.key}" for p in plan.problems}
    )
    assert plan.problems == (), [p.describe() for p in plan.problems]


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=lambda p: p.name)
def test_plain_keras_loads_lookalike(
    lookalike: Payload, keras_outcomes: dict[str, dict[str, str]], results: dict[str, Any]
) -> None:
    results["lookalikes"][lookalike.name]["keras"] = keras_outcomes[lookalike.name]
    assert keras_outcomes[lookalike.name] == {"default": "loaded"}
