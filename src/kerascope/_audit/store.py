"""Scan a model store: every model under some files and directories, with one summary.

:func:`scan_paths` finds the models by content (:mod:`.store_walk`), scans each one exactly as
:func:`~kerascope._audit.scan.scan` does, in a pool of worker processes (:mod:`.store_pool`) or
in this process (``jobs=1``), and gathers the reports into a :class:`StoreReport`.
"""

from __future__ import annotations

import contextlib
import os

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import ModelFileError

from . import findings as _findings
from .findings import SEVERITIES, rank
from .scan import ScanReport, scan
from .store_walk import PathProblem, StoreFiles, StoreTarget, find_store_files, not_a_model

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
    from typing import Any

    from .store_pool import ScanOutcome

__all__ = [
    "STORE_SCHEMA_VERSION",
    "StoreReport",
    "default_jobs",
    "scan_paths",
    "scan_store_files",
    "store_report",
]

STORE_SCHEMA_VERSION = 2
FORMATS = ("keras", "keras-dir", "h5")


class StoreReport(Record):
    """Everything a scan of a store found.

    Attributes:
        reports: One :class:`~kerascope._audit.scan.ScanReport` per model scanned, in the order
            of the paths (each directory's entries sorted by name).
        not_audited: TensorFlow SavedModel directories: not Keras files, not audited; each
            with what ``inspect`` says about it.
        errors: Paths named by the user that are missing or not models, with ``inspect``'s
            words for them.
        skipped: Files met while walking that are not models.
        excluded: Files and directories left out by ``exclude`` globs.
        found: How many models the walk found (more than ``reports`` when interrupted).
        interrupted: The scan was stopped (Ctrl-C) before every model was scanned.
    """

    reports: tuple[ScanReport, ...]
    not_audited: tuple[PathProblem, ...] = ()
    errors: tuple[PathProblem, ...] = ()
    skipped: int = 0
    excluded: int = 0
    found: int = 0
    interrupted: bool = False

    @property
    def highest(self) -> str:
        """The highest severity found in any file (``"none"`` when nothing was found)."""
        return _findings.highest(finding for report in self.reports for finding in report.findings)

    @property
    def worst(self) -> ScanReport | None:
        """The report of the worst file: highest severity, then most findings at it; the first
        such file in order. ``None`` when no file has a finding."""
        best: tuple[int, int] = (-1, 0)
        worst = None
        for report in self.reports:
            if not report.findings:
                continue
            level = rank(report.highest)
            count = sum(rank(finding.severity) == level for finding in report.findings)
            if (level, count) > best:
                best, worst = (level, count), report
        return worst

    def summary(self) -> dict[str, Any]:
        """The counts of the summary table and of the ``summary`` object of ``--json``.

        Example:
            >>> StoreReport(()).summary()["scanned"]
            0
        """
        by_format = dict.fromkeys(FORMATS, 0)
        by_severity = dict.fromkeys(reversed(SEVERITIES), 0)
        for report in self.reports:
            if report.format in by_format:
                by_format[report.format] += 1
            for finding in report.findings:
                by_severity[finding.severity] += 1
        worst = self.worst
        return {
            "found": self.found,
            "scanned": len(self.reports),
            "by_format": [{"format": name, "files": count} for name, count in by_format.items()],
            "not_audited": len(self.not_audited),
            "skipped": self.skipped,
            "excluded": self.excluded,
            "errors": len(self.errors),
            "findings": by_severity,
            "files_with_findings": sum(bool(report.findings) for report in self.reports),
            "highest": self.highest,
            "worst_file": None if worst is None else worst.path,
            "interrupted": self.interrupted,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``kerascope scan --json`` over a store (schema version 2).

        Example:
            >>> StoreReport(()).to_dict()["schema_version"]
            2
        """
        return {
            "schema_version": STORE_SCHEMA_VERSION,
            "highest": self.highest,
            "summary": self.summary(),
            "files": [_file_entry(report) for report in self.reports],
            "not_audited": [
                {"path": item.path, "format": "saved-model", "reason": item.problem}
                for item in self.not_audited
            ],
            "errors": [{"path": item.path, "problem": item.problem} for item in self.errors],
        }


def default_jobs() -> int:
    """The number of worker processes by default: the cores this process may run on.

    Example:
        >>> default_jobs() >= 1
        True
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def scan_paths(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    jobs: int | None = None,
    exclude: Iterable[str] = (),
) -> StoreReport:
    """Scan every model under ``paths`` (files and directories, recursively) for hostile content.

    Models are recognised by content (``.keras`` zips, unzipped model directories, HDF5 files);
    TensorFlow SavedModel directories are listed as not audited; other files are skipped and
    counted. Each model gets the findings :func:`kerascope.scan` gives it alone.

    Args:
        paths: A path, or several.
        jobs: Worker processes (default: the cores); ``1`` scans in this process.
        exclude: Globs of paths to leave out, matched against each path relative to the
            argument it was found under and against its name (``"*.h5"``, ``"old/*"``).

    Example:
        >>> store = kerascope.scan_paths("models/", exclude=["archive/*"])  # doctest: +SKIP
        >>> store.summary()["highest"], store.worst.path  # doctest: +SKIP
        ('high', 'models/downloads/lambda.keras')
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = find_store_files(paths, exclude)
    return store_report(files, list(scan_store_files(files, jobs=jobs)))


def scan_store_files(
    files: StoreFiles, *, jobs: int | None = None, on_done: Callable[[int], None] | None = None
) -> Generator[ScanReport, None, None]:
    """Scan the models of ``files`` (not the SavedModels); yield the reports in order.

    Example:
        >>> files = find_store_files(["models/"])  # doctest: +SKIP
        >>> [r.highest for r in scan_store_files(files, jobs=2)]  # doctest: +SKIP
        ['none', 'high']
    """
    targets = _audited(files.targets)
    paths = [target.path for target in targets]
    jobs = default_jobs() if jobs is None else jobs
    if jobs <= 1 or len(paths) <= 1:  # one file: as a single scan, no worker to start
        for done, path in enumerate(paths, 1):
            try:
                report = scan(path)
            except ModelFileError as error:  # it vanished between the walk and the scan
                report = ScanReport(path, None, (_vanished(error.problem),))
            yield report
            if on_done is not None:
                on_done(done)
        return
    from .store_pool import scan_in_pool

    with contextlib.closing(scan_in_pool(paths, jobs, on_done)) as outcomes:
        yield from _reports(outcomes, targets)


def _reports(outcomes: Iterator[ScanOutcome], targets: list[StoreTarget]) -> Iterator[ScanReport]:
    paths = [target.path for target in targets]
    for outcome in outcomes:
        if outcome.report is not None and _gave_up(outcome.report):
            # a file the pool gave up on: the walk knows what it is
            yield outcome.report._replace(format=targets[outcome.position].format)
        elif outcome.report is not None:
            yield outcome.report
        else:  # the file vanished or changed between the walk and the scan
            message = outcome.problem or "cannot be scanned"
            yield ScanReport(paths[outcome.position], None, (_vanished(message),))


def store_report(
    files: StoreFiles, reports: Sequence[ScanReport], *, interrupted: bool = False
) -> StoreReport:
    """Gather the walk and the reports scanned so far into a :class:`StoreReport`.

    Example:
        >>> store_report(StoreFiles(()), []).found
        0
    """
    saved_models = tuple(
        PathProblem(target.path, not_a_model(target.path))
        for target in files.targets
        if target.format == "saved-model"
    )
    return StoreReport(
        reports=tuple(reports),
        not_audited=saved_models,
        errors=files.errors,
        skipped=files.skipped,
        excluded=files.excluded,
        found=len(_audited(files.targets)),
        interrupted=interrupted,
    )


def _audited(targets: Iterable[StoreTarget]) -> list[StoreTarget]:
    return [target for target in targets if target.format != "saved-model"]


def _vanished(problem: str) -> _findings.Finding:
    return _findings.Finding("high", "unreadable", problem, "do not load this file", "$")


def _file_entry(report: ScanReport) -> dict[str, Any]:
    entry = report.to_dict()
    del entry["schema_version"]  # the document's
    return entry


def _gave_up(report: ScanReport) -> bool:
    return report.format is None and [f.code for f in report.findings] == ["scan-failed"]
