"""``lint``: what would stop a live model from saving, or from loading back, found before saving.

Keras finds most of these problems only when the file is loaded in another process, and some
never: a class defined in ``__main__`` (saved with ``module: null``), a ``get_config()`` that
leaves out a constructor argument (``from_config`` fails, or quietly rebuilds the object with
the default), a config value JSON cannot hold, a module a fresh process cannot import, a
subclassed model saved as legacy .h5.

``lint`` reads the model and the objects it holds (layers at every depth, the loss, metrics,
optimizer and learning-rate schedule given to ``compile()``, and the initializers, regularizers,
constraints and functions layers hold); it never builds or calls the model. Only custom objects
the saved config names are checked (a layer a custom layer creates in its own constructor is
rebuilt on load, not written). Where each object is defined is checked by
:mod:`kerascope._audit.lint_definition`, what its ``get_config()`` returns by
:mod:`kerascope._audit.lint_config`, the model as a whole here. Everything that needs Keras goes
through :mod:`kerascope._audit.lint_walk`; the model is live, so Keras is already imported.

Findings are :class:`~kerascope._audit.findings.Finding` records naming the ``object``
(``module.qualname``); ``save_model`` writes nothing when one is ``high``, and warns about the
others. Codes:

- ``defined-in-main`` (high): defined in ``__main__``; the file cannot say where it lives.
- ``config-drops-argument`` (high; medium if the class has its own ``from_config``): a
  required constructor argument is missing from ``get_config()``.
- ``config-missing-default`` (low): an argument with a default is missing; the object loads
  back with the default.
- ``config-unexpected-argument`` (high): ``get_config()`` returns a key ``__init__`` refuses.
- ``no-config`` (high): ``get_config()`` raises, or serializing the model does.
- ``not-json-serializable`` (high): a config value JSON cannot hold.
- ``not-findable`` (medium): not registered, and not importable by module and name.
- ``subclassed-model-h5`` (high): a subclassed model about to be saved as .h5.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING

from . import lint_walk
from .findings import Finding, rank
from .lint_backend import backend_findings
from .lint_common import dotted, first_line, is_custom
from .lint_config import config_findings
from .lint_definition import definition_findings

if TYPE_CHECKING:
    from typing import Any

__all__ = ["CODES", "lint"]

CODES = (
    "defined-in-main",
    "config-drops-argument",
    "config-missing-default",
    "config-unexpected-argument",
    "not-json-serializable",
    "no-config",
    "not-findable",
    "subclassed-model-h5",
    "backend-bound",
)
_FORMATS = ("keras", "h5")


def lint(model: Any, *, format: str = "keras") -> list[Finding]:
    """Everything that would stop ``model`` from saving in ``format`` and loading back as built.

    Checks every custom class and function the saved config would name: where it is defined
    (``__main__``; a module a fresh process cannot import), whether ``get_config()`` works,
    returns every constructor argument and only values JSON can hold; and, for ``format="h5"``,
    whether the model is a layer graph (Sequential or Functional) that .h5 can reload.

    Args:
        model: A live Keras model, compiled or not. It is neither built nor called.
        format: ``"keras"`` or ``"h5"``, the format it is about to be saved in.

    Returns:
        The findings, highest severity first, each problem once.

    Raises:
        ValueError: ``format`` is neither ``"keras"`` nor ``"h5"``.
        TypeError: ``model`` is not a Keras model or layer.

    Example:
        >>> inputs = keras.Input((3,))  # doctest: +SKIP
        >>> lint(keras.Model(inputs, keras.layers.Dense(2)(inputs)), format="h5")  # doctest: +SKIP
        []
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be 'keras' or 'h5', not {format!r}")
    scan = lint_walk.lint_scan(model)
    if not scan.objects or scan.objects[0].kind not in ("model", "layer"):
        raise TypeError(f"lint() takes a Keras model, not {type(model).__name__}")
    findings: list[Finding] = []
    for item in scan.objects:
        target = item.obj if item.kind == "function" else type(item.obj)
        if not item.in_file or not is_custom(target):
            continue
        findings += definition_findings(target, item.kind)
        findings += backend_findings(target, item.kind)
        if item.kind != "function":
            findings += config_findings(item.obj)
    if scan.serialize_error is not None and not any(f.severity == "high" for f in findings):
        findings.append(_unserializable(scan, scan.serialize_error))
    if format == "h5" and not lint_walk.saves_layer_graph(model):
        findings.append(_subclassed_h5(model))
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda finding: -rank(finding.severity))


# --- the model as a whole ---------------------------------------------------------------------


def _unserializable(scan: lint_walk.LintScan, error: BaseException) -> Finding:
    """Serializing the model failed for a reason none of the other checks found.

    Blames the object that fails on its own: the last one in walking order, so that none of
    the objects it holds fails too.
    """
    culprit = scan.objects[0].obj
    for item in scan.objects[1:]:
        if item.kind == "function":
            continue
        try:
            lint_walk.serialize_value(item.obj)
        except Exception as raised:
            culprit, error = item.obj, raised
    name = getattr(culprit, "name", None)
    named = f" '{name}'" if isinstance(name, str) else ""
    return Finding(
        "high",
        "no-config",
        f"serializing {type(culprit).__qualname__}{named} raises "
        f"{type(error).__name__}: {first_line(error)}",
        "give the object named in the message a get_config() that returns plain values (and a "
        "from_config() that rebuilds it), or pass the plain values instead of the object",
        object=dotted(type(culprit)),
    )


def _subclassed_h5(model: Any) -> Finding:
    cname = type(model).__qualname__
    return Finding(
        "high",
        "subclassed-model-h5",
        f"{cname} is a subclassed model (its own call(), not a Sequential or Functional layer "
        "graph): Keras 3 writes it to .h5 but cannot load it back (it reports a layer count "
        "mismatch)",
        "save it as .keras instead (model.save('model.keras')), with the code that defines "
        f"{cname} in an importable module",
        object=dotted(type(model)),
    )
