"""What several commands share: the plan options (``--from``, ``--trust``, ...), their meaning,
and the progress line drawn while sources are indexed.

A new command that plans a load registers its parser in its own ``cmd_*`` module and calls
:func:`add_plan_options`; it never copies them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import Plan

__all__ = [
    "add_plan_options",
    "add_source_options",
    "compile_mode",
    "footer",
    "lambda_flags",
    "plan",
    "plan_arguments",
    "progress",
]

PATH_HELP = "a .keras file, an unzipped .keras directory or a .h5 file"


def footer() -> dict[str, Any]:
    """The keyword arguments every command's parser gets: the exit codes as its epilog.

    Example:
        >>> sorted(footer())
        ['epilog', 'formatter_class']
    """
    from .exit_codes import epilog

    return {"epilog": epilog(), "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_source_options(command: argparse.ArgumentParser) -> None:
    """Add ``--from`` and ``--trust``: where custom code may come from.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_source_options(parser)
        >>> parser.parse_args(["--from", "layers.py"]).sources
        ['layers.py']
    """
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


def add_plan_options(command: argparse.ArgumentParser, *, strict: bool = True) -> None:
    """Add ``--from``, ``--trust``, ``--unsafe``, ``--allow``, ``--compile`` (and ``--strict``).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_plan_options(parser)
        >>> parser.parse_args(["--trust", "keras-tcn"]).trust
        ['keras-tcn']
    """
    add_source_options(command)
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
    if strict:
        command.add_argument(
            "--strict",
            action="store_true",
            help="refuse, instead of warning, when a defining file differs from the one "
            "the file's manifest recorded",
        )


def lambda_flags(arguments: argparse.Namespace) -> tuple[bool, list[str]]:
    """(safe_mode, other kinds to allow): --allow lambda is the deprecated spelling of --unsafe.

    Example:
        >>> lambda_flags(argparse.Namespace(allow=["url"], unsafe=False))
        (True, ['url'])
    """
    allow = list(dict.fromkeys(arguments.allow))
    unsafe = bool(arguments.unsafe)
    if "lambda" in allow:
        print("kerascope: warning: --allow lambda is deprecated: use --unsafe", file=sys.stderr)
        allow.remove("lambda")
        unsafe = True
    return not unsafe, allow


def compile_mode(arguments: argparse.Namespace) -> object:
    """``--compile auto|yes|no`` as the ``compile=`` argument of the Python API.

    Example:
        >>> compile_mode(argparse.Namespace(compile="no"))
        False
    """
    return {"auto": "auto", "yes": True, "no": False}[arguments.compile]


def plan_arguments(arguments: argparse.Namespace) -> dict[str, object]:
    """The keyword arguments of :func:`kerascope.check` the plan options stand for.

    Example:
        >>> from kerascope._cli.commands import subcommand
        >>> plan_arguments(subcommand("check").parse_args(["m.keras"]))["compile"]
        'auto'
    """
    safe_mode, allow = lambda_flags(arguments)
    return {
        "sources": arguments.sources,
        "trust": arguments.trust,
        "compile": compile_mode(arguments),
        "safe_mode": safe_mode,
        "allow": allow,
        "strict": getattr(arguments, "strict", False),
    }


def plan(arguments: argparse.Namespace) -> Plan:
    """Plan the load of ``arguments.path``, drawing progress while sources are indexed.

    Example:
        >>> from kerascope._cli.commands import subcommand
        >>> plan(subcommand("check").parse_args(["model.keras"])).ok  # doctest: +SKIP
        True
    """
    from kerascope._resolving.plan import check

    with progress():
        return check(arguments.path, **plan_arguments(arguments))  # type: ignore[arg-type]


@contextmanager
def progress() -> Iterator[None]:
    """Draw the progress of long source indexing on the terminal while the block runs.

    Example:
        >>> with progress():
        ...     pass
    """
    from kerascope._resolving.source_files import reporting

    from .progress import TerminalProgress

    drawn = TerminalProgress()
    try:
        with reporting(drawn):
            yield
    finally:
        drawn.close()
