"""Warm the Keras backend's first operations while the audit waits on its HDF5 reader child.

A process's first operations on TensorFlow pay one-time set-up: the eager context (about 30 ms
here), the first matrix product (about 50 ms: oneDNN's set-up), a few milliseconds for each
other kind of operation. A model loaded by Keras pays it at its first ``predict``; one that
kerascope smoke-checks pays it in the check. Meanwhile the audit spends 0.15 s or more waiting
on its HDF5 reader, a child process, with this process idle. Running a handful of operations on
constants during that wait (``_common.idle``) moves the set-up there. Nothing from the model
file is used, and nothing is imported: the warm-up is offered only when Keras is already
imported (importing it is not free, and the audit may refuse the file), and only on the
TensorFlow backend, where the set-up is once per process whatever the shapes. On JAX every new
shape compiles anew, so warming would only add time (0.8 s here, longer than the child).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kerascope._common.idle import while_idle
from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["backend_warmed_while_idle", "warm_operations"]


@contextmanager
def backend_warmed_while_idle() -> Iterator[None]:
    """Inside the block, the next wait on a child process warms TensorFlow (when Keras is
    already imported and runs on it; otherwise nothing happens).

    Example:
        >>> with backend_warmed_while_idle():
        ...     pass  # make_plan(...): its HDF5 reader child's wait warms the backend
    """
    keras = sys.modules.get("keras")
    if keras is None or _backend(keras) != "tensorflow":
        yield
        return
    with while_idle(lambda: _warm(keras)):
        yield


def _backend(keras: object) -> str | None:
    try:
        return str(keras.backend.backend())  # type: ignore[attr-defined]
    except Exception:  # a Keras being imported, or not Keras 3
        return None


def _warm(keras: object) -> None:
    try:
        warm_operations(keras.ops)  # type: ignore[attr-defined]
    except Exception:  # a warm-up that fails costs nothing but its time
        return


def warm_operations(ops: Any) -> None:
    """Run, on constants, the operations of a dense layer's forward pass and of a mean squared
    error reduced over the batch (summed, counted, divided).

    Example:
        >>> import keras  # doctest: +SKIP
        >>> warm_operations(keras.ops)  # doctest: +SKIP
    """
    x = ops.ones((2, 4))
    y = ops.relu(ops.add(ops.matmul(x, ops.ones((4, 3))), ops.ones((3,))))
    errors = ops.mean(ops.square(ops.subtract(y, ops.zeros((2, 3)))), axis=-1)
    count = ops.prod(ops.convert_to_tensor(ops.shape(errors), dtype="int32"))
    ops.divide_no_nan(ops.sum(errors), ops.cast(count, "float32"))
