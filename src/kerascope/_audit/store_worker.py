"""The worker side of the scan pool: scan the files its parent sends, one JSON line each.

A worker is a fresh ``python -I`` process started by :mod:`.store_pool`. Once its imports are
done it says ``{"ready": true}``; then it reads requests
(``{"path": ..., "isolated": false}``) from stdin and answers each with one line on its own copy
of stdout: ``{"report": {...}}`` (the :class:`~kerascope._audit.scan.ScanReport`) or
``{"error": "..."}`` (the problem of a :class:`~kerascope.errors.ModelFileError`).

HDF5 is read in the worker itself (h5py is imported once per worker, not once per file): the
parent kills the worker when a file takes too long and scans that file again with
``"isolated": true``, which reads it the way a single scan does, in a time-limited child per
request. Whatever a library prints goes to stderr, never into the answers.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, TextIO

__all__ = ["serve"]


def serve() -> None:
    """Answer requests on stdin until it closes (worker side; started by the pool).

    Example:
        >>> serve()  # doctest: +SKIP
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not look like answers
    sys.stdout = sys.stderr
    _answer_requests(sys.stdin, answers)


def _answer_requests(requests: TextIO, answers: TextIO) -> None:
    from kerascope._reading import hdf5_child

    from . import scan  # imported before saying ready: not paid by the first file

    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        request = json.loads(line)
        hdf5_child.read_in_process(not request["isolated"])
        answers.write(json.dumps(_answer(request["path"])) + "\n")
        answers.flush()
        # Each file is scanned once here: what a single scan remembers would only hold memory.
        hdf5_child.forget_answers()
        scan._REPORTS.clear()


def _answer(path: str) -> dict[str, Any]:
    from kerascope.errors import ModelFileError

    from .scan import scan

    try:
        report = scan(path)
    except ModelFileError as error:
        return {"error": error.problem}
    except Exception as error:  # a bug: the parent reports it for this file and goes on
        return {"bug": f"{type(error).__name__}: {error}"}
    return {
        "report": {
            "path": report.path,
            "format": report.format,
            # every field of the record, so that the parent rebuilds an equal Finding
            "findings": [
                {**finding.to_dict(), "python_fix": finding.python_fix}
                for finding in report.findings
            ],
        }
    }
