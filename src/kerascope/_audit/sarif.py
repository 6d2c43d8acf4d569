"""SARIF 2.1.0 output of a store scan, the format GitHub code scanning and other CI tools ingest.

One run of the tool ``kerascope``: a rule per finding code that occurs (id, short description,
help, default level from the highest severity it was found at), a result per finding (rule,
level, message, the file as an artifact location and the JSON path as a logical location), and
the SavedModels that were not audited and the named paths that are not models as tool
notifications. Severities map to levels as ``high`` → ``error``, ``medium`` → ``warning``,
``low`` and ``info`` → ``note``; each rule also carries GitHub's ``security-severity``.
"""

from __future__ import annotations

import os
import urllib.parse

from kerascope._common.record import TYPE_CHECKING

from .findings import rank

if TYPE_CHECKING:
    from typing import Any

    from .findings import Finding
    from .store import StoreReport

__all__ = ["SARIF_SCHEMA", "sarif_document"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
_SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "3.0", "info": "0.0"}

# Short descriptions of the codes scan reports; a code not listed here gets a generic one.
_DESCRIPTIONS = {
    "lambda": "Lambda layer holding Python bytecode",
    "stdlib-object": "Object from a Python standard library module",
    "dangerous-function": "Reference to a function that runs code or touches the system",
    "non-modeling-api": "Keras API that is not a modeling object",
    "keras-internal": "Reference to Keras internals (keras.src)",
    "outside-loader": "Layer that loads files from outside the model",
    "pickle": "Pickled data",
    "vocabulary-path": "Vocabulary read from a file path",
    "url": "URL in the config",
    "file-path": "File path in the config",
    "path-traversal": "Archive member pointing outside the archive",
    "symlink-member": "Archive member that is a symbolic link",
    "zip-bomb": "Archive member that decompresses to an absurd size",
    "damaged-archive": "Damaged .keras archive",
    "deep-nesting": "Config nested absurdly deep",
    "unreadable": "Model file that cannot be read",
    "hdf5-external-link": "HDF5 external link to another file",
    "hdf5-external-storage": "HDF5 dataset stored in an outside file",
    "hdf5-virtual-dataset": "HDF5 virtual dataset mapping outside files",
    "hdf5-soft-link": "HDF5 soft link",
    "hdf5-shape-bomb": "HDF5 dataset declaring an absurd size",
    "hdf5-too-many-objects": "HDF5 file with too many objects to audit",
    "hdf5-unreadable": "HDF5 weights that cannot be audited",
    "compressed-weights": "Compressed weights member, not audited",
    "scan-failed": "Model file the scan could not finish",
}


def sarif_document(store: StoreReport, *, version: str) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``store`` (``kerascope scan --sarif``).

    Args:
        store: What the scan found.
        version: kerascope's version, for ``tool.driver.version``.

    Example:
        >>> from kerascope._audit.store import StoreReport
        >>> sarif_document(StoreReport(()), version="0.1.0")["runs"][0]["results"]
        []
    """
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for report in store.reports:
        for finding in report.findings:
            rule = rules.get(finding.code)
            if rule is None:
                rule = rules[finding.code] = _rule(finding, len(rules))
            elif rank(finding.severity) > rank(rule["properties"]["severity"]):
                rule.update(_levels(finding.severity))
            results.append(_result(finding, report.path, rule["index"]))
    notifications = [
        _notification("note", f"{item.path}: {item.problem} (not a Keras file, not audited)")
        for item in store.not_audited
    ] + [_notification("error", f"{item.path}: {item.problem}") for item in store.errors]
    invocation: dict[str, Any] = {"executionSuccessful": not store.interrupted}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver = {
        "name": "kerascope",
        "version": version,
        "rules": [{k: v for k, v in rule.items() if k != "index"} for rule in rules.values()],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "invocations": [invocation],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _rule(finding: Finding, index: int) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(finding.code, f"kerascope scan finding {finding.code}")
    return {
        "index": index,
        "id": finding.code,
        "name": "".join(part.capitalize() for part in finding.code.split("-")),
        "shortDescription": {"text": description},
        "fullDescription": {"text": f"{description}. For example: {_sentence(finding.message)}"},
        "help": {
            "text": f"{_sentence(finding.fix)} SECURITY.md describes the attack classes.",
            "markdown": f"**Fix:** {_sentence(finding.fix)}",
        },
        **_levels(finding.severity),
    }


def _levels(severity: str) -> dict[str, Any]:
    return {
        "defaultConfiguration": {"level": _LEVELS[severity]},
        "properties": {
            "severity": severity,
            "security-severity": _SECURITY_SEVERITY[severity],
            "tags": ["security"],
        },
    }


def _result(finding: Finding, path: str, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": {"uri": _uri(path)}},
    }
    if finding.json_path or finding.object:
        logical: dict[str, Any] = {"fullyQualifiedName": finding.json_path or finding.object}
        if finding.json_path:
            logical["kind"] = "member" if finding.json_path.startswith("$") else "resource"
        location["logicalLocations"] = [logical]
    return {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{_sentence(finding.message)} Fix: {_sentence(finding.fix)}"},
        "locations": [location],
        "properties": {"severity": finding.severity, "object": finding.object},
    }


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def _uri(path: str) -> str:
    """A relative path stays relative (``%SRCROOT%`` for CI tools); an absolute one is a
    ``file:`` URI."""
    if os.path.isabs(path):
        return "file://" + urllib.parse.quote(os.path.abspath(path).replace(os.sep, "/"))
    return urllib.parse.quote(os.path.normpath(path).replace(os.sep, "/"))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."
