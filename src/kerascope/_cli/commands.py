"""The ``kerascope`` command.

Exit codes are listed in :mod:`kerascope._cli.exit_codes` (shown by ``kerascope --help``, and in
README.md).

The parser is :mod:`argparse` and output is plain text: both are fast to import, which keeps
``kerascope inspect`` at a few tens of milliseconds per call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    EXIT_SCAN_HIGH,
    EXIT_SCAN_REVIEW,
    EXIT_UNRESOLVED,
    EXIT_VERIFY_FAILED,
    KerascopeError,
)

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import Plan

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Example:
        >>> main(["inspect", "model.keras", "--json"])  # doctest: +SKIP
        0
    """
    from kerascope._common.native_stderr import hold_native_stderr

    hold_native_stderr()  # TensorFlow's native log lines are shown only when something fails
    try:
        arguments = _parser().parse_args(argv)
        code: int = arguments.run(arguments)
        sys.stdout.flush()  # a reader that went away (| head) shows up here, not at exit
        return code
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_OUTPUT_CLOSED
    except KerascopeError as error:
        print(f"kerascope: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("kerascope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug; show one line unless asked for the traceback
        if os.environ.get("KERASCOPE_DEBUG"):
            raise
        print(
            f"kerascope: internal error: {type(error).__name__}: {error} "
            "(set KERASCOPE_DEBUG=1 for the traceback and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _parser() -> argparse.ArgumentParser:
    from kerascope import __version__

    from .exit_codes import epilog

    footer: dict[str, Any] = {
        "epilog": epilog(),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    parser = argparse.ArgumentParser(
        prog="kerascope",
        description="Inspect and load Keras models whose custom objects live in other files.",
        **footer,
    )
    parser.add_argument("--version", action="version", version=f"kerascope {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="list every object a model file references, without running anything",
        description="Read a .keras or .h5 model file as data and list the objects it needs.",
        **footer,
    )
    inspect.add_argument("path", help="a .keras file, an unzipped .keras directory or a .h5 file")
    inspect.add_argument("--json", action="store_true", help="print a JSON document instead")
    inspect.set_defaults(run=_run_inspect)
    for name, run, summary in (
        ("check", _run_check, "print where each custom object would come from; import nothing"),
        ("load", _run_load, "load the model with Keras, providing every custom object"),
        (
            "verify",
            _run_verify,
            "load here and in a fresh process, from another directory, and compare outputs "
            "and weights",
        ),
        (
            "migrate",
            _run_migrate,
            "rewrite a Keras 2 .h5/.keras as a Keras 3 .keras, with parity against tf-keras",
        ),
    ):
        command = commands.add_parser(name, help=summary, description=summary, **footer)
        command.add_argument(
            "path", help="a .keras file, an unzipped .keras directory or a .h5 file"
        )
        if name == "migrate":
            command.add_argument("target", help="the Keras 3 .keras file to write")
        if name == "load":
            command.add_argument(
                "--smoke",
                action="store_true",
                help="run one tiny prediction (and evaluation step) before reporting success "
                "(always done for Keras 2 files)",
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
            help="auto: compile when the training objects are available (default); yes: "
            "require them; no: load for inference and never import them",
        )
        if name != "verify":
            command.add_argument(
                "--strict",
                action="store_true",
                help="refuse, instead of warning, when a defining file differs from the one "
                "the file's manifest recorded",
            )
        if name == "check":
            command.add_argument("--json", action="store_true", help="print a JSON document")
        if name == "verify":
            command.add_argument(
                "--backend",
                action="append",
                default=[],
                metavar="NAMES",
                help="load on each of these Keras backends instead (jax,torch,tensorflow), "
                "one fresh process each, and compare with the saving backend's outputs",
            )
        command.set_defaults(run=run)
    scan = commands.add_parser(
        "scan",
        help="audit a model file for code, outside files and bombs; import nothing",
        description="Report every dangerous thing in a model file, before anything loads it.",
        **footer,
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
    safe_mode, allow = _lambda_flags(arguments)
    return {
        "sources": arguments.sources,
        "trust": arguments.trust,
        "compile": _compile_mode(arguments),
        "safe_mode": safe_mode,
        "allow": allow,
        "strict": arguments.strict,
    }


def _compile_mode(arguments: argparse.Namespace) -> object:
    return {"auto": "auto", "yes": True, "no": False}[arguments.compile]


def _plan(arguments: argparse.Namespace) -> Plan:
    from kerascope._resolving.plan import check

    with _progress():
        return check(arguments.path, **_plan_arguments(arguments))  # type: ignore[arg-type]


@contextmanager
def _progress() -> Iterator[None]:
    """Draw the progress of long source indexing on the terminal while the block runs."""
    from kerascope._resolving.source_files import reporting

    from .progress import TerminalProgress

    progress = TerminalProgress()
    try:
        with reporting(progress):
            yield
    finally:
        progress.close()


def subcommand(name: str) -> argparse.ArgumentParser:
    """The parser of one command (``"load"``), as ``kerascope`` builds it.

    Example:
        >>> subcommand("load").parse_args(["m.keras", "--trust", "keras-tcn"]).trust
        ['keras-tcn']
    """
    for action in _parser()._actions:
        choices = action.choices
        if isinstance(choices, dict) and name in choices:
            parser: argparse.ArgumentParser = choices[name]
            return parser
    raise LookupError(f"no command {name!r}")


def _load_command(plan: Plan, arguments: argparse.Namespace) -> str | None:
    """The ``kerascope load`` command that applies every fix of the plan, if they are options."""
    from .options import load_command

    return load_command(arguments.path, arguments, plan.problems, subcommand("load"))


def _run_check(arguments: argparse.Namespace) -> int:
    plan = _plan(arguments)
    command = _load_command(plan, arguments)
    if arguments.json:
        from .plan_json import plan_document

        print(json.dumps(plan_document(plan, command, subcommand("load")), indent=2))
    else:
        from .render import render_plan

        print(render_plan(plan, command=command))
    return EXIT_OK if plan.ok else EXIT_UNRESOLVED


def _run_load(arguments: argparse.Namespace) -> int:
    import warnings

    from kerascope._keras.load import load_with_plan
    from kerascope._keras.runtime import summarize
    from kerascope.errors import KerascopeWarning

    from .render import render_plan, render_summary

    plan = _plan(arguments)
    print(render_plan(plan, loading=True, command=_load_command(plan, arguments)))
    if not plan.ok:  # the report above lists every problem: the error would repeat them
        return EXIT_UNRESOLVED
    sys.stdout.flush()  # the report comes before anything Keras prints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerascopeWarning)  # the plan already said it
        model = load_with_plan(plan, smoke=arguments.smoke)
    print(render_summary(summarize(model)))
    return EXIT_OK


def _run_migrate(arguments: argparse.Namespace) -> int:
    from kerascope._keras.migrate import migrate

    safe_mode, _ = _lambda_flags(arguments)
    result = migrate(
        arguments.path,
        arguments.target,
        sources=arguments.sources,
        trust=arguments.trust,
        safe_mode=safe_mode,
    )
    print(f"{result.source} -> {result.target}")
    for rule in result.rules:
        print(f"  applied: {rule}")
    if result.reference is None:
        print(f"parity: {result.note}")
    else:
        print(f"parity against {result.reference} (fresh processes): largest difference "
              f"{result.max_abs_diff:.3g}")  # fmt: skip
    return EXIT_OK


def _run_scan(arguments: argparse.Namespace) -> int:
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


def _run_verify(arguments: argparse.Namespace) -> int:
    from kerascope._keras.verify import VerifyReport, verify

    safe_mode, allow = _lambda_flags(arguments)
    if not safe_mode:
        allow.append("lambda")  # verify() predates safe_mode: its child process maps it back
    backends = [b.strip() for b in ",".join(arguments.backend).split(",") if b.strip()]
    if backends:
        from kerascope._keras.verify_backends import verify_backends

        with _progress():
            on_backends = verify_backends(
                arguments.path,
                backends,
                sources=arguments.sources,
                trust=arguments.trust,
                allow=allow,
            )
        print(on_backends.describe())
        return EXIT_OK if on_backends.ok else EXIT_VERIFY_FAILED
    with _progress():
        report = verify(
            arguments.path,
            sources=arguments.sources,
            trust=arguments.trust,
            allow=allow,
            compile=_compile_mode(arguments),  # type: ignore[arg-type]
        )
    assert isinstance(report, VerifyReport)  # without backends=, verify returns one
    if report.problems:  # the fresh process's reasons, with fixes as options
        from .render import render_problems

        print(f"verify {report.path}: FAIL, the fresh process could not load it:")
        print(render_problems(report.problems))
    else:
        print(report.describe())
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED
