"""``kerascope scan``: audit a model file for everything that could run code, read outside files
or exhaust memory when it is loaded, before anything is loaded.

A scan never stops at the first finding: it runs the archive checks (:mod:`.scan_archive`), the
config checks (:mod:`.scan_config`) and the weights checks (:mod:`.scan_weights`) and reports
every :class:`~kerascope._audit.findings.Finding`, on the one severity scale of
:mod:`kerascope._audit.findings` (``high``: kerascope refuses to load the file unless that code is
allowed).
"""

from __future__ import annotations

import os

from kerascope._common.files import file_identity
from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading.modelfile import WEIGHTS_ONLY_H5, read_model_file
from kerascope.errors import ModelFileError

from . import findings as _findings
from .findings import Finding
from .scan_archive import archive_findings
from .scan_bundle import bundle_findings
from .scan_config import config_findings
from .scan_weights import weights_findings

if TYPE_CHECKING:
    from typing import Any

    from kerascope._reading.archive import ZipMember

__all__ = ["ScanReport", "scan"]


class ScanReport(Record):
    """Everything a scan found in one file.

    Attributes:
        path: The file scanned.
        format: ``"keras"``, ``"keras-dir"`` or ``"h5"``; ``None`` when it is none of them.
        findings: Every finding, in the order the checks ran.
    """

    path: str
    format: str | None
    findings: tuple[Finding, ...]

    @property
    def highest(self) -> str:
        """The highest severity found (``"none"`` when nothing was found)."""
        return _findings.highest(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``kerascope scan --json``.

        Each finding is :meth:`Finding.to_dict` plus ``kind``, the same value as ``code``: the
        key scan used before findings were one record, kept for readers of schema version 1.

        Example:
            >>> ScanReport("m.keras", "keras", ()).to_dict()["highest"]
            'none'
        """
        return {
            "schema_version": 1,
            "path": self.path,
            "format": self.format,
            "highest": self.highest,
            "findings": [{**finding.to_dict(), "kind": finding.code} for finding in self.findings],
        }


def scan(path: str | os.PathLike[str]) -> ScanReport:
    """Audit a model file without importing Keras or anything the file names.

    Looks at the archive (member names, sizes, unexpected files), the config (Lambda bytecode,
    references to modules outside Keras, Keras APIs that are not modeling objects, layers that
    load outside files or pickles, file paths and URLs, absurd shapes, nesting) and the HDF5
    weights (links, external storage, virtual datasets, shape bombs), and reports every finding.

    Raises:
        ModelFileError: The path does not exist. (Anything wrong inside the file is a finding.)

    Example:
        >>> report = kerascope.scan("model.keras")  # doctest: +SKIP
        >>> report.highest, [f.code for f in report.findings]  # doctest: +SKIP
        ('high', ['lambda'])
    """
    text_path = os.fspath(path)
    if not os.path.exists(text_path):
        raise ModelFileError(text_path, "no such file or directory")
    identity = file_identity(text_path)
    cached = _REPORTS.get(identity) if identity else None
    if cached is not None:
        return cached._replace(path=text_path)
    report = _scan(text_path)
    if identity:
        if len(_REPORTS) >= _MAX_REMEMBERED:
            _REPORTS.pop(next(iter(_REPORTS)))
        _REPORTS[identity] = report
    return report


# Reports of unchanged files are reused within a process: loading the same file again does not
# pay for a second audit. A file counts as unchanged while its inode, size and times are.
_REPORTS: dict[tuple[object, ...], ScanReport] = {}
_MAX_REMEMBERED = 64


def _scan(text_path: str) -> ScanReport:
    findings: list[Finding] = []
    file_format: str | None = None
    members: dict[str, ZipMember] = {}
    is_zip = os.path.isfile(text_path) and _is_zip(text_path)
    if is_zip and text_path.endswith(".npz"):  # weights alone (``model.weights.npz``)
        return _weights_only(text_path, "npz", "a .npz weights file")
    if is_zip:
        file_format = "keras"
        members, findings = archive_findings(text_path)
    try:
        model_file = read_model_file(text_path)
    except ModelFileError as error:
        if error.problem.startswith(WEIGHTS_ONLY_H5):
            return _weights_only(text_path, "h5", "a weights-only HDF5 file")
        findings.append(Finding("high", "unreadable", error.problem, "do not load this file", "$"))
    else:
        file_format = model_file.format
        findings += config_findings(model_file.config, model_file.training_config)
        findings += bundle_findings(model_file.manifest)
    findings += weights_findings(text_path, file_format, members)
    return ScanReport(text_path, file_format, tuple(findings))


def _weights_only(text_path: str, weights_format: str, what: str) -> ScanReport:
    """A weights file without a model: its weights are audited, and nothing else is wrong."""
    note = Finding(
        "info",
        "weights-only",
        f"{what}, not a model: its weights were audited; it holds no config to audit",
        "rebuild the model in code and call model.load_weights on it",
        "$",
    )
    weights = weights_findings(text_path, weights_format, {})
    return ScanReport(text_path, f"weights-{weights_format}", (note, *weights))


def _is_zip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
