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
rebuilt on load, not written), and only constructor arguments user code declares (what a Keras
class's own get_config() leaves out is Keras's choice). Everything that needs Keras goes through
:mod:`kerascope._audit.lint_walk`; the model is live, so Keras is already imported.

Codes:

- ``defined-in-main`` (error): defined in ``__main__``; the file cannot say where it lives.
- ``config-drops-argument`` (error; warning if the class has its own ``from_config``): a
  required constructor argument is missing from ``get_config()``.
- ``config-missing-default`` (warning): an argument with a default is missing; the object loads
  back with the default.
- ``config-unexpected-argument`` (error): ``get_config()`` returns a key ``__init__`` refuses.
- ``no-config`` (error): ``get_config()`` raises, or serializing the model does.
- ``not-json-serializable`` (error): a config value JSON cannot hold.
- ``not-findable`` (warning): not registered, and not importable by module and name.
- ``subclassed-model-h5`` (error): a subclassed model about to be saved as .h5.
"""

from __future__ import annotations

import inspect
import json
import os
import sys

from kerascope._common.pythonpath import locate_module
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any, Literal

from kerascope._reading import keras_names as _builtins

from . import lint_walk

__all__ = ["CODES", "LintFinding", "lint"]

if TYPE_CHECKING:
    Severity = Literal["error", "warning"]

CODES = (
    "defined-in-main",
    "config-drops-argument",
    "config-missing-default",
    "config-unexpected-argument",
    "not-json-serializable",
    "no-config",
    "not-findable",
    "subclassed-model-h5",
)
_FORMATS = ("keras", "h5")

# Constructor parameters every Keras object handles itself: base-class config keys, or arguments
# only the first layer of a model takes.
_IGNORED_PARAMETERS = frozenset(
    {"name", "dtype", "trainable", "autocast", "activity_regularizer"}
    | {"input_shape", "input_dim", "batch_size"}
)
# Packages whose objects are Keras's or a backend's, not the user's.
_NOT_USER_PACKAGES = frozenset({"builtins", "tensorflow", "tf_keras", "jax", "torch", "numpy"})
# Keras classes whose from_config is ``cls(**config)``: a key __init__ does not take fails.
_GENERIC_FROM_CONFIG = frozenset(
    {"Operation", "Loss", "Metric", "BaseOptimizer", "Initializer", "Regularizer", "Constraint"}
    | {"LearningRateSchedule"}
)
_PLAIN = (str, int, float, bool, type(None))
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_AUTO_CONFIG_ERROR = "non-serializable argument values"


class LintFinding(Record):
    """One problem with saving a live model, and its fix.

    Attributes:
        severity: ``error`` (stops the save: the file would not load back as built) or
            ``warning``.
        code: One of :data:`CODES`.
        object: The class or function concerned, as ``module.qualname``
            (``"mylayers.Scale"``, ``"__main__.Block"``).
        message: What is wrong, naming the class and the parameter or value.
        fix: The exact change that fixes it.
    """

    severity: Severity
    code: str
    object: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        """The finding as a JSON-ready dict.

        Example:
            >>> LintFinding("warning", "not-findable", "m.Scale", "found", "fix it").to_dict()
            {'severity': 'warning', 'code': 'not-findable', 'object': 'm.Scale', \
'message': 'found', 'fix': 'fix it'}
        """
        return {
            "severity": self.severity,
            "code": self.code,
            "object": self.object,
            "message": self.message,
            "fix": self.fix,
        }

    def describe(self) -> str:
        """Two lines for a report.

        Example:
            >>> print(LintFinding("error", "no-config", "m.Scale", "no config", "add one")
            ...       .describe())
            error no-config m.Scale: no config
                fix: add one
        """
        return f"{self.severity} {self.code} {self.object}: {self.message}\n    fix: {self.fix}"


def lint(model: Any, *, format: str = "keras") -> list[LintFinding]:
    """Everything that would stop ``model`` from saving in ``format`` and loading back as built.

    Checks every custom class and function the saved config would name: where it is defined
    (``__main__``; a module a fresh process cannot import), whether ``get_config()`` works,
    returns every constructor argument and only values JSON can hold; and, for ``format="h5"``,
    whether the model is a layer graph (Sequential or Functional) that .h5 can reload.

    Args:
        model: A live Keras model, compiled or not. It is neither built nor called.
        format: ``"keras"`` or ``"h5"``, the format it is about to be saved in.

    Returns:
        The findings, errors first, each problem once.

    Raises:
        ValueError: ``format`` is neither ``"keras"`` nor ``"h5"``.
        TypeError: ``model`` is not a Keras model or layer.

    Example:
        >>> import keras
        >>> inputs = keras.Input((3,))
        >>> lint(keras.Model(inputs, keras.layers.Dense(2)(inputs)), format="h5")
        []
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be 'keras' or 'h5', not {format!r}")
    scan = lint_walk.lint_scan(model)
    if not scan.objects or scan.objects[0].kind not in ("model", "layer"):
        raise TypeError(f"lint() takes a Keras model, not {type(model).__name__}")
    findings: list[LintFinding] = []
    for item in scan.objects:
        target = item.obj if item.kind == "function" else type(item.obj)
        if not item.in_file or not _is_custom(target):
            continue
        findings += _definition_findings(target, item.kind)
        if item.kind != "function":
            findings += _config_findings(item.obj)
    if scan.serialize_error is not None and not any(f.severity == "error" for f in findings):
        findings.append(_unserializable(scan, scan.serialize_error))
    if format == "h5" and not lint_walk.saves_layer_graph(model):
        findings.append(_subclassed_h5(model))
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda finding: finding.severity != "error")


