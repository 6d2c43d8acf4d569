"""Pitfalls: what Keras itself will get wrong with a file, found by reading it.

Each pitfall is a :class:`~kerascope._audit.findings.Finding`, on the one severity scale, never
an exception, so a report can list all of them at once. The two rules that are also security
findings (Lambda bytecode, Keras APIs that are not modeling objects) come from
:func:`~kerascope._audit.scan_config.refused_by_keras`, their one place.
"""

from __future__ import annotations

from kerascope._reading import keras_names as _builtins
from kerascope._reading.modelfile import ModelFile
from kerascope._reading.references import Reference

from .findings import Finding
from .scan_config import refused_by_keras

__all__ = ["find_findings"]


def find_findings(model_file: ModelFile, references: list[Reference]) -> list[Finding]:
    """Everything worth telling about a file beyond its list of references.

    Example:
        >>> from kerascope._reading.modelfile import read_model_file  # doctest: +SKIP
        >>> model_file = read_model_file("model.h5")  # doctest: +SKIP
        >>> [f.code for f in find_findings(model_file, [])]  # doctest: +SKIP
        ['h5-subclassed-model']
    """
    findings = [
        Finding("medium", "file-name", note, "rename the file to match its content")
        for note in model_file.notes
    ]
    if model_file.format == "h5":
        findings += _h5_findings(model_file)
    for reference in references:
        findings += _reference_findings(model_file, reference)
    return findings


def _h5_findings(model_file: ModelFile) -> list[Finding]:
    config = model_file.config
    class_name = str(config["class_name"])
    builtin_model = _builtins.is_builtin_legacy_class("model", class_name)
    if not builtin_model and "layers" not in config["config"]:
        return [
            Finding(
                "medium",
                "h5-subclassed-model",
                f"'{class_name}' is a subclassed model saved as legacy .h5: Keras 3 loads it back "
                "only if its constructor builds every layer (a functional graph); a model that "
                "builds its layers lazily fails with a layer count mismatch",
                "rebuild the model in code and call model.load_weights(path), or save it as "
                ".keras with the code that defines it",
                "$",
                class_name,
            )
        ]
    return []


def _reference_findings(model_file: ModelFile, reference: Reference) -> list[Finding]:
    refused = refused_by_keras(reference)
    if refused is not None:
        return [refused]
    path, key = reference.json_path, reference.key
    if reference.shadows_builtin:
        return [
            Finding(
                "medium",
                "h5-shadowed-builtin",
                f"'{reference.class_name}' is named like a Keras built-in layer but its config "
                "does not fit the built-in: in .h5 Keras silently picks the built-in unless "
                "the custom class is supplied",
                "pass the file that defines your class: --from FILE.py",
                path,
                key,
                f"pass your class as custom_objects={{'{key}': YourClass}}",
            )
        ]
    if (
        model_file.format == "h5"
        and reference.legacy
        and reference.kind in ("loss", "metric")
        and path.startswith("$.training_config")
        and _builtins.h5_unrestorable_compile_string(reference.kind, key)
    ):
        return [
            Finding(
                "low",
                "h5-unrestorable-compile-string",
                f"Keras 3.15 saves the {reference.kind} string '{key}' to .h5 but "
                "fails to restore it when loading with compile=True",
                "load with --compile no and compile again, or re-save the model as .keras",
                path,
                key,
                "load with compile=False and compile again, or re-save the model as .keras",
            )
        ]
    if reference.custom and not reference.legacy and reference.module is None:
        return [
            Finding(
                "info",
                "defined-in-main",
                f"'{reference.class_name}' was defined in __main__ (a script or notebook) when "
                "saved, so the file does not say which module holds it",
                "move it into an importable module, or pass the file that defines it: "
                "--from FILE.py",
                path,
                key,
                "move it into an importable module, or supply it by name "
                f"(custom_objects={{'{key}': ...}})",
            )
        ]
    return []
