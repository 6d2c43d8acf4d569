"""The Keras backend a process will use, and the backends user code is tied to, both found
without importing Keras or the code.

Keras 3.15 decides its backend once, when ``keras`` is first imported
(``keras/src/backend/config.py``): ``tensorflow`` by default, then the ``"backend"`` of
``keras.json`` in the Keras home (``$KERAS_HOME``, else ``~/.keras``, else ``/tmp/.keras`` when the
home directory is not writable), then a non-empty ``KERAS_BACKEND`` environment variable. Once
Keras is imported, its own answer is the one that counts.

Code written with ``keras.ops`` runs on every backend. Code that imports ``tensorflow``, ``jax``
or ``torch`` itself runs only where that framework is Keras's backend: elsewhere the import fails
(the framework is not installed; measured: ``ModuleNotFoundError: No module named 'tensorflow'``
on JAX) or its ops meet another framework's tensors. An import inside ``try`` or under ``if``
is optional (code that checks ``keras.backend.backend()`` or catches ``ImportError``), so it
ties nothing. ``numpy`` is recorded but ties nothing either: it comes with every backend.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from collections.abc import Iterator, Sequence

from .record import Record

__all__ = [
    "BACKEND_NAMES",
    "BackendUse",
    "active_backend",
    "backend_uses",
    "bound_backends",
    "describe_bound",
]

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


# Import packages -> the Keras backend they belong to ("numpy" is everywhere).
_PACKAGES = {
    "tensorflow": "tensorflow",
    "tf_keras": "tensorflow",
    "tensorflow_probability": "tensorflow",
    "jax": "jax",
    "jaxlib": "jax",
    "flax": "jax",
    "torch": "torch",
    "torchvision": "torch",
    "numpy": "numpy",
}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class BackendUse(Record):
    """One import of a backend's framework in user code.

    Attributes:
        backend: The Keras backend it belongs to (``"tensorflow"``, ``"jax"``, ``"torch"``), or
            ``"numpy"``.
        package: The package imported (``"tensorflow"``, ``"tf_keras"`` ...).
        lineno: The line of the import.
        statement: The import as written, normalised (``"import tensorflow as tf"``).
        scope: Where it runs: ``""`` at import time, else the function (``"MyLayer.call"``).
        optional: Inside ``try`` or under ``if``: the code can run without it.
    """

    backend: str
    package: str
    lineno: int
    statement: str
    scope: str = ""
    optional: bool = False

    def to_dict(self) -> dict[str, object]:
        """The use as a JSON-ready dict (the ``backend_uses`` entries of ``check --json``).

        Example:
            >>> BackendUse("torch", "torch", 3, "import torch").to_dict()["backend"]
            'torch'
        """
        return {
            "backend": self.backend,
            "package": self.package,
            "line": self.lineno,
            "statement": self.statement,
            "scope": self.scope or None,
            "optional": self.optional,
        }


def backend_uses(tree: ast.Module) -> tuple[BackendUse, ...]:
    """Every import of a backend framework (or numpy) in a module, at any depth, in line order.

    Example:
        >>> tree = ast.parse("from tensorflow import nn\\nclass L:\\n    def call(self):\\n"
        ...                  "        import torch\\ntry:\\n    import jax\\nexcept ImportError:\\n"
        ...                  "    jax = None")
        >>> [(u.backend, u.lineno, u.scope, u.optional) for u in backend_uses(tree)]
        [('tensorflow', 1, '', False), ('torch', 4, 'L.call', False), ('jax', 6, '', True)]
    """
    return tuple(sorted(_walk(tree.body, (), False), key=lambda use: use.lineno))


def _walk(body: Sequence[ast.stmt], scope: tuple[str, ...], optional: bool) -> Iterator[BackendUse]:
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from _imports(node, scope, optional)
        elif isinstance(node, _SCOPES):
            yield from _walk(node.body, (*scope, node.name), optional)
        elif isinstance(node, ast.If):
            yield from _walk(node.body, scope, True)
            yield from _walk(node.orelse, scope, True)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            yield from _walk(node.body, scope, True)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                yield from _walk(handler.body, scope, True)
            yield from _walk(node.orelse, scope, optional)  # type: ignore[attr-defined]
            yield from _walk(node.finalbody, scope, optional)  # type: ignore[attr-defined]
        elif isinstance(node, ast.Match):
            for case in node.cases:
                yield from _walk(case.body, scope, True)
        else:
            for field in ("body", "orelse", "finalbody"):
                yield from _walk(getattr(node, field, ()), scope, optional)


def _imports(
    node: ast.Import | ast.ImportFrom, scope: tuple[str, ...], optional: bool
) -> Iterator[BackendUse]:
    if isinstance(node, ast.ImportFrom):
        if node.level or not node.module:
            return
        package = node.module.split(".")[0]
        if package in _PACKAGES:
            names = ", ".join(_alias(alias) for alias in node.names)
            statement = f"from {node.module} import {names}"
            yield BackendUse(
                _PACKAGES[package], package, node.lineno, statement, ".".join(scope), optional
            )
        return
    for alias in node.names:
        package = alias.name.split(".")[0]
        if package in _PACKAGES:
            yield BackendUse(
                _PACKAGES[package],
                package,
                node.lineno,
                f"import {_alias(alias)}",
                ".".join(scope),
                optional,
            )


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def bound_backends(uses: Sequence[BackendUse]) -> tuple[str, ...]:
    """The backends the code cannot run without, sorted; empty for backend-neutral code.

    Example:
        >>> bound_backends([BackendUse("torch", "torch", 1, "import torch"),
        ...                 BackendUse("numpy", "numpy", 2, "import numpy as np")])
        ('torch',)
    """
    return tuple(
        sorted({use.backend for use in uses if use.backend != "numpy" and not use.optional})
    )


def describe_bound(backends: Sequence[str]) -> str:
    """``"the TensorFlow backend"``, or the choice when code imports several frameworks.

    Example:
        >>> describe_bound(["jax", "tensorflow"])
        'the JAX or TensorFlow backend'
    """
    names = [BACKEND_NAMES.get(backend, backend) for backend in backends]
    return f"the {' or '.join(names)} backend"
