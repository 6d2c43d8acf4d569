"""The save lint's check of what ``get_config()`` returns: a config ``from_config`` can rebuild
the object from, holding only values JSON can hold (see :mod:`kerascope._audit.lint`).

Only constructor arguments user code declares are checked: what a Keras class's own
``get_config()`` leaves out is Keras's choice.
"""

from __future__ import annotations

import inspect
import json

from kerascope._common.record import TYPE_CHECKING

from . import lint_walk
from .findings import Finding
from .lint_common import dotted, first_line, is_custom

if TYPE_CHECKING:
    from typing import Any

    from .findings import Severity

__all__ = ["config_findings"]


# Constructor parameters every Keras object handles itself: base-class config keys, or arguments
# only the first layer of a model takes.
_IGNORED_PARAMETERS = frozenset(
    {"name", "dtype", "trainable", "autocast", "activity_regularizer"}
    | {"input_shape", "input_dim", "batch_size"}
)
# Keras classes whose from_config is ``cls(**config)``: a key __init__ does not take fails.
_GENERIC_FROM_CONFIG = frozenset(
    {"Operation", "Loss", "Metric", "BaseOptimizer", "Initializer", "Regularizer", "Constraint"}
    | {"LearningRateSchedule"}
)
_PLAIN = (str, int, float, bool, type(None))
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_AUTO_CONFIG_ERROR = "non-serializable argument values"


def config_findings(obj: Any) -> list[Finding]:
    """What is wrong with ``obj.get_config()``: it raises or returns no dict (``no-config``),
    leaves out constructor arguments (``config-drops-argument``, ``config-missing-default``),
    returns a key ``__init__`` refuses (``config-unexpected-argument``) or a value JSON cannot
    hold (``not-json-serializable``).

    Example:
        >>> [f.code for f in config_findings(ScaleWithoutConfig(factor=2.0))]  # doctest: +SKIP
        ['config-drops-argument']
    """
    cls = type(obj)
    try:
        config = lint_walk.lint_config(obj)
    except Exception as error:
        return [_no_config(obj, error, f"{cls.__qualname__}.get_config()")]
    if not isinstance(config, dict):
        return [
            Finding(
                "high",
                "no-config",
                f"{cls.__qualname__}.get_config() returns a {type(config).__name__}, not a dict",
                f"make {cls.__qualname__}.get_config() return a dict: start from "
                "super().get_config() and add every constructor argument",
                object=dotted(cls),
            )
        ]
    findings = (
        [] if lint_walk.revived_as_functional(cls, config) else _argument_findings(obj, config)
    )
    return findings + _json_findings(cls, config)


def _argument_findings(obj: Any, config: dict[str, Any]) -> list[Finding]:
    """Constructor arguments ``get_config()`` leaves out, and keys ``__init__`` would refuse."""
    cls = type(obj)
    if not is_custom(_owner(cls, "__init__")):
        return []  # a Keras constructor: what its get_config() leaves out is Keras's own choice
    defined_by = _owner(cls, "from_config")
    if defined_by is None or (defined_by.__name__ == "Sequential" and not is_custom(defined_by)):
        return []  # Sequential.from_config rebuilds from the layer list, not from arguments
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    custom_from_config = is_custom(defined_by)
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
            severity: Severity = "medium" if custom_from_config else "high"
            findings.append(
                Finding(severity, "config-drops-argument", message, fix, object=dotted(cls))
            )
        else:
            default = _short_repr(parameter.default)
            findings.append(
                Finding(
                    "low",
                    "config-missing-default",
                    f"{cname}.__init__ takes argument '{key}' (default {default}) but "
                    f"{cname}.get_config() does not return it: a loaded {cname} gets "
                    f"{key}={default}, not the value it was built with (the same "
                    "only if it was built with the default, which lint cannot always tell)",
                    fix,
                    object=dotted(cls),
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
            Finding(
                "high",
                "config-unexpected-argument",
                f"{cname}.get_config() returns {keys} but {cname}.__init__ takes no such "
                f"argument and no **kwargs: loading fails, as from_config calls "
                f"{cname}(**config), which raises TypeError (unexpected keyword argument "
                f"'{unexpected[0]}')",
                f"add **kwargs to {cname}.__init__ and pass them to super().__init__(**kwargs), "
                f"or leave {keys} out of {cname}.get_config()",
                object=dotted(cls),
            )
        )
    return findings


def _json_findings(cls: type, config: dict[str, Any]) -> list[Finding]:
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
            Finding(
                "high",
                "not-json-serializable",
                f"{cname}.get_config() returns {_a(leaf)} under {where}, which Keras cannot "
                f"write to the file ({type(error).__name__}: {first_line(error)})",
                f"return only plain values (str, int, float, bool, None, lists and dicts of "
                f"them) from {cname}.get_config(): {how}",
                object=dotted(cls),
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


def _no_config(obj: Any, error: BaseException, doing: str) -> Finding:
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
        message = f"{doing} raises {type(error).__name__}: {first_line(error)}"
    return Finding("high", "no-config", message, fix, object=dotted(cls))


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
