"""Batch inference with Ray Data on a local cluster: python ray_batch_inference.py [ROWS].

Needs ``pip install 'kerascope[ray]'``. The model is seed scenario 3 (built first if missing):
its layer lives in ``custom_layer_dep.py``, which imports ``custom_base.py``. The driver makes a
``kerascope.ModelRef`` (the plan, made once, nothing imported), starts a 2-CPU Ray cluster on
127.0.0.1 whose job ships exactly those two files (not ``create_model.py`` nor anything else in
the folder), and two actors add the model's predictions to a generated dataset of ROWS rows
(default 10,000) as the column ``prediction``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

import kerascope
import kerascope.ray

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "seed_3_dependent_layer")
MODEL = os.path.join(SEED, "my_model.keras")


def main(rows: int) -> None:
    if not os.path.exists(MODEL):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run([sys.executable, "create_model.py"], cwd=SEED, env=env, check=True)

    started = time.perf_counter()
    ref = kerascope.ModelRef(MODEL, sources=[SEED])
    print(f"{ref}  ({time.perf_counter() - started:.3f} s)")
    for item in ref.files:
        print(f"  ships {item.relpath:<22} sha256 {item.sha256[:12]}  {item.why}")
    env = kerascope.ray.runtime_env(ref, {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # bind to 127.0.0.1 only
    import ray  # after the plan: a ref that cannot load fails before any cluster starts

    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env=env,  # code travels with the job: workers need no copy of the folder
    )
    try:
        features = np.random.default_rng(0).normal(size=(rows, 10)).astype("float32")
        dataset = ray.data.from_numpy(np.array_split(features, 8))
        predicted = kerascope.ray.predict(dataset, ref, batch_size=1024, actors=2)
        started = time.perf_counter()
        with kerascope.ray.unwrap_errors():  # a worker's kerascope error, as itself
            table = predicted.to_pandas()
        elapsed = time.perf_counter() - started
    finally:
        ray.shutdown()
    print(f"{len(table):,} rows predicted by 2 actors in {elapsed:.1f} s")
    print(table.head(3).to_string())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
