"""The ``kerascope`` command.

Exit codes (also in README.md):
    0  success
    1  unexpected internal error (a bug: please report it)
    2  usage error (unknown command or option, a --from that does not exist)
    3  the file is missing, not a Keras model, truncated or malformed
    4  custom objects are missing or untrusted (check, load): all are listed
    5  a source module raised an exception while being imported (load)
    6  Keras failed although every custom object was provided (load)
    7  scan: the highest finding is low or medium (review before loading)
    8  scan: at least one high finding (kerascope refuses to load the file)
    10 verify: the model did not load in a fresh process, or came back different

The parser is :mod:`argparse` and output is plain text: both are fast to import, which keeps
``kerascope inspect`` at a few tens of milliseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from kerascope.errors import EXIT_ERROR, EXIT_OK, KerascopeError

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
    from kerascope import __version__

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
    for name, run, summary in (
        ("check", _run_check, "print where each custom object would come from; import nothing"),
        ("load", _run_load, "load the model with Keras, providing every custom object"),
        ("verify", _run_verify, "load in a fresh process and compare outputs and weights"),
    ):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "path", help="a .keras file, an unzipped .keras directory or a .h5 file"
        )
        command.add_argument(
            "--from",
            dest="sources",
            action="append",
            default=[],
            metavar="SOURCE",
            help="a .py file, directory or module defining custom objects (repeatable)",
        )
        command.add_argument(
            "--trust",
            action="append",
            default=[],
            metavar="NAME",
            help="a package or distribution whose modules the file may name (repeatable)",
        )
        command.add_argument(
            "--unsafe",
            action="store_true",
            help="safe_mode=False: run the Python bytecode of Lambda layers while the model "
            "loads (only for a file you trust)",
        )
        command.add_argument(
            "--allow",
            action="append",
            default=[],
            metavar="KIND",
            help="accept one other kind of audit finding instead of refusing, e.g. url "
            "(repeatable; --allow lambda is a deprecated alias of --unsafe)",
        )
        command.add_argument(
            "--compile",
            choices=("auto", "yes", "no"),
            default="auto",
            help="auto: compile when the training objects are available (default)",
        )
        command.set_defaults(run=run)
    scan = commands.add_parser(
        "scan",
        help="audit a model file for code, outside files and bombs; import nothing",
        description="Report every dangerous thing in a model file, before anything loads it.",
    )
    scan.add_argument("path", help="a .keras file, an unzipped .keras directory or a .h5 file")
    scan.add_argument("--json", action="store_true", help="print a JSON document instead")
    scan.set_defaults(run=_run_scan)
    return parser


def _run_inspect(arguments: argparse.Namespace) -> int:
    from kerascope._audit.inspect import inspect

    inspection = inspect(arguments.path)
    if arguments.json:
        print(json.dumps(inspection.to_dict(), indent=2))
    else:
        from .render import render_inspection

        print(render_inspection(inspection))
    return EXIT_OK


def _lambda_flags(arguments: argparse.Namespace) -> tuple[bool, list[str]]:
    """(safe_mode, other kinds to allow): --allow lambda is the deprecated spelling of --unsafe."""
    allow = list(dict.fromkeys(arguments.allow))
    unsafe = bool(arguments.unsafe)
    if "lambda" in allow:
        print("kerascope: warning: --allow lambda is deprecated: use --unsafe", file=sys.stderr)
        allow.remove("lambda")
        unsafe = True
    return not unsafe, allow


def _plan_arguments(arguments: argparse.Namespace) -> dict[str, object]:
    compile_mode = {"auto": "auto", "yes": True, "no": False}[arguments.compile]
    safe_mode, allow = _lambda_flags(arguments)
    return {
        "sources": arguments.sources,
        "trust": arguments.trust,
        "compile": compile_mode,
        "safe_mode": safe_mode,
        "allow": allow,
    }


def _run_check(arguments: argparse.Namespace) -> int:
    from kerascope._resolving.plan import check
    from kerascope.errors import EXIT_UNRESOLVED

    from .render import render_plan

    plan = check(arguments.path, **_plan_arguments(arguments))  # type: ignore[arg-type]
    print(render_plan(plan))
    return EXIT_OK if plan.ok else EXIT_UNRESOLVED


def _run_load(arguments: argparse.Namespace) -> int:
    import warnings

    from kerascope._keras.load import load_with_plan
    from kerascope._keras.runtime import summarize
    from kerascope._resolving.plan import check
    from kerascope.errors import KerascopeWarning

    from .render import render_plan, render_summary

    plan = check(arguments.path, **_plan_arguments(arguments))  # type: ignore[arg-type]
    print(render_plan(plan, loading=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerascopeWarning)  # the plan already said it
        model = load_with_plan(plan)
    print(render_summary(summarize(model)))
    return EXIT_OK


def _run_scan(arguments: argparse.Namespace) -> int:
    from kerascope._audit.scan import scan

    report = scan(arguments.path)
    if arguments.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        from .render import render_scan

        print(render_scan(report))
    return {"none": EXIT_OK, "info": EXIT_OK, "low": 7, "medium": 7, "high": 8}[report.highest]


def _run_verify(arguments: argparse.Namespace) -> int:
    from kerascope._keras.verify import verify

    safe_mode, allow = _lambda_flags(arguments)
    if not safe_mode:
        allow.append("lambda")  # verify() predates safe_mode: its child process maps it back
    report = verify(arguments.path, sources=arguments.sources, trust=arguments.trust, allow=allow)
    print(report.describe())
    return EXIT_OK if report.ok else 10
