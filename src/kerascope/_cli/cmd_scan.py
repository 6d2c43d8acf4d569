"""``kerascope scan PATH...``: every dangerous thing in model files, before anything loads them.

One path that is a model prints that model's report (``--json``: schema version 1, as always).
Directories and several paths are a store: every model under them is found by content and
scanned in a pool of worker processes, the reports print as they come (in order), then a
summary table (``--json``: schema version 2, docs/scan-store-json.md). ``--sarif`` writes SARIF
2.1.0 for CI tools either way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import (
    EXIT_BAD_FILE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SCAN_HIGH,
    EXIT_SCAN_REVIEW,
    EXIT_USAGE,
)

from .arguments import footer

if TYPE_CHECKING:
    from kerascope._audit.scan import ScanReport
    from kerascope._audit.store import StoreReport
    from kerascope._audit.store_walk import StoreFiles

__all__ = ["register", "scan_exit_code"]

_SEVERITIES = ("info", "low", "medium", "high")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scan`` to the ``kerascope`` parser.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers())
        >>> parser.parse_args(["scan", "m.keras", "--json"]).json
        True
    """
    scan = commands.add_parser(
        "scan",
        help="audit model files or a whole store for code, outside files and bombs",
        description="Report every dangerous thing in model files, before anything loads them. "
        "Directories are walked recursively; models are recognised by content.",
        **footer(),
    )
    scan.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a .keras file, an unzipped .keras directory, a .h5 file, or a directory to walk",
    )
    scan.add_argument("--json", action="store_true", help="print a JSON document instead")
    scan.add_argument(
        "--sarif", metavar="FILE", help="write a SARIF 2.1.0 log to FILE ('-': stdout)"
    )
    scan.add_argument(
        "--jobs",
        "-j",
        type=_positive,
        metavar="N",
        help="worker processes (default: the cores; 1 scans in this process)",
    )
    scan.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out paths matching GLOB, relative to the PATH they are under, or by name "
        "(repeatable)",
    )
    scan.add_argument(
        "--fail-on",
        choices=_SEVERITIES,
        default="low",
        metavar="SEVERITY",
        help="exit non-zero when a finding is at or above SEVERITY: info, low (the default), "
        "medium or high",
    )
    scan.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def run(arguments: argparse.Namespace) -> int:
    """Scan, print the reports and the summary, and exit with the code of the worst finding.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["scan", "models/", "--fail-on", "high"])  # doctest: +SKIP
        8
    """
    from kerascope._audit.store import scan_store_files, store_report
    from kerascope._audit.store_walk import find_store_files

    from .progress import TerminalProgress

    if arguments.json and arguments.sarif == "-":
        print("kerascope: error: --json and --sarif - both write to stdout", file=sys.stderr)
        return EXIT_USAGE
    if arguments.sarif not in (None, "-"):
        try:  # fail before scanning, not after
            open(arguments.sarif, "a", encoding="utf-8").close()
        except OSError as cannot:
            print(
                f"kerascope: error: cannot write the SARIF log to {arguments.sarif}: "
                f"{cannot.strerror}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    files = find_store_files(arguments.paths, arguments.exclude)
    for bad in files.errors:
        print(f"kerascope: error: {bad.path}: {bad.problem}", file=sys.stderr)
    single = _is_single_model(arguments.paths, files)
    store = _is_store(arguments.paths)
    text = not arguments.json and arguments.sarif != "-"
    progress = TerminalProgress()
    total = len([target for target in files.targets if target.format != "saved-model"])
    reports: list[ScanReport] = []
    interrupted = False
    scanning = scan_store_files(
        files,
        jobs=arguments.jobs,
        on_done=lambda done: progress.update(f"scanning: {done} of {total} models"),
    )
    try:
        for report in scanning:
            reports.append(report)
            if text and (single or report.findings):
                progress.close()
                _print_report(report)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        scanning.close()  # the workers end here, wherever the scan stopped
        progress.close()
    result = store_report(files, reports, interrupted=interrupted)
    _print_results(arguments, result, single=single, summary=store)
    if interrupted:
        print("kerascope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return scan_exit_code(result, arguments.fail_on)


def _is_single_model(paths: list[str], files: StoreFiles) -> bool:
    """One path that is itself a model: the report (and JSON) of one file, as before stores."""
    return (
        len(paths) == 1
        and len(files.targets) == 1
        and files.targets[0].path == paths[0]
        and files.targets[0].format != "saved-model"
    )


def _is_store(paths: list[str]) -> bool:
    """Several paths, or a directory to walk: the summary table is printed."""
    from kerascope._audit.store_walk import directory_format

    path = paths[0]
    return len(paths) > 1 or (os.path.isdir(path) and directory_format(path) is None)


def _print_report(report: ScanReport) -> None:
    from .render import render_scan

    print(render_scan(report), flush=True)


def _print_results(
    arguments: argparse.Namespace, store: StoreReport, *, single: bool, summary: bool
) -> None:
    if arguments.sarif is not None:
        _write_sarif(store, arguments.sarif)
    if arguments.json:
        if single and store.reports:
            print(json.dumps(store.reports[0].to_dict(), indent=2))
        elif summary or store.reports or store.not_audited:
            print(json.dumps(store.to_dict(), indent=2))
    elif arguments.sarif != "-":
        from .render_store import render_not_audited, render_store_summary

        if summary:
            print(render_store_summary(store))
        elif store.not_audited:
            print(render_not_audited(store))


def _write_sarif(store: StoreReport, destination: str) -> None:
    from kerascope import __version__
    from kerascope._audit.sarif import sarif_document

    text = json.dumps(sarif_document(store, version=__version__), indent=2) + "\n"
    if destination == "-":
        sys.stdout.write(text)
        return
    with open(destination, "w", encoding="utf-8") as handle:
        handle.write(text)


def scan_exit_code(store: StoreReport, fail_on: str = "low") -> int:
    """The exit code of a scan: the worst finding at or above ``fail_on`` decides.

    ``high`` gives 8 and any lower severity 7; no finding at or above ``fail_on`` gives 0, or 3
    when a path named on the command line is missing or not a model.

    Example:
        >>> from kerascope._audit.store import StoreReport
        >>> scan_exit_code(StoreReport(()), "info")
        0
    """
    highest = store.highest
    if highest != "none" and _SEVERITIES.index(highest) >= _SEVERITIES.index(fail_on):
        return EXIT_SCAN_HIGH if highest == "high" else EXIT_SCAN_REVIEW
    return EXIT_BAD_FILE if store.errors else EXIT_OK
