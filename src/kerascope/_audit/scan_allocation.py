"""The scan for allocation bombs declared by the config alone, and config/weights mismatches.

Keras creates and initialises every variable the config implies before it reads any weight, so
a config can exhaust memory whatever the weights file holds. The variables are estimated by
:mod:`.allocation`; above the memory budget (:mod:`kerascope._common.budget`) the file is refused.
The estimate of each layer of the outermost model is also compared with what the weights file
stores at that layer's path (``layers/<name>`` in ``.keras`` weights, ``model_weights/<name>`` in
legacy ``.h5``): a config that implies far more than the weights store is a mismatch.
"""

from __future__ import annotations

import os

from kerascope._common.budget import BUDGET_VARIABLE, memory_budget
from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.directory import regular_file_size
from kerascope._reading.modelfile import read_model_file
from kerascope.errors import ModelFileError

from .allocation import LayerEstimate, estimate_variables
from .findings import Finding

if TYPE_CHECKING:
    from kerascope._reading.archive import ZipMember

__all__ = ["allocation_findings", "estimate_findings"]

_WEIGHTS = "model.weights.h5"
_MISMATCH_SLACK = 2**20  # elements: below a million, a wrong guess costs nothing
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def allocation_findings(
    path: str, file_format: str | None, members: dict[str, ZipMember]
) -> list[Finding]:
    """Allocation bombs and config/weights mismatches of the model file at ``path``.

    Example:
        >>> [f.code for f in allocation_findings("bomb.keras", "keras", {})]  # doctest: +SKIP
        ['allocation-bomb', 'config-weights-mismatch']
    """
    try:
        config = read_model_file(path).config
    except ModelFileError:
        return []  # reported as unreadable by the scan itself
    estimates = estimate_variables(config)
    return estimate_findings(estimates, _stored(path, file_format, members), file_format)


def estimate_findings(
    estimates: list[LayerEstimate],
    stored: dict[str, tuple[int, ...]] | None,
    file_format: str | None,
    budget: int | None = None,
) -> list[Finding]:
    """The findings for ``estimates``, given the stored dataset shapes (``None``: unknown).

    Codes: ``allocation-bomb`` (``high``: one layer, or all together, over the budget) and
    ``config-weights-mismatch`` (``medium``: the config implies at least twice the elements,
    and a million more, than the weights file stores for the layer).

    Example:
        >>> bomb = LayerEstimate("$.config.layers[1]", "d", "Dense", 10**10, 10**10, 4,
        ...                      "layers/dense", "model_weights/d", True)
        >>> [f.code for f in estimate_findings([bomb], {}, "keras", budget=2**30)]
        ['allocation-bomb', 'config-weights-mismatch']
    """
    limit = memory_budget() if budget is None else budget
    findings = []
    for estimate in estimates:
        if estimate.bytes > limit:
            findings.append(_bomb(estimate.json_path, estimate.name, estimate.bytes, limit))
    total = sum(estimate.bytes for estimate in estimates)
    if not findings and total > limit:
        findings.append(_bomb("$", "the model", total, limit))
    if stored is None:
        return findings
    for estimate in estimates:
        where = estimate.h5_path if file_format == "h5" else estimate.keras_path
        if where is None:
            continue
        prefix = f"/{where}/"
        kept = sum(_elements(shape) for name, shape in stored.items() if name.startswith(prefix))
        if estimate.elements > 2 * kept + _MISMATCH_SLACK:
            findings.append(
                Finding(
                    "medium",
                    "config-weights-mismatch",
                    f"layer {estimate.name!r} ({estimate.class_name}) implies "
                    f"{estimate.elements:,} variable elements but the weights file stores "
                    f"{kept:,} at {where}: Keras allocates what the config says, then fails "
                    "to load the weights",
                    "find out why the config and the weights disagree before loading",
                    estimate.json_path,
                )
            )
    return findings


def _bomb(json_path: str, name: str, size: int, limit: int) -> Finding:
    return Finding(
        "high",
        "allocation-bomb",
        f"{name} makes Keras create {_size(size)} of variables before reading any weight; the "
        f"memory budget is {_size(limit)}",
        f"do not load this file; if the model really is this large, raise the budget with "
        f"{BUDGET_VARIABLE}=<bytes> (or allow 'allocation-bomb')",
        json_path,
    )


def _stored(
    path: str, file_format: str | None, members: dict[str, ZipMember]
) -> dict[str, tuple[int, ...]] | None:
    """The shapes of the datasets of the HDF5 weights, or ``None`` if there are none to read."""
    from kerascope._reading.archive import ZipError, member_data_offset
    from kerascope._reading.hdf5 import H5ReadError
    from kerascope._reading.hdf5_child import h5_datasets_isolated

    try:
        if file_format == "h5":
            return h5_datasets_isolated(path)
        if file_format == "keras" and _WEIGHTS in members and members[_WEIGHTS].method == 0:
            member = members[_WEIGHTS]
            with open(path, "rb") as handle:
                offset = member_data_offset(handle, member)
            return h5_datasets_isolated(path, (offset, member.compressed_size))
        if file_format == "keras-dir" and regular_file_size(path, _WEIGHTS) is not None:
            return h5_datasets_isolated(os.path.join(path, _WEIGHTS))
    except (ZipError, OSError, ValueError, H5ReadError):
        return None  # reported by the weights scan
    return None


def _elements(shape: tuple[int, ...]) -> int:
    count = 1
    for dimension in shape:
        count *= dimension
    return count


def _size(count: int) -> str:
    value, index = float(count), 0
    while value >= 1024 and index < len(_UNITS) - 1:
        value /= 1024
        index += 1
    return f"{value:.3g} {_UNITS[index]}"
