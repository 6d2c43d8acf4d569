"""`make demo`: build the seed's first model, then inspect it in a fresh process.

Step 1 runs examples/seed_1_custom_layer/create_model.py with Keras (it saves my_model.keras and
my_model.h5 next to it). Step 2 runs `kerascope inspect` on each file in a new process: no
Keras, no custom code imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_1 = os.path.join(HERE, "seed_1_custom_layer")
KERASCOPE = os.path.join(os.path.dirname(sys.executable), "kerascope")


def step(title: str, command: list[str], cwd: str) -> None:
    print(f"\n$ {' '.join(command)}    # {title}", flush=True)
    started = time.perf_counter()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    print(result.stdout, end="")
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        raise SystemExit(result.returncode)
    print(f"({time.perf_counter() - started:.2f} s)")


def main() -> None:
    step("build and save the model with Keras", [sys.executable, "create_model.py"], SEED_1)
    for name in ("my_model.keras", "my_model.h5"):
        step("read it as data, in a fresh process", [KERASCOPE, "inspect", name], SEED_1)


if __name__ == "__main__":
    main()
