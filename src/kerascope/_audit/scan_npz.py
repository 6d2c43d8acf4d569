"""The scan of ``.npz`` weights: pickled object arrays, shape bombs, names outside the tree.

Keras 3.15 can store a model's weights as ``model.weights.npz`` (in the ``.keras`` zip or the
directory form). Only the ``.npy`` headers are read (:mod:`kerascope._reading.npy`): no numpy,
no data.
"""

from __future__ import annotations

import os

from kerascope._common.budget import memory_budget
from kerascope._reading.archive import ZipError, ZipMember, member_data_offset
from kerascope._reading.npy import NOT_AN_ARRAY, NpyHeader, read_npz_headers
from kerascope._reading.window import FileWindow

from .findings import Finding

__all__ = ["npz_findings"]

NPZ_WEIGHTS = "model.weights.npz"
_BOMB_FLOOR = 16 * 2**20  # a member declaring more than 16 MiB ...
_BOMB_RATIO = 100  # ... at more than 100 times what it stores (Keras's own ratio)
_ABSURD_DIMENSION = 2**31
_MAX_NAME = 1000


def npz_findings(path: str, member: ZipMember | None = None) -> list[Finding]:
    """Everything wrong with the ``.npz`` at ``path``, or in its archive ``member``.

    Codes: ``npz-pickle`` (an object array: numpy unpickles it when allowed to), ``npz-shape-bomb``
    (a header declaring far more than the member stores, or more than the memory budget), all
    ``high``; ``npz-unexpected-member`` (a name that is not an array of the weights tree) and
    ``npz-unreadable`` (``medium``).

    Example:
        >>> [f.code for f in npz_findings("model_dir/model.weights.npz")]  # doctest: +SKIP
        ['npz-pickle']
    """
    where = f"member:{member.name}" if member is not None else "npz:"
    try:
        with open(path, "rb") as handle:
            if member is None:
                headers, problems, complete = read_npz_headers(handle)
            elif member.method != 0:
                return [_unreadable(where, "the .npz member is compressed; it was not audited")]
            else:
                offset = member_data_offset(handle, member)
                with FileWindow(handle, offset, member.compressed_size) as window:
                    headers, problems, complete = read_npz_headers(window)  # type: ignore[arg-type]
    except (ZipError, OSError) as error:
        return [_unreadable(where, f"the .npz weights cannot be read: {error}")]
    findings = [
        _member_problem(name, why) if why == NOT_AN_ARRAY else _unreadable(f"npz:{name}", why)
        for name, why in problems
    ]
    for header in headers:
        findings += _header_findings(header)
    if not complete:
        findings.append(_unreadable(where, "the .npz has too many members; the audit stopped"))
    return findings


def _header_findings(header: NpyHeader) -> list[Finding]:
    where = f"npz:{header.name[:_MAX_NAME]}"
    findings = []
    if _escapes(header.name):
        findings.append(_member_problem(header.name, "is not a name of the weights tree"))
    if header.has_objects:
        findings.append(
            Finding(
                "high",
                "npz-pickle",
                f"array {header.name!r} holds Python objects (dtype {header.descr}): numpy "
                "stores them as a pickle, which runs code when unpickled. Keras 3.15 writes its "
                ".npz weights this way and then cannot load them (allow_pickle=False)",
                "do not load it with allow_pickle; save the weights as .h5 (the default)",
                where,
            )
        )
    declared = header.declared_bytes
    huge_dimension = any(dimension >= _ABSURD_DIMENSION for dimension in header.shape)
    expanding = declared > _BOMB_FLOOR and declared > _BOMB_RATIO * max(header.stored, 1)
    if huge_dimension or expanding or declared > memory_budget():
        findings.append(
            Finding(
                "high",
                "npz-shape-bomb",
                f"array {header.name!r} declares shape {header.shape} ({declared:,} bytes) "
                f"but stores {header.stored:,} bytes: numpy allocates the declared size first",
                "do not load this file",
                where,
            )
        )
    return findings


def _escapes(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return (
        name.startswith("/")
        or "\\" in name
        or ".." in parts
        or "" in parts
        or len(name) > _MAX_NAME
        or any(ord(char) < 32 for char in name)
        or (len(name) > 1 and name[1] == ":")
    )


def _member_problem(name: str, why: str) -> Finding:
    return Finding(
        "medium",
        "npz-unexpected-member",
        f".npz member {name[:200]!r} {why}",
        "find out who added it: Keras writes one .npy array per layer path",
        f"npz:{name[:_MAX_NAME]}",
    )


def _unreadable(where: str, message: str) -> Finding:
    return Finding("medium", "npz-unreadable", message, "the weights cannot be audited", where)


def npz_weights_path(directory: str) -> str:
    """The ``.npz`` weights file of a model directory."""
    return os.path.join(directory, NPZ_WEIGHTS)
