"""The one module that imports Keras, and only when a function here is called.

Everything goes through Keras's public API (``keras.saving`` and friends); Keras does all the
deserializing.

TensorFlow's C++ code writes log lines straight to the process's stderr while it is imported
and while it creates the first variables (oneDNN, CUDA, CPU features, absl), and
``TF_CPP_MIN_LOG_LEVEL`` does not silence the ones logged before absl is initialised. So the
import and the load run with file descriptor 2 pointed at a temporary file
(:func:`native_stderr_held`): what native code wrote is shown only if the load fails. Python's
own warnings written during that time are shown afterwards, as usual. Holding redirects the
whole process's file descriptor 2, so only the command-line tool turns it on
(:mod:`kerascope._common.native_stderr`); a Python program that imports kerascope keeps its stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress

from kerascope._common.native_stderr import native_stderr_wanted
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = [
    "ModelSummary",
    "absl_errors_only",
    "builtin_loss",
    "builtin_optimizer",
    "import_keras",
    "in_custom_object_scope",
    "keras_load_quieted",
    "load_with_keras",
    "native_stderr_held",
    "register_with_keras",
    "summarize",
]

_HELD_LIMIT = 64 * 1024  # bytes of earlier native output kept to show with a later failure


class _Held:
    """Whether fd 2 is held now, and the native output of earlier holds that succeeded."""

    holding = False
    earlier = b""


_HELD = _Held()


def _keras() -> Any:
    if "keras" not in sys.modules:
        import_keras()
    import keras

    return keras


def import_keras() -> None:
    """Import Keras (and its backend) with native stderr held (see :func:`native_stderr_held`).

    Example:
        >>> import_keras()  # doctest: +SKIP
    """
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_held():
        import keras  # noqa: F401


class _PythonStderr:
    """Stands in for ``sys.stderr`` while fd 2 is held: keeps Python's own text to show later.

    The text also goes to the held file, so that a failure shows everything in order.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] | None = []

    def write(self, text: str) -> int:
        if self.parts is not None:
            self.parts.append(text)
        return self.stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def native_stderr_held() -> Iterator[None]:
    """Point file descriptor 2 at a temporary file while the block runs; show it on failure.

    On success what native code wrote is dropped (the last 64 kB are kept, to be shown with a
    later failure), and what Python code wrote to ``sys.stderr`` is written out. On an exception
    everything is written to stderr before the exception goes on. Nested uses hold once.
    ``KERASCOPE_DEBUG=1`` turns holding off.

    Example:
        >>> with native_stderr_held():  # doctest: +SKIP
        ...     import tensorflow
    """
    if not native_stderr_wanted() or _HELD.holding or os.environ.get("KERASCOPE_DEBUG"):
        yield
        return
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2, or no sys.stderr: nothing to hold
        yield
        return
    python_stderr = sys.stderr
    stand_in = _PythonStderr(python_stderr) if _writes_to_fd_2(python_stderr) else None
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        _HELD.holding = True
        if stand_in is not None:
            sys.stderr = stand_in
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            _HELD.holding = False
            if stand_in is not None:
                sys.stderr = python_stderr
                parts, stand_in.parts = stand_in.parts or [], None  # later writes go straight on
            else:
                parts = []
            _flush_quietly(python_stderr)
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            _release(held.read(), parts, python_stderr, failed=failed)


def _writes_to_fd_2(stream: Any) -> bool:
    try:
        return bool(stream.fileno() == 2)
    except (AttributeError, OSError, ValueError):
        return False


def _flush_quietly(stream: Any) -> None:
    with suppress(OSError, ValueError):
        stream.flush()


def _release(native: bytes, python_parts: list[str], stream: Any, *, failed: bool) -> None:
    """Show what was held: everything on failure, Python's own text otherwise."""
    if failed:
        shown = memoryview(_HELD.earlier + native)
        _HELD.earlier = b""
        while shown:
            shown = shown[os.write(2, shown) :]
        return
    _HELD.earlier = (_HELD.earlier + native)[-_HELD_LIMIT:]
    if python_parts:
        stream.write("".join(python_parts))
        _flush_quietly(stream)


def register_with_keras(obj: Any, package: str, name: str | None, aliases: Iterable[str]) -> str:
    """Register ``obj`` with Keras under ``package>name`` (and each alias); return the key."""
    keras = _keras()
    keras.saving.register_keras_serializable(package=package, name=name)(obj)
    registry = keras.saving.get_custom_objects()
    for alias in aliases:
        registry[alias] = obj
    return str(keras.saving.get_registered_name(obj))


def in_custom_object_scope(key: str) -> bool:
    """Whether an active ``keras.saving.custom_object_scope`` provides ``key`` (this thread).

    Keras has no public accessor for the active scope's dict: ``keras.saving.get_custom_objects``
    returns only the global registry. Its public lookup, ``keras.saving.get_registered_object``,
    consults the scope first, then the global registry (``keras/src/saving/
    object_registration.py``); an answer that is not the global registry's entry came from the
    scope. An object both hold is the global registry's, which the resolver checks next anyway.
    Never imports Keras: no scope can be active in a process that has not imported it.
    """
    keras = sys.modules.get("keras")
    if keras is None:
        return False
    found = keras.saving.get_registered_object(key)
    if found is None:
        return False
    return keras.saving.get_custom_objects().get(key) is not found


