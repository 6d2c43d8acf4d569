"""Generate kerascope's table of Keras built-in names from the installed Keras.

kerascope must decide "built-in or custom" without importing Keras, so the facts Keras uses for
that decision are shipped as data. This tool is the only place that reads them, and it reads
them where Keras keeps them (some of those tables are private: reading them here, at build
time, is the point; kerascope itself never imports ``keras.src``). It also *measures* which
compile strings Keras cannot restore from a legacy ``.h5`` file, by saving and loading tiny
models.

Usage: python tools/gen_keras_builtins.py OUT.json [--check]
With --check, the file is not written; the exit code says whether it matches.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import tempfile
import warnings
from typing import Any

from generated_file import write_or_check

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KINDS = {
    "activation": "activations",
    "initializer": "initializers",
    "regularizer": "regularizers",
    "constraint": "constraints",
    "loss": "losses",
    "metric": "metrics",
    "optimizer": "optimizers",
}
# Public packages whose every name is a modeling object (see modeling_api).
MODELING_PACKAGES = frozenset(
    {
        "activations",
        "constraints",
        "dtype_policies",
        "initializers",
        "layers",
        "losses",
        "metrics",
        "mixed_precision",
        "models",
        "ops",
        "optimizers",
        "quantizers",
        "random",
        "regularizers",
    }
)
# Metric strings that compile() handles itself instead of looking them up.
COMPILE_SPECIAL_METRICS = ["accuracy", "acc", "crossentropy", "ce"]
SKIP_MODULE_PREFIXES = (
    "keras.src.backend.jax",
    "keras.src.backend.torch",
    "keras.src.backend.numpy",
    "keras.src.backend.openvino",
    "keras.src.utils.torch_utils",
)


def main(argv: list[str]) -> int:
    table = build_table()
    count = sum(len(v) for v in table["saveable_classes"].values())
    return write_or_check(argv[0], table, "--check" in argv, "Keras", f"{count} classes")


def build_table() -> dict[str, Any]:
    import keras

    api_export = sys.modules["keras.src.api_export"]
    serialization_lib = sys.modules["keras.src.saving.serialization_lib"]
    return {
        "keras_version": keras.__version__,
        "public_api": sorted(api_export.REGISTERED_NAMES_TO_OBJS),
        "non_modeling_apis": sorted(serialization_lib.NON_MODELING_APIS),
        "modeling_api": modeling_api(
            api_export.REGISTERED_NAMES_TO_OBJS, serialization_lib.NON_MODELING_APIS
        ),
        "builtin_function_modules": sorted(serialization_lib.BUILTIN_MODULES),
        "importable_packages": ["keras", "keras_cv", "keras_hub", "keras_nlp"],
        "registered_at_import": sorted(keras.saving.get_custom_objects()),
        "saveable_classes": saveable_classes(),
        "names_by_kind": names_by_kind(),
        "compile_special_metrics": COMPILE_SPECIAL_METRICS,
        "h5_layer_names": h5_layer_names(),
        "h5_layer_params": h5_layer_params(),
        "h5_unrestorable_compile_strings": (unrestorable := h5_unrestorable_compile_strings()),
        "h5_compile_string_fixes": h5_compile_string_fixes(unrestorable["loss"]),
    }


def modeling_api(registered: dict[str, Any], refused: frozenset[str]) -> list[str]:
    """The public Keras names a model config may reference: modeling objects, by kind.

    Everything under the packages of :data:`MODELING_PACKAGES` (layers, activations, losses,
    metrics, initializers, regularizers, constraints, optimizers and their schedules, plus the
    math a Lambda may call: ops, random; and the structure of a model: models, dtype policies,
    quantizers), the classes exported at the top level (``keras.Sequential``, ``keras.Input``,
    ...), every public class that is ``KerasSaveable`` wherever it is exported
    (``keras.utils.FeatureSpace``), and the applications' ``preprocess_input`` functions (pure
    arithmetic). Keras's own non-modeling list is subtracted. Every other public callable
    (``keras.applications`` builders, ``keras.datasets.*.load_data``, ``keras.utils`` file
    helpers, ...) is a finding when a config names it.
    """
    import keras

    saveable = keras.Layer.__mro__[-2]
    allowed = set()
    for name, value in registered.items():
        parts = name.split(".")
        by_kind = len(parts) > 2 and parts[1] in MODELING_PACKAGES
        top_level_class = len(parts) == 2 and isinstance(value, type)
        saveable_class = isinstance(value, type) and issubclass(value, saveable)
        arithmetic = parts[1] == "applications" and parts[-1] == "preprocess_input"
        if by_kind or top_level_class or saveable_class or arithmetic:
            allowed.add(name)
    return sorted(allowed - set(refused))


def saveable_classes() -> dict[str, list[str]]:
    """Module -> names that Keras's import step would accept (KerasSaveable subclasses)."""
    import keras

    saveable = keras.Layer.__mro__[-2]  # KerasSaveable, the root below object
    assert saveable.__name__ == "KerasSaveable", keras.Layer.__mro__
    found: dict[str, list[str]] = {}
    for info in pkgutil.walk_packages(keras.__path__, "keras."):
        if info.name.startswith(SKIP_MODULE_PREFIXES) or "_test" in info.name:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = importlib.import_module(info.name)
        except Exception:  # a module for another backend or an optional dependency
            continue
        names = sorted(
            name
            for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, saveable)
        )
        if names:
            found[info.name] = names
    for name in ("keras",):
        module = importlib.import_module(name)
        names = sorted(
            n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, saveable)
        )
        found[name] = names
    return found


