"""Keras 2 config → Keras 3 config: named, pure rewrites of a copy of the config dicts.

Every rule exists because Keras 3.15.1 fails, or silently loses state, on a file written by
tf.keras / tf-keras 2.x (measured on the corpus of ``tests/fixtures/keras2``; see
``docs/keras2.md``). Rules touch only what they recognise: an unknown key still reaches Keras
and fails loudly there. No rule invents weights.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading.keras2_names import KERAS2_MODEL_MODULE_PREFIXES
from kerascope._reading.lambda_code import LambdaCode, find_lambda_code
from kerascope._reading.tf_ops import OP_LAYER_CLASSES, OP_LAYER_MODULE

from .optimizers import OPTIMIZER_RULES, translate_optimizer

if TYPE_CHECKING:
    from typing import Any

__all__ = ["RULES", "Applied", "Translation", "translate"]

RULES = {
    "module-path": "Keras 2 records built-in model classes under `tf_keras.src.engine` (tf-keras) "
    "or `keras.src.engine` (keras 2.13-2.15), and optimizers under `keras.optimizers.experimental`"
    " (keras 2.11-2.15), which Keras 3 cannot locate",
    "batch-input-shape": "Keras 3 layers other than InputLayer reject `batch_input_shape`",
    "time-major": "Keras 3 RNN layers reject `time_major` (Keras 2 only)",
    "lambda-legacy-format": "Keras 2 writes Lambda bytecode as [code, defaults, closure]; "
    "Keras 3 reads a `__lambda__` dict",
    "lambda-named-function": "tf-keras stores a Lambda over a named module function as bytecode; "
    "when your code defines that function, kerascope uses it and the bytecode is not run",
    "nested-layer-module": "wrappers and RNNs deserialize inner layers the Keras 3 way, which "
    "needs a module for a built-in class",
    "op-layer-nodes": "TFOpLambda/SlicingOpLambda inbound nodes use a Keras 2 format Keras 3 "
    "rejects, and the layers exist only in tf-keras (kerascope supplies allowlisted ones)",
    "loss-short-name": "Keras 3 cannot deserialize the .h5 loss strings 'mse', 'mae', ...",
    "loss-reduction": "Keras 3 losses reject `reduction: 'auto'`",
    "metrics-one-output": ".h5 nests the metrics of a one-output model as [[m1, m2]]",
    "metric-wrapper": ".h5 wraps metric functions as MeanMetricWrapper(name, fn=str); Keras 3 "
    "resolves `name` through custom_objects too",
    "steps-per-execution": "tf-keras writes `steps_per_execution: null`; Keras 3 compiles, "
    "then crashes at the first predict",
    "compile-nulls": "tf-keras writes `run_eagerly`/`jit_compile` null",
    **OPTIMIZER_RULES,
}

_MODEL_MODULES = {"Functional": "keras.src.models.functional", "Sequential": "keras"}
_RNN_CLASSES = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D"})
_LAMBDA_KEYS = ("function_type", "module", "output_shape_type", "output_shape_module")
_LOSS_SHORT_NAMES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "bce": "binary_crossentropy",
}


class Applied(Record):
    """One rule applied to a file: its name and what it changed, in one line.

    ``detail`` names options as on the command line; ``python_detail``, when not empty, is the
    same line with Python arguments instead (``safe_mode=False`` for ``--unsafe``).
    """

    rule: str
    detail: str
    python_detail: str = ""

    def detail_for(self, syntax: str = "cli") -> str:
        """The line in the syntax of where it is shown: ``"cli"`` or ``"python"``.

        Example:
            >>> Applied("r", "needs --unsafe", "needs safe_mode=False").detail_for("python")
            'needs safe_mode=False'
        """
        return self.python_detail if syntax == "python" and self.python_detail else self.detail


class Translation(Record):
    """The translated configs and the rules applied, first use of each rule only.

    ``lambdas`` is every Lambda bytecode of the original config, read as data (with the
    ``module`` Keras 2 recorded, which ``lambda-legacy-format`` drops from the config).
    """

    config: dict[str, Any]
    training_config: dict[str, Any] | None
    applied: tuple[Applied, ...]
    lambdas: tuple[LambdaCode, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """The names of the rules applied.

        Example:
            >>> translate({"class_name": "Sequential", "config": {}}, None).rules
            ()
        """
        return tuple(applied.rule for applied in self.applied)


class _Log:
    def __init__(self, builtin_layers: frozenset[str]) -> None:
        self.applied: dict[str, str] = {}
        self.python_details: dict[str, str] = {}
        self.builtin_layers = builtin_layers

    def add(self, rule: str, detail: str, python_detail: str = "") -> None:
        assert rule in RULES, rule
        if rule not in self.applied:
            self.applied[rule] = detail
            self.python_details[rule] = python_detail


def translate(
    config: dict[str, Any],
    training_config: dict[str, Any] | None,
    builtin_layers: frozenset[str] = frozenset(),
) -> Translation:
    """Rewrite copies of a Keras 2 model config (and .h5 training config) for Keras 3.

    Args:
        config: The model config (``config.json`` or the .h5 ``model_config``).
        training_config: The .h5 ``training_config``, or None.
        builtin_layers: Keras 3's built-in layer class names (for ``nested-layer-module``).

    Returns:
        The translated copies and the rules applied; the arguments are not modified.

    Example:
        >>> lstm = {"class_name": "LSTM", "config": {"units": 2, "time_major": False}}
        >>> translate(lstm, None).rules
        ('time-major',)
    """
    log = _Log(builtin_layers)
    lambdas = tuple(find_lambda_code(config))
    config = _copied(config)
    _layer(config, log)
    compile_config = config.get("compile_config")
    if isinstance(compile_config, dict):
        _compile_config(compile_config, log)
    training = _copied(training_config) if training_config is not None else None
    if training is not None:
        _training_config(training, log)
    applied = tuple(
        Applied(rule, detail, log.python_details[rule]) for rule, detail in log.applied.items()
    )
    return Translation(config=config, training_config=training, applied=applied, lambdas=lambdas)


def _layer(layer: dict[str, Any], log: _Log) -> None:
    cls = layer.get("class_name")
    if not isinstance(cls, str):  # a hostile config: nothing to recognise, nothing to rewrite
        cls = ""
    module = layer.get("module")
    if (
        isinstance(module, str)
        and module.startswith(KERAS2_MODEL_MODULE_PREFIXES)
        and cls in _MODEL_MODULES
    ):
        layer["module"] = _MODEL_MODULES[cls]
        log.add("module-path", f"`{module}.{cls}` → Keras 3 `{cls}`")
    config = layer.get("config")
    if not isinstance(config, dict):
        return
    if "batch_input_shape" in config and cls != "InputLayer":
        config.pop("batch_input_shape")
        log.add("batch-input-shape", "`batch_input_shape` of non-Input layers removed")
    if cls in _RNN_CLASSES and config.get("time_major") is False:
        config.pop("time_major")
        log.add("time-major", "`time_major: false` of RNN layers removed")
    if cls == "Lambda":
        _lambda(config, log)
    if cls in OP_LAYER_CLASSES:
        _op_layer_nodes(layer)
        if "module" in layer:
            layer["module"] = OP_LAYER_MODULE
        log.add("op-layer-nodes", f"{cls} → kerascope's op layer, inbound nodes → Keras 3 format")
    for inner in config.get("layers") or []:
        if isinstance(inner, dict):
            _layer(inner, log)
    nested = [
        config[k] for k in ("layer", "backward_layer", "cell") if isinstance(config.get(k), dict)
    ]
    nested += [c for c in config.get("cells") or [] if isinstance(c, dict)]
    for inner in nested:
        if "class_name" not in inner:
            continue
        if "module" not in inner and inner["class_name"] in log.builtin_layers:
            inner["module"] = "keras.layers"
            inner["registered_name"] = None
            log.add("nested-layer-module", f"inner `{inner['class_name']}` → `keras.layers`")
        _layer(inner, log)


def _lambda(config: dict[str, Any], log: _Log) -> None:
    function = config.get("function")
    if config.get("function_type") != "lambda" or not isinstance(function, list):
        return
    if len(function) != 3 or not isinstance(function[0], str):
        return
    for key in _LAMBDA_KEYS:
        config.pop(key, None)
    config["function"] = {
        "class_name": "__lambda__",
        "config": {"code": function[0], "defaults": function[1], "closure": function[2]},
    }
    log.add(
        "lambda-legacy-format",
        "Lambda bytecode → Keras 3 `__lambda__` (still needs --unsafe)",
        "Lambda bytecode → Keras 3 `__lambda__` (still needs safe_mode=False)",
    )


def _op_layer_nodes(layer: dict[str, Any]) -> None:
    """A tf-keras op-layer node is one flat entry [name, node, tensor, kwargs] or a list of
    them (a list argument, as for tf.concat), kwargs repeated in each: Keras 3 wants a dict."""
    nodes = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, dict):
            nodes.append(node)
            continue
        if _is_entry(node):
            first: Any = _tensor(node)
            kwargs = node[3] if len(node) > 3 else {}
        else:
            first = [_tensor(entry) for entry in node]
            kwargs = node[0][3] if node and len(node[0]) > 3 else {}
        nodes.append({"args": [first], "kwargs": {k: _kwarg(v) for k, v in kwargs.items()}})
    layer["inbound_nodes"] = nodes


def _is_entry(node: Any) -> bool:
    return isinstance(node, list) and len(node) in (3, 4) and isinstance(node[0], str)


def _tensor(entry: list[Any]) -> Any:
    if entry[0] == "_CONSTANT_VALUE":
        return entry[2]
    # Keras 3 replaces the placeholder shape with the tensor keras_history names.
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None], "dtype": "float32", "keras_history": list(entry[:3])},
    }


def _kwarg(value: Any) -> Any:
    is_ref = (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) for v in value[1:])
    )
    return _tensor(value) if is_ref else value


def _optimizer(optimizer: dict[str, Any], log: _Log) -> None:
    for rule, detail in translate_optimizer(optimizer):
        log.add(rule, detail)


def _loss(value: Any, log: _Log, h5: bool) -> Any:
    if isinstance(value, str):
        if h5 and value in _LOSS_SHORT_NAMES:
            log.add("loss-short-name", f"loss '{value}' → '{_LOSS_SHORT_NAMES[value]}'")
            return _LOSS_SHORT_NAMES[value]
        return value
    if isinstance(value, list):
        return [_loss(v, log, h5) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _loss(v, log, h5) for k, v in value.items()}
    config = value.get("config") if isinstance(value, dict) else None
    if isinstance(config, dict) and config.get("reduction") == "auto":
        config["reduction"] = "sum_over_batch_size"
        log.add("loss-reduction", "loss `reduction: 'auto'` → 'sum_over_batch_size'")
    return value


def _metric(value: Any, log: _Log) -> Any:
    if isinstance(value, list):
        return [_metric(v, log) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _metric(v, log) for k, v in value.items()}
    if isinstance(value, dict) and value.get("class_name") == "MeanMetricWrapper":
        config = value.get("config")
        if isinstance(config, dict) and isinstance(config.get("fn"), str):
            # Left as is: the adapter builds MeanMetricWrapper(fn=<the function>, name=name),
            # as a dict would make Keras 3 resolve `name` through custom_objects too.
            log.add(
                "metric-wrapper", f"metric `{config.get('name')}` wraps function `{config['fn']}`"
            )
    return value


def _training_config(training: dict[str, Any], log: _Log) -> None:
    if isinstance(training.get("optimizer_config"), dict):
        _optimizer(training["optimizer_config"], log)
    if "loss" in training:
        training["loss"] = _loss(training["loss"], log, h5=True)
    for key in ("metrics", "weighted_metrics"):
        value = training.get(key)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
            value = value[0]
            log.add("metrics-one-output", "one-output metrics [[...]] → [...]")
        if value is not None:
            training[key] = _metric(value, log)


def _compile_config(compile_config: dict[str, Any], log: _Log) -> None:
    if isinstance(compile_config.get("optimizer"), dict):
        _optimizer(compile_config["optimizer"], log)
    if "loss" in compile_config:
        compile_config["loss"] = _loss(compile_config["loss"], log, h5=False)
    if "steps_per_execution" in compile_config and compile_config["steps_per_execution"] is None:
        compile_config["steps_per_execution"] = 1
        log.add("steps-per-execution", "`steps_per_execution: null` → 1")
    for key, value in (("run_eagerly", False), ("jit_compile", "auto")):
        if key in compile_config and compile_config[key] is None:
            compile_config[key] = value
            log.add("compile-nulls", f"`{key}: null` → {value!r}")


def _copied(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists and scalars); :mod:`copy` costs ~4 ms to import."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value
