"""Time a command in fresh processes: ``python -S bench/measure.py RUNS COMMAND [ARG ...]``.

For each of RUNS runs, start COMMAND (stdout to /dev/null, environment inherited), wait for it
with ``os.wait4`` and print one line ``SECONDS PEAK_RSS_KIB EXIT_CODE``: whole-process wall time
(``time.perf_counter`` around spawn and exit) and the child's ``ru_maxrss``. Whatever the child
writes to stderr is forwarded to this process's stderr, each distinct text once.

``bench/run.py`` uses this small helper instead of spawning the children itself because on Linux
a child's ``ru_maxrss`` starts at its parent's peak RSS (the kernel records the parent's memory
at ``exec``). This helper imports only ``os``, ``subprocess``, ``sys`` and ``time``, so that
floor stays at about 11 MiB, below any Python process measured here; ``bench/run.py`` measures
the floor with ``/bin/true`` and reports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def run_once(command: list[str]) -> tuple[float, int, int, bytes]:
    """Run ``command`` once; return (wall seconds, peak RSS in KiB, exit code, stderr bytes)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    stderr = process.stderr.read()  # until the child exits; only stderr is piped, no deadlock
    process.stderr.close()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return elapsed, usage.ru_maxrss, process.returncode, stderr


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    runs, command = int(argv[0]), argv[1:]
    forwarded: set[bytes] = set()
    for _ in range(runs):
        elapsed, peak_kib, code, stderr = run_once(command)
        print(f"{elapsed:.6f} {peak_kib} {code}", flush=True)
        if stderr and stderr not in forwarded:
            forwarded.add(stderr)
            sys.stderr.buffer.write(stderr)
            sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
