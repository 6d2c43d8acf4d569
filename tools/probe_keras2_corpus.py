"""Measure what Keras 3 does with the Keras 2 fixture corpus (tests/fixtures/keras2).

    python tools/probe_keras2_corpus.py CORPUS_DIR [--mode raw|fixed|both|ablate] [--jobs 2]
        [--only NAME,...] [--kinds h5,keras,savedmodel] [--json OUT.json]

CORPUS_DIR is the output of ``tests/fixtures/keras2/build_corpus.py`` (tf-keras 2.21 files plus
index.json). Every file is tried in a FRESH subprocess under Keras 3 (TensorFlow backend,
``TF_USE_LEGACY_KERAS`` removed from the environment):

- ``raw``: ``keras.saving.load_model(path, custom_objects=<every custom object of the model,
  keyed as the file records it>)`` (``safe_mode=False`` only for the model whose Python lambda
  needs it), then ``predict`` on the saved sample inputs (largest absolute difference from
  tf-keras's predictions), the optimizer (class, learning rate or schedule, every other
  hyperparameter against tf-keras's) and ``evaluate`` on the saved evaluation data when the
  model was compiled. For a SavedModel directory, also ``keras.layers.TFSMLayer(dir,
  call_endpoint="serving_default")`` on the sample inputs.
- ``fixed``: the same after the config rewrites (``RULES`` below, applied to a temporary copy:
  ``.h5`` root attributes ``model_config``/``training_config``, ``.keras`` ``config.json``) and
  the Keras-side shims. A SavedModel is first turned into a legacy ``.h5``: Keras config from
  ``keras_metadata.pb`` (read with a protobuf wire decoder, no TensorFlow), variables from the
  checkpoint's object graph (``layer-i/variables/j``).
- ``ablate``: ``fixed`` once, then for every (file, rule) that ``fixed`` applied, ``fixed`` again
  with only that rule switched off (``KERAS2_PROBE_DISABLE=rule``): what each rule is needed for.

A measuring tool for docs/keras2-translation.md, not kerascope's implementation.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import importlib
import inspect
import json
import marshal
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from typing import Any

# Rule name -> one line. Config rewrites (pure dict edits) first, then Keras-side shims.
RULES = {
    "module-path": "tf-keras module path of a built-in class -> the Keras 3 module",
    "drop-batch-input-shape": ".keras: batch_input_shape on a non-InputLayer layer: removed",
    "drop-time-major": "time_major: false on LSTM/GRU/SimpleRNN/RNN: removed",
    "lambda-legacy-keys": ".keras Lambda: function_type/module/output_shape_type/"
    "output_shape_module removed, [code, defaults, closure] -> __lambda__ dict",
    "lambda-named-function": "Lambda bytecode of a named module function -> function reference",
    "nested-layer-module": "old-style nested layer dict (wrapper layer / RNN cell) with no "
    "module, built-in class -> module 'keras.layers'",
    "op-layer-node-format": "TFOpLambda/SlicingOpLambda inbound_nodes -> Keras 3 node dicts",
    "optimizer-custom-prefix": ".h5 optimizer class_name 'Custom>Adam' -> 'Adam'",
    "optimizer-drop-k2-keys": "optimizer config jit_compile / is_legacy_optimizer removed",
    "loss-short-name": ".h5 loss 'mse'/'mae'/... -> 'mean_squared_error'/...",
    "loss-reduction-auto": "loss config reduction 'auto' -> 'sum_over_batch_size'",
    "metrics-unnest-single-output": ".h5 metrics [[m1, m2]] (one output) -> [m1, m2] "
    "(measured NOT needed: kept to show it)",
    "metric-unwrap": ".h5 MeanMetricWrapper config fn 'name' -> function reference dict",
    "compile-steps-per-execution-null": ".keras compile_config steps_per_execution null -> 1",
    "compile-run-eagerly-jit-compile-null": ".keras compile_config run_eagerly null -> false, "
    "jit_compile null -> 'auto' (measured NOT needed: kept to show it)",
    "shim-op-layers": "TFOpLambda/SlicingOpLambda classes that call the named tf symbol",
    "shim-positional-add-weight": "Layer.add_weight('w', ...) accepted: str first arg = name",
    "shim-time-distributed-output-shape": "layer under TimeDistributed without "
    "compute_output_shape: same-named subclass that infers it by running call symbolically",
    "scope-custom-objects": "load_model inside custom_object_scope(custom_objects)",
    "lambda-globals-tf": "Python-lambda bytecode gets `tf` in its globals (safe_mode=False only)",
    "savedmodel-to-h5": "SavedModel: keras_metadata.pb config + checkpoint variables -> .h5",
}
DISABLED = set(filter(None, os.environ.get("KERAS2_PROBE_DISABLE", "").split(",")))


def on(rule: str) -> bool:
    assert rule in RULES, rule
    return rule not in DISABLED


class Context:
    """What the rewrites applied and saw, for one file."""

    def __init__(
        self,
        functions: dict[tuple[str, str], str] | None = None,
        builtin_layers: frozenset[str] = frozenset(),
        custom_keys: frozenset[str] = frozenset(),
    ) -> None:
        self.applied: list[str] = []
        self.custom_keys = custom_keys  # the custom_objects keys the load will pass
        self.builtin_layers = builtin_layers  # kerascope: its generated built-ins table
        self.functions = functions or {}  # (module, __name__) -> custom_objects key
        self.time_distributed_inner: set[str] = set()
        self.op_layers = False
        self.wrappers: set[str] = set()
        self.python_lambda = False

    def apply(self, rule: str) -> None:
        if rule not in self.applied:
            self.applied.append(rule)


# ---------------------------------------------------------------------------------------------
# Config rewrites: pure dict edits, no Keras, no TensorFlow.
# ---------------------------------------------------------------------------------------------

K2_BUILTIN_MODULES = {"Functional": "keras.src.models.functional"}
RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN", "RNN")
OP_LAYERS = ("TFOpLambda", "SlicingOpLambda")
WRAPPERS = ("Bidirectional", "TimeDistributed", "RNN")
LAMBDA_DEP_ARGS = ("function_type", "module", "output_shape_type", "output_shape_module")
LOSS_SHORT_NAMES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "bce": "binary_crossentropy",
}


def rewrite_model_config(config: dict[str, Any], ctx: Context, keras_format: bool) -> None:
    """The .h5 ``model_config`` attribute, or the whole .keras ``config.json``."""
    _rewrite_layer(config, ctx, keras_format)
    compile_config = config.get("compile_config")
    if isinstance(compile_config, dict):
        rewrite_compile_config(compile_config, ctx)


def _rewrite_layer(layer: dict[str, Any], ctx: Context, keras_format: bool) -> None:
    cls = layer.get("class_name")
    config = layer.get("config")
    module = layer.get("module")
    if (
        isinstance(module, str)
        and module.startswith("tf_keras.")
        and cls in K2_BUILTIN_MODULES
        and on("module-path")
    ):
        layer["module"] = K2_BUILTIN_MODULES[cls]
        ctx.apply("module-path")
    if not isinstance(config, dict):
        return
    if cls in WRAPPERS:
        ctx.wrappers.add(cls)
    # Only .keras: Keras 3's legacy .h5 reader turns it into input_shape itself.
    if (
        keras_format
        and "batch_input_shape" in config
        and cls != "InputLayer"
        and on("drop-batch-input-shape")
    ):
        config.pop("batch_input_shape")
        ctx.apply("drop-batch-input-shape")
    if cls in RNN_CLASSES and config.get("time_major") is False and on("drop-time-major"):
        config.pop("time_major")
        ctx.apply("drop-time-major")
    if cls == "Lambda":
        _rewrite_lambda(config, ctx, keras_format)
    if cls == "TimeDistributed" and isinstance(config.get("layer"), dict):
        inner = config["layer"]
        ctx.time_distributed_inner.add(inner.get("registered_name") or inner.get("class_name"))
    if cls in OP_LAYERS:
        ctx.op_layers = True
        if on("op-layer-node-format"):
            _rewrite_op_layer_nodes(layer)
            ctx.apply("op-layer-node-format")
    if isinstance(config.get("layers"), list):
        for inner in config["layers"]:
            _rewrite_layer(inner, ctx, keras_format)
    nested = [
        config[k] for k in ("layer", "backward_layer", "cell") if isinstance(config.get(k), dict)
    ]
    nested += [c for c in config.get("cells") or [] if isinstance(c, dict)]
    for inner in nested:
        if "class_name" not in inner:
            continue
        # Wrappers and RNNs deserialize these with Keras 3's new-style reader, which needs a
        # module for a built-in class; SavedModel metadata (legacy serialization) has none.
        if (
            "module" not in inner
            and inner["class_name"] in ctx.builtin_layers
            and on("nested-layer-module")
        ):
            inner["module"] = "keras.layers"
            inner["registered_name"] = None
            ctx.apply("nested-layer-module")
        _rewrite_layer(inner, ctx, keras_format)


def _rewrite_lambda(config: dict[str, Any], ctx: Context, keras_format: bool) -> None:
    """tf-keras marshals EVERY Python function given to Lambda, named ones too (a def is a
    LambdaType): function = [base64 marshal, defaults, closure], function_type "lambda",
    module = the defining module."""
    function = config.get("function")
    if config.get("function_type") != "lambda" or not isinstance(function, list):
        return
    module = config.get("module")
    name = _code_name(function[0])
    key = ctx.functions.get((module or "", name or ""))
    named = module and module != "__main__" and name != "<lambda>" and key
    if named and on("lambda-named-function"):
        config["function"] = {
            "module": "builtins",
            "class_name": "function",
            "config": key,
            "registered_name": "function",
        }
        for dep in LAMBDA_DEP_ARGS:
            config.pop(dep, None)
        ctx.apply("lambda-named-function")
        return
    ctx.python_lambda = True
    if keras_format and on("lambda-legacy-keys"):
        # What Keras 3's legacy .h5 reader does itself (saving_utils.model_from_config).
        for dep in LAMBDA_DEP_ARGS:
            config.pop(dep, None)
        config["function"] = {
            "class_name": "__lambda__",
            "config": {"code": function[0], "defaults": function[1], "closure": function[2]},
        }
        ctx.apply("lambda-legacy-keys")


def _code_name(b64: str) -> str | None:
    """co_name of the marshalled code. marshal.loads builds a code object without running it,
    but marshal is not hardened against hostile input and only the writing Python minor version
    reads it: an implementation should parse the name out of the marshal stream instead."""
    try:
        return str(marshal.loads(base64.decodebytes(b64.encode("ascii"))).co_name)
    except Exception:
        return None


def _rewrite_op_layer_nodes(layer: dict[str, Any]) -> None:
    """tf-keras op layers keep their input structure: an inbound node is ONE flat entry
    [name, node_index, tensor_index, kwargs] (single tensor), or a list of entries (a list
    argument such as tf.concat's), the call kwargs repeated in every entry. Keras 3 reads a
    legacy node as a list of entries (so a flat entry breaks it) and passes kwargs through
    without resolving tensors in them; write the Keras 3 node dict instead."""
    new_nodes = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, dict):
            new_nodes.append(node)
            continue
        if _is_entry(node):
            first_arg: Any = _tensor_ref(node)
            kwargs = node[3] if len(node) > 3 else {}
        else:
            first_arg = [_tensor_ref(entry) for entry in node]
            kwargs = node[0][3] if node and len(node[0]) > 3 else {}
        new_nodes.append({"args": [first_arg], "kwargs": _kwargs_refs(kwargs)})
    layer["inbound_nodes"] = new_nodes


def _is_entry(node: Any) -> bool:
    return isinstance(node, list) and len(node) in (3, 4) and isinstance(node[0], str)


def _tensor_ref(entry: list[Any]) -> Any:
    if entry[0] == "_CONSTANT_VALUE":  # [_CONSTANT_VALUE, -1, value, kwargs]
        return entry[2]
    # shape/dtype are placeholders: Keras 3 swaps the tensor for the one keras_history names.
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": [None], "dtype": "float32", "keras_history": list(entry[:3])},
    }


def _kwargs_refs(kwargs: dict[str, Any]) -> dict[str, Any]:
    # tf-keras writes a Keras tensor inside kwargs as [layer_name, node_index, tensor_index].
    return {
        key: _tensor_ref(value)
        if isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) for v in value[1:])
        else value
        for key, value in kwargs.items()
    }


def _rewrite_optimizer(opt: dict[str, Any], ctx: Context) -> None:
    name = opt.get("class_name")
    if isinstance(name, str) and name.startswith("Custom>") and on("optimizer-custom-prefix"):
        opt["class_name"] = name.split(">", 1)[1]
        ctx.apply("optimizer-custom-prefix")
    config = opt.get("config")
    if isinstance(config, dict) and on("optimizer-drop-k2-keys"):
        for key in ("jit_compile", "is_legacy_optimizer"):
            if key in config:
                config.pop(key)
                ctx.apply("optimizer-drop-k2-keys")


def _rewrite_loss(obj: Any, ctx: Context, h5: bool) -> Any:
    if isinstance(obj, str):
        if h5 and obj in LOSS_SHORT_NAMES and on("loss-short-name"):
            ctx.apply("loss-short-name")
            return LOSS_SHORT_NAMES[obj]
        return obj
    if isinstance(obj, list):
        return [_rewrite_loss(v, ctx, h5) for v in obj]
    if isinstance(obj, dict) and "class_name" not in obj:
        return {k: _rewrite_loss(v, ctx, h5) for k, v in obj.items()}
    config = obj.get("config") if isinstance(obj, dict) else None
    if isinstance(config, dict) and config.get("reduction") == "auto" and on("loss-reduction-auto"):
        config["reduction"] = "sum_over_batch_size"
        ctx.apply("loss-reduction-auto")
    return obj


def _unwrap_metric(obj: Any, ctx: Context) -> Any:
    if isinstance(obj, list):
        return [_unwrap_metric(v, ctx) for v in obj]
    if isinstance(obj, dict) and "class_name" not in obj:
        return {k: _unwrap_metric(v, ctx) for k, v in obj.items()}
    if isinstance(obj, dict) and obj.get("class_name") == "MeanMetricWrapper":
        config = obj.get("config") or {}
        fn = config.get("fn")
        if isinstance(fn, str) and on("metric-unwrap"):
            ctx.apply("metric-unwrap")
            if config.get("name") in ctx.custom_keys:
                # Keras 3 would also resolve the wrapper's "name" through custom_objects and
                # pass the function as the metric name. The user passed the function itself:
                # give its name back; Keras 3 names the metric after fn.__name__, as tf-keras did.
                return fn
            # Keep the wrapper (so the metric keeps the name tf-keras reported, e.g. "mae"),
            # with fn as a function reference Keras 3 resolves: a custom function through
            # custom_objects, a built-in one ("mean_absolute_error", "binary_accuracy") in
            # Keras's built-in modules.
            config["fn"] = {
                "module": "builtins",
                "class_name": "function",
                "config": fn,
                "registered_name": "function",
            }
    return obj


def rewrite_training_config(tc: dict[str, Any], ctx: Context) -> None:
    """The .h5 (and SavedModel metadata) ``training_config``."""
    if isinstance(tc.get("optimizer_config"), dict):
        _rewrite_optimizer(tc["optimizer_config"], ctx)
    if "loss" in tc:
        tc["loss"] = _rewrite_loss(tc["loss"], ctx, h5=True)
    for key in ("metrics", "weighted_metrics"):
        value = tc.get(key)
        if value is None:
            continue
        if (
            isinstance(value, list)
            and len(value) == 1
            and isinstance(value[0], list)
            and on("metrics-unnest-single-output")
        ):
            value = value[0]
            ctx.apply("metrics-unnest-single-output")
        tc[key] = _unwrap_metric(value, ctx)


def rewrite_compile_config(cc: dict[str, Any], ctx: Context) -> None:
    """The .keras ``compile_config``."""
    if isinstance(cc.get("optimizer"), dict):
        _rewrite_optimizer(cc["optimizer"], ctx)
    if "loss" in cc:
        cc["loss"] = _rewrite_loss(cc["loss"], ctx, h5=False)
    null_steps = "steps_per_execution" in cc and cc["steps_per_execution"] is None
    if null_steps and on("compile-steps-per-execution-null"):
        cc["steps_per_execution"] = 1
        ctx.apply("compile-steps-per-execution-null")
    for key, value in (("run_eagerly", False), ("jit_compile", "auto")):
        if key in cc and cc[key] is None and on("compile-run-eagerly-jit-compile-null"):
            cc[key] = value
            ctx.apply("compile-run-eagerly-jit-compile-null")


# keras_metadata.pb and the checkpoint variables without TensorFlow: kerascope's own readers,
# kerascope._reading.savedmodel (protobuf wire format, SavedMetadata) and
# kerascope._reading.checkpoint (tensor bundle index + data shards, object graph); the layouts
# are described there and in docs/keras2-translation.md (SavedModel).
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Writing the fixed copy of a file.
# ---------------------------------------------------------------------------------------------


def fixed_copy_h5(src: str, dst: str, ctx: Context) -> None:
    import h5py

    if os.path.abspath(src) != os.path.abspath(dst):
        shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        rewrite_model_config(config, ctx, keras_format=False)
        f.attrs["model_config"] = json.dumps(config)
        if "training_config" in f.attrs:
            tc = json.loads(f.attrs["training_config"])
            rewrite_training_config(tc, ctx)
            f.attrs["training_config"] = json.dumps(tc)


def fixed_copy_keras(src: str, dst: str, ctx: Context) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                rewrite_model_config(config, ctx, keras_format=True)
                data = json.dumps(config).encode()
            zout.writestr(item, data)


def savedmodel_to_h5(sm_dir: str, dst: str) -> dict[str, Any]:
    """A legacy .h5 from a tf-keras SavedModel, for Keras 3's .h5 reader, without TensorFlow:
    model_config / training_config from the root node of keras_metadata.pb; one weights group
    per model.layers[i] (the checkpoint's object graph, ``read_savedmodel_weights``). A
    subclassed model has no ``layer-i``: the root's own variables are model.weights in order."""
    import h5py
    import numpy as np

    from kerascope._reading.savedmodel import (
        read_keras_metadata,
        read_savedmodel_weights,
        root_metadata,
    )

    nodes = read_keras_metadata(sm_dir)
    meta = root_metadata(sm_dir, nodes)
    mapping = read_savedmodel_weights(sm_dir)
    checkpoint = mapping.checkpoint
    names = [layer.name for layer in mapping.layers]
    weights = {
        layer.name: [(full, checkpoint.read_array(key)) for full, key in layer.variables]
        for layer in mapping.layers
    }
    info: dict[str, Any] = {
        "metadata_nodes": len(nodes),
        "root_identifier": next(n.identifier for n in nodes if n.node_path == "root"),
        "layers": len(names),
        "variables": sum(len(w) for w in weights.values()),
        "layer_names": names,
    }
    flat = [checkpoint.read_array(key) for _, key in mapping.root_variables]
    if not names:
        info["flat_variables"] = len(flat)
    with h5py.File(dst, "w") as f:
        f.attrs["keras_version"] = str(meta.get("keras_version", "2"))
        f.attrs["backend"] = str(meta.get("backend", "tensorflow"))
        f.attrs["model_config"] = json.dumps(meta["model_config"])
        if meta.get("training_config"):
            f.attrs["training_config"] = json.dumps(meta["training_config"])
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode() for n in names], dtype="S")
        for name in names:
            g = group.create_group(name)
            wnames = [f"{full}:0".encode() for full, _ in weights[name]]
            g.attrs["weight_names"] = np.array(wnames, dtype="S")
            for wname, (_, value) in zip(wnames, weights[name], strict=True):
                g.create_dataset(wname.decode(), data=value)
    info["_flat"] = flat
    return info


