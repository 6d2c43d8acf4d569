"""``kerascope.inspect``: what a model file needs, read without running anything."""

from __future__ import annotations

import os

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

    from kerascope._reading.modelfile import Format
    from kerascope._reading.references import Kind

from kerascope._reading.keras_names import builtin_layer_names
from kerascope._reading.lambda_code import find_lambda_code
from kerascope._reading.manifest import Manifest, ManifestError, parse_manifest
from kerascope._reading.modelfile import ModelFile, WeightsInfo, read_model_file
from kerascope._reading.provenance import Provenance, provenance
from kerascope._reading.references import Reference, find_references
from kerascope._reading.tf_ops import OP_LAYER_MODULE, OpLayer, find_op_layers
from kerascope._translate.rules import Translation, translate
from kerascope.errors import ModelFileError

from .findings import Finding
from .pitfalls import find_findings
from .scan_lambda import lambda_code_findings

__all__ = ["JSON_SCHEMA_VERSION", "CustomObject", "Inspection", "inspect"]

# 2: findings are on the one severity scale (info, low, medium, high) and carry `object`.
JSON_SCHEMA_VERSION = 2


class CustomObject(Record):
    """One custom object a file needs, with every place it is used.

    Attributes:
        key: The name Keras looks it up under (the ``custom_objects`` key).
        kinds: What it is used as (usually one kind).
        module: The module recorded in the file, if any.
        class_name: The class or function name.
        registered_name: The registered name recorded in the file, if any.
        json_paths: Every place it is used.
        is_lambda: True for serialized Python lambdas.
    """

    key: str
    kinds: tuple[Kind, ...]
    module: str | None
    class_name: str
    registered_name: str | None
    json_paths: tuple[str, ...]
    is_lambda: bool

    def to_dict(self) -> dict[str, Any]:
        """The object as a JSON-ready dict.

        Example:
            >>> obj = CustomObject("my_loss", ("loss",), None, "my_loss", None, ("$.x",), False)
            >>> obj.to_dict()["key"]
            'my_loss'
        """
        return {
            "key": self.key,
            "kinds": list(self.kinds),
            "module": self.module,
            "class_name": self.class_name,
            "registered_name": self.registered_name,
            "json_paths": list(self.json_paths),
            "lambda": self.is_lambda,
        }


