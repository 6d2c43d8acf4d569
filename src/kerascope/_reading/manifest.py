"""The kerascope manifest: what a saved model's custom objects are and where their code was.

Specified in docs/format.md (with a JSON Schema in docs/manifest.schema.json). A ``.keras`` file
carries it under the key ``kerascope_manifest`` of ``metadata.json``, which Keras writes and
never reads; a legacy ``.h5`` file carries it as the root attribute ``kerascope_manifest``. Every
manifest version keeps a reader here. A writer writes the lowest version that holds what it
records (:func:`manifest_version`): version 3 only for a file that needs kerascope's Keras 2
shims, so that a kerascope predating them still reads every other manifest.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

from .bundle import Bundle, BundleError, parse_bundle

if TYPE_CHECKING:
    from typing import Any


__all__ = [
    "LAMBDA_GLOBALS_TF",
    "MANIFEST_KEY",
    "MANIFEST_VERSION",
    "POSITIONAL_ADD_WEIGHT",
    "SHIMS_VERSION",
    "SHIM_NAMES",
    "TIME_DISTRIBUTED_OUTPUT_SHAPE",
    "Manifest",
    "ManifestError",
    "ManifestObject",
    "NeededShim",
    "manifest_version",
    "parse_manifest",
]

MANIFEST_KEY = "kerascope_manifest"
MANIFEST_VERSION = 2  # 2: an optional source bundle (docs/format.md)
SHIMS_VERSION = 3  # 3: the Keras 2 shims the file needs at every load (docs/format.md)

# The Keras 2 shims a Keras 3 file can record (docs/format.md, "Keras 2 shims"); a reader
# refuses a manifest naming any other, since it could not load the file as recorded.
LAMBDA_GLOBALS_TF = "lambda-globals-tf"
POSITIONAL_ADD_WEIGHT = "positional-add-weight"
TIME_DISTRIBUTED_OUTPUT_SHAPE = "timedistributed-output-shape"
SHIM_NAMES = (LAMBDA_GLOBALS_TF, POSITIONAL_ADD_WEIGHT, TIME_DISTRIBUTED_OUTPUT_SHAPE)


class ManifestError(ValueError):
    """A manifest that does not follow any known version of the format."""


class ManifestObject(Record):
    """One custom object as the saving process knew it.

    Attributes:
        key: The name Keras looks it up under (as in the model config).
        kinds: What it is used as (``layer``, ``loss`` ...).
        module: The module that defined it (``__main__`` for scripts and notebooks).
        qualname: Its qualified name in that module.
        file: The defining file, relative to its package's or source's root
            (``mypkg/layers.py``); None when there is no file.
        sha256: The SHA-256 of that file when saved.
        distribution: The installed distribution the file belongs to, if any.
        distribution_version: That distribution's version.
    """

    key: str
    kinds: tuple[str, ...]
    module: str | None
    qualname: str | None
    file: str | None
    sha256: str | None
    distribution: str | None = None
    distribution_version: str | None = None


class NeededShim(Record):
    """A Keras 2 shim kerascope applies at every load of the file (manifest version 3).

    Attributes:
        name: One of :data:`SHIM_NAMES`.
        changes: What to change in the custom code so that plain Keras 3 loads the file
            without the shim, one sentence per place.
    """

    name: str
    changes: tuple[str, ...]


def manifest_version(shims: tuple[NeededShim, ...]) -> int:
    """The version a writer writes: 3 when the file needs shims, else the current version 2.

    Example:
        >>> manifest_version(()), manifest_version((NeededShim("positional-add-weight", ()),))
        (2, 3)
    """
    return SHIMS_VERSION if shims else MANIFEST_VERSION


class Manifest(Record):
    """The manifest of one saved model.

    Attributes:
        bundle: The source bundle the model carries (version 2), or None.
        shims: The Keras 2 shims kerascope must apply when it loads the file (version 3).
    """

    version: int
    kerascope_version: str
    python_version: str
    keras_version: str | None
    backend: str | None
    objects: tuple[ManifestObject, ...]
    bundle: Bundle | None = None
    shims: tuple[NeededShim, ...] = ()

    def find(self, key: str) -> ManifestObject | None:
        """The entry for a custom-object key, if the manifest has one."""
        return next((entry for entry in self.objects if entry.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as written into the file (version 1 has no bundle, 2 no shims).

        Example:
            >>> Manifest(2, "0.1.0", "3.11.7", "3.15.1", "tensorflow", ()).to_dict()["bundle"]
        """
        written: dict[str, Any] = {
            "version": self.version,
            "kerascope_version": self.kerascope_version,
            "python_version": self.python_version,
            "keras_version": self.keras_version,
            "backend": self.backend,
            "objects": [{**entry._asdict(), "kinds": list(entry.kinds)} for entry in self.objects],
        }
        if self.version >= 2:
            written["bundle"] = self.bundle.to_dict() if self.bundle is not None else None
        if self.version >= SHIMS_VERSION:
            written["shims"] = [
                {"name": shim.name, "changes": list(shim.changes)} for shim in self.shims
            ]
        return written


