"""The ``kerascope`` command.

Exit codes (also in README.md):
    0  success
    1  unexpected internal error (a bug: please report it)
    2  usage error (unknown command or option)
    3  the file is missing, not a Keras model, truncated or malformed

The parser is :mod:`argparse` and output is plain text: both are fast to import, which keeps
``kerascope inspect`` at a few tens of milliseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .errors import EXIT_ERROR, EXIT_OK, KerascopeError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Example:
        >>> main(["inspect", "model.keras", "--json"])  # doctest: +SKIP
        0
    """
    parser = _parser()
    arguments = parser.parse_args(argv)
    try:
        code: int = arguments.run(arguments)
        return code
    except KerascopeError as error:
        print(f"kerascope: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("kerascope: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug; show one line unless asked for the traceback
        if os.environ.get("KERASCOPE_DEBUG"):
            raise
        print(
            f"kerascope: internal error: {type(error).__name__}: {error} "
            "(set KERASCOPE_DEBUG=1 for the traceback and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="kerascope",
        description="Inspect and load Keras models whose custom objects live in other files.",
    )
    parser.add_argument("--version", action="version", version=f"kerascope {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="list every object a model file references, without running anything",
        description="Read a .keras or .h5 model file as data and list the objects it needs.",
    )
    inspect.add_argument("path", help="a .keras file, an unzipped .keras directory or a .h5 file")
    inspect.add_argument("--json", action="store_true", help="print a JSON document instead")
    inspect.set_defaults(run=_run_inspect)
    return parser


def _run_inspect(arguments: argparse.Namespace) -> int:
    from ._inspect import inspect

    inspection = inspect(arguments.path)
    if arguments.json:
        print(json.dumps(inspection.to_dict(), indent=2))
    else:
        from ._render import render_inspection

        print(render_inspection(inspection))
    return EXIT_OK