def names_by_kind() -> dict[str, list[str]]:
    """Strings each get() accepts: the keys of the module's ALL_OBJECTS_DICT."""
    table = {}
    for kind, module_name in KINDS.items():
        module = importlib.import_module(f"keras.src.{module_name}")
        table[kind] = sorted(module.ALL_OBJECTS_DICT)
    return table


def h5_layer_names() -> list[str]:
    """Classes the legacy .h5 reader resolves by bare class name (keras.src.layers + models)."""
    layers = importlib.import_module("keras.src.layers")
    names = {name for name, value in vars(layers).items() if isinstance(value, type)}
    return sorted(names | {"InputLayer", "Functional", "Model", "Sequential"})


def h5_layer_params() -> dict[str, list[str]]:
    """Constructor keywords each built-in layer accepts, to spot custom classes shadowed in .h5."""
    import keras

    layers = importlib.import_module("keras.src.layers")
    saving_utils = importlib.import_module("keras.src.legacy.saving.saving_utils")
    # Keys the legacy loader itself removes or renames before from_config sees them.
    base = set(_parameters(keras.Layer.__init__)) | {
        "input_dim",
        "input_shape",
        "batch_input_shape",
        "axis",
    }
    table = {}
    for name, value in vars(layers).items():
        if isinstance(value, type) and issubclass(value, keras.Layer):
            own: set[str] = set()
            for klass in value.__mro__:
                if klass is keras.Layer or not issubclass(klass, keras.Layer):
                    break
                for method in ("__init__", "from_config"):
                    function = vars(klass).get(method)
                    if function is None:
                        continue
                    function = getattr(function, "__func__", function)
                    if method == "__init__":
                        own |= set(_parameters(function))
                    own |= _popped_keys(function)
            if name == "Lambda":
                own |= set(saving_utils.LAMBDA_DEP_ARGS)
            table[name] = sorted(own | base)
    return table


def _popped_keys(function: Any) -> set[str]:
    """Keys a constructor or from_config takes out of kwargs/config by name, read from source."""
    import re

    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return set()
    return set(re.findall(r"(?:kwargs|config)\.(?:pop|get)\(\s*[\"'](\w+)[\"']", source))


def _parameters(function: Any) -> list[str]:
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def h5_unrestorable_compile_strings() -> dict[str, list[str]]:
    """Measure which compile strings Keras saves to .h5 but cannot restore."""
    import keras

    failing: dict[str, list[str]] = {"loss": [], "metric": []}
    candidates = names_by_kind()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "probe.h5")
        for kind in ("loss", "metric"):
            for name in candidates[kind] + (COMPILE_SPECIAL_METRICS if kind == "metric" else []):
                if not name[:1].islower():
                    continue  # classes are stored as configs, not strings
                model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
                if kind == "loss":
                    model.compile(optimizer="sgd", loss=name)
                else:
                    model.compile(optimizer="sgd", loss="mean_squared_error", metrics=[name])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.save(path)
                    try:
                        keras.saving.load_model(path)
                    except Exception:
                        failing[kind].append(name)
    return failing


def h5_compile_string_fixes(aliases: list[str]) -> dict[str, str]:
    """For each loss alias Keras cannot restore from .h5, the canonical name that fixes it.

    Measured: the alias is kept only if passing ``custom_objects={alias: losses.get(canonical)}``
    makes the file load compiled.
    """
    import keras

    losses = importlib.import_module("keras.src.losses")
    fixes = {}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "probe.h5")
        for alias in aliases:
            canonical = getattr(losses.ALL_OBJECTS_DICT[alias], "__name__", None)
            if not canonical or canonical == alias:
                continue
            model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss=alias)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.save(path)
                try:
                    loaded = keras.saving.load_model(
                        path, custom_objects={alias: keras.losses.get(canonical)}
                    )
                except Exception:
                    continue
            if loaded.compiled:
                fixes[alias] = canonical
    return fixes


if __name__ == "__main__":
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)
    sys.exit(main(sys.argv[1:]))
