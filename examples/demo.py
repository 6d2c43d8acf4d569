"""`make demo`: build the seed models with Keras in one process, then, each in a fresh process,
inspect them, check the loading plan (first without telling kerascope where the code is, then
with --from) and load them; then save them with kerascope and verify each round trip;
bundle seed 3's code into its file and load it in another directory, where no source exists;
finally the write-up's own Keras 2 code: build the seeds with tf-keras 2.21 as `.h5`, migrate
each to a Keras 3 `.keras` (rules applied, parity against tf-keras in fresh processes) and
load the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KERASCOPE = os.path.join(os.path.dirname(sys.executable), "kerascope")
SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")
KERAS2 = os.path.join(HERE, "keras2")


def step(title: str, command: list[str], cwd: str, expect: int = 0) -> str:
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
    return result.stdout


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
    bundle_round_trip()
    keras2_seeds()


def bundle_round_trip() -> None:
    """Seed 3 bundled in directory A (no Keras imported), then reviewed and loaded in B."""
    print("\n=== a model that carries its code: bundle in A, load in B")
    seed = os.path.join(HERE, "seed_3_dependent_layer")
    with tempfile.TemporaryDirectory(prefix="kerascope-demo-") as scratch:
        place_a, place_b = os.path.join(scratch, "A"), os.path.join(scratch, "B")
        os.makedirs(place_b)
        shutil.copytree(seed, place_a, ignore=shutil.ignore_patterns("__pycache__"))
        bundle = [KERASCOPE, "bundle", "my_model.keras", "--from", ".", "-o", "bundled.keras"]
        step("A: bundle the code the plan needs, without importing Keras", bundle, place_a)
        shutil.copy(os.path.join(place_a, "bundled.keras"), place_b)
        import kerascope  # the digest, read as data

        manifest = kerascope.inspect(os.path.join(place_b, "bundled.keras")).manifest
        assert manifest is not None and manifest.bundle is not None
        digest = manifest.bundle.trust_name
        print(f"\nB holds only bundled.keras: {sorted(os.listdir(place_b))}")
        check = [KERASCOPE, "check", "bundled.keras"]
        step("B: without trust, refused, naming the digest", check, place_b, expect=4)
        unbundle = [KERASCOPE, "unbundle", "bundled.keras", os.path.join(scratch, "review")]
        step("B: write the bundled files out for review", unbundle, place_b)
        step("B: audit the bundled source, running nothing", [KERASCOPE, "scan", "bundled.keras"],
             place_b)  # fmt: skip
        load = [KERASCOPE, "load", "bundled.keras", "--trust", digest]
        step("B: trust exactly that code by its digest, and load", load, place_b)


def keras2_seeds() -> None:
    """The write-up's Keras 2 code and `.h5` files, migrated to Keras 3."""
    print("\n=== Keras 2 files: the write-up's code, saved by tf-keras 2.21, migrated to Keras 3")
    build = [sys.executable, "build_keras2_seeds.py"]
    step("build and save the seeds with tf-keras, as the write-up does", build, HERE)
    for seed in SEEDS:
        folder = os.path.join(KERAS2, seed)
        print(f"\n=== keras2/{seed}")
        step("who wrote it", [KERASCOPE, "inspect", "my_model.h5"], folder)
        migrate = [KERASCOPE, "migrate", "my_model.h5", "my_model_migrated.keras", "--from", "."]
        said = step(
            "rules applied, then parity with tf-keras, each in a fresh process", migrate, folder
        )
        if "no independent reference" in said:  # tf-keras cannot reread this .h5 (seed 2)
            again = [*migrate[:2], "my_model.keras", *migrate[3:]]
            step("the same model in tf-keras's .keras, which tf-keras can load", again, folder)
        load = [KERASCOPE, "load", "my_model_migrated.keras", "--from", "."]
        step("the migrated file loads as Keras 3", load, folder)


if __name__ == "__main__":
    main()
