"""``kerascope.save_model``: lint, then write atomically, with a manifest of the custom objects."""

from __future__ import annotations

import json
import os
import platform
import shutil
import warnings

from kerascope._audit.inspect import inspect
from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.manifest import MANIFEST_KEY, MANIFEST_VERSION, Manifest
from kerascope.errors import LintError, SourceError

from .atomic import atomic_path
from .manifest_writer import describe_object
from .runtime import live_object, runtime_versions, save_with_keras

if TYPE_CHECKING:
    from typing import Any

__all__ = ["save_model"]

_FORMATS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}


def save_model(
    model: Any, path: str | os.PathLike[str], *, lint: bool = True, manifest: bool = True
) -> Manifest | None:
    """Save a Keras model so that it loads elsewhere, and never lose the previous file.

    1. Lint (unless ``lint=False``): classes defined in ``__main__``, constructor arguments
       ``get_config`` does not record, values that are not JSON, objects nothing will find
       later, a subclassed model saved as ``.h5``. Errors stop the save before anything is
       written; warnings are emitted as :class:`kerascope.KerascopeWarning`.
    2. Write with Keras to a temporary file beside ``path``, add the manifest (which module,
       file, SHA-256 and distribution each custom object came from, and the Python, Keras and
       backend versions), flush it to disk and rename it over ``path`` in one step. If anything
       fails, or the process is killed, the previous file is intact and no temporary file stays.

    Args:
        model: The Keras model.
        path: Where to save: ``.keras`` (recommended) or legacy ``.h5``.
        lint: Check the model first.
        manifest: Write the manifest into the file.

    Returns:
        The manifest written (None with ``manifest=False``).

    Raises:
        LintError: Lint found errors; nothing was written.
        SourceError: The extension is neither ``.keras``, ``.h5`` nor ``.hdf5``.

    Example:
        >>> import kerascope
        >>> kerascope.save_model(model, "model.keras")  # doctest: +SKIP
    """
    text_path = os.fspath(path)
    extension = os.path.splitext(text_path)[1].lower()
    file_format = _FORMATS.get(extension)
    if file_format is None:
        raise SourceError(f"cannot save to {text_path!r}: use a .keras (or legacy .h5) file name")
    if lint:
        _lint(model, text_path, file_format)
    written = None
    with atomic_path(text_path) as temporary:
        save_with_keras(model, temporary)
        if manifest:
            written = _manifest_for(temporary)
            _write_manifest(temporary, file_format, written)
    return written


def _lint(model: Any, path: str, file_format: str) -> None:
    from kerascope._audit.lint import lint
    from kerascope.errors import KerascopeWarning

    findings = lint(model, format=file_format)
    errors = [finding for finding in findings if finding.severity == "high"]
    if errors:
        raise LintError(path, errors)
    for finding in findings:
        warnings.warn(
            f"{finding.message} Fix: {finding.fix_for('python')}", KerascopeWarning, stacklevel=3
        )


def _manifest_for(saved: str) -> Manifest:
    keras_version, backend = runtime_versions()
    objects = []
    for obj in inspect(saved).custom_objects:
        if obj.is_lambda:
            continue
        live = live_object(obj.key, obj.module, obj.class_name)
        objects.append(describe_object(obj, live))
    return Manifest(
        version=MANIFEST_VERSION,
        kerascope_version=_kerascope_version(),
        python_version=platform.python_version(),
        keras_version=keras_version,
        backend=backend,
        objects=tuple(objects),
    )


def _kerascope_version() -> str:
    from kerascope import __version__

    return __version__


def _write_manifest(path: str, file_format: str, manifest: Manifest) -> None:
    text = json.dumps(manifest.to_dict())
    if file_format == "h5":
        from kerascope._reading.hdf5 import write_text_attribute

        write_text_attribute(path, MANIFEST_KEY, text)
        return
    # metadata.json is rewritten rather than a member added: Keras extracts the whole archive,
    # weights included, to a temporary directory on every load once it has a fourth member.
    with atomic_path(path) as rewritten:
        _copy_archive(path, rewritten, {MANIFEST_KEY: manifest.to_dict()})


def _copy_archive(source_path: str, target_path: str, metadata_update: dict[str, Any]) -> None:
    import zipfile

    with zipfile.ZipFile(source_path) as source, zipfile.ZipFile(target_path, "w") as target:
        for info in source.infolist():
            if info.filename == "metadata.json":
                metadata = {**json.loads(source.read(info)), **metadata_update}
                target.writestr(info, json.dumps(metadata))
                continue
            large = info.file_size >= 2**31
            with source.open(info) as reader, target.open(info, "w", force_zip64=large) as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
