"""The Keras backend a process will use, read as Keras reads it, without importing Keras.

Keras 3.15 decides its backend once, when ``keras`` is first imported
(``keras/src/backend/config.py``): ``tensorflow`` by default, then the ``"backend"`` of
``keras.json`` in the Keras home (``$KERAS_HOME``, else ``~/.keras``, else ``/tmp/.keras`` when the
home directory is not writable), then a non-empty ``KERAS_BACKEND`` environment variable. Once
Keras is imported, its own answer is the one that counts.
"""

from __future__ import annotations

import json
import os
import sys

__all__ = ["BACKEND_NAMES", "active_backend"]

# The backends' names as Keras spells them, and as people read them.
BACKEND_NAMES = {
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "torch": "PyTorch",
    "numpy": "NumPy",
    "openvino": "OpenVINO",
}


def active_backend() -> str:
    """The backend Keras uses (or will use) in this process.

    Example:
        >>> import os
        >>> os.environ["KERAS_BACKEND"] = "jax"
        >>> active_backend() if "keras" not in sys.modules else "jax"
        'jax'
        >>> del os.environ["KERAS_BACKEND"]
    """
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    if callable(backend):
        return str(backend())
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    configured = _configured(os.path.join(_keras_home(), "keras.json"))
    return configured or "tensorflow"


def _keras_home() -> str:
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _configured(path: str) -> str | None:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        return None
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) and backend else None
