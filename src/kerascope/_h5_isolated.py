"""Run the HDF5 readers of ``_h5.py`` in a child process, with a time limit.

HDF5 is C code. On some malformed files (found by this project's fuzzer) reading one root
attribute never returns, and a Python signal cannot interrupt it; a crash would take the caller
down with it. Untrusted files are therefore read by a short-lived child process that is killed
if it takes too long. The caller never imports h5py or numpy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ._h5 import H5Contents, H5Issue, H5ReadError
from ._record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["TIMEOUT_SECONDS", "audit_h5_isolated", "read_h5_root_isolated"]

# KERASCOPE_HDF5_TIMEOUT overrides it (seconds); reading a sound file takes well under one.
TIMEOUT_SECONDS = float(os.environ.get("KERASCOPE_HDF5_TIMEOUT", "60"))
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from kerascope._h5 import serve_request; serve_request(sys.argv[2])"
)


def read_h5_root_isolated(path: str, timeout: float = TIMEOUT_SECONDS) -> H5Contents:
    """:func:`kerascope._h5.read_h5_root`, in a child process.

    Example:
        >>> read_h5_root_isolated("model.h5").attributes["keras_version"]  # doctest: +SKIP
        '3.15.1'
    """
    answer = _ask({"operation": "root", "path": os.path.abspath(path)}, timeout)
    return H5Contents(
        answer["attributes"], tuple(answer["attribute_names"]), tuple(answer["root_members"])
    )


def audit_h5_isolated(
    path: str, window: tuple[int, int] | None = None, timeout: float = TIMEOUT_SECONDS
) -> list[H5Issue]:
    """:func:`kerascope._h5.audit_h5`, in a child process; ``window`` is (offset, length) of a
    stored zip member inside ``path``.

    Example:
        >>> audit_h5_isolated("model.h5")  # doctest: +SKIP
        []
    """
    request = {"operation": "audit", "path": os.path.abspath(path), "window": window}
    answer = _ask(request, timeout)
    return [H5Issue(*issue) for issue in answer["issues"]]


def _ask(request: Mapping[str, object], timeout: float) -> dict[str, Any]:
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, _PACKAGE_PARENT, json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise H5ReadError(
            f"the HDF5 library did not finish reading the file in {timeout:g} s "
            "(a malformed file can make it loop forever)"
        ) from None
    if result.returncode < 0:
        raise H5ReadError(
            f"the HDF5 library crashed reading the file (signal {-result.returncode})"
        )
    try:
        answer: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        last = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise H5ReadError(f"the HDF5 reader failed: {last}") from None
    if "error" in answer:
        raise H5ReadError(str(answer["error"]))
    return answer
