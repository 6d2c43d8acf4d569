"""The source bundle of a manifest (version 2): the custom code a model carries, pinned by hash.

Specified in docs/format.md ("The bundle"). A bundle holds the source text of the files that
define a model's custom objects and of the local modules they import, each with its size and
SHA-256, and one digest over the whole bundle. The digest is always computed here from the
source text, never taken from the file: a bundle whose recorded hashes do not match its text
is reported as damaged, and trust is given to the computed digest only.

Nothing here runs the code it holds.
"""

from __future__ import annotations

import hashlib

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DIGEST_PREFIX",
    "MAX_BUNDLE_BYTES",
    "MAX_BUNDLE_FILES",
    "Bundle",
    "BundleError",
    "BundleFile",
    "bundle_digest",
    "expected_path",
    "parse_bundle",
]

MAX_BUNDLE_BYTES = 8 * 1024 * 1024  # the source text of all files together, UTF-8
MAX_BUNDLE_FILES = 1_000
DIGEST_PREFIX = "sha256:"  # how a bundle digest is named in trust lists: sha256:<hex>
_DIGEST_HEADER = "kerascope-bundle-1\n"


class BundleError(ValueError):
    """A bundle that does not follow the format, or is larger than the limits."""


class BundleFile(Record):
    """One bundled source file.

    Attributes:
        module: The module it is imported as (``mypkg.layers``).
        path: Its path relative to the import root, ``/``-separated (``mypkg/layers.py``).
        source: Its source text.
        sha256: The SHA-256 of the UTF-8 source text, as recorded in the file.
        size: The byte size of the UTF-8 source text, as recorded.
        local: The bundled modules it imports (anywhere in the file).
        installed: The top-level packages it imports that are installed, not bundled.
        standard: The standard-library modules it imports.
    """

    module: str
    path: str
    source: str
    sha256: str
    size: int
    local: tuple[str, ...] = ()
    installed: tuple[str, ...] = ()
    standard: tuple[str, ...] = ()

    @property
    def is_package(self) -> bool:
        """Whether the file is a package's ``__init__.py``."""
        return self.path.rsplit("/", 1)[-1] == "__init__.py"

    @property
    def actual_sha256(self) -> str:
        """The SHA-256 of the source text as it is now.

        Example:
            >>> BundleFile("m", "m.py", "", "", 0).actual_sha256[:12]
            'e3b0c44298fc'
        """
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The file as written into the manifest."""
        return {
            "module": self.module,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "imports": {
                "local": list(self.local),
                "installed": list(self.installed),
                "standard": list(self.standard),
            },
            "source": self.source,
        }


class Bundle(Record):
    """The source bundle of one model file.

    Attributes:
        files: The bundled files, sorted by module name.
        recorded_digest: The digest the file claims (see :attr:`digest` for the real one).
        packages: Installed distributions the bundled code imports -> their versions where the
            bundle was made.
    """

    files: tuple[BundleFile, ...]
    recorded_digest: str
    packages: dict[str, str] = {}  # noqa: RUF012 (a record field, never mutated)

    @property
    def digest(self) -> str:
        """The bundle digest, computed from the source text (see :func:`bundle_digest`)."""
        return bundle_digest(self.files)

    @property
    def trust_name(self) -> str:
        """What to pass to ``trust=`` / ``--trust`` to trust exactly this code.

        Example:
            >>> Bundle((), "").trust_name[:7]
            'sha256:'
        """
        return f"{DIGEST_PREFIX}{self.digest}"

    @property
    def size(self) -> int:
        """The bytes of all source text."""
        return sum(len(item.source.encode("utf-8")) for item in self.files)

    @property
    def modules(self) -> dict[str, BundleFile]:
        """Module name -> its bundled file."""
        return {item.module: item for item in self.files}

    def damage(self) -> list[str]:
        """Where the recorded hashes and sizes disagree with the source text, one line each.

        Example:
            >>> Bundle((BundleFile("m", "m.py", "x = 1\\n", "0" * 64, 6),), "0" * 64).damage()[0]
            'm.py: recorded sha256 000000000000, the text has 9e26bf369911'
        """
        lines = []
        for item in self.files:
            if item.sha256 != item.actual_sha256:
                lines.append(
                    f"{item.path}: recorded sha256 {item.sha256[:12]}, the text has "
                    f"{item.actual_sha256[:12]}"
                )
            elif item.size != len(item.source.encode("utf-8")):
                lines.append(f"{item.path}: recorded size {item.size} does not match its text")
        if not lines and self.recorded_digest != self.digest:
            lines.append(
                f"recorded digest {self.recorded_digest[:12]} does not match the files "
                f"({self.digest[:12]})"
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        """The bundle as written into the manifest.

        Example:
            >>> sorted(Bundle((), "").to_dict())
            ['digest', 'files', 'packages', 'size']
        """
        return {
            "digest": self.digest,
            "size": self.size,
            "packages": [
                {"distribution": name, "version": version}
                for name, version in sorted(self.packages.items())
            ],
            "files": [item.to_dict() for item in self.files],
        }


def bundle_digest(files: tuple[BundleFile, ...] | list[BundleFile]) -> str:
    """The digest of a bundle: SHA-256 of its canonical listing, computed from the text.

    The listing is the line ``kerascope-bundle-1``, then one line per file sorted by module
    name: ``module``, TAB, ``path``, TAB, the hex SHA-256 of the UTF-8 source text, each
    line ended by ``\\n``, all encoded as UTF-8.

    Example:
        >>> bundle_digest([])[:12]
        '88c8b768e7b7'
    """
    lines = [_DIGEST_HEADER]
    for item in sorted(files, key=lambda entry: entry.module):
        lines.append(f"{item.module}\t{item.path}\t{item.actual_sha256}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def parse_bundle(data: object) -> Bundle | None:
    """Read the ``bundle`` key of a version 2 manifest (None when the model has none).

    Raises:
        BundleError: It is malformed, or above :data:`MAX_BUNDLE_BYTES` /
            :data:`MAX_BUNDLE_FILES`.

    Example:
        >>> parse_bundle(None) is None
        True
        >>> parse_bundle({"digest": "", "files": [{"module": "m", "path": "m.py", "size": 0,
        ...     "sha256": "", "source": ""}]}).files[0].module
        'm'
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BundleError("the bundle is not a JSON object")
    items = data.get("files")
    if not isinstance(items, list):
        raise BundleError("the bundle's 'files' is not a list")
    if len(items) > MAX_BUNDLE_FILES:
        raise BundleError(f"the bundle has {len(items)} files (the limit is {MAX_BUNDLE_FILES})")
    files = [_parse_file(item) for item in items]
    total = sum(len(item.source.encode("utf-8")) for item in files)
    if total > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle holds {total} bytes (the limit is {MAX_BUNDLE_BYTES})")
    modules = [item.module for item in files]
    if len(set(modules)) != len(modules):
        raise BundleError("the bundle holds one module twice")
    packages = data.get("packages")
    return Bundle(
        tuple(sorted(files, key=lambda item: item.module)),
        str(data.get("digest", "")),
        {
            str(entry.get("distribution")): str(entry.get("version"))
            for entry in (packages if isinstance(packages, list) else [])
            if isinstance(entry, dict)
        },
    )


