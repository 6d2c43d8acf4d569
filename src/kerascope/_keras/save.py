"""``kerascope.save_model``: lint, then write atomically, with a manifest of the custom objects."""

from __future__ import annotations

import json
import os
import platform
import shutil
import warnings

from kerascope._audit.inspect import inspect
from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.manifest import MANIFEST_KEY, Manifest, manifest_version
from kerascope.errors import LintError, SourceError

from .atomic import atomic_path
from .manifest_writer import describe_object
from .runtime import live_object, runtime_versions, save_with_keras
from .shims import needed_shims

if TYPE_CHECKING:
    from typing import Any

    from kerascope._reading.bundle import Bundle

__all__ = ["save_model", "write_manifest_copy"]

_FORMATS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    lint: bool = True,
    manifest: bool = True,
    bundle: bool = False,
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
    3. With ``bundle=True``, the manifest also carries the source text of the files that define
       the custom objects and of the local modules they import, each with its SHA-256, and one
       digest over them (docs/format.md). The file then loads where that code is absent, once
       the digest is trusted: ``trust=["sha256:<digest>"]`` (``manifest.bundle.trust_name``).

    Args:
        model: The Keras model.
        path: Where to save: ``.keras`` (recommended) or legacy ``.h5``.
        lint: Check the model first.
        manifest: Write the manifest into the file.
        bundle: Carry the custom code's source in the manifest (implies ``manifest``).

    Returns:
        The manifest written (None with ``manifest=False``).

    Raises:
        LintError: Lint found errors; nothing was written.
        SourceError: The extension is neither ``.keras``, ``.h5`` nor ``.hdf5``; or, with
            ``bundle=True``, no custom object's code comes from a source file, a file cannot be
            read as UTF-8, or the source is above the bundle size limit.

    Example:
        >>> import kerascope
        >>> kerascope.save_model(model, "model.keras")  # doctest: +SKIP
        >>> written = kerascope.save_model(model, "model.keras", bundle=True)  # doctest: +SKIP
        >>> written.bundle.trust_name  # doctest: +SKIP
        'sha256:5f0c...'
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
        if manifest or bundle:
            written = _manifest_for(temporary, model)
            if bundle:
                written = written._replace(bundle=_bundle_for(written, text_path))
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


def _manifest_for(saved: str, model: Any) -> Manifest:
    """The manifest of a file just saved from ``model``, with the Keras 2 shims the model
    needed when kerascope loaded it (version 3), which every later load needs too."""
    keras_version, backend = runtime_versions()
    objects = []
    for obj in inspect(saved).custom_objects:
        if obj.is_lambda:
            continue
        live = live_object(obj.key, obj.module, obj.class_name)
        objects.append(describe_object(obj, live))
    shims = needed_shims(model)
    return Manifest(
        version=manifest_version(shims),
        kerascope_version=_kerascope_version(),
        python_version=platform.python_version(),
        keras_version=keras_version,
        backend=backend,
        objects=tuple(objects),
        shims=shims,
    )


def _bundle_for(manifest: Manifest, path: str) -> Bundle:
    """The bundle of the live modules that define the manifest's objects, and their imports."""
    import sys

    from kerascope._resolving.bundling import local_closure, make_bundle
    from kerascope._resolving.trust import DEFAULT_TRUSTED

    by_root: dict[str, dict[str, str]] = {}
    for entry in manifest.objects:
        module = entry.module
        if not module or module == "__main__" or entry.distribution or not entry.file:
            continue
        if module.split(".")[0] in DEFAULT_TRUSTED:
            continue
        live = getattr(sys.modules.get(module), "__file__", None)
        if not isinstance(live, str) or not os.path.isfile(live):
            continue
        live = os.path.abspath(live)
        root = os.path.normpath(live[: -len(entry.file)] or os.sep)
        by_root.setdefault(root, {})[module] = live
    files: dict[str, str] = {}
    for root, modules in by_root.items():
        files.update(local_closure(modules, root))
    if not files:
        raise SourceError(
            f"cannot bundle {path}: no custom object's code comes from a source file "
            "(objects of installed packages are named in the manifest, not bundled)"
        )
    return make_bundle(files)


def _kerascope_version() -> str:
    from kerascope import __version__

    return __version__


def write_manifest_copy(source: str, target: str, manifest: Manifest) -> None:
    """Write ``source`` to ``target`` atomically with ``manifest`` in place of its own.

    Imports neither Keras nor h5py here (``.h5`` attributes are written by the HDF5 module).
    A ``.keras`` archive keeps its members, their order and their compression; only
    ``metadata.json`` changes. ``target`` may be ``source``.

    Example:
        >>> write_manifest_copy("m.keras", "bundled.keras", manifest)  # doctest: +SKIP
    """
    file_format = _FORMATS.get(os.path.splitext(source)[1].lower(), "keras")
    if os.path.isfile(source) and file_format == "keras":
        with atomic_path(target) as rewritten:
            _copy_archive(source, rewritten, {MANIFEST_KEY: manifest.to_dict()})
        return
    if file_format != "h5":
        raise SourceError(f"cannot rewrite {source!r}: only .keras files and .h5 files")
    with atomic_path(target) as rewritten:
        shutil.copyfile(source, rewritten)
        _write_manifest(rewritten, "h5", manifest)


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
