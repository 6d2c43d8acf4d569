"""Which Keras wrote a file: Keras 3, or tf.keras / tf-keras 2.x."""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

    from .modelfile import ModelFile

__all__ = ["Provenance", "provenance"]

_KERAS2_MODULES = ("tf_keras.", "keras.src.engine", "keras.engine", "tensorflow.python.keras")


class Provenance(Record):
    """Who wrote a model file.

    Attributes:
        writer: ``"Keras 3.x"``, ``"tf-keras/tf.keras 2.x"`` or ``"unknown"``.
        keras_version: The recorded Keras version, if any.
        evidence: Why kerascope thinks so, in one line.
    """

    writer: str
    keras_version: str | None
    evidence: str

    @property
    def keras2(self) -> bool:
        """Written by Keras 2 (tf.keras or tf-keras).

        Example:
            >>> Provenance(writer="Keras 3.x", keras_version="3.15.1", evidence="").keras2
            False
        """
        return self.writer == KERAS2

    def to_dict(self) -> dict[str, Any]:
        """The ``provenance`` value of ``kerascope inspect --json``.

        Example:
            >>> Provenance(writer="unknown", keras_version=None, evidence="").to_dict()["writer"]
            'unknown'
        """
        return {
            "writer": self.writer,
            "keras_version": self.keras_version,
            "evidence": self.evidence,
        }


KERAS2 = "tf-keras/tf.keras 2.x"
KERAS3 = "Keras 3.x"


def provenance(model_file: ModelFile) -> Provenance:
    """Tell a Keras 2 file from a Keras 3 file, from recorded versions and module paths.

    Example:
        >>> from kerascope._reading.modelfile import read_model_file  # doctest: +SKIP
        >>> provenance(read_model_file("old.h5")).writer  # doctest: +SKIP
        'tf-keras/tf.keras 2.x'
    """
    version = model_file.keras_version
    if model_file.format == "savedmodel":
        # Only tf.keras / tf-keras write keras_metadata.pb; Keras 3's model.export writes none.
        recorded = f", keras_version {version}" if version else ""
        return Provenance(
            writer=KERAS2,
            keras_version=version,
            evidence=f"TensorFlow SavedModel with keras_metadata.pb{recorded}",
        )
    module = _keras2_module(model_file.config)
    if version:
        major = version.split(".", 1)[0]
        if major in {"2", "1"}:
            return Provenance(
                writer=KERAS2, keras_version=version, evidence=f"keras_version {version}"
            )
        if major == "3":
            if module:
                return Provenance(
                    writer=KERAS2, keras_version=version, evidence=f"module `{module}`"
                )
            return Provenance(
                writer=KERAS3, keras_version=version, evidence=f"keras_version {version}"
            )
    if module:
        return Provenance(writer=KERAS2, keras_version=version, evidence=f"module `{module}`")
    return Provenance(writer="unknown", keras_version=version, evidence="no version recorded")


def _keras2_module(value: object, depth: int = 0) -> str | None:
    if depth > 200:
        return None
    if isinstance(value, dict):
        module = value.get("module")
        if isinstance(module, str) and module.startswith(_KERAS2_MODULES):
            return module
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _keras2_module(child, depth + 1)
        if found:
            return found
    return None
