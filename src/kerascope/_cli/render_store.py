"""The summary table ``kerascope scan`` prints after scanning a store."""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING

from .render import table

if TYPE_CHECKING:
    from kerascope._audit.store import StoreReport

__all__ = ["render_store_summary"]

_FORMAT_NAMES = {
    "keras": ".keras",
    "keras-dir": "unzipped .keras",
    "h5": ".h5",
    "weights-h5": "weights .h5",
    "weights-npz": "weights .npz",
}


def render_store_summary(store: StoreReport) -> str:
    """The summary of a store scan: files by format, findings by severity, the worst file.

    Example:
        >>> from kerascope._audit.store import StoreReport
        >>> print(render_store_summary(StoreReport(())))
        <BLANKLINE>
        Summary: nothing found
          models scanned  0 of 0
    """
    summary = store.summary()
    formats = ", ".join(
        f"{entry['files']} {_FORMAT_NAMES[entry['format']]}"
        for entry in summary["by_format"]
        if entry["files"]
    )
    scanned = f"{summary['scanned']} of {summary['found']}"
    rows = [["models scanned", f"{scanned} ({formats})" if formats else scanned]]
    if store.not_audited:
        rows.append(["not audited", f"{len(store.not_audited)} (TensorFlow SavedModel)"])
    if store.skipped:
        rows.append(["skipped", f"{store.skipped} (not models)"])
    if store.excluded:
        rows.append(["excluded", str(store.excluded)])
    if store.errors:
        rows.append(["errors", f"{len(store.errors)} (named paths missing or not models)"])
    counts = summary["findings"]
    if any(counts.values()):
        listed = ", ".join(f"{count} {severity}" for severity, count in counts.items() if count)
        files = summary["files_with_findings"]
        rows.append(["findings", f"{listed} (in {files} file{'' if files == 1 else 's'})"])
    worst = store.worst
    if worst is not None:
        at_worst = sum(finding.severity == worst.highest for finding in worst.findings)
        rows.append(["worst file", f"{worst.path} ({at_worst} {worst.highest})"])
    lines = table(["", ""], rows)[1:]  # no header row
    lines += ["  " + line for line in render_not_audited(store).splitlines()]
    title = (
        f"Summary: highest finding {store.highest}"
        if store.highest != "none"
        else ("Summary: nothing found")
    )
    if store.interrupted:
        title += " (interrupted: partial)"
    return "\n".join(["", title, *lines])


def render_not_audited(store: StoreReport) -> str:
    """One line per TensorFlow SavedModel found: not a Keras file, not audited.

    Example:
        >>> from kerascope._audit.store import StoreReport
        >>> from kerascope._audit.store_walk import PathProblem
        >>> print(render_not_audited(StoreReport((), (PathProblem("sm", "is a SavedModel"),))))
        sm: not a Keras file, not audited: is a SavedModel
    """
    return "\n".join(
        f"{item.path}: not a Keras file, not audited: {item.problem}" for item in store.not_audited
    )