# --- where it is defined ---------------------------------------------------------------------


def _definition_findings(target: Any, kind: str) -> list[LintFinding]:
    module = str(target.__module__)
    name = str(target.__name__)
    what = _what(target, kind)
    # --from finds top-level definitions only: a class made inside a function needs moving.
    top_level = "<locals>" not in str(getattr(target, "__qualname__", name))
    if module == "__main__":
        script = _main_script()
        place = script or "a script or notebook"
        saved = "only its name" if kind == "function" else "it with module null"
        beside = f" beside {script}" if script else ""
        load = f"`kerascope load MODEL --from {script}`" if script else "--from that script"
        keep = f", or keep it where it is and load with {load}" if top_level else ""
        return [
            LintFinding(
                "error",
                "defined-in-main",
                _dotted(target),
                f"{what} is defined in __main__ ({place}): Keras saves {saved}, and a fresh "
                "process cannot import __main__ to find it",
                f"move {name} to the top level of an importable module (e.g. a file "
                f"custom_objects.py{beside}, then `from custom_objects import {name}`){keep}",
            )
        ]
    if lint_walk.lint_registered_name(target) is not None:
        return []
    problem = _unfindable(target, module)
    if problem is None:
        return []
    loaded_from = getattr(sys.modules.get(module), "__file__", None)
    source = ""
    if loaded_from and top_level:
        source = f", or load with `kerascope load MODEL --from {loaded_from}`"
    return [
        LintFinding(
            "warning",
            "not-findable",
            _dotted(target),
            f"{what} is not registered with Keras and {problem}",
            f"put {name} at the top level of a module a fresh process can import (a .py file "
            f"on sys.path or an installed package), or register it with "
            f"@kerascope.register(package='...') in a module that is imported before "
            f"loading{source}",
        )
    ]


def _unfindable(target: Any, module: str) -> str | None:
    """Why a fresh process cannot import ``target`` by its module and name, if it cannot."""
    name = str(target.__name__)
    qualname = str(getattr(target, "__qualname__", name))
    if "<locals>" in qualname:
        return (
            f"it is defined inside a function ({qualname}), so module '{module}' has no "
            f"top-level name '{name}'"
        )
    if locate_module(module) is None:
        loaded_from = getattr(sys.modules.get(module), "__file__", None)
        origin = f" (it was loaded from {loaded_from})" if loaded_from else ""
        return (
            f"its module '{module}' cannot be imported by name from a fresh process: no such "
            f"module on sys.path{origin}"
        )
    loaded = sys.modules.get(module)
    if loaded is not None and vars(loaded).get(name) is None:
        return f"module '{module}' has no top-level name '{name}'"
    return None


def _main_script() -> str | None:
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if not isinstance(path, str):
        return None
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


# --- what get_config() returns ---------------------------------------------------------------


def _config_findings(obj: Any) -> list[LintFinding]:
    cls = type(obj)
    try:
        config = lint_walk.lint_config(obj)
    except Exception as error:
        return [_no_config(obj, error, f"{cls.__qualname__}.get_config()")]
    if not isinstance(config, dict):
        return [
            LintFinding(
                "error",
                "no-config",
                _dotted(cls),
                f"{cls.__qualname__}.get_config() returns a {type(config).__name__}, not a dict",
                f"make {cls.__qualname__}.get_config() return a dict: start from "
                "super().get_config() and add every constructor argument",
            )
        ]
    findings = (
        [] if lint_walk.revived_as_functional(cls, config) else _argument_findings(obj, config)
    )
    return findings + _json_findings(cls, config)


