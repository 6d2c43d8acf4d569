"""`make demo`: build the seed models with Keras in one process, then, each in a fresh process,
inspect them, check the loading plan (first without telling kerascope where the code is, then
with --from) and load them; finally save them with kerascope and verify each round trip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KERASCOPE = os.path.join(os.path.dirname(sys.executable), "kerascope")
SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")


def step(title: str, command: list[str], cwd: str, expect: int = 0) -> None:
    shown = " ".join(os.path.basename(part) if part == KERASCOPE else part for part in command)
    print(f"\n$ {shown}    # {title}", flush=True)
    started = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    print(result.stdout, end="")
    if result.returncode != expect:
        print(result.stderr, file=sys.stderr)
        raise SystemExit(f"demo step failed with exit code {result.returncode}")
    print(f"(exit code {result.returncode}, {time.perf_counter() - started:.2f} s)")


def main() -> None:
    build = [sys.executable, "build_seeds.py"]
    step("build and save the three seed models with Keras", build, HERE)
    for seed in SEEDS:
        folder = os.path.join(HERE, seed)
        print(f"\n=== {seed}")
        step("read the file as data", [KERASCOPE, "inspect", "my_model.h5"], folder)
        check = [KERASCOPE, "check", "my_model.h5"]
        step("plan without sources: lists every problem", check, folder, expect=4)
        step("plan with the folder as source", [*check, "--from", "."], folder)
        step("load it", [KERASCOPE, "load", "my_model.keras", "--from", "."], folder)
    print("\n=== saving with kerascope")
    save = [sys.executable, "save_and_verify.py"]
    step("save with lint + manifest, then verify in a fresh process", save, HERE)


if __name__ == "__main__":
    main()
