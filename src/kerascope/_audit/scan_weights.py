"""The scan of a model's weights: HDF5 links, external storage, virtual datasets, shape bombs;
``.npz`` headers (:mod:`.scan_npz`); the variables the config makes Keras allocate, against
the memory budget and the stored shapes (:mod:`.scan_allocation`); and, for the directory form,
its members (:mod:`.scan_directory`).

The weights are read by :mod:`kerascope._reading.hdf5` in a time-limited child process
(:mod:`kerascope._reading.hdf5_child`), so that a hostile file can neither hang nor crash the
scan; for a ``.keras`` archive the weights member is read in place, never extracted.
"""

from __future__ import annotations

import os

from kerascope._reading.archive import ZipError, ZipMember
from kerascope._reading.directory import regular_file_size

from .findings import Finding
from .scan_allocation import allocation_findings
from .scan_directory import directory_findings
from .scan_npz import NPZ_WEIGHTS, npz_findings

__all__ = ["weights_findings"]

_WEIGHTS = "model.weights.h5"


def weights_findings(
    path: str, file_format: str | None, members: dict[str, ZipMember]
) -> list[Finding]:
    """What is wrong with the weights (and, for a directory, the members) of a model file.

    Args:
        path: The model file (or unzipped directory).
        file_format: ``"keras"``, ``"keras-dir"``, ``"h5"``, or ``None`` when unknown (no
            weights are read then).
        members: The archive's members, for ``"keras"``.

    Example:
        >>> weights_findings("model.h5", "h5", {})  # doctest: +SKIP
        []
    """
    findings: list[Finding] = []
    if os.path.isdir(path):
        findings += directory_findings(path)
        if regular_file_size(path, NPZ_WEIGHTS) is not None:
            findings += npz_findings(os.path.join(path, NPZ_WEIGHTS))
    elif file_format == "keras" and NPZ_WEIGHTS in members:
        findings += npz_findings(path, members[NPZ_WEIGHTS])
    elif path.endswith(".npz") and os.path.isfile(path):
        findings += npz_findings(path)
    findings += _h5_findings(path, file_format, members)
    return findings + allocation_findings(path, file_format, members)


def _h5_findings(
    path: str, file_format: str | None, members: dict[str, ZipMember]
) -> list[Finding]:
    from kerascope._reading.hdf5 import H5ReadError
    from kerascope._reading.hdf5_child import audit_h5_isolated

    try:
        if file_format == "h5":
            issues = audit_h5_isolated(path)
        elif file_format == "keras" and _WEIGHTS in members:
            member = members[_WEIGHTS]
            if member.method != 0:
                return [
                    Finding(
                        "info",
                        "compressed-weights",
                        "the weights member is compressed; it was not audited",
                        "Keras writes it uncompressed: find out who repacked it",
                        f"member:{_WEIGHTS}",
                    )
                ]
            from kerascope._reading.archive import member_data_offset

            with open(path, "rb") as handle:
                offset = member_data_offset(handle, member)
            issues = audit_h5_isolated(path, (offset, member.compressed_size))
        elif file_format == "keras-dir" and regular_file_size(path, _WEIGHTS) is not None:
            issues = audit_h5_isolated(os.path.join(path, _WEIGHTS))
        else:
            return []
    except (ZipError, OSError, ValueError) as error:
        return [
            Finding(
                "medium",
                "hdf5-unreadable",
                f"the weights member cannot be read: {error}",
                "the weights cannot be audited; do not load",
                f"member:{_WEIGHTS}",
            )
        ]
    except H5ReadError as error:
        return [
            Finding(
                "high" if "did not finish" in str(error) or "crashed" in str(error) else "medium",
                "hdf5-unreadable",
                str(error),
                "the weights cannot be audited; do not load",
                "h5:/",
            )
        ]
    return [
        Finding(
            "medium" if issue.code == "hdf5-unreadable" else "high",
            issue.code,
            issue.message,
            "do not load: Keras would read outside the file or exhaust memory",
            f"h5:{issue.h5_path}",
        )
        for issue in issues
    ]