def _argument_findings(obj: Any, config: dict[str, Any]) -> list[LintFinding]:
    """Constructor arguments ``get_config()`` leaves out, and keys ``__init__`` would refuse."""
    cls = type(obj)
    if not _is_custom(_owner(cls, "__init__")):
        return []  # a Keras constructor: what its get_config() leaves out is Keras's own choice
    defined_by = _owner(cls, "from_config")
    if defined_by is None or (defined_by.__name__ == "Sequential" and not _is_custom(defined_by)):
        return []  # Sequential.from_config rebuilds from the layer list, not from arguments
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    custom_from_config = _is_custom(defined_by)
    cname = cls.__qualname__
    findings = []
    for parameter in parameters:
        key = parameter.name
        if parameter.kind in _VARIADIC or key in _IGNORED_PARAMETERS or key in config:
            continue
        held = (
            f"self.{key}"
            if key in getattr(obj, "__dict__", {})
            else f"<the {key} it was built with>"
        )
        fix = f'add it in {cname}.get_config(): config.update({{"{key}": {held}}})'
        if parameter.default is inspect.Parameter.empty:
            message = (
                f"{cname}.__init__ requires argument '{key}' but {cname}.get_config() does not "
                f"return it: loading fails, as from_config calls {cname}(**config), which "
                f"raises TypeError for the missing argument '{key}'"
            )
            if custom_from_config:
                message += f", unless {cname}.from_config() supplies '{key}' itself"
            severity: Severity = "warning" if custom_from_config else "error"
            findings.append(
                LintFinding(severity, "config-drops-argument", _dotted(cls), message, fix)
            )
        else:
            default = _short_repr(parameter.default)
            findings.append(
                LintFinding(
                    "warning",
                    "config-missing-default",
                    _dotted(cls),
                    f"{cname}.__init__ takes argument '{key}' (default {default}) but "
                    f"{cname}.get_config() does not return it: a loaded {cname} gets "
                    f"{key}={default}, not the value it was built with (the same "
                    "only if it was built with the default, which lint cannot always tell)",
                    fix,
                )
            )
    if custom_from_config or defined_by.__name__ not in _GENERIC_FROM_CONFIG:
        return findings
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return findings
    accepted = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    unexpected = [key for key in config if key not in accepted]
    if unexpected:
        keys = ", ".join(f"'{key}'" for key in unexpected)
        findings.append(
            LintFinding(
                "error",
                "config-unexpected-argument",
                _dotted(cls),
                f"{cname}.get_config() returns {keys} but {cname}.__init__ takes no such "
                f"argument and no **kwargs: loading fails, as from_config calls "
                f"{cname}(**config), which raises TypeError (unexpected keyword argument "
                f"'{unexpected[0]}')",
                f"add **kwargs to {cname}.__init__ and pass them to super().__init__(**kwargs), "
                f"or leave {keys} out of {cname}.get_config()",
            )
        )
    return findings


def _json_findings(cls: type, config: dict[str, Any]) -> list[LintFinding]:
    """Config values Keras cannot write: each one named with its key and type."""
    cname = cls.__qualname__
    findings = []
    for key, value in config.items():
        bad = _unencodable(value, f"'{key}'")
        if bad is None:
            continue
        where, leaf, error = bad
        leaf_class = type(leaf).__qualname__
        if hasattr(leaf, "get_config"):
            how = (
                f"serialize it with keras.saving.serialize_keras_object({leaf_class} instance) "
                "in get_config() and rebuild it with keras.saving.deserialize_keras_object in "
                f"{cname}.from_config()"
            )
        else:
            how = (
                f"store the plain values that build the {leaf_class} instead, and rebuild it in "
                f"{cname}.from_config() (or give {leaf_class} get_config()/from_config() and "
                "serialize it with keras.saving.serialize_keras_object)"
            )
        findings.append(
            LintFinding(
                "error",
                "not-json-serializable",
                _dotted(cls),
                f"{cname}.get_config() returns {_a(leaf)} under {where}, which Keras cannot "
                f"write to the file ({type(error).__name__}: {_first_line(error)})",
                f"return only plain values (str, int, float, bool, None, lists and dicts of "
                f"them) from {cname}.get_config(): {how}",
            )
        )
    return findings


