"""Work a higher layer hands to a lower one, to run while that one waits on a child process.

The audit reads HDF5 in a child process (``_reading.hdf5_child``) and this process would sit
idle meanwhile. The Keras adapter uses the wait to warm the backend (``_keras.warmup``). The
reader cannot import the adapter, so the adapter registers the work here, the reader runs it.
Work is run at most once, in the registering thread's context, and must not raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["run_idle_work", "while_idle"]

_LOCAL = threading.local()


@contextmanager
def while_idle(work: Callable[[], None]) -> Iterator[None]:
    """Offer ``work`` to the next wait on a child process in this thread, inside the block.

    Example:
        >>> ran = []
        >>> with while_idle(lambda: ran.append(1)):
        ...     run_idle_work()
        >>> ran
        [1]
    """
    pending: list[Callable[[], None]] = _pending()
    pending.append(work)
    try:
        yield
    finally:
        if work in pending:
            pending.remove(work)


def run_idle_work() -> None:
    """Run, once each, the work offered in this thread; called while waiting on a child.

    Example:
        >>> run_idle_work()  # nothing offered: nothing done
    """
    pending = _pending()
    while pending:
        pending.pop(0)()


def _pending() -> list[Callable[[], None]]:
    pending: list[Callable[[], None]] | None = getattr(_LOCAL, "pending", None)
    if pending is None:
        pending = _LOCAL.pending = []
    return pending
