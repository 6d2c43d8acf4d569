"""Benchmark loading a Keras 2 file through kerascope against the same model saved by Keras 3.

Run from the repository root with ``make bench`` or ``.venv/bin/python bench/keras2.py``. It
imports ``bench/run.py`` for the machine facts and the BENCHMARKS.md writer.

1. Build, in ``bench/out/keras2/``: with tf-keras 2.21 (``TF_USE_LEGACY_KERAS=1``, a child
   process), the write-up's seed 1 model (``examples/keras2/seed_1_custom_layer``: Dense(64),
   ``MyCustomLayer(32)``, Dense(1), compiled with adam and mse, one training step) and a wider
   one (Dense(1024), ``MyCustomLayer(1024)``, Dense(1024), Dense(1)), each saved as ``.h5`` and
   tf-keras ``.keras``; then, in a Keras 3 child, each Keras 2 ``.h5`` is loaded with kerascope
   and saved again by Keras 3 as ``.h5`` and ``.keras``: the same model, weights and compile
   configuration, written by Keras 3 (``*_k3``), without the optimizer state that does not carry
   over from Keras 2; and once more after ``model.optimizer.build(...)`` (``*_k3o``: with
   optimizer state, the Keras 2 file's size).
2. Every measurement is a fresh process that imports keras and kerascope untimed and then times
   ONE load with ``time.perf_counter``: ``kerascope.load_model(path, sources=[SEED_DIR],
   compile=True)`` of the Keras 2 file (translated, smoke-checked), the same of both Keras 3
   files, and ``keras.saving.load_model(path, custom_objects=..., compile=True)`` of the Keras 3
   file (the custom module imported inside the timed span, as kerascope does). The four kinds
   are interleaved, round after round, each round in a rotated order. The kerascope children
   also time the smoke check (``kerascope._keras.load.smoke_check``, wrapped) and the audit's
   HDF5 reader child (``kerascope._reading.hdf5_child._ask``, wrapped) on their own.
3. Prints the table and replaces the section ``## Keras 2 files`` in BENCHMARKS.md. The target:
   the Keras 2 file loads in at most 1.1x the time of the Keras 3 file without optimizer state
   (the stricter comparison), both through kerascope.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from run import OUT, PYTHON, REPO, machine_facts, megabytes, ms, user_env, write_benchmarks_md

SECTION = "## Keras 2 files"
TARGET_RATIO = 1.1
SEED_DIR = REPO / "examples" / "keras2" / "seed_1_custom_layer"
HERE = OUT / "keras2"
SIZES = {"seed1": (64, 32, 0), "wide": (1024, 1024, 1024)}  # Dense, MyCustomLayer, Dense units
FORMATS = ("h5", "keras")
KINDS = ("k2_kerascope", "k3_kerascope", "k3o_kerascope", "k3_keras")
LABELS = {
    "k2_kerascope": "Keras 2 file, kerascope.load_model",
    "k3_kerascope": "Keras 3 file, kerascope.load_model",
    "k3o_kerascope": "Keras 3 file with optimizer state, kerascope.load_model",
    "k3_keras": "Keras 3 file, keras.saving.load_model",
}

# tf-keras child (TF_USE_LEGACY_KERAS=1). argv: out folder, seed folder, sizes JSON.
BUILD_KERAS2 = """\
import json, os, sys, warnings
import numpy as np
from tensorflow import keras
out, seed_dir, sizes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, seed_dir)
from custom_layer import MyCustomLayer
assert keras.__name__.startswith("tf_keras"), keras.__name__
for name, (first, custom, second) in sizes.items():
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Dense(first, activation="relu", input_shape=(10,))]
    layers.append(MyCustomLayer(custom))
    if second:
        layers.append(keras.layers.Dense(second, activation="relu"))
    model = keras.Sequential([*layers, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((8, 10), dtype=np.float32)
    model.train_on_batch(x, np.zeros((8, 1), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fmt in ("h5", "keras"):
            model.save(os.path.join(out, f"{name}_k2.{fmt}"))
"""

# Keras 3 child. argv: out folder, seed folder, names JSON.
BUILD_KERAS3 = """\
import json, os, sys, warnings
import kerascope
out, seed_dir, names = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for name in names:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = kerascope.load_model(os.path.join(out, f"{name}_k2.h5"), sources=[seed_dir])
        for fmt in ("h5", "keras"):
            model.save(os.path.join(out, f"{name}_k3.{fmt}"))
        model.optimizer.build(model.trainable_variables)  # its state, as after a fit: zeros
        for fmt in ("h5", "keras"):
            model.save(os.path.join(out, f"{name}_k3o.{fmt}"))
"""

# One timed load in a fresh process. argv: kind, path, seed folder.
LOAD_ONE = """\
import json, resource, sys, time, warnings
kind, path, seed_dir = sys.argv[1], sys.argv[2], sys.argv[3]
import numpy as np
import keras
import kerascope

def cpu():  # this process (all threads) and its finished children (kerascope's .h5 reader)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime

from kerascope._keras import load as load_module
from kerascope._reading import hdf5_child
spans = {"smoke": [], "h5_child": []}
def timed(owner, name, span):
    original = getattr(owner, name)
    def wrapper(*arguments):
        started = time.perf_counter()
        try:
            return original(*arguments)
        finally:
            spans[span].append(time.perf_counter() - started)
    setattr(owner, name, wrapper)
timed(load_module, "smoke_check", "smoke")
timed(hdf5_child, "_ask", "h5_child")  # the audit's HDF5 reader, a child process
warnings.simplefilter("ignore")
started, started_cpu = time.perf_counter(), cpu()
if kind == "k3_keras":
    sys.path.insert(0, seed_dir)
    from custom_layer import MyCustomLayer
    model = keras.saving.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer})
else:
    model = kerascope.load_model(path, sources=[seed_dir], compile=True)
elapsed, elapsed_cpu = time.perf_counter() - started, cpu() - started_cpu
assert model.compiled, "not compiled"
x = np.random.default_rng(0).random((2, 10), dtype=np.float32)
started = time.perf_counter()
model.predict(x, verbose=0)
first_predict = time.perf_counter() - started
print(json.dumps({"load_s": elapsed, "cpu_s": elapsed_cpu, "smoke_s": sum(spans["smoke"]),
                  "h5_child_s": sum(spans["h5_child"]),
                  "predict_s": first_predict, "params": model.count_params()}))
"""


def child_env(legacy: bool = False) -> dict[str, str]:
    """Every child's environment: inherited, bytecode cache on, TensorFlow's C++ logging off."""
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.pop("TF_USE_LEGACY_KERAS", None)
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    return env


def run_child(script: str, *arguments: str, legacy: bool = False) -> str:
    """Run ``python -c script arguments``; return the last line of its stdout, or exit."""
    command = [str(PYTHON), "-c", script, *arguments]
    result = subprocess.run(
        command, env=child_env(legacy), capture_output=True, text=True, check=False
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({result.returncode}):\n{result.stderr.strip()[-3000:]}")
    return lines[-1]


def build() -> dict[str, Path]:
    """Write the Keras 2 files with tf-keras, then the same models saved by Keras 3."""
    HERE.mkdir(parents=True, exist_ok=True)
    for path in HERE.glob("*_k[23]*.*"):
        path.unlink()
    sizes = json.dumps(SIZES)
    run_child(BUILD_KERAS2 + "print('ok')\n", str(HERE), str(SEED_DIR), sizes, legacy=True)
    run_child(BUILD_KERAS3 + "print('ok')\n", str(HERE), str(SEED_DIR), json.dumps(list(SIZES)))
    return {p.name: p for p in sorted(HERE.glob("*_k[23]*.*"))}


def measure(repeat: int) -> dict[str, dict[str, list[dict[str, float]]]]:
    """``{size_format: {kind: [one result per fresh process]}}``, kinds interleaved by round."""
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for size in SIZES:
        for fmt in FORMATS:
            key = f"{size}.{fmt}"
            results[key] = {kind: [] for kind in KINDS}
            print(f"{key}: ", end="", flush=True)
            for round_number in range(repeat):
                shift = round_number % len(KINDS)
                for kind in KINDS[shift:] + KINDS[:shift]:
                    path = HERE / f"{size}_{kind.split('_')[0]}.{fmt}"
                    line = run_child(LOAD_ONE, kind, str(path), str(SEED_DIR))
                    results[key][kind].append(json.loads(line))
                print(".", end="", flush=True)
            print()
    return results


def median(values: list[dict[str, float]], field: str) -> float:
    return statistics.median(v[field] for v in values)


def render(results: dict[str, Any], files: dict[str, Path], repeat: int, facts: dict[str, str],
           seconds: float) -> str:  # fmt: skip
    """The BENCHMARKS.md section, with the target's verdicts."""
    rows, verdicts = [], []
    for key, kinds in results.items():
        size, fmt = key.split(".")
        k2 = median(kinds["k2_kerascope"], "load_s")
        k3 = median(kinds["k3_kerascope"], "load_s")
        k3o = median(kinds["k3o_kerascope"], "load_s")
        plain = median(kinds["k3_keras"], "load_s")
        smoke = median(kinds["k2_kerascope"], "smoke_s")
        child = median(kinds["k3_kerascope"], "h5_child_s")
        k2_cpu = median(kinds["k2_kerascope"], "cpu_s")
        k3_cpu = median(kinds["k3_kerascope"], "cpu_s")
        k2_then = statistics.median(v["load_s"] + v["predict_s"] for v in kinds["k2_kerascope"])
        k3_then = statistics.median(v["load_s"] + v["predict_s"] for v in kinds["k3_kerascope"])
        k2_size = files[f"{size}_k2.{fmt}"].stat().st_size
        k3_size = files[f"{size}_k3.{fmt}"].stat().st_size
        k3o_size = files[f"{size}_k3o.{fmt}"].stat().st_size
        params = int(kinds["k2_kerascope"][0]["params"])
        rows.append(
            f"| {size}.{fmt} | {params:,} | {megabytes(k2_size)} / {megabytes(k3_size)} / "
            f"{megabytes(k3o_size)} | {ms(k2)} | {ms(smoke)} | {ms(k3)} | {ms(child)} | "
            f"{ms(k3o)} | {ms(plain)} | {k2 / k3:.2f} | {(k2 - smoke) / k3:.2f} | "
            f"{k2_cpu / k3_cpu:.2f} | {k2_then / k3_then:.2f} | {k2 / k3o:.2f} | "
            f"{k3 / plain:.2f} |"
        )
        verdict = "MET" if k2 / k3 <= TARGET_RATIO else "NOT MET"
        verdicts.append(
            f"- {size}.{fmt}: Keras 2 file / Keras 3 file through kerascope = {k2 / k3:.2f} "
            f"(target at most {TARGET_RATIO}): **{verdict}**; in CPU time {k2_cpu / k3_cpu:.2f}; "
            f"without the smoke check {(k2 - smoke) / k3:.2f}; against the Keras 3 file with "
            f"optimizer state {k2 / k3o:.2f}"
        )
    header = (
        f"{SECTION}\n\n"
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores,"
        f" {facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']}, keras "
        f"{facts['keras']}, tensorflow-cpu {facts['tensorflow']}, tf-keras (writer) 2.21. This "
        f"benchmark (`.venv/bin/python bench/keras2.py`, run by `make bench`) took "
        f"{seconds:.0f} s; load average (1, 5, 15 min) {facts['load_at_start']} at its start, "
        f"{facts['load']} at its end (a 2-core machine shared with other work).\n\n"
        "The models: the write-up's seed 1 in its Keras 2 code (`examples/keras2/"
        "seed_1_custom_layer`: Dense(64), `MyCustomLayer(32)`, Dense(1)) and a wider one (Dense"
        "(1024), `MyCustomLayer(1024)`, Dense(1024), Dense(1)), compiled with adam and mse, saved"
        " by tf-keras 2.21 as `.h5` and `.keras` (the Keras 2 files); each `.h5` loaded by"
        " kerascope and saved again by Keras 3 as `.h5` and `.keras` (the Keras 3 files: same "
        "weights and compile configuration, without optimizer state, which does not carry over "
        "from Keras 2: a third of the Keras 2 file's bytes for the wide model) and saved once "
        "more after `model.optimizer.build(...)` (the Keras 3 files with optimizer state: the "
        "Keras 2 file's size, as a model trained and saved by Keras 3 would be). The target is "
        "judged against the first, the stricter.\n\n"
        f"Each measurement is a fresh process ({repeat} per kind and file, the four kinds "
        "interleaved round by round in a rotated order) that imports keras and kerascope untimed"
        " and then times one load with `time.perf_counter`, compile included:\n\n"
        "```python\n"
        "kerascope.load_model(path, sources=[SEED_DIR], compile=True)  # Keras 2 file, then the "
        "Keras 3 file\n"
        "from custom_layer import MyCustomLayer  # (timed too: kerascope imports it as well)\n"
        'keras.saving.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer})\n'
        "```\n\n"
        "A Keras 2 file is always smoke-checked (eagerly, nothing traced: the step functions of"
        " `predict`, `evaluate` and `fit` made, one forward pass on 2 samples, the compiled loss"
        " and metrics on its outputs); the kerascope children time `smoke_check` on its own "
        "(wrapped), and the audit's HDF5 reader, a child process that every `.h5` and `.keras` "
        "load through kerascope starts (wrapped too). Each child also records the CPU time of "
        "the load (its own threads and its finished children), less sensitive than wall time to"
        " the other work on a shared machine, and then times one `model.predict` on 2 samples "
        "(the user's first predict, which traces the predict function after either load). "
        "Keras being imported already, kerascope runs TensorFlow's one-time set-up (eager "
        "context, first matrix product, the first of each operation of a dense layer and of a "
        "mean squared error) on constants while the audit waits on its HDF5 reader child "
        "(`kerascope._keras.warmup`); in a process that has not imported Keras, the load "
        "imports it (seconds) and the check pays that set-up itself (77 to 113 ms here). "
        "Ratios are of medians:\n\n"
        "| file | params | MB (Keras 2 / Keras 3 / with optimizer state) | Keras 2 file, "
        "kerascope ms | of which smoke check ms | Keras 3 file, kerascope ms | of which HDF5 "
        "reader child ms | Keras 3 file with optimizer state, kerascope ms | Keras 3 file, "
        "keras.saving ms | ratio Keras 2 / Keras 3 (kerascope) | same without the smoke check "
        "| same in CPU time | same, load + first predict | ratio Keras 2 / Keras 3 with "
        "optimizer state | kerascope / keras.saving (Keras 3 file) |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    )
    spread = ["", "Spread (min to max ms) of each kind:", ""]
    for key, kinds in results.items():
        parts = [
            f"{LABELS[k]} {ms(min(v['load_s'] for v in kinds[k]))} to "
            f"{ms(max(v['load_s'] for v in kinds[k]))}"
            for k in KINDS
        ]
        spread.append(f"- {key}: " + "; ".join(parts))
    section = header + "\n".join(rows) + "\n\nTarget:\n\n" + "\n".join(verdicts) + "\n\n"
    section += (
        "Read the verdicts with the CPU-time ratio beside them: a wall-time ratio under the "
        "target while the CPU-time ratio is above it is within the spread of this shared "
        "machine, not a margin.\n"
    )
    return section + "\n".join(spread) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat",
        type=int,
        default=25,
        help="fresh processes per kind and file (with 9, a median's spread on a 2-core machine "
        "was larger than the margin to the target)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    load_at_start = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    os.chdir(REPO)
    files = build()
    results = measure(arguments.repeat)
    facts = {**machine_facts(), "load_at_start": load_at_start}
    section = render(results, files, arguments.repeat, facts, time.perf_counter() - started)
    print(section)
    if not arguments.no_write:
        write_benchmarks_md(section, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