def _unencodable(value: Any, where: str) -> tuple[str, Any, Exception] | None:
    """The innermost place in ``value`` that saving cannot turn into JSON, if there is one."""
    try:
        json.dumps(lint_walk.serialize_value(value))
        return None
    except Exception as error:
        if isinstance(value, dict):
            inner = (_unencodable(v, f"{where}['{k}']") for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            inner = (_unencodable(v, f"{where}[{i}]") for i, v in enumerate(value))
        else:
            return where, value, error
        return next((found for found in inner if found is not None), (where, value, error))


def _no_config(obj: Any, error: BaseException, doing: str) -> LintFinding:
    """``get_config()`` raised: say which constructor argument is to blame, when Keras's
    automatic config is what failed."""
    cls = type(obj)
    cname = cls.__qualname__
    fix = (
        f"implement {cname}.get_config() returning plain values (start from "
        "super().get_config() and add every constructor argument) and, for an argument that is "
        f"an object, a {cname}.from_config() that rebuilds it: a Keras object with "
        "keras.saving.serialize_keras_object / deserialize_keras_object, any other object from "
        "the plain values that build it"
    )
    if _AUTO_CONFIG_ERROR in str(error):
        culprits = [
            f"argument '{key}' is {_a(value)}"
            for key, value in _held_arguments(obj)
            if not _is_plain(value)
        ]
        because = "; ".join(culprits) or "one of its constructor arguments is not a plain value"
        message = (
            f"{cname} has no get_config() of its own and Keras cannot make one, because it was "
            f"built with an argument that is not a plain value (str, int, float, bool, None, "
            f"lists and dicts of them): {because}"
        )
    else:
        message = f"{doing} raises {type(error).__name__}: {_first_line(error)}"
    return LintFinding("error", "no-config", _dotted(cls), message, fix)


def _held_arguments(obj: Any) -> list[tuple[str, Any]]:
    """Constructor arguments the object holds under the same attribute name (or ``_name``)."""
    try:
        parameters = list(inspect.signature(type(obj).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    attributes = getattr(obj, "__dict__", {})
    held = []
    for parameter in parameters:
        if parameter.kind in _VARIADIC or parameter.name in _IGNORED_PARAMETERS:
            continue
        for attribute in (parameter.name, f"_{parameter.name}"):
            if attribute in attributes:
                held.append((parameter.name, attributes[attribute]))
                break
    return held


# --- the model as a whole --------------------------------------------------------------------


def _unserializable(scan: lint_walk.LintScan, error: BaseException) -> LintFinding:
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
    return LintFinding(
        "error",
        "no-config",
        _dotted(type(culprit)),
        f"serializing {type(culprit).__qualname__}{named} raises "
        f"{type(error).__name__}: {_first_line(error)}",
        "give the object named in the message a get_config() that returns plain values (and a "
        "from_config() that rebuilds it), or pass the plain values instead of the object",
    )


def _subclassed_h5(model: Any) -> LintFinding:
    cname = type(model).__qualname__
    return LintFinding(
        "error",
        "subclassed-model-h5",
        _dotted(type(model)),
        f"{cname} is a subclassed model (its own call(), not a Sequential or Functional layer "
        "graph): Keras 3 writes it to .h5 but cannot load it back (it reports a layer count "
        "mismatch)",
        "save it as .keras instead (model.save('model.keras')), with the code that defines "
        f"{cname} in an importable module",
    )


# --- small helpers ---------------------------------------------------------------------------


def _is_custom(target: Any) -> bool:
    """Is ``target`` (a class or function) user code, not Keras's or a backend's?"""
    module = getattr(target, "__module__", None)
    if not isinstance(module, str) or not module:
        return False
    if module.split(".")[0] in _NOT_USER_PACKAGES:
        return False
    return not _builtins.is_importable_keras_package(module)


def _owner(cls: type, attribute: str) -> type | None:
    """The class in ``cls``'s MRO that defines ``attribute`` (whose method Python will call)."""
    return next((base for base in cls.__mro__ if attribute in vars(base)), None)


def _is_plain(value: Any) -> bool:
    """What Keras's automatic config accepts: plain values, and lists and dicts of them."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _what(target: Any, kind: str) -> str:
    if kind == "function":
        return f"function '{target.__name__}'"
    return f"{kind} class '{target.__qualname__}'"


def _a(value: Any) -> str:
    """``a CustomBase instance``, ``a function 'f'``, ``a set``."""
    if inspect.isroutine(value):
        return f"a function '{value.__name__}'"
    name = type(value).__qualname__
    if type(value).__module__ == "builtins":
        return f"a {name}"
    return f"a {name} instance"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(target: Any) -> str:
    return f"{target.__module__}.{getattr(target, '__qualname__', target.__name__)}"


def _first_line(error: BaseException) -> str:
    """The first paragraph of an error message, on one line (Keras wraps and adds examples)."""
    paragraph = " ".join(str(error).strip().split("\n\n")[0].split())
    return paragraph[:300] if paragraph else type(error).__name__
