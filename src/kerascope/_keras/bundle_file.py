"""Add a source bundle to an existing model file, and write a bundle out for review.

Neither imports Keras nor the code: :func:`bundle` plans the load as ``kerascope check`` does
(without importing anything), takes exactly the files the plan would import from the sources
and the local modules they import (:func:`kerascope._resolving.pins.pin`), and rewrites the
file atomically with a manifest that carries them (docs/format.md, version 2).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Sequence

from kerascope._audit.inspect import inspect
from kerascope._common.files import file_sha256
from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.manifest import Manifest, ManifestObject, manifest_version
from kerascope.errors import ModelFileError, SourceError, UnresolvedObjectsError

if TYPE_CHECKING:
    from kerascope._reading.bundle import Bundle
    from kerascope._resolving.plan import CompileMode, Plan

__all__ = ["bundle", "unbundle"]

_WRITABLE = (".keras", ".h5", ".hdf5")


def bundle(
    path: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    compile: CompileMode = "auto",
) -> Manifest:
    """Write ``target``: ``path`` with the source of its custom code bundled in the manifest.

    The code is found as for :func:`kerascope.load_model` (``sources``, ``trust``), and what is
    bundled is exactly what that load would import from the sources: the defining files and
    the local modules they import. Installed packages are named with their versions, not
    bundled. Nothing is imported (not even Keras). ``target`` is written atomically and may be
    ``path``.

    Returns:
        The manifest written; ``manifest.bundle.trust_name`` is what to trust elsewhere.

    Raises:
        UnresolvedObjectsError: The plan has problems (missing or untrusted code); nothing is
            written.
        SourceError: Nothing comes from the sources, a file is not UTF-8, the bundle is above
            its size limit, or a file name is not ``.keras``/``.h5``.
        ModelFileError: ``path`` is not a readable model file.

    Example:
        >>> manifest = kerascope.bundle("model.keras", "bundled.keras",  # doctest: +SKIP
        ...                             sources=["layers/"])
        >>> manifest.bundle.trust_name  # doctest: +SKIP
        'sha256:7fcf95...'
    """
    from kerascope._resolving.bundling import make_bundle
    from kerascope._resolving.pins import pin
    from kerascope._resolving.plan import check
    from kerascope._resolving.sources import index_sources

    text_path, text_target = os.fspath(path), os.fspath(target)
    for name in (text_path, text_target):
        if os.path.splitext(name)[1].lower() not in _WRITABLE:
            raise SourceError(f"cannot bundle into {name!r}: use a .keras or .h5 file")
    if os.path.splitext(text_path)[1].lower() != os.path.splitext(text_target)[1].lower():
        raise SourceError(f"{text_target!r} must have the extension of {text_path!r}")
    if not os.path.isfile(text_path):
        raise ModelFileError(text_path, "no such file (bundle needs a .keras or .h5 file)")
    plan = check(text_path, sources=sources, trust=trust, compile=compile)
    if plan.problems:
        raise UnresolvedObjectsError(plan.inspection.path, plan.problems, plan.notes)
    index = index_sources(list(sources))
    files = {item.module: item.path for item in pin(plan, index) if item.shipped}
    if not files:
        raise SourceError(
            f"nothing to bundle in {text_path}: no custom object comes from the sources given "
            "(pass the code with --from / sources=)"
        )
    manifest = _manifest(plan, make_bundle(files))
    from .save import write_manifest_copy

    write_manifest_copy(text_path, text_target, manifest)
    return manifest


def _manifest(plan: Plan, made: Bundle) -> Manifest:
    """The file's manifest (or a new one) with entries for the bundled objects and the bundle."""
    from kerascope import __version__

    inspection = plan.inspection
    old = inspection.manifest
    entries = {entry.key: entry for entry in (old.objects if old else ())}
    for resolution in plan.resolutions:
        obj = resolution.object
        if resolution.origin != "source" or not resolution.module or not resolution.file:
            continue
        root = resolution.root or os.path.dirname(resolution.file)
        entries[obj.key] = ManifestObject(
            key=obj.key,
            kinds=tuple(obj.kinds),
            module=resolution.module,
            qualname=resolution.attribute,
            file=os.path.relpath(resolution.file, root).replace(os.sep, "/"),
            sha256=file_sha256(resolution.file),
        )
    shims = old.shims if old else ()  # a migrated file's Keras 2 shims stay recorded
    return Manifest(
        version=manifest_version(shims),
        kerascope_version=old.kerascope_version if old else __version__,
        python_version=old.python_version if old else platform.python_version(),
        keras_version=old.keras_version if old else inspection.keras_version,
        backend=old.backend if old else inspection.backend,
        objects=tuple(entries.values()),
        bundle=made,
        shims=shims,
    )


def unbundle(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> Bundle:
    """Write the source files a model carries under ``directory``, for review; run nothing.

    Each file goes to its path under the import root (``mypkg/layers.py``). A file already
    there with other content is not overwritten.

    Returns:
        The bundle (``damage()`` lists recorded hashes the text does not match).

    Raises:
        ModelFileError: The file carries no readable bundle.
        SourceError: A file in ``directory`` already exists with other content.

    Example:
        >>> kerascope.unbundle("bundled.keras", "review/").digest  # doctest: +SKIP
        '7fcf9533e44f...'
    """
    inspection = inspect(path)
    found = inspection.manifest.bundle if inspection.manifest else None
    if found is None:
        why = inspection.manifest_problem or "it carries no source bundle"
        raise ModelFileError(inspection.path, f"nothing to unbundle: {why}")
    text_directory = os.fspath(directory)
    targets = {
        item.path: os.path.join(text_directory, *item.path.split("/")) for item in found.files
    }
    for item in found.files:
        target = targets[item.path]
        if os.path.exists(target):
            with open(target, encoding="utf-8", errors="replace") as handle:
                if handle.read() != item.source:
                    raise SourceError(f"{target} exists with other content: not overwritten")
    for item in found.files:
        target = targets[item.path]
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(item.source)
    return found
