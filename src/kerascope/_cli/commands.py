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
from collections.abc import Sequence

from kerascope._common.record import TYPE_CHECKING
from kerascope.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    EXIT_UNRESOLVED,
    EXIT_VERIFY_FAILED,
    KerascopeError,
)

from .arguments import compile_mode, lambda_flags, progress
from .arguments import plan as plan_from

if TYPE_CHECKING:
    from kerascope._resolving.plan import Plan

__all__ = ["main", "subcommand"]

# Commands that live in a module of their own (``cmd_<name>.py`` with a ``register`` function).
_COMMAND_MODULES = ("cmd_migrate", "cmd_scan", "cmd_export", "cmd_bundle")


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
    import importlib

    from kerascope import __version__

    from .arguments import PATH_HELP, add_plan_options, footer

    parser = argparse.ArgumentParser(
        prog="kerascope",
        description="Inspect and load Keras models whose custom objects live in other files.",
        **footer(),
    )
    parser.add_argument("--version", action="version", version=f"kerascope {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="list every object a model file references, without running anything",
        description="Read a .keras or .h5 model file as data and list the objects it needs.",
        **footer(),
    )
    inspect.add_argument("path", help=PATH_HELP)
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
    ):
        command = commands.add_parser(name, help=summary, description=summary, **footer())
        command.add_argument("path", help=PATH_HELP)
        if name == "load":
            command.add_argument(
                "--smoke",
                action="store_true",
                help="run one tiny forward pass (and the compiled loss and metrics) before "
                "reporting success (always done for Keras 2 files)",
            )
        add_plan_options(command)
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
    for module in _COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{module}").register(commands)
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
    plan = plan_from(arguments)
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

    plan = plan_from(arguments)
    print(render_plan(plan, loading=True, command=_load_command(plan, arguments)))
    if not plan.ok:  # the report above lists every problem: the error would repeat them
        return EXIT_UNRESOLVED
    sys.stdout.flush()  # the report comes before anything Keras prints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KerascopeWarning)  # the plan already said it
        model = load_with_plan(plan, smoke=arguments.smoke)
    print(render_summary(summarize(model)))
    return EXIT_OK


def _run_verify(arguments: argparse.Namespace) -> int:
    from kerascope._keras.verify import VerifyReport, verify

    safe_mode, allow = lambda_flags(arguments)
    if not safe_mode:
        allow.append("lambda")  # verify() predates safe_mode: its child process maps it back
    backends = [b.strip() for b in ",".join(arguments.backend).split(",") if b.strip()]
    if backends:
        from kerascope._keras.verify_backends import verify_backends

        with progress():
            on_backends = verify_backends(
                arguments.path,
                backends,
                sources=arguments.sources,
                trust=arguments.trust,
                allow=allow,
                strict=arguments.strict,
            )
        print(on_backends.describe())
        return EXIT_OK if on_backends.ok else EXIT_VERIFY_FAILED
    with progress():
        report = verify(
            arguments.path,
            sources=arguments.sources,
            trust=arguments.trust,
            allow=allow,
            compile=compile_mode(arguments),  # type: ignore[arg-type]
            strict=arguments.strict,
        )
    assert isinstance(report, VerifyReport)  # without backends=, verify returns one
    if report.problems:  # the fresh process's reasons, with fixes as options
        from .render import render_problems

        print(f"verify {report.path}: FAIL, the fresh process could not load it:")
        print(render_problems(report.problems))
    else:
        print(report.describe())
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED
