"""What a file's kerascope manifest says about the code and versions that will load it."""

from __future__ import annotations

from kerascope._common.backend import active_backend
from kerascope._common.files import file_sha256
from kerascope._common.record import TYPE_CHECKING

from .resolve import relative

if TYPE_CHECKING:
    from collections.abc import Sequence

    from kerascope._reading.manifest import Manifest

    from .resolve import Resolution

__all__ = ["drift", "keras_here", "version_notes"]


def drift(manifest: Manifest | None, resolutions: Sequence[Resolution]) -> list[tuple[str, str]]:
    """Objects whose defining file differs from the one the manifest recorded."""
    if manifest is None:
        return []
    drifted = []
    for resolution in resolutions:
        entry = manifest.find(resolution.object.key)
        if entry is None or not entry.sha256 or not resolution.file:
            continue
        if file_sha256(resolution.file) != entry.sha256:
            drifted.append(
                (
                    resolution.object.key,
                    f"'{resolution.object.key}' was saved with {entry.file} "
                    f"(sha256 {entry.sha256[:12]}); the file that will be imported, "
                    f"{relative(resolution.file)}, has changed since",
                )
            )
    return drifted


def version_notes(manifest: Manifest | None, neutrality: str = "") -> list[str]:
    """What differs from the versions and the backend the manifest recorded.

    ``neutrality`` says what the custom code's imports tell about the backends it runs on; it is
    added to the note of a different backend.
    """
    if manifest is None:
        return []
    from importlib import metadata

    notes = []
    installed = _installed_version("keras")
    if manifest.keras_version and installed and manifest.keras_version != installed:
        notes.append(f"saved with Keras {manifest.keras_version}; this is Keras {installed}")
    backend = active_backend()
    if manifest.backend and manifest.backend != backend:
        said = f"; {neutrality}" if neutrality else ""
        notes.append(
            f"saved with the {manifest.backend} backend; this process uses {backend}{said}"
        )
    for entry in manifest.objects:
        if entry.distribution and entry.distribution_version:
            try:
                version = metadata.version(entry.distribution)
            except metadata.PackageNotFoundError:
                continue
            if version != entry.distribution_version:
                notes.append(
                    f"'{entry.key}' was saved with {entry.distribution} "
                    f"{entry.distribution_version}; {version} is installed"
                )
    return list(dict.fromkeys(notes))


def keras_here() -> tuple[str | None, str]:
    """The installed Keras version and the backend Keras will use here, without importing it.

    Example:
        >>> version, backend = keras_here()
        >>> isinstance(backend, str)
        True
    """
    return _installed_version("keras"), active_backend()


def _installed_version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
