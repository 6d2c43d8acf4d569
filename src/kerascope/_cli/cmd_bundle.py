"""``kerascope bundle MODEL --from SRC -o OUT`` and ``kerascope unbundle MODEL DIR``.

``bundle`` adds the source of a model's custom code to its manifest, pinned by a digest,
without importing Keras or the code; ``unbundle`` writes that source out for review.
"""

from __future__ import annotations

import argparse

from kerascope.errors import EXIT_OK

from .arguments import PATH_HELP, add_source_options, compile_mode, footer

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bundle`` and ``unbundle`` to the ``kerascope`` parser.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> register(parser.add_subparsers())
        >>> parser.parse_args(["bundle", "m.keras", "--from", "l.py", "-o", "b.keras"]).output
        'b.keras'
    """
    summary = "carry the custom code's source inside the model file, pinned by hash"
    command = commands.add_parser(
        "bundle",
        help=summary,
        description=f"{summary}; imports neither Keras nor the code",
        **footer(),
    )
    command.add_argument("path", help="a .keras or .h5 file")
    add_source_options(command)
    command.add_argument(
        "--compile",
        choices=("auto", "yes", "no"),
        default="auto",
        help="bundle the training objects too (auto: when found; yes: require them; no: skip)",
    )
    command.add_argument(
        "-o", "--output", required=True, help="the file to write (may be the same file)"
    )
    command.set_defaults(run=run_bundle)
    review = "write the source files a model carries into a directory, for review"
    unbundle = commands.add_parser("unbundle", help=review, description=review, **footer())
    unbundle.add_argument("path", help=PATH_HELP)
    unbundle.add_argument("directory", help="where to write the files")
    unbundle.set_defaults(run=run_unbundle)


def run_bundle(arguments: argparse.Namespace) -> int:
    """Bundle, then print what was bundled and the digest to trust.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["bundle", "m.keras", "--from", "layers/", "-o", "b.keras"])  # doctest: +SKIP
        0
    """
    from kerascope._keras.bundle_file import bundle

    from .arguments import progress

    with progress():
        manifest = bundle(
            arguments.path,
            arguments.output,
            sources=arguments.sources,
            trust=arguments.trust,
            compile=compile_mode(arguments),  # type: ignore[arg-type]
        )
    made = manifest.bundle
    assert made is not None
    print(f"{arguments.output}: bundled {len(made.files)} files ({made.size:,} bytes)")
    print(_files_table(made))
    print(f"digest: {made.trust_name}")
    print(f"load it where the code is absent with: --trust {made.trust_name}")
    return EXIT_OK


def run_unbundle(arguments: argparse.Namespace) -> int:
    """Write the bundled files out and list them.

    Example:
        >>> from kerascope._cli.commands import main
        >>> main(["unbundle", "b.keras", "review/"])  # doctest: +SKIP
        0
    """
    from kerascope._keras.bundle_file import unbundle

    found = unbundle(arguments.path, arguments.directory)
    print(f"{arguments.directory}: wrote {len(found.files)} files of bundle {found.trust_name}")
    print(_files_table(found))
    for line in found.damage():
        print(f"DAMAGED: {line}")
    return EXIT_OK


def _files_table(made: object) -> str:
    from .render import bundle_lines

    return "\n".join(bundle_lines(made))  # type: ignore[arg-type]