class Inspection(Record):
    """Everything kerascope reads from a model file.

    Attributes:
        path: The file inspected.
        format: ``"keras"``, ``"keras-dir"``, ``"h5"`` or ``"savedmodel"``.
        keras_version: The Keras version that saved it, when recorded.
        date_saved: When it was saved (.keras only).
        backend: The backend recorded in .h5 files.
        weights: Name and size of the weights member (.keras).
        model_class: The class name of the top-level model.
        references: Every object reference in the config, built-in or custom.
        findings: What Keras itself will get wrong with this file.
        manifest: The kerascope manifest written by ``kerascope.save_model``, if any.
        manifest_problem: Why a manifest present in the file could not be read.
        provenance: Which Keras wrote the file.
        translation: For a Keras 2 file, the translated configs (which everything else here
            describes) and the rules applied; None for a Keras 3 file.
        op_layers: The Keras 2 tf op layers (``TFOpLambda``, ``SlicingOpLambda``) kerascope
            supplies itself: those of a Keras 2 file, and those a migrated file records under
            kerascope's module. They are not custom objects.
    """

    path: str
    format: Format
    keras_version: str | None
    date_saved: str | None
    backend: str | None
    weights: WeightsInfo | None
    model_class: str
    references: tuple[Reference, ...]
    findings: tuple[Finding, ...]
    manifest: Manifest | None = None
    manifest_problem: str | None = None
    provenance: Provenance | None = None
    translation: Translation | None = None
    op_layers: tuple[OpLayer, ...] = ()

    @property
    def custom_objects(self) -> list[CustomObject]:
        """Each custom object once, in order of first use (lambdas each count once per place).

        Example:
            >>> inspection = inspect("model.keras")  # doctest: +SKIP
            >>> [obj.key for obj in inspection.custom_objects]  # doctest: +SKIP
            ['MyCustomLayer']
        """
        groups: dict[str, list[Reference]] = {}
        for reference in self.references:
            if reference.custom:
                group_key = reference.json_path if reference.is_lambda else reference.key
                groups.setdefault(group_key, []).append(reference)
        objects = []
        for group in groups.values():
            first = group[0]
            kinds = tuple(dict.fromkeys(reference.kind for reference in group))
            objects.append(
                CustomObject(
                    key=first.key,
                    kinds=kinds,
                    module=next((r.module for r in group if r.module), None),
                    class_name=first.class_name,
                    registered_name=next(
                        (r.registered_name for r in group if r.registered_name), None
                    ),
                    json_paths=tuple(reference.json_path for reference in group),
                    is_lambda=first.is_lambda,
                )
            )
        return objects

    @property
    def builtin_references(self) -> list[Reference]:
        """The references Keras resolves on its own (kerascope's op layers are not)."""
        ours = {layer.json_path for layer in self.op_layers}
        return [r for r in self.references if not r.custom and r.json_path not in ours]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document printed by ``kerascope inspect --json`` (see docs/inspect-json.md).

        Example:
            >>> inspect("model.keras").to_dict()["format"]  # doctest: +SKIP
            'keras'
        """
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "path": self.path,
            "format": self.format,
            "keras_version": self.keras_version,
            "date_saved": self.date_saved,
            "backend": self.backend,
            "weights": (
                {"name": self.weights.name, "size": self.weights.size} if self.weights else None
            ),
            "model_class": self.model_class,
            "objects": [reference.to_dict() for reference in self.references],
            "custom_objects": [obj.to_dict() for obj in self.custom_objects],
            "findings": [finding.to_dict() for finding in self.findings],
            "manifest": self.manifest.to_dict() if self.manifest else None,
            "manifest_problem": self.manifest_problem,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "translation": [
                {"rule": applied.rule, "detail": applied.detail}
                for applied in (self.translation.applied if self.translation else ())
            ],
            "op_layers": [
                {
                    "json_path": layer.json_path,
                    "class_name": layer.class_name,
                    "function": layer.function,
                    "allowed": layer.allowed,
                }
                for layer in self.op_layers
            ],
        }


def inspect(path: str | os.PathLike[str]) -> Inspection:
    """Read a model file and list every object it references, without importing Keras.

    Args:
        path: A ``.keras`` file, an unzipped ``.keras`` directory, or a legacy ``.h5`` file.

    Returns:
        An :class:`Inspection`: the file's facts, every reference, the custom objects grouped,
        and findings about what Keras will get wrong.

    Raises:
        ModelFileError: The path is missing, not a Keras model, truncated or malformed.

    Example:
        >>> import kerascope
        >>> result = kerascope.inspect("my_model.keras")  # doctest: +SKIP
        >>> [(obj.key, obj.kinds) for obj in result.custom_objects]  # doctest: +SKIP
        [('MyCustomLayer', ('layer',))]
    """
    model_file = read_model_file(path)
    origin = provenance(model_file)
    translation = None
    if origin.keras2:
        translation = translate(
            model_file.config, model_file.training_config, builtin_layer_names()
        )
        model_file = _translated(model_file, translation)
    references = _references(model_file)
    op_layers = _supplied_op_layers(model_file.config, keras2=translation is not None)
    ours = {layer.json_path for layer in op_layers}
    references = [
        r._replace(custom=False) if r.kind == "layer" and r.json_path in ours else r
        for r in references
    ]
    manifest, manifest_problem = _manifest(model_file.manifest)
    lambdas = translation.lambdas if translation else find_lambda_code(model_file.config)
    findings = find_findings(model_file, references) + lambda_code_findings(lambdas)
    return Inspection(
        path=model_file.path,
        format=model_file.format,
        keras_version=model_file.keras_version,
        date_saved=model_file.date_saved,
        backend=model_file.backend,
        weights=model_file.weights,
        model_class=str(model_file.config["class_name"]),
        references=tuple(references),
        findings=tuple(findings),
        manifest=manifest,
        manifest_problem=manifest_problem,
        provenance=origin,
        translation=translation,
        op_layers=op_layers,
    )


def _supplied_op_layers(config: dict[str, Any], keras2: bool) -> tuple[OpLayer, ...]:
    """The op layers kerascope supplies: a Keras 2 file's, and those recorded under its module."""
    return tuple(
        layer
        for layer in find_op_layers(config)
        if layer.module == OP_LAYER_MODULE or (keras2 and layer.module is None)
    )


def _translated(model_file: ModelFile, translation: Translation) -> ModelFile:
    fields = {name: getattr(model_file, name) for name in ModelFile.__annotations__}
    fields.update(config=translation.config, training_config=translation.training_config)
    return ModelFile(**fields)


def _manifest(raw: object) -> tuple[Manifest | None, str | None]:
    if raw is None:
        return None, None
    try:
        return parse_manifest(raw), None
    except ManifestError as error:
        return None, str(error)


def _references(model_file: ModelFile) -> list[Reference]:
    try:
        return find_references(model_file.config, model_file.training_config)
    except (ValueError, RecursionError) as error:
        raise ModelFileError(
            model_file.path, f"has a config kerascope cannot walk: {error}"
        ) from None
