"""The scan of a model config: what its references name, and what its values hold.

References (see :mod:`kerascope._reading.references`) are checked for Lambda bytecode, Keras APIs
that are not modeling objects, layers that load outside files, standard-library objects and
dangerous function names; every other value for URLs, file paths, pickles and absurd shapes.
:func:`refused_by_keras` is the one place of the two rules ``inspect`` reports too.
"""

from __future__ import annotations

import sys

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading import keras_names as _builtins
from kerascope._reading.keras2_names import is_keras2_builtin_location
from kerascope._reading.lambda_code import find_lambda_code
from kerascope._reading.references import Reference, find_references

from .findings import Finding
from .scan_lambda import lambda_code_findings
from .scan_tfops import op_layer_findings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["config_findings", "refused_by_keras"]

# Classes whose from_config reads or runs something outside the model file.
_OUTSIDE_LOADERS = {
    "TFSMLayer": "loads and runs a TensorFlow SavedModel from a path in the config",
    "TorchModuleWrapper": "unpickles a PyTorch module stored in the config (torch.load)",
}
_VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
_DANGEROUS_FUNCTIONS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "system",
        "popen",
        "globals",
        "vars",
        "help",
    }
)
_SHAPE_KEYS = frozenset(
    {
        "units",
        "filters",
        "input_dim",
        "output_dim",
        "num_heads",
        "key_dim",
        "value_dim",
        "max_tokens",
        "num_tokens",
        "batch_shape",
        "shape",
        "batch_input_shape",
        "input_shape",
        "target_shape",
        "dims",
        "kernel_size",
        "pool_size",
        "size",
        "num_bins",
    }
)
_ABSURD_DIMENSION = 2**31
_ABSURD_ELEMENTS = 2**36  # 64 G elements: 256 GB of float32 for one tensor
_PICKLE_PREFIXES = ("gASV", "gAJ", "gAN", "gAR")  # base64 of pickle protocol 2-5 headers


def config_findings(
    config: dict[str, Any], training_config: dict[str, Any] | None
) -> list[Finding]:
    """Everything hostile in a model config (and an .h5 training config).

    A config too deeply nested to walk is one ``deep-nesting`` finding.

    Example:
        >>> config = {"module": "os", "class_name": "system", "config": {}}
        >>> [f.code for f in config_findings(config, None)]
        ['stdlib-object']
    """
    try:
        references = find_references(config, training_config)
    except (ValueError, RecursionError) as error:
        return [Finding("high", "deep-nesting", str(error), "do not load this file", "$")]
    findings = [f for reference in references for f in _reference_findings(reference)]
    findings += _value_findings(config, "$", None)
    findings += op_layer_findings(config)
    findings += lambda_code_findings(find_lambda_code(config))
    if training_config is not None:
        findings += _value_findings(training_config, "$.training_config", None)
    return findings


def refused_by_keras(reference: Reference) -> Finding | None:
    """The ``high`` finding for a reference Keras itself refuses, if it is one.

    Two rules: Lambda bytecode (``lambda``; Keras refuses it in safe mode) and a Keras API that
    is not a modeling object (``non-modeling-api``; Keras always refuses it). ``inspect`` and
    ``scan`` both report them, from here.

    Example:
        >>> lam = Reference("$.config.layers[1].config.function", "lambda", None, "<lambda>",
        ...                 None, "__lambda__", True, is_lambda=True)
        >>> refused_by_keras(lam).code
        'lambda'
    """
    if reference.is_lambda:
        return Finding(
            "high",
            "lambda",
            "a Lambda layer holds Python bytecode, which runs while the model is loaded: Keras "
            "refuses it in safe mode, and it only runs on the Python version that wrote it",
            "replace the Lambda with a registered layer class; load with --unsafe only if you "
            "trust whoever wrote this file",
            reference.json_path,
            python_fix="replace the Lambda with a registered layer class; load with "
            "safe_mode=False only if you trust whoever wrote this file",
        )
    module, name = reference.module, reference.class_name
    if _builtins.is_non_modeling_api(module, name):
        return Finding(
            "high",
            "non-modeling-api",
            f"the config names {module}.{name}, a Keras API that is not a modeling object; "
            "Keras refuses to load it (such entries are used in published attacks to download "
            "files or turn safe mode off)",
            "do not load this file: configs written by Keras never contain this",
            reference.json_path,
            reference.key,
        )
    return None