def _parse_file(item: object) -> BundleFile:
    if not isinstance(item, dict):
        raise BundleError("a bundled file is not a JSON object")
    module, path, source = item.get("module"), item.get("path"), item.get("source")
    if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
        raise BundleError(f"a bundled file has no valid module name ({module!r})")
    if not isinstance(path, str) or path != expected_path(module, path.endswith("__init__.py")):
        raise BundleError(f"bundled module {module!r}: path {path!r} does not match the module")
    if not isinstance(source, str):
        raise BundleError(f"bundled module {module!r} has no source text")
    imports = item.get("imports")
    imports = imports if isinstance(imports, dict) else {}
    size = item.get("size")
    return BundleFile(
        module=module,
        path=path,
        source=source,
        sha256=str(item.get("sha256", "")),
        size=size if isinstance(size, int) else -1,
        local=_names(imports.get("local")),
        installed=_names(imports.get("installed")),
        standard=_names(imports.get("standard")),
    )


def expected_path(module: str, is_package: bool) -> str:
    """The path a bundled module is stored under.

    Example:
        >>> expected_path("pkg.layers", False), expected_path("pkg", True)
        ('pkg/layers.py', 'pkg/__init__.py')
    """
    base = module.replace(".", "/")
    return f"{base}/__init__.py" if is_package else f"{base}.py"


def _names(value: object) -> tuple[str, ...]:
    return tuple(str(name) for name in value) if isinstance(value, list) else ()
