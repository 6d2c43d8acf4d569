"""Errors raised by kerascope.

Every error kerascope raises on purpose derives from :class:`KerascopeError` and knows the exit
code the command-line tool uses for it, so the CLI can print one line and exit without a
traceback. Each subclass also inherits the builtin exception a Python caller would expect::

    KerascopeError(Exception)                  exit 1
    └── ModelFileError(KerascopeError, ValueError)   exit 3: the file is missing, not a
                                                      Keras model, truncated or malformed

Example:
    >>> import kerascope
    >>> try:
    ...     kerascope.inspect("missing.keras")
    ... except kerascope.ModelFileError as error:
    ...     print(error.exit_code)
    3
"""

from __future__ import annotations

__all__ = [
    "EXIT_BAD_FILE",
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_USAGE",
    "KerascopeError",
    "ModelFileError",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BAD_FILE = 3


class KerascopeError(Exception):
    """Base class of every error kerascope raises on purpose.

    Example:
        >>> str(KerascopeError("something went wrong"))
        'something went wrong'
    """

    exit_code: int = EXIT_ERROR


class ModelFileError(KerascopeError, ValueError):
    """The path is not a readable Keras model file; the message says what it is instead.

    Attributes:
        path: The path that was given.

    Example:
        >>> error = ModelFileError("model.keras", "is empty (0 bytes)")
        >>> str(error)
        'model.keras: is empty (0 bytes)'
    """

    exit_code = EXIT_BAD_FILE

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
