"""One findings record and one severity scale for inspect, scan and the save lint, and one place
per rule: hand-made files, no Keras (the lint's side is in test_lint.py)."""

from __future__ import annotations

import base64
import json
import marshal
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

import kerascope
from kerascope._audit.findings import SEVERITIES, highest, rank
from tests.conftest import run_cli

LAMBDA_PATH = "$.config.layers[0].config.function"
FINDING_KEYS = {"severity", "code", "json_path", "object", "message", "fix"}


def _archive(tmp: Path, layer: dict[str, Any], name: str = "m.keras") -> Path:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {"name": "s", "layers": [layer]},
    }
    path = tmp / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return path


def _lambda_file(tmp: Path) -> Path:
    code = base64.b64encode(marshal.dumps((lambda x: x).__code__)).decode()  # real bytecode
    function = {"class_name": "__lambda__", "config": {"code": code, "defaults": None}}
    layer = {
        "module": "keras.layers",
        "class_name": "Lambda",
        "registered_name": None,
        "config": {"name": "l", "function": function},
    }
    return _archive(tmp, layer, "lambda.keras")


def _non_modeling_file(tmp: Path) -> Path:
    layer = {
        "module": "keras.models",
        "class_name": "load_model",
        "registered_name": None,
        "config": {"filepath": "x"},
    }
    return _archive(tmp, layer, "gadget.keras")


def test_scale_is_ordered_and_highest_reads_it() -> None:
    assert SEVERITIES == ("info", "low", "medium", "high")
    assert [rank(s) for s in SEVERITIES] == [0, 1, 2, 3]
    assert highest([]) == "none"
    findings = [kerascope.Finding(s, "x", "m", "f") for s in ("low", "info", "medium")]
    assert highest(findings) == "medium"


@pytest.mark.parametrize(
    ("make", "code", "json_path"),
    [
        (_lambda_file, "lambda", LAMBDA_PATH),
        (_non_modeling_file, "non-modeling-api", "$.config.layers[0]"),
    ],
    ids=["lambda", "non-modeling-api"],
)
def test_inspect_and_scan_report_one_rule_alike(
    tmp_path: Path, make: Any, code: str, json_path: str
) -> None:
    """The two rules inspect and scan both report come from one place: same record, same
    severity (high: kerascope refuses), same words."""
    path = make(tmp_path)
    from_inspect = [f for f in kerascope.inspect(path).findings if f.code == code]
    from_scan = [f for f in kerascope.scan(path).findings if f.code == code]
    assert len(from_inspect) == len(from_scan) == 1
    assert from_inspect == from_scan
    assert type(from_inspect[0]) is type(from_scan[0]) is kerascope.Finding
    assert from_scan[0].severity == "high" and from_scan[0].json_path == json_path


@pytest.mark.parametrize("make", [_lambda_file, _non_modeling_file], ids=["lambda", "gadget"])
def test_a_rule_both_report_is_one_problem_and_allow_lifts_it(tmp_path: Path, make: Any) -> None:
    path = make(tmp_path)
    plan = kerascope.check(path)
    reasons = [problem.reason for problem in plan.problems]
    code = "lambda" if "lambda" in path.name else "non-modeling-api"
    assert reasons.count(code) == 1, reasons
    assert code not in [p.reason for p in kerascope.check(path, allow=[code]).problems]


def test_every_finding_is_on_the_scale(tmp_path: Path) -> None:
    for path in (_lambda_file(tmp_path), _non_modeling_file(tmp_path)):
        for finding in (*kerascope.inspect(path).findings, *kerascope.scan(path).findings):
            assert finding.severity in SEVERITIES, finding


def test_json_findings_have_the_record_keys(tmp_path: Path) -> None:
    path = _lambda_file(tmp_path)
    inspected = json.loads(run_cli("inspect", str(path), "--json").stdout)
    assert inspected["schema_version"] == 2
    assert all(set(f) == FINDING_KEYS for f in inspected["findings"])
    # the refusal, and what the bytecode reads (kerascope._audit.scan_lambda)
    assert [f["code"] for f in inspected["findings"]] == ["lambda", "lambda-bytecode"]
    assert inspected["findings"][0]["severity"] == "high"
    scanned = json.loads(run_cli("scan", str(path), "--json").stdout)
    assert scanned["schema_version"] == 1
    # scan keeps `kind` (schema version 1), the same value as `code`
    assert all(set(f) == FINDING_KEYS | {"kind"} for f in scanned["findings"])
    assert all(f["kind"] == f["code"] for f in scanned["findings"])


def test_cli_renders_findings_highest_first(tmp_path: Path) -> None:
    path = _lambda_file(tmp_path)
    result = run_cli("inspect", str(path))
    assert f"  high: lambda at {LAMBDA_PATH}" in result.stdout
    scanned = run_cli("scan", str(path)).stdout.splitlines()
    assert scanned[0].endswith(": .keras archive: 1 high, 1 info")
    assert scanned[1] == f"  high: lambda at {LAMBDA_PATH}"
    assert scanned[3].startswith("    fix: ") and "--unsafe" in scanned[3]


def test_describe_names_the_object_when_there_is_no_path() -> None:
    finding = kerascope.Finding("medium", "not-findable", "m", "f", object="mylayers.Scale")
    assert finding.describe().splitlines()[0] == "medium: not-findable in mylayers.Scale"


def test_scan_finding_is_a_deprecated_alias_of_finding() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alias = kerascope.ScanFinding
    assert alias is kerascope.Finding
    assert [w.category for w in caught] == [DeprecationWarning]
    finding = kerascope.Finding("high", "url", "m", "f", "$.x")
    assert finding.kind == finding.code == "url"
    assert "ScanFinding" not in kerascope.__all__
