"""The scan of an unzipped ``.keras`` directory: every member must be a regular file inside it.

Keras opens the members of the directory form by name (``config.json``, the weights file,
``assets/**``) and so follows symbolic links, reads through hard links to files elsewhere, and
blocks on FIFOs. Each such member is a ``high`` finding; nothing is followed or opened to find
them (see :mod:`kerascope._reading.directory`).
"""

from __future__ import annotations

from kerascope._reading.directory import KIND_WORDS, DirectoryMember, list_members

from .findings import Finding

__all__ = ["directory_findings"]

_CODES = {
    "symlink": "directory-symlink",
    "hard-link": "directory-hard-link",
}


def directory_findings(path: str) -> list[Finding]:
    """A finding for every member of the model directory ``path`` that is not a regular file.

    Codes: ``directory-symlink`` (a symbolic link, wherever it points, even inside),
    ``directory-hard-link`` (a regular file with more than one link: the same bytes are also a
    file elsewhere), ``directory-special-file`` (FIFO, device, socket), all ``high``; and
    ``directory-too-large`` (``medium``) when the walk stopped at its bounds.

    Example:
        >>> [f.code for f in directory_findings("model_dir")]  # doctest: +SKIP
        ['directory-symlink']
    """
    members, complete = list_members(path)
    findings = [_finding(member) for member in members if not member.is_safe]
    if not complete:
        findings.append(
            Finding(
                "medium",
                "directory-too-large",
                f"the directory has more than {len(members)} entries or nests too deeply; "
                "the audit stopped there",
                "a Keras model directory holds a few files: find out what the rest is",
                "member:",
            )
        )
    return findings


def _finding(member: DirectoryMember) -> Finding:
    code = _CODES.get(member.kind, "directory-special-file")
    what = KIND_WORDS.get(member.kind, "special file")
    if member.kind == "symlink":
        what += f" to {member.detail!r}"
    return Finding(
        "high",
        code,
        f"member {member.name!r} of the model directory is a {what}; Keras opens it by name "
        "and would read whatever it points to (or block, for a FIFO)",
        "do not load: replace it with a regular file, or load from a copy made with "
        "`cp -rL` after checking what it points to",
        f"member:{member.name}",
    )
