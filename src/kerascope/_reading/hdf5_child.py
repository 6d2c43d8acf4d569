"""Run the HDF5 readers of ``_h5.py`` in a child process, with a time limit.

HDF5 is C code. On some malformed files (found by this project's fuzzer) reading one root
attribute never returns, and a Python signal cannot interrupt it; a crash would take the caller
down with it. Untrusted files are therefore read by a short-lived child process that is killed
if it takes too long. The caller never imports h5py or numpy.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import traceback

from kerascope._common.files import file_identity
from kerascope._common.idle import run_idle_work
from kerascope._common.record import TYPE_CHECKING

from .hdf5 import H5Contents, H5Issue, H5ReadError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "TIMEOUT_SECONDS",
    "audit_h5_isolated",
    "forget_answers",
    "h5_datasets_isolated",
    "read_h5_root_isolated",
    "read_in_process",
]

# KERASCOPE_HDF5_TIMEOUT overrides it (seconds); reading a sound file takes well under one.
TIMEOUT_SECONDS = float(os.environ.get("KERASCOPE_HDF5_TIMEOUT", "60"))
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from kerascope._reading.hdf5 import serve_request; serve_request(sys.argv[2])"
)


def read_h5_root_isolated(path: str, timeout: float | None = None) -> H5Contents:
    """:func:`kerascope._reading.hdf5.read_h5_root`, in a child process.

    The same child also audits the file (:func:`audit_h5_isolated`): both answers are kept
    while the file is unchanged, so inspecting then scanning a file starts one child.

    Example:
        >>> read_h5_root_isolated("model.h5").attributes["keras_version"]  # doctest: +SKIP
        '3.15.1'
    """
    answer = _whole_file(path, timeout)
    if "root_error" in answer:
        raise H5ReadError(answer["root_error"])
    root = answer["root"]
    return H5Contents(
        root["attributes"], tuple(root["attribute_names"]), tuple(root["root_members"])
    )


def audit_h5_isolated(
    path: str, window: tuple[int, int] | None = None, timeout: float | None = None
) -> list[H5Issue]:
    """:func:`kerascope._reading.hdf5.audit_h5`, in a child process; ``window`` is (offset,
    length) of a stored zip member inside ``path``.

    Example:
        >>> audit_h5_isolated("model.h5")  # doctest: +SKIP
        []
    """
    answer = _audit_answer(path, window, timeout)
    return [H5Issue(*issue) for issue in answer["issues"]]


def h5_datasets_isolated(
    path: str, window: tuple[int, int] | None = None, timeout: float | None = None
) -> dict[str, tuple[int, ...]]:
    """The shape of every dataset :func:`audit_h5_isolated` walked, by path (same child, same
    remembered answer: asking for both starts one process).

    Example:
        >>> h5_datasets_isolated("model.h5")["/model_weights/dense/dense/kernel:0"]
        ... # doctest: +SKIP
        (4, 3)
    """
    answer = _audit_answer(path, window, timeout)
    return {entry[0]: tuple(entry[1]) for entry in answer.get("datasets", ())}


def _audit_answer(
    path: str, window: tuple[int, int] | None, timeout: float | None
) -> dict[str, Any]:
    if window is None:
        answer = _whole_file(path, timeout)
    else:
        request = {"operation": "audit", "path": os.path.abspath(path), "window": window}
        answer = _remembered((file_identity(path), tuple(window)), request, timeout)
    if "audit_error" in answer:
        raise H5ReadError(answer["audit_error"])
    return answer


_ANSWERS: dict[object, dict[str, Any]] = {}
_MAX_REMEMBERED = 64


def forget_answers() -> None:
    """Drop the remembered answers (a scan worker, which sees each file once, keeps none).

    Example:
        >>> forget_answers()
    """
    _ANSWERS.clear()


def _whole_file(path: str, timeout: float | None) -> dict[str, Any]:
    request = {"operation": "both", "path": os.path.abspath(path), "window": None}
    return _remembered(file_identity(path), request, timeout)


def _remembered(
    key: object, request: Mapping[str, object], timeout: float | None
) -> dict[str, Any]:
    if key is not None and key in _ANSWERS:
        return _ANSWERS[key]
    answer = _ask(request, TIMEOUT_SECONDS if timeout is None else timeout)
    if key is not None and not (isinstance(key, tuple) and key[0] is None):
        if len(_ANSWERS) >= _MAX_REMEMBERED:
            _ANSWERS.pop(next(iter(_ANSWERS)))
        _ANSWERS[key] = answer
    return answer


_MODE = {"in_process": False}


def read_in_process(enabled: bool = True) -> None:
    """Answer HDF5 requests in this process from now on, instead of in a child per request
    (``enabled=False``: in a child again).

    Only for a process that its parent kills when it hangs and replaces when it dies: the time
    limit and the crash isolation are then the parent's job. The answers are the child's, byte
    for byte (the same JSON, the same error texts).

    Example:
        >>> read_in_process()  # doctest: +SKIP
    """
    _MODE["in_process"] = enabled


def _ask(request: Mapping[str, object], timeout: float) -> dict[str, Any]:
    if _MODE["in_process"]:
        return _ask_here(request)
    started = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-I", "-c", _CHILD, _PACKAGE_PARENT, json.dumps(request)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            run_idle_work()  # this process would only wait: a higher layer may use the time
            stdout, stderr = child.communicate(
                timeout=max(0.0, timeout - (time.monotonic() - started))
            )
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise H5ReadError(
                f"the HDF5 library did not finish reading the file in {timeout:g} s "
                "(a malformed file can make it loop forever)"
            ) from None
        except BaseException:
            child.kill()
            raise
    if child.returncode < 0:
        raise H5ReadError(f"the HDF5 library crashed reading the file (signal {-child.returncode})")
    try:
        answer: dict[str, Any] = json.loads(stdout)
    except json.JSONDecodeError:
        last = (stderr.strip().splitlines() or ["no answer"])[-1]
        raise H5ReadError(f"the HDF5 reader failed: {last}") from None
    return answer


def _ask_here(request: Mapping[str, object]) -> dict[str, Any]:
    from .hdf5 import serve_request

    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            serve_request(json.dumps(request))
    except Exception as error:  # the child's last line of stderr (its traceback's) would be this
        last = traceback.format_exception_only(error)[-1].strip()
        raise H5ReadError(f"the HDF5 reader failed: {last}") from None
    answer: dict[str, Any] = json.loads(output.getvalue())
    return answer
