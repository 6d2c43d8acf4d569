"""Fresh-process cost of the package layout: this checkout against an earlier commit, same run.

Usage: ``.venv/bin/python bench/layout.py [REF] [ROUNDS]`` (default ``5ca3f11``, the last commit
with the flat layout, and 15 rounds). The earlier commit is checked out into a temporary git
worktree; both trees run with the same interpreter and the same seed model, selected by
PYTHONPATH, interleaved round robin so that a slow period of a noisy machine hits both alike.
Prints a Markdown table of medians and the ratio new/old.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "examples" / "seed_1_custom_layer"


def _timed(command: list[str], src: str) -> float:
    env = {**os.environ, "PYTHONPATH": src, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run(
        command, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return (time.perf_counter() - start) * 1000


def main() -> int:
    ref = sys.argv[1] if len(sys.argv) > 1 else "5ca3f11"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    if not (SEED / "my_model.keras").exists():
        subprocess.run([sys.executable, "build_seeds.py"], cwd=REPO / "examples", check=True)
    model = str(SEED / "my_model.keras")
    commands = {
        "import kerascope": [sys.executable, "-c", "import kerascope"],
        "kerascope inspect .keras": [sys.executable, "-m", "kerascope", "inspect", model],
        "kerascope check .keras --from": [
            *(sys.executable, "-m", "kerascope", "check", model, "--from", str(SEED)),
        ],
    }
    with tempfile.TemporaryDirectory() as scratch:
        old = os.path.join(scratch, "old")
        subprocess.run(["git", "worktree", "add", "-q", "--detach", old, ref], cwd=REPO, check=True)
        try:
            trees = {ref: os.path.join(old, "src"), "this checkout": str(REPO / "src")}
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(rounds):
                for name, command in commands.items():
                    for tree, src in trees.items():
                        times.setdefault((tree, name), []).append(_timed(command, src))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", old], cwd=REPO, check=False)
    print(f"| command | {ref} ms | this checkout ms | ratio |")
    print("|---|--:|--:|--:|")
    for name in commands:
        before, after = (statistics.median(times[(tree, name)]) for tree in trees)
        print(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
