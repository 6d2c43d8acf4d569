"""``kerascope export MODEL OUT --format ...``: a code-free artifact, parity proven in isolation."""

from __future__ import annotations

import argparse
import sys

from kerascope.errors import EXIT_OK, UnresolvedObjectsError

from .arguments import PATH_HELP, add_plan_options, footer, lambda_flags

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export`` to the ``kerascope`` parser.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers())
        >>> parser.parse_args(["export", "m.keras", "out", "--format", "onnx"]).format
        'onnx'
    """
    summary = (
        "export a model to a TF SavedModel or ONNX artifact that needs no Python code, and "
        "prove in an isolated process that it gives the model's outputs"
    )
    command = commands.add_parser("export", help=summary, description=summary, **footer())
    command.add_argument("path", help=PATH_HELP)
    command.add_argument(
        "target", help="the artifact to write: a directory (tf_saved_model) or a file (onnx)"
    )
    command.add_argument(
        "--format",
        choices=("tf_saved_model", "onnx"),
        default="tf_saved_model",
        help="tf_saved_model (default) or onnx (needs pip install 'kerascope[export]')",
    )
    command.add_argument(
        "--sample",
        metavar="FILE",
        help="inputs to compare on: .npy (one input) or .npz (one array per input, by name or "
        "in_0, in_1, ...); default: 4 samples generated from the input spec, seed 0",
    )
    command.add_argument(
        "--atol",
        type=float,
        default=1e-5,
        metavar="TOL",
        help="the largest absolute difference accepted (default 1e-5)",
    )
    add_plan_options(command)
    command.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    """Export, then print where the inputs came from and the differences found.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["export", "m.keras", "out", "--from", "layers.py"])  # doctest: +SKIP
        0
    """
    from kerascope._keras.export import export

    safe_mode, allow = lambda_flags(arguments)
    try:
        result = export(
            arguments.path,
            arguments.target,
            format=arguments.format,
            sources=arguments.sources,
            trust=arguments.trust,
            safe_mode=safe_mode,
            allow=allow,
            strict=arguments.strict,
            sample=arguments.sample,
            atol=arguments.atol,
        )
    except UnresolvedObjectsError as error:  # the fixes as options (--unsafe), not arguments
        print(f"kerascope: error: {error.describe('cli')}", file=sys.stderr)
        return error.exit_code
    print(f"{result.source} -> {result.target} ({result.format})")
    print(f"parity in an isolated process ({', '.join(result.blocked)} not importable there)")
    print(f"  on {result.inputs}")
    print(
        f"  largest difference {result.max_abs_diff:.3g} absolute, "
        f"{result.max_rel_diff:.3g} relative (tolerance {result.atol:g} absolute)"
    )
    print(f"  export {result.export_seconds:.2f} s, parity {result.parity_seconds:.2f} s")
    return EXIT_OK
