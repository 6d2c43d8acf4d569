"""``kerascope scan PATH``: every dangerous thing in a model file, before anything loads it."""

from __future__ import annotations

import argparse
import json

from kerascope.errors import EXIT_OK, EXIT_SCAN_HIGH, EXIT_SCAN_REVIEW

from .arguments import PATH_HELP, footer

__all__ = ["register"]


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
        help="audit a model file for code, outside files and bombs; import nothing",
        description="Report every dangerous thing in a model file, before anything loads it.",
        **footer(),
    )
    scan.add_argument("path", help=PATH_HELP)
    scan.add_argument("--json", action="store_true", help="print a JSON document instead")
    scan.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Scan, print the report, and exit with the code of the worst finding.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["scan", "model.keras"])  # doctest: +SKIP
        0
    """
    from kerascope._audit.scan import scan

    report = scan(arguments.path)
    if arguments.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        from .render import render_scan

        print(render_scan(report))
    return {
        "none": EXIT_OK,
        "info": EXIT_OK,
        "low": EXIT_SCAN_REVIEW,
        "medium": EXIT_SCAN_REVIEW,
        "high": EXIT_SCAN_HIGH,
    }[report.highest]
