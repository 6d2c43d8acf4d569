"""Plain-text rendering for the command-line tool.

Rendering is done with the standard library on purpose: importing a rich-text library costs
more time than reading the model file (see BENCHMARKS.md), and ``kerascope inspect`` is meant to
be instant.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kerascope._audit.findings import SEVERITIES, rank
from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from kerascope._audit.findings import Finding
    from kerascope._audit.inspect import CustomObject, Inspection
    from kerascope._audit.scan import ScanReport
    from kerascope._keras.runtime import ModelSummary
    from kerascope._reading.bundle import Bundle
    from kerascope._reading.manifest import NeededShim
    from kerascope._resolving.plan import Plan
    from kerascope.errors import Problem

__all__ = [
    "render_inspection",
    "render_plan",
    "render_problems",
    "render_scan",
    "render_summary",
    "shim_lines",
    "table",
]

_FORMAT_NAMES = {
    "keras": ".keras archive",
    "keras-dir": "unzipped .keras directory",
    "h5": "legacy HDF5 (.h5)",
    "savedmodel": "TensorFlow SavedModel",
    "weights-h5": "weights-only HDF5",
    "weights-npz": ".npz weights",
}
_MAX_PATHS = 2


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Lay out rows in aligned columns.

    Example:
        >>> table(["A", "B"], [["x", "yy"]])
        ['  A  B', '  x  yy']
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def render_inspection(inspection: Inspection) -> str:
    """The human-readable report of ``kerascope inspect``.

    Example:
        >>> print(render_inspection(kerascope.inspect("model.keras")))  # doctest: +SKIP
    """
    lines = [_file_line(inspection), f"Model: {inspection.model_class}", ""]
    objects = inspection.custom_objects
    if objects:
        lines.append(f"Custom objects ({len(objects)}):")
        rows = []
        for obj in objects:
            paths = list(obj.json_paths[:_MAX_PATHS])
            if len(obj.json_paths) > _MAX_PATHS:
                paths.append(f"+{len(obj.json_paths) - _MAX_PATHS} more")
            rows.append(
                [
                    "<lambda> (Python bytecode)" if obj.is_lambda else obj.key,
                    "/".join(obj.kinds),
                    _module_text(obj),
                    str(len(obj.json_paths)),
                    ", ".join(paths),
                ]
            )
        lines += table(["NAME", "KIND", "MODULE", "USES", "WHERE"], rows)
    else:
        lines.append("Custom objects: none (Keras resolves everything in this file by itself)")
    lines += _op_layer_lines(inspection)
    lines += ["", _builtin_line(inspection)]
    lines += _manifest_lines(inspection)
    if inspection.findings:
        lines += ["", f"Findings ({len(inspection.findings)}):"]
        lines += _finding_lines(inspection.findings)
    return "\n".join(lines)


def _module_text(obj: CustomObject) -> str:
    if obj.is_lambda:
        return "-"
    # Keras stores functions as {"module": "builtins", "class_name": "function"}: the real
    # module is not in the file.
    if obj.module is None or obj.module == "builtins":
        return "(not recorded)"
    return obj.module


def _manifest_lines(inspection: Inspection) -> list[str]:
    if inspection.manifest_problem:
        return ["", f"Manifest: unreadable ({inspection.manifest_problem})"]
    manifest = inspection.manifest
    if manifest is None:
        return []
    lines = [
        "",
        f"Manifest (kerascope {manifest.kerascope_version}, format {manifest.version}): saved with "
        f"Python {manifest.python_version}, Keras {manifest.keras_version} ({manifest.backend})",
    ]
    rows = [
        [
            entry.key,
            f"{entry.module}.{entry.qualname}" if entry.module else "-",
            entry.file or "-",
            (entry.sha256 or "-")[:12],
            f"{entry.distribution} {entry.distribution_version}" if entry.distribution else "-",
        ]
        for entry in manifest.objects
    ]
    if rows:
        lines += table(["NAME", "DEFINED AS", "FILE", "SHA256", "DISTRIBUTION"], rows)
    if manifest.bundle is not None:
        lines += ["", f"Bundle {manifest.bundle.trust_name} ({manifest.bundle.size:,} bytes):"]
        lines += bundle_lines(manifest.bundle)
    if manifest.shims:
        lines += ["", *shim_lines(manifest.shims)]
    return lines


def shim_lines(shims: Sequence[NeededShim]) -> list[str]:
    """The Keras 2 shims a file needs, and the code changes that would make them unneeded.

    Example:
        >>> from kerascope._reading.manifest import NeededShim
        >>> lines = shim_lines([NeededShim("positional-add-weight", ("use name=",))])
        >>> lines[0].split(" (")[0], lines[1]
        ("needs kerascope's Keras 2 shims: positional-add-weight", '  - use name=')
    """
    names = ", ".join(shim.name for shim in shims)
    lines = [
        f"needs kerascope's Keras 2 shims: {names} (kerascope applies them at every load); "
        "plain keras.saving.load_model will fail until you change the code:"
    ]
    return lines + [f"  - {change}" for shim in shims for change in shim.changes]


def bundle_lines(bundle: Bundle) -> list[str]:
    """The bundled files as a table (file, module, size, SHA-256, imports), damage flagged.

    Example:
        >>> from kerascope._reading.bundle import Bundle, BundleFile
        >>> bundle_lines(Bundle((BundleFile("m", "m.py", "", "", 0),), ""))[0].split()
        ['FILE', 'MODULE', 'SIZE', 'SHA256', 'IMPORTS']
    """
    rows = []
    for item in bundle.files:
        digest = item.actual_sha256[:12]
        if item.sha256 != item.actual_sha256:
            digest += " (DAMAGED: recorded " + item.sha256[:12] + ")"
        imports = ", ".join([*item.local, *item.installed]) or "-"
        rows.append([item.path, item.module, f"{item.size:,}", digest, imports])
    lines = table(["FILE", "MODULE", "SIZE", "SHA256", "IMPORTS"], rows)
    if bundle.packages:
        installed = ", ".join(f"{name} {version}" for name, version in bundle.packages.items())
        lines.append(f"  installed packages imported: {installed}")
    return lines


def _file_line(inspection: Inspection) -> str:
    parts = [_FORMAT_NAMES[inspection.format]]
    saved = (
        "saved by Keras " + inspection.keras_version
        if inspection.keras_version
        else "Keras version not recorded"
    )
    if inspection.date_saved:
        saved += f" on {inspection.date_saved}"
    parts.append(saved)
    if inspection.provenance and inspection.provenance.keras2:
        parts.append(
            f"written by {inspection.provenance.writer} ({inspection.provenance.evidence})"
        )
    if inspection.backend:
        parts.append(f"backend {inspection.backend}")
    if inspection.weights:
        parts.append(f"weights {inspection.weights.name} ({_size(inspection.weights.size)})")
    return f"{inspection.path}: " + ", ".join(parts)


def _translation_lines(inspection: Inspection) -> list[str]:
    if inspection.translation is None:
        return []
    applied = inspection.translation.applied
    lines = ["Keras 2 file: read through kerascope's translation rules (docs/keras2.md)"]
    return lines + [f"  applied: {a.detail}" for a in applied]


def _op_layer_lines(inspection: Inspection) -> list[str]:
    if not inspection.op_layers:
        return []
    how = "translated" if inspection.translation is not None else "kerascope's op layer"
    lines = ["", f"TensorFlow op layers ({len(inspection.op_layers)}), supplied by kerascope "
             "(TensorFlow backend only):"]  # fmt: skip
    for layer in inspection.op_layers:
        state = how if layer.allowed else "not on the allowlist: refused"
        lines.append(f"  Keras 2 tf op layer: {layer.op} ({state})  {layer.json_path}")
    return lines


def _builtin_line(inspection: Inspection) -> str:
    builtins = inspection.builtin_references
    if not builtins:
        return "Built-in: none"
    counts = Counter(reference.class_name for reference in builtins)
    shown = ", ".join(
        name if count == 1 else f"{name} x{count}" for name, count in counts.most_common(8)
    )
    more = f", +{len(counts) - 8} more" if len(counts) > 8 else ""
    return f"Built-in: {len(builtins)} references Keras resolves by itself ({shown}{more})"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


_ORIGIN_TEXT = {
    "registry": "registered",
    "source": "--from",
    "module": "module in file",
    "package": "trusted package",
    "entry-point": "entry point",
    "manifest": "manifest",
    "bundle": "bundle",
    "keras": "Keras",
    "compile-fix": "kerascope",
    "skipped": "skipped",
    "missing": "MISSING",
    "untrusted": "UNTRUSTED",
    "bytecode": "the file",
}


def render_plan(plan: Plan, *, loading: bool = False, command: str | None = None) -> str:
    """The report of ``kerascope check`` (and the first part of ``kerascope load``).

    Fixes are written as command-line options; ``command``, the ``kerascope load`` command that
    applies them all, ends the report when there is one.

    Example:
        >>> print(render_plan(kerascope.check("model.h5", sources=["lib.py"])))  # doctest: +SKIP
    """
    lines = [_file_line(plan.inspection), *_translation_lines(plan.inspection), ""]
    rows = [
        [
            "<lambda>" if r.object.is_lambda else r.object.key,
            "/".join(r.object.kinds),
            _ORIGIN_TEXT[r.origin],
            r.where if r.problem is None else "-",
        ]
        for r in plan.resolutions
    ]
    rows += [
        [
            alias,
            "loss",
            "kerascope",
            f"keras.losses.{canonical} (Keras cannot restore '{alias}' from .h5)",
        ]
        for alias, canonical in plan.compile_fixes.items()
    ]
    if rows:
        lines.append("Custom objects:")
        lines += table(["NAME", "KIND", "FROM", "WHERE"], rows)
    else:
        lines.append("Custom objects: none needed")
    lines.append("")
    lines.append(f"Compile: {'yes' if plan.compile else 'no (inference only)'}")
    lines += [f"Note: {_cli_note(note)}" for note in plan.notes]
    if plan.problems:
        count = len(plan.problems)
        lines += ["", f"Cannot load: {count} problem{'s' if count != 1 else ''}"]
        lines.append(render_problems(plan.problems))
        if command:
            lines += ["", f"To load it: {command}"]
    elif not loading:
        lines += ["", "Would load: yes (nothing was imported to find out)"]
    return "\n".join(lines)


def _cli_note(note: str) -> str:
    """A note of the plan with its fix in the command line's syntax."""
    from kerascope._resolving.plan import NOTE_FIXES

    for python_form, option in NOTE_FIXES:
        note = note.replace(python_form, option)
    return note


