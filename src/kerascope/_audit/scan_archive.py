"""The scan of a ``.keras`` archive's members: names, sizes and kinds, from the central directory.

Nothing is extracted or decompressed: every check reads what the zip's central directory
declares (see :mod:`kerascope._reading.archive`).
"""

from __future__ import annotations

from kerascope._reading.archive import ZipError, ZipMember, read_members
from kerascope._reading.modelfile import MAX_CONFIG_BYTES

from .findings import Finding

__all__ = ["archive_findings"]

_EXECUTABLE_SUFFIXES = (
    ".py",
    ".pyc",
    ".pyo",
    ".so",
    ".dll",
    ".dylib",
    ".exe",
    ".sh",
    ".pkl",
    ".pickle",
    ".bat",
    ".cmd",
    ".ps1",
    ".jar",
)
_BOMB_SIZE = 2**30  # a member declaring more than 1 GiB ...
_BOMB_RATIO = 100  # ... at more than 100 times its stored size


def archive_findings(path: str) -> tuple[dict[str, ZipMember], list[Finding]]:
    """The archive's members by name, and what is wrong with them.

    An archive whose central directory cannot be read (truncated, or declaring more members than
    the reader accepts) is one ``damaged-archive`` finding and no members.

    Example:
        >>> members, findings = archive_findings("model.keras")  # doctest: +SKIP
        >>> sorted(members), findings  # doctest: +SKIP
        (['config.json', 'metadata.json', 'model.weights.h5'], [])
    """
    try:
        with open(path, "rb") as handle:
            members = read_members(handle)
    except ZipError as error:
        return {}, [Finding("high", "damaged-archive", str(error), "do not load")]
    findings = []
    for name, member in members.items():
        findings += _member_findings(name, member)
    return members, findings


def _member_findings(name: str, member: ZipMember) -> list[Finding]:
    where = f"member:{name}"
    findings = []
    if _escapes(name):
        findings.append(
            Finding(
                "high",
                "path-traversal",
                f"archive member {name!r} points outside the archive when extracted",
                "do not load: Keras extracts assets next to temporary files",
                where,
            )
        )
    if (member.external_attributes >> 16) & 0o170000 == 0o120000:
        findings.append(
            Finding(
                "high",
                "symlink-member",
                f"archive member {name!r} is a symbolic link",
                "do not load",
                where,
            )
        )
    if member.size > _BOMB_SIZE and member.size > _BOMB_RATIO * max(member.compressed_size, 1):
        findings.append(
            Finding(
                "high",
                "zip-bomb",
                f"archive member {name!r} declares {member.size:,} bytes but stores "
                f"{member.compressed_size:,}",
                "do not load: extracting it would exhaust memory or disk",
                where,
            )
        )
    if name.lower().endswith(_EXECUTABLE_SUFFIXES):
        findings.append(
            Finding(
                "medium",
                "unexpected-member",
                f"archive member {name!r} is code or a pickle; Keras never writes one and "
                "never reads it, but something else might",
                "remove it, or find out who added it",
                where,
            )
        )
    if name == "config.json" and member.size > MAX_CONFIG_BYTES:
        findings.append(
            Finding(
                "high",
                "oversized-config",
                f"config.json declares {member.size:,} bytes",
                "do not load",
                where,
            )
        )
    return findings


def _escapes(name: str) -> bool:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return True
    return ".." in normalized.split("/")
