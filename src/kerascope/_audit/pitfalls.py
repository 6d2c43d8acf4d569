"""Findings: what Keras itself will get wrong with a file, found by reading it.

Each finding is a record (severity, code, JSON path, message, fix), never an exception, so a
report can list all of them at once.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any, Literal

from kerascope._reading import keras_names as _builtins
from kerascope._reading.modelfile import ModelFile
from kerascope._reading.references import Reference

__all__ = ["SEVERITIES", "Finding", "find_findings"]

if TYPE_CHECKING:
    Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


class Finding(Record):
    """One thing worth telling about a model file.

    Attributes:
        severity: ``info``, ``warning`` (loads with care) or ``error`` (will not load as is).
        code: A stable identifier, e.g. ``h5-subclassed-model``.
        message: What was found.
        fix: What to do about it.
        json_path: Where in the config, when it is about one place.
    """

    severity: Severity
    code: str
    message: str
    fix: str
    json_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict.

        Example:
            >>> Finding("info", "x", "found", "nothing to do").to_dict()["code"]
            'x'
        """
        return {
            "severity": self.severity,
            "code": self.code,
            "json_path": self.json_path,
            "message": self.message,
            "fix": self.fix,
        }


def find_findings(model_file: ModelFile, references: list[Reference]) -> list[Finding]:
    """Everything worth telling about a file beyond its list of references.

    Example:
        >>> from kerascope._reading.modelfile import read_model_file  # doctest: +SKIP
        >>> model_file = read_model_file("model.h5")  # doctest: +SKIP
        >>> [f.code for f in find_findings(model_file, [])]  # doctest: +SKIP
        ['h5-subclassed-model']
    """
    findings = [
        Finding("warning", "file-name", note, "rename the file to match its content")
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
                "warning",
                "h5-subclassed-model",
                f"'{class_name}' is a subclassed model saved as legacy .h5: Keras 3 loads it back "
                "only if its constructor builds every layer (a functional graph); a model that "
                "builds its layers lazily fails with a layer count mismatch",
                "rebuild the model in code and call model.load_weights(path), or save it as "
                ".keras with the code that defines it",
                "$",
            )
        ]
    return []


def _reference_findings(model_file: ModelFile, reference: Reference) -> list[Finding]:
    path = reference.json_path
    if reference.is_lambda:
        return [
            Finding(
                "warning",
                "lambda",
                "a Lambda layer holds Python bytecode: Keras refuses it in safe mode, and the "
                "bytecode only runs on the Python version that wrote it",
                "replace the Lambda with a custom layer class; load it only from a trusted "
                "source with safe_mode=False",
                path,
            )
        ]
    if reference.shadows_builtin:
        return [
            Finding(
                "warning",
                "h5-shadowed-builtin",
                f"'{reference.class_name}' is named like a Keras built-in layer but its config "
                "does not fit the built-in: in .h5 Keras silently picks the built-in unless "
                "the custom class is supplied",
                f"pass your class as custom_objects={{'{reference.key}': YourClass}}",
                path,
            )
        ]
    if _builtins.is_non_modeling_api(reference.module, reference.class_name):
        return [
            Finding(
                "error",
                "non-modeling-api",
                f"the config names {reference.module}.{reference.class_name}, a Keras API that "
                "is not a modeling object; Keras refuses to load it",
                "do not load this file: configs written by Keras never contain this",
                path,
            )
        ]
    if (
        model_file.format == "h5"
        and reference.legacy
        and reference.kind in ("loss", "metric")
        and path.startswith("$.training_config")
        and _builtins.h5_unrestorable_compile_string(reference.kind, reference.key)
    ):
        return [
            Finding(
                "warning",
                "h5-unrestorable-compile-string",
                f"Keras 3.15 saves the {reference.kind} string '{reference.key}' to .h5 but "
                "fails to restore it when loading with compile=True",
                "load with compile=False and compile again, or re-save the model as .keras",
                path,
            )
        ]
    if reference.custom and not reference.legacy and reference.module is None:
        return [
            Finding(
                "info",
                "defined-in-main",
                f"'{reference.class_name}' was defined in __main__ (a script or notebook) when "
                "saved, so the file does not say which module holds it",
                f"move it into an importable module, or supply it by name "
                f"(custom_objects={{'{reference.key}': ...}})",
                path,
            )
        ]
    return []