def render_problems(problems: Sequence[Problem]) -> str:
    """Each problem in two lines, its fix in the command line's syntax.

    Example:
        >>> from kerascope.errors import Problem
        >>> print(render_problems([Problem("Scale", "layer", (), "untrusted", "not trusted",
        ...                                "--trust mylib", (), "trust=['mylib']")]))
          - 'Scale' (layer): not trusted
              fix: --trust mylib
    """
    return "\n".join(
        "  " + line for problem in problems for line in problem.describe("cli").splitlines()
    )


def render_summary(summary: ModelSummary) -> str:
    """What ``kerascope load`` prints about the loaded model."""
    lines = ["", f"Loaded {summary.class_name} '{summary.name}': {summary.parameters:,} parameters"]
    if summary.layers:
        lines += table(["LAYER", "CLASS"], [list(layer) for layer in summary.layers])
    if summary.compiled:
        lines.append(f"Compiled: loss {summary.loss}, optimizer {summary.optimizer}")
    else:
        lines.append("Not compiled")
    return "\n".join(lines)


def render_scan(report: ScanReport) -> str:
    """The report of ``kerascope scan``.

    Example:
        >>> print(render_scan(kerascope.scan("model.keras")))  # doctest: +SKIP
    """
    kind = _FORMAT_NAMES.get(report.format or "", "unrecognised file")
    counts = Counter(finding.severity for finding in report.findings)
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if counts[s])
    lines = [f"{report.path}: {kind}: {summary or 'nothing found'}"]
    return "\n".join(lines + _finding_lines(report.findings))


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    """Findings highest severity first (in the order found within one severity), indented."""
    ordered = sorted(findings, key=lambda finding: -rank(finding.severity))
    return ["  " + line for finding in ordered for line in finding.describe("cli").splitlines()]
