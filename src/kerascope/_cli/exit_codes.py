"""The exit codes of the ``kerascope`` command, in one table for ``--help`` and the docs.

README.md carries the same table; a test compares the two.
"""

from __future__ import annotations

from kerascope.errors import (
    EXIT_BAD_FILE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_KERAS,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    EXIT_SCAN_HIGH,
    EXIT_SCAN_REVIEW,
    EXIT_SOURCE_IMPORT,
    EXIT_UNRESOLVED,
    EXIT_USAGE,
    EXIT_VERIFY_FAILED,
)

__all__ = ["EXIT_CODES", "epilog"]

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_ERROR, "internal error (a bug: KERASCOPE_DEBUG=1 shows the traceback)"),
    (EXIT_USAGE, "usage error, or a --from source that does not exist"),
    (
        EXIT_BAD_FILE,
        "the path is missing, not a Keras model, truncated or malformed (scan: a path named "
        "on the command line, when no finding sets the code)",
    ),
    (
        EXIT_UNRESOLVED,
        "check, load, verify: custom objects missing or untrusted, or the file refused by "
        "the audit",
    ),
    (EXIT_SOURCE_IMPORT, "load, verify: a source module raised an exception while imported"),
    (EXIT_KERAS, "load, verify: Keras failed although every custom object was provided"),
    (
        EXIT_SCAN_REVIEW,
        "scan: the highest finding is low or medium (review before loading); with "
        "--fail-on SEVERITY, the worst finding at or above it is below high",
    ),
    (EXIT_SCAN_HIGH, "scan: at least one high finding (kerascope refuses to load the file)"),
    (
        EXIT_VERIFY_FAILED,
        "verify: the model did not load in a fresh process, or came back different; "
        "export: the artifact's parity could not be proven, nothing was written",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
    (EXIT_OUTPUT_CLOSED, "the output was closed before it was all written (| head)"),
)


def epilog() -> str:
    """The exit-code table as ``kerascope --help`` ends with it.

    Example:
        >>> epilog().splitlines()[:2]
        ['exit codes:', '  0    success']
    """
    return "\n".join(["exit codes:", *(f"  {code:<4} {text}" for code, text in EXIT_CODES)])
