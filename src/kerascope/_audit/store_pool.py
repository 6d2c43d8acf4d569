"""A pool of scan workers: many files scanned in parallel, each answer as a single scan gives it.

Each worker (:mod:`.store_worker`) is a fresh ``python -I`` process in a session of its own
(Ctrl-C reaches only the parent, which ends the workers) that scans one file at a time and
reads HDF5 in process, so h5py is imported once per worker. The parent keeps the protections a
single scan has:

- **time limit**: a worker that has not answered within the HDF5 time limit
  (``KERASCOPE_HDF5_TIMEOUT``, 60 s) is killed with everything it started;
- **crash isolation**: a worker that dies is replaced;

and in both cases the file is scanned again by a fresh worker the way a single scan reads it
(HDF5 in a time-limited child per request), so that its findings are the single scan's.
Results are yielded in the order of the paths, whatever order the workers finish in.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading.hdf5_child import TIMEOUT_SECONDS

from .findings import Finding
from .scan import ScanReport

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence
    from typing import IO, Any

__all__ = ["ScanOutcome", "scan_in_pool"]

_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from kerascope._audit.store_worker import serve; serve()"
)
# A file read again in isolation may start a few time-limited HDF5 children in a row.
_ISOLATED_TIMEOUT_FACTOR = 3
# A worker's own start (Python and kerascope's imports) is not counted against a file.
_STARTUP_SECONDS = 60.0


class ScanOutcome(Record):
    """The answer for one path: its report, or the problem that stopped the scan.

    Attributes:
        position: The position of the path in the input.
        report: The scan report, when the path could be scanned.
        problem: Why not (the text of the :class:`~kerascope.errors.ModelFileError`).
    """

    position: int
    report: ScanReport | None
    problem: str | None = None


def scan_in_pool(
    paths: Sequence[str], jobs: int, on_done: Callable[[int], None] | None = None
) -> Generator[ScanOutcome, None, None]:
    """Scan ``paths`` in ``jobs`` worker processes; yield the outcomes in the order of ``paths``.

    Closing the iterator (or an exception such as ``KeyboardInterrupt`` inside it) kills every
    worker and whatever they started.

    Args:
        paths: The model files and directories to scan.
        jobs: How many workers at most (fewer when there are fewer paths).
        on_done: Called with the count of finished paths each time one finishes.

    Example:
        >>> [o.report.highest for o in scan_in_pool(["a.keras", "b.h5"], 2)]  # doctest: +SKIP
        ['none', 'high']
    """
    pool = _Pool(list(paths), max(1, min(jobs, len(paths))))
    try:
        finished: dict[int, ScanOutcome] = {}
        next_index = 0
        for outcome in pool.outcomes():
            finished[outcome.position] = outcome
            if on_done is not None:
                on_done(len(finished) + next_index)
            while next_index in finished:
                yield finished.pop(next_index)
                next_index += 1
    finally:
        pool.close()


class _Worker:
    def __init__(self) -> None:
        debug = bool(os.environ.get("KERASCOPE_DEBUG"))
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER, _PACKAGE_PARENT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.buffer = b""
        self.ready = False
        self.task: tuple[int, bool] | None = None  # (index, isolated)
        self.timeout = 0.0
        self.deadline = 0.0

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process.stdout is not None
        return self.process.stdout

    def send(self, index: int, path: str, isolated: bool) -> None:
        assert self.process.stdin is not None
        self.task = (index, isolated)
        self.timeout = TIMEOUT_SECONDS * (_ISOLATED_TIMEOUT_FACTOR if isolated else 1)
        self.deadline = time.monotonic() + self.timeout + (0 if self.ready else _STARTUP_SECONDS)
        line = json.dumps({"path": path, "isolated": isolated}) + "\n"
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class _Pool:
    def __init__(self, paths: list[str], size: int) -> None:
        self.paths = paths
        self.size = size
        self.queue: list[tuple[int, bool]] = [(index, False) for index in range(len(paths))]
        self.queue.reverse()  # popped from the end
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()

    def outcomes(self) -> Iterator[ScanOutcome]:
        remaining = len(self.paths)
        while remaining:
            self._dispatch()
            busy = [worker for worker in self.workers if worker.task is not None]
            deadline = min((worker.deadline for worker in busy), default=time.monotonic() + 1)
            timeout = max(0.0, deadline - time.monotonic())
            events = self.selector.select(timeout)
            for key, _ in events:
                worker: _Worker = key.data
                outcome = self._read(worker)
                if outcome is not None:
                    remaining -= 1
                    yield outcome
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.task is not None and now >= worker.deadline:
                    outcome = self._give_up(worker, "did not finish")
                    if outcome is not None:
                        remaining -= 1
                        yield outcome

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.task is None and self.queue:
                index, isolated = self.queue.pop()
                self._send(worker, index, isolated)
        while self.queue and len(self.workers) < self.size:
            worker = _Worker()
            self.workers.append(worker)
            self.selector.register(worker.stdout, selectors.EVENT_READ, worker)
            index, isolated = self.queue.pop()
            self._send(worker, index, isolated)

    def _send(self, worker: _Worker, index: int, isolated: bool) -> None:
        # One that died before it could take the request is seen by _read, at its end.
        with contextlib.suppress(OSError):
            worker.send(index, self.paths[index], isolated)

    def _read(self, worker: _Worker) -> ScanOutcome | None:
        data = os.read(worker.stdout.fileno(), 1 << 16)
        if not data:
            return self._give_up(worker, "crashed")
        worker.buffer += data
        while b"\n" in worker.buffer:
            line, worker.buffer = worker.buffer.split(b"\n", 1)
            if not worker.ready:  # {"ready": true}: the file's time starts now
                worker.ready = True
                worker.deadline = time.monotonic() + worker.timeout
                continue
            assert worker.task is not None
            index = worker.task[0]
            worker.task = None
            return _outcome(index, self.paths[index], json.loads(line))
        return None

    def _give_up(self, worker: _Worker, what: str) -> ScanOutcome | None:
        """Replace a worker that hung or died; scan its file again in isolation, or report it."""
        task = worker.task
        returncode = worker.process.poll()
        self.selector.unregister(worker.stdout)
        self.workers.remove(worker)
        worker.kill()
        if task is None:
            return None
        index, isolated = task
        if not isolated:
            self.queue.append((index, True))
            return None
        if what == "crashed" and returncode is not None and returncode < 0:
            what = f"crashed (signal {-returncode})"
        elif what == "did not finish":
            what = f"did not finish within {worker.timeout:g} s (KERASCOPE_HDF5_TIMEOUT times 3)"
        message = f"the scan of this file {what} in a worker process, even read in isolation"
        finding = Finding("high", "scan-failed", message, "do not load this file", "$")
        return ScanOutcome(index, ScanReport(self.paths[index], None, (finding,)))

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers.clear()
        self.selector.close()


def _outcome(index: int, path: str, answer: dict[str, Any]) -> ScanOutcome:
    if "error" in answer:
        return ScanOutcome(index, None, answer["error"])
    if "bug" in answer:
        finding = Finding(
            "high",
            "scan-failed",
            f"the scan failed on a kerascope bug ({answer['bug']}); please report it",
            "do not load this file until it can be scanned",
            "$",
        )
        return ScanOutcome(index, ScanReport(path, None, (finding,)))
    report = answer["report"]
    findings = tuple(Finding(**finding) for finding in report["findings"])
    return ScanOutcome(index, ScanReport(path, report["format"], findings))
