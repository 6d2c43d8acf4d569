"""Benchmark ``kerascope.export`` (load + export + isolated parity) against plain Keras.

Run from the repository root with ``make bench`` or ``.venv/bin/python bench/export.py``. It
imports ``bench/run.py`` (this script's directory is on ``sys.path``) for the machine facts and
the BENCHMARKS.md writer.

1. Build the three seed models (``examples/seed_*/create_model.py``) in one child process, into
   ``bench/out/export/``.
2. For each seed and format (``tf_saved_model``, ``onnx``), ONE child process imports Keras and
   kerascope, exports once of each kind untimed (warm-up), then alternates N timed rounds of
   - plain Keras: ``keras.saving.load_model(path, custom_objects=...)`` (the seed's objects
     imported by hand), one ``predict`` of 4 rows (Keras 3.15 refuses to export a loaded model
     to ONNX until it has been called: "The model provided has never called.") and
     ``model.export(out, format=...)``; no parity check;
   - kerascope: ``kerascope.export(path, out, format=..., sources=[seed folder])``: the plan,
     the load, the same ``model.export``, and the parity check in a fresh ``python -I``
     process (which starts TensorFlow again for a SavedModel, only onnxruntime for ONNX);
   each pair in the opposite order to the one before. The kerascope side reports its own split
   (``Export.export_seconds``, ``Export.parity_seconds``).
3. Time ``python -I -c "import tensorflow"`` (and ``onnxruntime``) with a minimal
   environment, N times: the floor under the parity process's time.
4. Print the tables and replace the section ``## Export`` in ``BENCHMARKS.md``.

The ONNX rows need ``kerascope[export]`` (onnx, onnxruntime, tf2onnx); without them they are
reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from run import BENCHMARKS_MD, PYTHON, REPO, machine_facts, user_env, write_benchmarks_md

SECTION = "## Export"
OUT = REPO / "bench" / "out" / "export"
EXAMPLES = REPO / "examples"
SEEDS = {
    "seed_1_custom_layer": (
        "from custom_layer import MyCustomLayer as A; objects = {'MyCustomLayer': A}"
    ),
    "seed_2_loss_activation": (
        "from custom_functions import my_custom_activation as a, my_custom_loss as b; "
        "objects = {'my_custom_activation': a, 'my_custom_loss': b}"
    ),
    "seed_3_dependent_layer": (
        "from custom_layer_dep import MyDependentLayer as A; objects = {'MyDependentLayer': A}"
    ),
}
FORMATS = ("tf_saved_model", "onnx")

BUILD_SCRIPT = """\
import importlib, os, sys
examples, out = sys.argv[1], sys.argv[2]
for seed in sys.argv[3:]:
    sys.path.insert(0, os.path.join(examples, seed))
    sys.modules.pop("create_model", None)
    importlib.import_module("create_model").build().save(os.path.join(out, seed + ".keras"))
    sys.path.pop(0)
"""

# argv: model path, seed folder, import line, format, out dir, rounds.
ROUND_SCRIPT = """\
import gc, json, os, shutil, sys, time, warnings
path, folder, import_line, fmt, out, rounds = sys.argv[1:7]
warnings.simplefilter("ignore")
import numpy as np
import keras
import kerascope
sys.path.insert(0, folder)
namespace = {}
exec(import_line, namespace)
objects = namespace["objects"]
suffix = ".onnx" if fmt == "onnx" else ""

def plain(target):
    model = keras.saving.load_model(path, custom_objects=objects, compile=False)
    model.predict(np.zeros((4, 10), "float32"), verbose=0)  # an uncalled model: no ONNX export
    model.export(target, format=fmt, verbose=False)

def scoped(target):
    return kerascope.export(path, target, format=fmt, sources=[folder])

def fresh(name):
    target = os.path.join(out, name + suffix)
    shutil.rmtree(target, ignore_errors=True)
    if os.path.isfile(target):
        os.remove(target)
    return target

plain(fresh("warm-plain")); scoped(fresh("warm-kerascope"))
times = {"keras": [], "kerascope": [], "export": [], "parity": []}
diffs = []
for i in range(int(rounds)):
    for side in (("keras", "kerascope") if i % 2 == 0 else ("kerascope", "keras")):
        target = fresh(side)
        gc.collect()
        started = time.perf_counter()
        result = plain(target) if side == "keras" else scoped(target)
        times[side].append(time.perf_counter() - started)
        if side == "kerascope":
            times["export"].append(result.export_seconds)
            times["parity"].append(result.parity_seconds)
            diffs.append(result.max_abs_diff)