def _reference_findings(reference: Reference) -> Iterator[Finding]:
    refused = refused_by_keras(reference)
    if refused is not None:
        yield refused
        return
    path, module, name, key = (
        reference.json_path,
        reference.module,
        reference.class_name,
        reference.key,
    )
    callable_name = _builtins.non_modeling_callable(module, name)
    if callable_name is not None:
        yield Finding(
            "high",
            "non-modeling-callable",
            f"the config names {callable_name}, a public Keras callable that is not a modeling "
            "object (not a layer, activation, loss, metric, initializer, regularizer, "
            "constraint, optimizer or schedule); Keras resolves it and calls it while building "
            "the model, and such callables download files, read local paths or build whole "
            "pretrained models",
            "do not load this file: configs written by Keras never name it",
            path,
            key,
        )
        return
    if name in _OUTSIDE_LOADERS and (module is None or module.startswith("keras")):
        yield Finding(
            "high",
            "outside-loader",
            f"{name} {_OUTSIDE_LOADERS[name]}",
            "do not load this file unless you know what it loads",
            path,
            key,
        )
        return
    top = (module or "").split(".")[0]
    if module and top != "builtins" and top in sys.stdlib_module_names:
        yield Finding(
            "high",
            "stdlib-object",
            f"the config names {module}.{name}, from the Python standard library, as a "
            f"{reference.kind}",
            "do not load this file",
            path,
            key,
        )
    elif key in _DANGEROUS_FUNCTIONS or name in _DANGEROUS_FUNCTIONS:
        yield Finding(
            "high",
            "dangerous-function",
            f"the config names a function called {name!r}",
            "do not load this file",
            path,
            key,
        )
    elif is_keras2_builtin_location(module, name):
        return  # a Keras 2 built-in (Functional, an optimizer, a tf op layer): no code to import
    elif reference.custom and module and _builtins.is_importable_keras_package(module):
        if top == "keras":
            yield Finding(
                "high",
                "keras-internal",
                f"the config names {module}.{name}, which is not a public Keras object",
                "do not load this file",
                path,
                key,
            )
        else:
            yield Finding(
                "info",
                "keras-package",
                f"{key} comes from {top}, which Keras imports by itself",
                "make sure the installed package is the real one",
                path,
                key,
            )
    elif reference.custom:
        origin = f"module {module}" if module and module != "builtins" else "no recorded module"
        yield Finding(
            "info",
            "custom-object",
            f"{reference.kind} {key} ({origin}) needs code from outside the file; "
            "scan imports nothing",
            "load it with --from pointing at code you trust, or --trust its package",
            path,
            key,
        )


def _value_findings(value: Any, path: str, parent_class: str | None) -> Iterator[Finding]:
    stack: list[tuple[Any, str, str | None, str | None]] = [(value, path, None, parent_class)]
    while stack:
        node, where, key, owner = stack.pop()
        if isinstance(node, dict):
            owner_here = (
                node.get("class_name") if isinstance(node.get("class_name"), str) else owner
            )
            for child_key, child in node.items():
                stack.append((child, f"{where}.{child_key}", str(child_key), owner_here))
        elif isinstance(node, list):
            if key in _SHAPE_KEYS:
                yield from _shape_findings(node, where)
            if owner in _VOCABULARY_LAYERS and key == "vocabulary":
                continue  # an inline vocabulary: its tokens are data, whatever they look like
            for index, child in enumerate(node):
                stack.append((child, f"{where}[{index}]", key, owner))
        elif isinstance(node, str):
            if owner == "Lambda" and ".config.arguments" in where and _names_a_file(node):
                yield Finding(
                    "medium",
                    "file-path",
                    f"a Lambda passes its function a file name or path: {node[:120]!r}",
                    "find out what the function does with it before loading",
                    where,
                )
                continue
            yield from _string_findings(node, where, key, owner)
        elif _is_int(node) and key in _SHAPE_KEYS and abs(node) >= _ABSURD_DIMENSION:
            yield _absurd(where, f"{key} = {node:,}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape_findings(shape: list[Any], where: str) -> Iterator[Finding]:
    dimensions = [d for d in shape if _is_int(d) and d > 0]
    elements = 1
    for dimension in dimensions:
        elements *= dimension
    if len(dimensions) == len([d for d in shape if d is not None]) and elements >= _ABSURD_ELEMENTS:
        yield _absurd(where, f"shape {shape} has {elements:,} elements")


def _absurd(where: str, what: str) -> Finding:
    return Finding(
        "medium",
        "absurd-shape",
        f"{what}: building it would exhaust memory",
        "do not load this file unless you expect a model this large",
        where,
    )


def _string_findings(
    text: str, where: str, key: str | None, owner: str | None
) -> Iterator[Finding]:
    if owner in _VOCABULARY_LAYERS and key in ("vocabulary", "vocabulary_path") and text:
        yield Finding(
            "high",
            "vocabulary-path",
            f"{owner} reads its vocabulary from {text!r} when built (a local file or URL)",
            "do not load this file; vocabularies belong inside the archive",
            where,
        )
    elif "://" in text[:64] and text.split("://", 1)[0].isalpha():
        yield Finding(
            "high",
            "url",
            f"the config holds a URL: {text[:120]!r}",
            "find out what reads it before loading",
            where,
        )
    elif _looks_like_path(text):
        yield Finding(
            "medium",
            "file-path",
            f"the config holds a file path: {text[:120]!r}",
            "find out what reads it before loading",
            where,
        )
    elif len(text) > 64 and text.startswith(_PICKLE_PREFIXES) and key != "code":
        yield Finding(
            "high",
            "pickle",
            "the config holds what looks like a pickle (base64)",
            "do not load this file",
            where,
        )


def _names_a_file(text: str) -> bool:
    """A relative path or a bare file name with an extension (``weights.h5``, ``mnist.npz``).

    Absolute paths and URLs are not: :func:`_string_findings` reports those, anywhere.
    """
    if _looks_like_path(text) or ("://" in text[:64] and text.split("://", 1)[0].isalpha()):
        return False  # reported as such by _string_findings
    if len(text) > 4096 or not text or " " in text or "\n" in text:
        return False
    if "/" in text or "\\" in text or text.startswith("~"):
        return True
    stem, dot, extension = text.rpartition(".")
    return bool(dot and stem and 1 <= len(extension) <= 5 and extension.isalnum())


def _looks_like_path(text: str) -> bool:
    if len(text) > 4096 or " " in text.strip() or "\n" in text:
        return False
    if text.startswith(("/", "~/", "\\\\")) and text.count("/") + text.count("\\") >= 2:
        return True
    if len(text) > 2 and text[1] == ":" and text[2] in "\\/" and text[0].isalpha():
        return True
    return text.startswith(("../", "..\\"))