def builtin_loss(name: str) -> Any:
    """A Keras built-in loss function by its canonical name (``"mean_squared_error"``)."""
    return _keras().losses.get(name)


def builtin_optimizer(public: str) -> Any:
    """A Keras optimizer class by its public path (``"keras.optimizers.Adam"``)."""
    return getattr(_keras().optimizers, public.rpartition(".")[2])


def save_with_keras(model: Any, path: str) -> None:
    """``model.save(path)``: Keras chooses the format from the extension."""
    _keras()
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(max(level, logging.ERROR))  # the "HDF5 format is legacy" notice
    try:
        model.save(path)
    finally:
        absl.setLevel(level)


def input_shapes(model: Any) -> list[tuple[tuple[int | None, ...], str]]:
    """Shape and dtype of each model input (from the model's input spec)."""
    return [
        (tuple(tensor.shape), str(getattr(tensor.dtype, "name", tensor.dtype)))
        for tensor in getattr(model, "inputs", None) or []
    ]


def predict(model: Any, inputs: list[Any]) -> list[Any]:
    """The model's outputs on ``inputs``, as a list of numpy arrays."""
    import numpy as np

    keras = _keras()
    outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    flat = keras.tree.flatten(outputs)
    return [np.asarray(keras.ops.convert_to_numpy(output)) for output in flat]


def weight_arrays(model: Any) -> list[tuple[str, Any]]:
    """Every weight of the model, with its path, as numpy arrays."""
    import numpy as np

    keras = _keras()
    return [
        (str(getattr(w, "path", w.name)), np.asarray(keras.ops.convert_to_numpy(w)))
        for w in model.weights
    ]


def runtime_versions() -> tuple[str, str]:
    """The installed Keras version and the active backend."""
    keras = _keras()
    return str(keras.__version__), str(keras.backend.backend())


def live_object(key: str, module: str | None, name: str) -> Any | None:
    """The object a saving process used for a custom-object key, looked up where it lives.

    Registered objects come from Keras's registry; classes from their module (already imported
    by the process that built the model); functions, which Keras records without a module, from
    the first imported module outside Keras that defines a function of that name.
    """
    keras = _keras()
    registered = keras.saving.get_custom_objects().get(key)
    if registered is not None:
        return registered
    if module and module != "builtins":
        return getattr(sys.modules.get(module), name, None)
    if module is None:
        found = getattr(sys.modules.get("__main__"), name, None)
        if found is not None:
            return found
    for module_name, candidate_module in list(sys.modules.items()):
        if module_name.split(".")[0] in _NOT_USER_CODE or candidate_module is None:
            continue
        candidate = getattr(candidate_module, name, None)
        if callable(candidate) and getattr(candidate, "__name__", None) == name:
            return candidate
    return None


_NOT_USER_CODE = frozenset(
    {"keras", "tensorflow", "tf_keras", "numpy", "jax", "torch", "h5py", "kerascope", "builtins"}
) | frozenset(sys.stdlib_module_names)


def load_with_keras(
    path: str, custom_objects: Mapping[str, Any], compile: bool, safe_mode: bool
) -> Any:
    """``keras.saving.load_model`` with exactly these custom objects."""
    keras = _keras()
    with keras_load_quieted():
        return keras.saving.load_model(
            path, custom_objects=dict(custom_objects), compile=compile, safe_mode=safe_mode
        )


@contextmanager
def absl_errors_only() -> Iterator[None]:
    """Let absl (Keras's logger) show errors only while the block runs.

    Example:
        >>> with absl_errors_only():
        ...     pass
    """
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        absl.setLevel(level)


@contextmanager
def keras_load_quieted() -> Iterator[None]:
    """What a Keras load says that is noise for someone loading a model, held back.

    Keras logs that compiled metrics are not built yet and warns about optimizer variables of
    never-trained models; native code writes to stderr (:func:`native_stderr_held`).

    Example:
        >>> with keras_load_quieted():  # doctest: +SKIP
        ...     model = keras.saving.load_model("m.keras")
    """
    with absl_errors_only(), warnings.catch_warnings(), native_stderr_held():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        yield


class ModelSummary(Record):
    """What ``kerascope load`` prints about a loaded model."""

    class_name: str
    name: str
    layers: tuple[tuple[str, str], ...]
    parameters: int
    compiled: bool
    loss: str | None
    optimizer: str | None


def summarize(model: Any) -> ModelSummary:
    """Layers, parameter count and compile state of a loaded model."""
    layers = tuple((layer.name, type(layer).__name__) for layer in getattr(model, "layers", ()))
    compiled = bool(getattr(model, "compiled", False))
    loss = getattr(model, "loss", None) if compiled else None
    optimizer = getattr(model, "optimizer", None) if compiled else None
    return ModelSummary(
        class_name=type(model).__name__,
        name=str(model.name),
        layers=layers,
        parameters=int(model.count_params()) if getattr(model, "built", True) else 0,
        compiled=compiled,
        loss=_describe(loss),
        optimizer=type(optimizer).__name__ if optimizer is not None else None,
    )


def _describe(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    name = getattr(value, "__name__", None) or getattr(value, "name", None)
    return str(name) if name else type(value).__name__
