"""Peak memory of a process tree, sampled from ``/proc`` (Linux): for ``bench/scan_store.py``.

The tree's summed RSS counts a page shared by several processes once per process (an upper
bound); its summed PSS splits each shared page among all the processes of the machine sharing it
(a lower bound when other Python processes run). A kerascope worker is a direct child of the
command whose command line names ``store_worker``.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

SAMPLE_S = 0.01  # seconds between two samples
PAGE = 4096


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _pss(pid: int) -> int:
    """Proportional set size: each shared page divided among the processes sharing it (on the
    whole machine, so a lower bound here), where the RSS sum counts it once per process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _tree(pid: int) -> list[tuple[int, int]]:
    """(pid, parent pid) of ``pid`` and all its descendants."""
    pids, stack = [], [(pid, 0)]
    while stack:
        current, parent = stack.pop()
        pids.append((current, parent))
        try:
            with open(f"/proc/{current}/task/{current}/children") as handle:
                stack += [(int(child), current) for child in handle.read().split()]
        except OSError:
            pass
    return pids


def _is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"store_worker" in handle.read()
    except OSError:
        return False


def sample_tree(command: list[str], env: dict[str, str]) -> dict[str, int]:
    """Run ``command`` once, sampling its process tree: the peaks of the tree's summed RSS and
    summed PSS, and the peak RSS of each worker (a child of the command running
    ``store_worker``)."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak_total, peak_pss, peak_worker, workers = 0, 0, 0, set()
    while process.poll() is None:
        tree = _tree(process.pid)
        peak_total = max(peak_total, sum(_rss(pid) for pid, _ in tree))
        peak_pss = max(peak_pss, sum(_pss(pid) for pid, _ in tree))
        for pid, parent in tree:
            if parent == process.pid and _is_worker(pid):
                workers.add(pid)
                peak_worker = max(peak_worker, _rss(pid))
        time.sleep(SAMPLE_S)
    return {"total": peak_total, "pss": peak_pss, "worker": peak_worker, "workers": len(workers)}


def measure_memory(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> Any:
    """The worst of ``runs`` sampled runs of each command."""
    worst: dict[str, dict[str, int]] = {}
    for _ in range(runs):
        for key, (command, env) in commands.items():
            sample = sample_tree(command, env)
            best = worst.setdefault(key, sample)
            worst[key] = {name: max(best[name], sample[name]) for name in sample}
    return worst
