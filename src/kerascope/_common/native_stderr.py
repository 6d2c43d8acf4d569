"""Whether this process wants TensorFlow's native stderr held while Keras imports and loads.

Holding redirects the whole process's file descriptor 2, so only the command-line tool asks for
it; a Python program that imports kerascope keeps its stderr. The holding itself is done by the
Keras adapter (:func:`kerascope._keras.runtime.native_stderr_held`); this flag lives here so that
the command line can set it without importing the adapter.
"""

from __future__ import annotations

__all__ = ["hold_native_stderr", "native_stderr_wanted"]


class _Policy:
    hold = False


def hold_native_stderr() -> None:
    """Ask for native stderr to be held (the command-line tool calls this once, at start).

    Example:
        >>> hold_native_stderr(); native_stderr_wanted()  # doctest: +SKIP
        True
    """
    _Policy.hold = True


def native_stderr_wanted() -> bool:
    """Whether :func:`hold_native_stderr` was called in this process.

    Example:
        >>> isinstance(native_stderr_wanted(), bool)
        True
    """
    return _Policy.hold