def parse_manifest(data: object) -> Manifest:
    """Read a manifest of any known version.

    Raises:
        ManifestError: The data is not a manifest of a known version.

    Example:
        >>> parse_manifest({"version": 1, "kerascope_version": "0.1.0", "python_version": "3.11",
        ...                 "keras_version": "3.15.1", "backend": "jax", "objects": []}).backend
        'jax'
    """
    if not isinstance(data, dict):
        raise ManifestError("the manifest is not a JSON object")
    version = data.get("version")
    if version == 1:
        return _parse_version_1(data)
    if version == 2:
        return _parse_version_2(data)
    if version == SHIMS_VERSION:
        return _parse_version_3(data)
    raise ManifestError(
        f"unknown manifest version {version!r} (this kerascope reads versions 1, 2 and 3)"
    )


def _parse_version_3(data: dict[str, Any]) -> Manifest:
    """Version 2 plus ``shims``: the Keras 2 shims kerascope applies at every load."""
    shims = data.get("shims")
    if not isinstance(shims, list):
        raise ManifestError("the manifest's 'shims' is not a list")
    needed: dict[str, NeededShim] = {}
    for item in shims:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in SHIM_NAMES:
            raise ManifestError(
                f"the file needs kerascope's Keras 2 shim {name!r}, which this kerascope does "
                f"not know (it knows {', '.join(SHIM_NAMES)}): upgrade kerascope"
            )
        if name in needed:
            raise ManifestError(f"the manifest names the shim {name!r} twice")
        changes = item.get("changes")
        needed[name] = NeededShim(
            name, tuple(str(c) for c in changes) if isinstance(changes, list) else ()
        )
    parsed = _parse_version_2(data)
    return parsed._replace(version=SHIMS_VERSION, shims=tuple(needed.values()))


def _parse_version_2(data: dict[str, Any]) -> Manifest:
    """Version 1 plus ``bundle``: the source of the custom code, pinned by hash."""
    try:
        bundle = parse_bundle(data.get("bundle"))
    except BundleError as error:
        raise ManifestError(f"the manifest's bundle is unreadable: {error}") from None
    return _parse_version_1(data)._replace(version=2, bundle=bundle)


def _parse_version_1(data: dict[str, Any]) -> Manifest:
    objects = data.get("objects")
    if not isinstance(objects, list):
        raise ManifestError("the manifest's 'objects' is not a list")
    entries = []
    for item in objects:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ManifestError("a manifest object has no 'key'")
        kinds = item.get("kinds", [])
        entries.append(
            ManifestObject(
                key=item["key"],
                kinds=tuple(str(kind) for kind in kinds) if isinstance(kinds, list) else (),
                module=_text(item.get("module")),
                qualname=_text(item.get("qualname")),
                file=_text(item.get("file")),
                sha256=_text(item.get("sha256")),
                distribution=_text(item.get("distribution")),
                distribution_version=_text(item.get("distribution_version")),
            )
        )
    return Manifest(
        version=1,
        kerascope_version=str(data.get("kerascope_version", "?")),
        python_version=str(data.get("python_version", "?")),
        keras_version=_text(data.get("keras_version")),
        backend=_text(data.get("backend")),
        objects=tuple(entries),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
