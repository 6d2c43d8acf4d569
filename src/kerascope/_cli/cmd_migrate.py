"""``kerascope migrate OLD NEW.keras``: a Keras 2 file rewritten as Keras 3, parity proven."""

from __future__ import annotations

import argparse

from kerascope.errors import EXIT_OK

from .arguments import PATH_HELP, add_plan_options, compile_mode, footer, lambda_flags

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``migrate`` to the ``kerascope`` parser.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers())
        >>> parser.parse_args(["migrate", "old.h5", "new.keras"]).target
        'new.keras'
    """
    summary = (
        "rewrite a Keras 2 .h5/.keras/SavedModel as a Keras 3 .keras, with parity against "
        "tf-keras (SavedModel: its own serving signature)"
    )
    command = commands.add_parser("migrate", help=summary, description=summary, **footer())
    command.add_argument("path", help=PATH_HELP)
    command.add_argument("target", help="the Keras 3 .keras file to write")
    add_plan_options(command, strict=False)
    command.add_argument(
        "--strict",
        action="store_true",
        help="refuse, instead of warning, when a defining file differs from the one the file's "
        "manifest recorded; and refuse, writing nothing, a model whose custom code needs "
        "kerascope's Keras 2 shims (without it, the new file records them: kerascope applies "
        "them at every load, plain keras.saving.load_model cannot load it)",
    )
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Migrate, then print the rules applied, the Keras 2 shims recorded and the parity found.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["migrate", "old.h5", "new.keras", "--from", "layers.py"])  # doctest: +SKIP
        0
    """
    from kerascope._keras.migrate import migrate

    from .render import shim_lines

    safe_mode, allow = lambda_flags(arguments)
    result = migrate(
        arguments.path,
        arguments.target,
        sources=arguments.sources,
        trust=arguments.trust,
        safe_mode=safe_mode,
        compile=compile_mode(arguments),  # type: ignore[arg-type]
        allow=allow,
        strict=arguments.strict,
    )
    print(f"{result.source} -> {result.target}")
    for rule in result.rules:
        print(f"  applied: {rule}")
    if result.shims:
        print(f"{result.target} " + "\n".join(shim_lines(result.shims)))
    if result.reference is None:
        print(f"parity: {result.note}")
    else:
        print(f"parity against {result.reference} (fresh processes): largest difference "
              f"{result.max_abs_diff:.3g}")  # fmt: skip
    return EXIT_OK