# ---------------------------------------------------------------------------------------------
# Keras-side shims (installed in the child, fixed mode only).
# ---------------------------------------------------------------------------------------------

POSITIONAL_NAME_CALLS = [0]


def install_positional_add_weight(keras: Any) -> None:
    layer_cls = keras.layers.Layer
    original = layer_cls.add_weight

    def add_weight(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Keras 2: add_weight(name=None, shape=None, dtype=None, initializer=None, ...);
        # Keras 3: add_weight(shape=None, initializer=None, dtype=None, ...). A str first
        # positional argument can only be a Keras 2 name.
        if args and isinstance(args[0], str):
            POSITIONAL_NAME_CALLS[0] += 1
            kwargs.setdefault("name", args[0])
            args = args[1:]
        return original(self, *args, **kwargs)

    layer_cls.add_weight = add_weight


def op_layer_classes(keras: Any, tf: Any) -> dict[str, Any]:
    class TFOpLambda(keras.layers.Layer):  # type: ignore[misc, name-defined]
        """Calls the TensorFlow symbol named by ``function`` ("nn.relu", "math.reduce_sum")."""

        def __init__(self, function: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.function = function
            target: Any = tf
            for part in function.split("."):
                target = getattr(target, part)
            self._fn = target

        def call(self, *args: Any, **kwargs: Any) -> Any:
            return self._fn(*args, **kwargs)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "function": self.function}

    class SlicingOpLambda(TFOpLambda):
        """x[...]: tf-keras writes slice_spec as dicts {start, stop, step}."""

        def call(self, *args: Any, **kwargs: Any) -> Any:
            def to_slice(v: Any) -> Any:
                if isinstance(v, dict) and set(v) == {"start", "stop", "step"}:
                    return slice(v["start"], v["stop"], v["step"])
                if isinstance(v, list):
                    return [to_slice(x) for x in v]
                return v

            return self._fn(
                *[to_slice(a) for a in args], **{k: to_slice(v) for k, v in kwargs.items()}
            )

    return {"TFOpLambda": TFOpLambda, "SlicingOpLambda": SlicingOpLambda}


def with_output_shape(keras: Any, cls: Any) -> Any:
    """Same-named subclass whose compute_output_shape runs call() on symbolic inputs."""
    # keras.src: a measuring shim; kerascope's own version belongs in its Keras adapter.
    from keras.src import backend as kb  # noqa: TID251

    def compute_output_shape(self: Any, input_shape: Any) -> Any:
        spec = keras.KerasTensor(tuple(input_shape), dtype=self.compute_dtype)
        out = kb.compute_output_spec(self.call, spec)
        return keras.tree.map_structure(lambda t: tuple(t.shape), out)

    namespace = {"compute_output_shape": compute_output_shape, "__module__": cls.__module__}
    return type(cls.__name__, (cls,), namespace)


# ---------------------------------------------------------------------------------------------
# The child: one file, one mode, in a fresh Keras 3 process.
# ---------------------------------------------------------------------------------------------


def _err(exc: BaseException) -> dict[str, Any]:
    text = str(exc)
    lines = [line for line in text.splitlines() if line.strip()]
    tail = text.rsplit("Exception encountered:", 1)[-1].strip().splitlines()
    return {
        "type": type(exc).__name__,
        "first_line": (lines[0] if lines else "")[:500],
        "encountered": (tail[0][:500] if tail else "")
        if "Exception encountered:" in text
        else None,
    }


def _close(a: Any, b: Any, tol: float = 1e-6) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
    return bool(a == b)


def compare_optimizer(ref: dict[str, Any], opt: Any) -> dict[str, Any]:
    """Class, learning rate (value or schedule) and every hyperparameter both configs have."""
    if opt is None:
        return {"present": False, "match": False}
    config = opt.get_config()
    ref_config = ref["config"]
    out: dict[str, Any] = {
        "present": True,
        "class_name": type(opt).__name__,
        "class_match": type(opt).__name__ == ref["class_name"],
    }
    ref_lr, lr = ref_config.get("learning_rate"), config.get("learning_rate")
    if isinstance(ref_lr, dict):
        got = lr if isinstance(lr, dict) else None
        out["learning_rate"] = got and {
            "class_name": got.get("class_name"),
            "config": got.get("config"),
        }
        out["lr_match"] = (
            bool(got)
            and got["class_name"] == ref_lr["class_name"]
            and all(_close(v, got["config"].get(k)) for k, v in ref_lr["config"].items())
        )
    else:
        out["learning_rate"] = lr if isinstance(lr, dict) else float(lr)
        out["lr_match"] = not isinstance(lr, dict) and _close(float(ref_lr), float(lr))
    out["hyper_mismatches"] = {
        k: [v, config[k]]
        for k, v in ref_config.items()
        if k not in ("learning_rate", "name") and k in config and not _close(v, config[k])
    }
    out["only_in_k2"] = sorted(k for k in ref_config if k not in config)
    out["match"] = out["class_match"] and out["lr_match"] and not out["hyper_mismatches"]
    return out


def child_main(corpus: str, name: str, kind: str, mode: str) -> dict[str, Any]:  # noqa: PLR0915
    started = time.perf_counter()
    with open(os.path.join(corpus, "index.json")) as f:
        index = json.load(f)
    entry = index["models"][name]
    sys.path.insert(0, os.environ.get("KERAS2_FIXTURES") or index["fixture_dir"])
    import keras
    import numpy as np
    import tensorflow as tf

    result: dict[str, Any] = {
        "model": name,
        "kind": kind,
        "mode": mode,
        "disabled": sorted(DISABLED),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    data = np.load(os.path.join(corpus, entry["npz"]))
    path = os.path.join(corpus, entry["files"][kind]["path"])
    custom_objects: dict[str, Any] = {}
    for key, target in entry["custom_objects"].items():
        module_name, attr = target.split(":")
        custom_objects[key] = getattr(importlib.import_module(module_name), attr)
    safe_mode = not entry.get("safe_mode_false_needed", False)
    result["safe_mode"] = safe_mode
    functions = {
        (obj.__module__, obj.__name__): key
        for key, obj in custom_objects.items()
        if inspect.isfunction(obj)
    }
    builtin_layers = frozenset(
        n for n in dir(keras.layers) if isinstance(getattr(keras.layers, n), type)
    )
    ctx = Context(functions, builtin_layers, frozenset(custom_objects))
    tmp = tempfile.mkdtemp(prefix="k2probe_")
    flat: list[Any] = []
    try:
        load_path = path
        use_scope = False
        if mode == "fixed":
            if kind == "h5":
                load_path = os.path.join(tmp, "model.h5")
                fixed_copy_h5(path, load_path, ctx)
            elif kind == "keras":
                load_path = os.path.join(tmp, "model.keras")
                fixed_copy_keras(path, load_path, ctx)
            elif on("savedmodel-to-h5"):
                load_path = os.path.join(tmp, "model.h5")
                info = savedmodel_to_h5(path, load_path)
                flat = info.pop("_flat")
                result["savedmodel"] = info
                ctx.apply("savedmodel-to-h5")
                fixed_copy_h5(load_path, load_path, ctx)
            if ctx.op_layers and on("shim-op-layers"):
                custom_objects.update(op_layer_classes(keras, tf))
                ctx.apply("shim-op-layers")
            if on("shim-positional-add-weight"):
                install_positional_add_weight(keras)
            for key in sorted(ctx.time_distributed_inner):
                cls = custom_objects.get(key)
                if (
                    isinstance(cls, type)
                    and issubclass(cls, keras.layers.Layer)
                    and cls.compute_output_shape is keras.layers.Layer.compute_output_shape
                    and on("shim-time-distributed-output-shape")
                ):
                    custom_objects[key] = with_output_shape(keras, cls)
                    ctx.apply("shim-time-distributed-output-shape")
            if ctx.wrappers and on("scope-custom-objects"):
                use_scope = True
                ctx.apply("scope-custom-objects")
            if ctx.python_lambda and not safe_mode and on("lambda-globals-tf"):
                # func_load resolves the bytecode's globals in keras.src.utils.python_utils.
                from keras.src.utils import python_utils  # noqa: TID251

                python_utils.tf = tf  # type: ignore[attr-defined]
                ctx.apply("lambda-globals-tf")
        t0 = time.perf_counter()
        try:
            if use_scope:
                with keras.saving.custom_object_scope(custom_objects):
                    model = keras.saving.load_model(
                        load_path, custom_objects=custom_objects, safe_mode=safe_mode
                    )
            else:
                model = keras.saving.load_model(
                    load_path, custom_objects=custom_objects, safe_mode=safe_mode
                )
            result["loaded"] = True
            result["load_seconds"] = round(time.perf_counter() - t0, 2)
        except Exception as exc:
            result["loaded"] = False
            result["load_error"] = _err(exc)
            model = None
        if POSITIONAL_NAME_CALLS[0]:
            ctx.apply("shim-positional-add-weight")
        if model is not None and flat:
            try:
                model(data["x_sample"])  # build the subclassed model's layers
                model.set_weights(flat)
                result["set_flat_weights"] = len(flat)
            except Exception as exc:
                result["set_weights_error"] = _err(exc)
        if model is not None:
            result["model_class"] = type(model).__name__
            try:
                pred = np.asarray(model.predict(data["x_sample"], verbose=0))
                result["predict"] = {
                    "ok": True,
                    "max_abs_diff": float(np.max(np.abs(pred - data["y_pred"]))),
                }
            except Exception as exc:
                result["predict"] = {"ok": False, "error": _err(exc)}
            if entry["compiled"]:
                result["compiled"] = bool(getattr(model, "compiled", False))
                result["optimizer"] = compare_optimizer(
                    entry["optimizer"], getattr(model, "optimizer", None)
                )
                ref = entry["evaluate"]
                try:
                    got = model.evaluate(
                        data["x_eval"], data["y_eval"], batch_size=entry["evaluate_batch_size"],
                        verbose=0, return_dict=True,
                    )  # fmt: skip
                    got = {k: float(v) for k, v in got.items()}
                    result["evaluate"] = {
                        "ok": True,
                        "values": got,
                        "loss_diff": abs(got.get("loss", float("nan")) - ref["loss"]),
                        "metric_diffs": {
                            k: abs(got[k] - v) for k, v in ref.items() if k in got and k != "loss"
                        },
                        "missing_metrics": sorted(k for k in ref if k not in got),
                    }
                except Exception as exc:
                    result["evaluate"] = {"ok": False, "error": _err(exc)}
        if kind == "savedmodel":
            try:
                layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
                out = layer(data["x_sample"])
                if isinstance(out, dict):
                    result["tfsm_output_keys"] = sorted(out)
                    out = next(iter(out.values()))
                serving = np.asarray(out)
                result["tfsm"] = {
                    "ok": True,
                    "max_abs_diff_vs_tf_keras": float(np.max(np.abs(serving - data["y_pred"]))),
                }
                if result.get("predict", {}).get("ok"):
                    pred = np.asarray(model.predict(data["x_sample"], verbose=0))
                    result["tfsm"]["max_abs_diff_vs_loaded"] = float(np.max(np.abs(serving - pred)))
            except Exception as exc:
                result["tfsm"] = {"ok": False, "error": _err(exc)}
    except Exception as exc:
        result["probe_error"] = _err(exc)
        result["traceback"] = traceback.format_exc()[-3000:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["applied"] = ctx.applied
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


# ---------------------------------------------------------------------------------------------
# The parent: one fresh process per (file, mode[, disabled rule]).
# ---------------------------------------------------------------------------------------------


def verdict(r: dict[str, Any], entry: dict[str, Any]) -> str:
    if r.get("probe_error"):
        return "PROBE-ERROR"
    if not r.get("loaded"):
        return "LOAD-FAIL"
    if r.get("set_weights_error"):
        return "WEIGHTS-FAIL"
    p = r.get("predict", {})
    if not p.get("ok"):
        return "PREDICT-FAIL"
    if p["max_abs_diff"] > 1e-6:
        return "WRONG-PREDICTIONS"
    if entry["compiled"]:
        ev = r.get("evaluate", {})
        if not ev.get("ok"):
            return "EVALUATE-FAIL"
        if ev["loss_diff"] > 1e-5 * max(1.0, abs(entry["evaluate"]["loss"])):
            return "WRONG-LOSS"
        if ev["missing_metrics"]:
            return "METRICS-RENAMED"
        if any(d > 1e-5 for d in ev["metric_diffs"].values()):
            return "WRONG-METRICS"
        if not r.get("optimizer", {}).get("match"):
            return "OPTIMIZER-LOST"
    return "OK"


def run_child(corpus: str, name: str, kind: str, mode: str, disable: str = "") -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONDONTWRITEBYTECODE="1",
        KERAS2_PROBE_DISABLE=disable,
    )  # fmt: skip
    cmd = [sys.executable, os.path.abspath(__file__), "--child", corpus, name, kind, mode]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{"')]
    if lines:
        result = json.loads(lines[-1])
    else:
        died = {"type": "ChildDied", "first_line": proc.stderr[-800:]}
        result = {"model": name, "kind": kind, "mode": mode, "probe_error": died}
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    return result


def _line(r: dict[str, Any]) -> str:
    label = r["mode"] + (f"-{','.join(r['disabled'])}" if r.get("disabled") else "")
    bits = [f"{r['verdict']:<17}", f"{label:<24}", f"{r['kind']:<10}", r["model"]]
    if r.get("probe_error"):
        bits.append(f"| PROBE {r['probe_error']}")
    elif not r.get("loaded"):
        e = r["load_error"]
        bits.append(f"| {e['type']}: {(e.get('encountered') or e['first_line'])[:200]}")
    else:
        p = r.get("predict", {})
        bits.append(
            f"| diff {p['max_abs_diff']:.3g}" if p.get("ok") else f"| predict {p.get('error')}"
        )
        if "evaluate" in r:
            ev = r["evaluate"]
            bits.append(
                f"loss_diff {ev['loss_diff']:.3g}" if ev.get("ok") else f"evaluate {ev['error']}"
            )
        if "optimizer" in r:
            o = r["optimizer"]
            bits.append(
                f"opt {o.get('class_name')} lr {o.get('learning_rate')} match={o.get('match')}"
            )
            if o.get("hyper_mismatches"):
                bits.append(str(o["hyper_mismatches"]))
    if "tfsm" in r:
        t = r["tfsm"]
        bits.append(
            f"| TFSM diff {t['max_abs_diff_vs_tf_keras']:.3g}"
            if t.get("ok")
            else f"| TFSM {t['error']}"
        )
    return " ".join(str(b) for b in bits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--mode", choices=["raw", "fixed", "both", "ablate"], default="both")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="", help="model names, comma-separated")
    parser.add_argument("--kinds", default="h5,keras,savedmodel")
    parser.add_argument("--rules", default="", help="ablate: only these rules, comma-separated")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    with open(os.path.join(corpus, "index.json")) as f:
        index = json.load(f)
    only = set(filter(None, args.only.split(",")))
    files = [
        (name, kind)
        for name, entry in index["models"].items()
        if not only or name in only
        for kind in args.kinds.split(",")
        if entry["files"].get(kind, {}).get("path")
    ]
    modes = {"both": ["raw", "fixed"], "ablate": ["fixed"]}.get(args.mode, [args.mode])
    started = time.perf_counter()
    results: list[dict[str, Any]] = []

    def run_all(jobs: list[tuple[str, ...]]) -> list[dict[str, Any]]:
        done = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for fut in concurrent.futures.as_completed(
                [pool.submit(run_child, corpus, *j) for j in jobs]
            ):
                r = fut.result()
                r["verdict"] = verdict(r, index["models"][r["model"]])
                done.append(r)
                print(_line(r), flush=True)
        return done

    results += run_all([(name, kind, mode) for name, kind in files for mode in modes])
    if args.mode == "ablate":
        jobs = [
            (r["model"], r["kind"], "fixed", rule)
            for r in results
            if r["verdict"] == "OK"
            for rule in r.get("applied", [])
            if not args.rules or rule in args.rules.split(",")
        ]
        results += run_all(jobs)
    results.sort(key=lambda r: (r["model"], r["kind"], r["mode"], r.get("disabled", [])))
    total = round(time.perf_counter() - started, 1)
    print(f"\n{len(results)} runs in {total} s ({args.jobs} at a time)")
    groups: dict[str, dict[str, int]] = {}
    for r in results:
        label = r["mode"] + (" with one rule off" if r.get("disabled") else "")
        groups.setdefault(label, {}).setdefault(r["verdict"], 0)
        groups[label][r["verdict"]] += 1
    for label, counts in groups.items():
        print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.mode == "ablate":
        print("\nwith one rule off (rule: verdicts over the files it applies to):")
        per_rule: dict[str, dict[str, int]] = {}
        for r in results:
            if r.get("disabled"):
                counts = per_rule.setdefault(r["disabled"][0], {})
                key = f"{r['verdict']} {r['kind']}"
                counts[key] = counts.get(key, 0) + 1
        for rule, counts in sorted(per_rule.items()):
            print(f"  {rule}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"seconds": total, "results": results}, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        out = child_main(*sys.argv[2:6])
        sys.stdout.write("\n" + json.dumps(out, default=str) + "\n")
        sys.stdout.flush()
        sys.exit(0)
    sys.exit(main())