print(json.dumps({"times": times, "max_abs_diff": max(diffs)}))
"""


def child_env() -> dict[str, str]:
    """``run.user_env()`` with TensorFlow's C++ logging off."""
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_child(python: str, script: str, *arguments: str) -> dict[str, Any]:
    """Run ``python -c script arguments`` and return the JSON of its last line."""
    result = subprocess.run(
        [python, "-c", script, *arguments],
        env=child_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(f"child failed ({result.returncode}):\n{result.stderr.strip()[-3000:]}")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def onnx_available(python: str) -> bool:
    """Whether the venv has what the ONNX route needs."""
    probe = "import importlib.util as u, sys; sys.exit(any(u.find_spec(n) is None for n in "
    probe += "('onnx', 'onnxruntime', 'tf2onnx')))"
    return subprocess.run([python, "-c", probe], check=False).returncode == 0


def runtime_imports(python: str, rounds: int, has_onnx: bool) -> dict[str, list[float]]:
    """Wall time of ``python -I -c "import <runtime>"`` with a minimal environment, as the
    parity process starts: the floor under its time."""
    modules = ("tensorflow", "onnxruntime") if has_onnx else ("tensorflow",)
    times: dict[str, list[float]] = {module: [] for module in modules}
    env = {"PATH": os.defpath, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for _ in range(rounds):
        for module in modules:
            started = time.perf_counter()
            subprocess.run([python, "-I", "-c", f"import {module}"], env=env, check=True)
            times[module].append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def render(
    rows: list[dict[str, Any]],
    imports: dict[str, list[float]],
    facts: dict[str, str],
    rounds: int,
    wall: float,
) -> str:
    """The BENCHMARKS.md section."""
    versions = ", ".join(f"{k} {facts[k]}" for k in ("kerascope", "keras", "tensorflow"))
    lines = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} "
        f"cores, {facts['ram']} RAM; Python {facts['python']}, {versions}, "
        f"onnx/onnxruntime/tf2onnx as pinned in constraints.txt. The whole run took "
        f"{wall:.0f} s. The machine is shared: other work ran during the measurement.",
        "",
        "Command: `.venv/bin/python bench/export.py` (see its docstring). Per seed and format, "
        f"one process, {rounds} alternating rounds after a warm-up. Plain Keras: "
        "`keras.saving.load_model(custom_objects=...)`, one `predict` of 4 rows, "
        "`model.export(...)`, no check. "
        "kerascope: `kerascope.export(...)`: the plan, the same load and export, and the "
        "parity check in a fresh isolated `python -I` process.",
        "",
        "| seed | format | plain Keras median s | kerascope median s | of which export s "
        "| of which isolated parity s | of which the rest s | ratio | max abs diff |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        if row.get("skipped"):
            lines.append(f"| {row['seed']} | {row['format']} | skipped: {row['skipped']} ||||||")
            continue
        times = row["times"]
        keras_s, scoped_s = median(times["keras"]), median(times["kerascope"])
        rest = [
            total - exported - parity
            for total, exported, parity in zip(
                times["kerascope"], times["export"], times["parity"], strict=True
            )
        ]
        lines.append(
            f"| {row['seed']} | {row['format']} | {keras_s:.2f} | {scoped_s:.2f} | "
            f"{median(times['export']):.2f} | {median(times['parity']):.2f} | "
            f"{median(rest):.2f} | {scoped_s / keras_s:.2f} | {row['max_abs_diff']:.2g} |"
        )
    lines += [
        "",
        '"The rest" is the plan, the load, the reference predict and the move into place '
        "(per round: total - export - parity). The parity process starts an interpreter and "
        "the artifact's runtime from nothing, loads the artifact and runs it once. The floor "
        'under it, measured in the same run (`python -I -c "import <runtime>"`, minimal '
        "environment):",
        "",
        "| runtime | runs | median s | min s | max s |",
        "|---|--:|--:|--:|--:|",
    ]
    for module, values in imports.items():
        lines.append(
            f"| {module} | {len(values)} | {median(values):.2f} | {min(values):.2f} | "
            f"{max(values):.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=str(PYTHON), help="the interpreter to measure with")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    options = parser.parse_args()
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    run_subprocess_build(options.python)
    has_onnx = onnx_available(options.python)
    rows: list[dict[str, Any]] = []
    for seed, import_line in SEEDS.items():
        for format in FORMATS:
            row: dict[str, Any] = {"seed": seed, "format": format}
            if format == "onnx" and not has_onnx:
                row["skipped"] = "kerascope[export] not installed"
            else:
                work = OUT / f"{seed}-{format}"
                work.mkdir(exist_ok=True)
                row.update(run_child(
                    options.python, ROUND_SCRIPT, str(OUT / f"{seed}.keras"),
                    str(EXAMPLES / seed), import_line, format, str(work), str(options.rounds),
                ))  # fmt: skip
                times = row["times"]
                print(f"{seed} {format}: keras {median(times['keras']):.2f} s, kerascope "
                      f"{median(times['kerascope']):.2f} s (parity "
                      f"{median(times['parity']):.2f} s)", flush=True)  # fmt: skip
            rows.append(row)
    imports = runtime_imports(options.python, options.rounds, has_onnx)
    section = render(rows, imports, machine_facts(), options.rounds, time.perf_counter() - started)
    print(section)
    if not options.no_write:
        write_benchmarks_md(section, SECTION)
        print(f"wrote {BENCHMARKS_MD}")
    return 0


def run_subprocess_build(python: str) -> None:
    """Build the seed models in one child process."""
    result = subprocess.run(
        [python, "-c", BUILD_SCRIPT, str(EXAMPLES), str(OUT), *SEEDS],
        env=child_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"building the seeds failed:\n{result.stderr[-3000:]}")


if __name__ == "__main__":
    sys.exit(main())
