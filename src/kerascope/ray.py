"""Ray: ship exactly the code a :class:`kerascope.ModelRef` pinned, and predict with Ray Data.

Install with ``pip install 'kerascope[ray]'`` (Ray 2.60). Nothing here imports Ray: the
functions build what Ray takes (a ``runtime_env`` dict, a callable class) and read what it
raises, so ``import kerascope.ray`` stays light and ``import kerascope`` never loads it.

- :func:`runtime_env` ships the ref's pinned source files, and nothing else, through Ray's
  ``py_modules``: workers that share no file system with the driver still load, and import
  the shipped copies, never the driver's directory.
- :class:`Predict` is a callable class for ``ray.data.Dataset.map_batches``: each actor loads
  the model once (checking every pinned hash) and adds the predictions as a column.
- :func:`unwrap_errors` turns a worker's kerascope error, which Ray delivers wrapped in its
  own exceptions (``RayTaskError``, ``ActorDiedError``, Ray Data's ``UserCodeException``) with
  a remote traceback, back into the same kerascope error, with every problem listed.

Example:
    >>> import kerascope, kerascope.ray, ray  # doctest: +SKIP
    >>> ref = kerascope.ModelRef("model.keras", sources=["layers/"])  # doctest: +SKIP
    >>> predictions = kerascope.ray.predict(  # doctest: +SKIP
    ...     ray.data.from_numpy(features), ref, column="data", actors=2
    ... )
    >>> with kerascope.ray.unwrap_errors():  # doctest: +SKIP
    ...     rows = predictions.take_all()
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from kerascope import errors as _errors
from kerascope._common.record import TYPE_CHECKING
from kerascope._keras.ref import ModelRef
from kerascope._resolving.shipping import stage
from kerascope.errors import KerascopeError, Problem, UnresolvedObjectsError

if TYPE_CHECKING:
    from typing import Any

__all__ = ["Predict", "kerascope_error", "load", "predict", "runtime_env", "unwrap_errors"]

# A worker's kerascope error travels to the driver as one line of its message: Ray keeps only
# the text of errors raised in an actor's constructor, and Ray Data only the text of errors
# raised in a batch function.
_MARKER = "kerascope-error: "


def runtime_env(
    ref: ModelRef, base: Mapping[str, Any] | None = None, *, staging_dir: str | None = None
) -> dict[str, Any]:
    """A Ray ``runtime_env`` that ships exactly the ref's pinned source files.

    The files are copied, each checked against its pinned SHA-256, into a directory that holds
    nothing else (named by their digest, under ``staging_dir``, default
    ``$TMPDIR/kerascope-ship``), and its top-level modules and packages are listed in
    ``py_modules``. Pass it to ``ray.init(runtime_env=...)`` (or ``ray job submit
    --runtime-env-json``): Ray zips and uploads local entries for a job's ``runtime_env`` only,
    and every worker of the job puts them on its ``PYTHONPATH``. Files of trusted installed
    packages are not shipped: workers need the same versions installed (add ``pip`` to
    ``base``). A bundled model (``ref.bundle_digest``) ships nothing: its code travels in the
    model file. The model file itself is not shipped either: workers read it at ``ref.path``.

    Args:
        ref: The model reference.
        base: Other ``runtime_env`` fields to keep (``pip``, ``env_vars`` ...); its
            ``py_modules`` are kept too.
        staging_dir: Where to build the directory to ship.

    Raises:
        UnresolvedObjectsError: A pinned file changed since the ref was made, naming it;
            nothing is shipped.

    Example:
        >>> env = kerascope.ray.runtime_env(ref)  # doctest: +SKIP
        >>> env["py_modules"]  # doctest: +SKIP
        ['/tmp/kerascope-ship/5e0c.../mylayers']
    """
    env = dict(base or {})
    if ref.bundle_digest is not None:
        return env
    package = stage(ref.files, staging_dir)
    if package.problems:
        raise UnresolvedObjectsError(ref.path, package.problems)
    if package.entries:
        env["py_modules"] = [*env.get("py_modules", ()), *package.entries]
    return env


def load(ref: ModelRef) -> Any:
    """``ref.model()`` for code running on a Ray worker: its kerascope errors can be unwrapped.

    Use it in your own actors and tasks instead of ``ref.load()``: an error it raises carries
    a copy of itself that :func:`unwrap_errors` restores on the driver, whichever Ray
    exception delivers it.

    Example:
        >>> @ray.remote  # doctest: +SKIP
        ... class Scorer:
        ...     def __init__(self, ref):
        ...         self.model = kerascope.ray.load(ref)
    """
    try:
        return ref.model()
    except KerascopeError as error:
        raise _marked(error) from None


class Predict:
    """A callable class for ``Dataset.map_batches``: loads once per actor, predicts a column.

    Args:
        ref: The model reference (made on the driver; its trust policy travels with it).
        column: The input column (one tensor column), or several scalar columns stacked as
            features, in order.
        output: The name of the prediction column; a model with several outputs gives
            ``output_0``, ``output_1`` ... (or ``output_<name>``).
        batch_size: Passed to ``model.predict``.
        keep_columns: Return the input columns too (default), or only the predictions.

    Example:
        >>> dataset.map_batches(  # doctest: +SKIP
        ...     kerascope.ray.Predict,
        ...     fn_constructor_args=(ref,),
        ...     fn_constructor_kwargs={"column": "features", "batch_size": 256},
        ...     compute=ray.data.ActorPoolStrategy(size=2),
        ...     runtime_env=kerascope.ray.runtime_env(ref),
        ...     batch_format="numpy",
        ... )
    """

    def __init__(
        self,
        ref: ModelRef,
        *,
        column: str | Sequence[str] = "data",
        output: str = "prediction",
        batch_size: int | None = None,
        keep_columns: bool = True,
    ) -> None:
        self.model = load(ref)
        self.column = column
        self.output = output
        self.batch_size = batch_size
        self.keep_columns = keep_columns

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        """Predict one batch (a dict of numpy arrays) and add the predictions."""
        import numpy as np

        if isinstance(self.column, str):
            inputs = np.asarray(batch[self.column])
        else:
            inputs = np.stack([np.asarray(batch[name]) for name in self.column], axis=-1)
        outputs = self.model.predict(inputs, batch_size=self.batch_size, verbose=0)
        result = dict(batch) if self.keep_columns else {}
        if isinstance(outputs, Mapping):
            result.update({f"{self.output}_{k}": np.asarray(v) for k, v in outputs.items()})
        elif isinstance(outputs, (list, tuple)):
            result.update({f"{self.output}_{i}": np.asarray(v) for i, v in enumerate(outputs)})
        else:
            result[self.output] = np.asarray(outputs)
        return result


def predict(
    dataset: Any,
    ref: ModelRef,
    *,
    column: str | Sequence[str] = "data",
    output: str = "prediction",
    batch_size: int = 1024,
    actors: int = 2,
    keep_columns: bool = True,
    **map_batches: Any,
) -> Any:
    """``dataset`` with the model's predictions added, by ``actors`` Ray actors.

    The same as ``dataset.map_batches(Predict, ...)`` with a fixed pool of ``actors`` actors
    (one CPU each), in batches of ``batch_size`` rows, in ``numpy`` format; other keyword
    arguments go to ``map_batches``. The job must ship the ref's code: start it with
    ``ray.init(runtime_env=runtime_env(ref))`` (Ray uploads local files only for a job's
    ``runtime_env``, not a task's), unless every worker shares the driver's file system. Lazy,
    as Ray Data is: consume it inside :func:`unwrap_errors` to get a worker's kerascope error
    as such.

    Example:
        >>> out = kerascope.ray.predict(dataset, ref, column="features")  # doctest: +SKIP
        >>> with kerascope.ray.unwrap_errors():  # doctest: +SKIP
        ...     out.write_parquet("predictions/")
    """
    import ray.data

    options: dict[str, Any] = {"batch_format": "numpy", **map_batches}
    return dataset.map_batches(
        Predict,
        fn_constructor_args=(ref,),
        fn_constructor_kwargs={
            "column": column,
            "output": output,
            "batch_size": batch_size,
            "keep_columns": keep_columns,
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        **options,
    )


@contextmanager
def unwrap_errors() -> Iterator[None]:
    """Re-raise a kerascope error that a Ray worker raised as itself, not as Ray's wrapper.

    Example:
        >>> with kerascope.ray.unwrap_errors():  # doctest: +SKIP
        ...     dataset.take_all()
        Traceback (most recent call last):
        kerascope.errors.UnresolvedObjectsError: /data/model.keras cannot be loaded: 1 problem
        - 'mylayers.blocks' (source file): /src/mylayers/blocks.py differs from ...
    """
    try:
        yield
    except Exception as error:
        found = kerascope_error(error)
        if found is None or found is error:
            raise
        raise found from None


def kerascope_error(error: BaseException) -> KerascopeError | None:
    """The kerascope error a worker raised, inside one of Ray's exceptions; None if none.

    Example:
        >>> kerascope_error(ValueError("unrelated")) is None
        True
        >>> original = _errors.ModelFileError("m.keras", "is empty")
        >>> wrapped = RuntimeError("remote traceback ...\\n" + _marked(original).args[0])
        >>> found = kerascope_error(wrapped)
        >>> type(found).__name__, str(found)
        ('ModelFileError', 'm.keras: is empty')
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        decoded = _decode(str(current))
        if decoded is not None:
            return decoded
        if isinstance(current, KerascopeError) and not _is_ray_wrapper(current):
            return current
        for linked in (getattr(current, "cause", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return None


def _is_ray_wrapper(error: BaseException) -> bool:
    return any(cls.__module__.startswith("ray.") for cls in type(error).__mro__)


def _marked(error: KerascopeError) -> KerascopeError:
    """A copy of ``error`` whose message ends with a line that encodes it."""
    line = _MARKER + json.dumps(
        {
            "class": type(error).__name__,
            "args": _encode(error.args),
            "attributes": _encode(vars(error)),
        },
        separators=(",", ":"),
    )
    args = list(error.args) or [""]
    args[0] = f"{args[0]}\n{line}"
    copy = type(error).__new__(type(error), *args)
    vars(copy).update(vars(error))
    return copy


def _decode(text: str) -> KerascopeError | None:
    for line in reversed(text.splitlines()):
        start = line.find(_MARKER)
        if start < 0:
            continue
        try:
            data = json.loads(line[start + len(_MARKER) :])
            cls = getattr(_errors, data["class"])
            if not (isinstance(cls, type) and issubclass(cls, KerascopeError)):
                return None
            error: KerascopeError = cls.__new__(cls, *_restore(data["args"]))
            vars(error).update(_restore(data["attributes"]))
            return error
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
    return None


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Problem):
        return {"__problem__": _encode(value._asdict())}
    if isinstance(value, BaseException):
        return {"__exception__": [type(value).__module__, type(value).__name__, str(value)]}
    if hasattr(value, "_asdict"):
        return _encode(value._asdict())
    if isinstance(value, Mapping):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else repr(value)


def _exception(module: str, name: str, text: str) -> BaseException:
    """A builtin exception as itself; any other as a RuntimeError naming its class."""
    import builtins

    cls = getattr(builtins, name, None) if module == "builtins" else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(text)
        except TypeError:  # a builtin exception with other arguments (UnicodeDecodeError)
            pass
    return RuntimeError(f"{module}.{name}: {text}")


def _restore(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_restore(item) for item in value)
    if isinstance(value, dict):
        if "__problem__" in value:
            return Problem(**_restore(value["__problem__"]))
        if "__exception__" in value:
            return _exception(*value["__exception__"])
        return {key: _restore(item) for key, item in value.items()}
    return value
