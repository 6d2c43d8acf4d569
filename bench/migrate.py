"""Benchmark ``kerascope migrate`` on a ~200 MB tf-keras SavedModel, against the peers.

Run from the repository root with ``make bench`` or ``.venv/bin/python bench/migrate.py [RUNS]``.

1. Build (or reuse) ``bench/out/savedmodel_big/``: a tf-keras 2.21 Sequential of four Dense
   layers (2048 → 4096 → 4096 → 4096 → 2048, 50.4 M float32 parameters, ~200 MB of variables),
   compiled with Adam and mean squared error, saved with ``save_format="tf"`` in a subprocess
   with ``TF_USE_LEGACY_KERAS=1``.
2. Time fresh processes, interleaved, RUNS rounds (default 2), each with its peak RSS (the
   largest process of its tree: ``bench/measure.py`` reads ``ru_maxrss`` from ``wait4``, which
   covers the children a process waited for, so ``migrate``'s parity processes are included):
   - ``kerascope migrate DIR NEW.keras``: rebuild, checkpoint variables, smoke check, save with
     the manifest, then parity: the SavedModel's ``serving_default`` run by TensorFlow alone
     and the new file loaded by kerascope, each in a fresh process;
   - ``kerascope load DIR`` (the in-memory rebuild alone, nothing written);
   - the peers: tf-keras ``load_model(DIR)`` (the Keras that wrote it) and Keras 3's
     ``keras.layers.TFSMLayer(DIR, call_endpoint="serving_default")`` (its inference-only route);
   - kerascope's checkpoint reader alone (every tensor read, no TensorFlow).
3. Replace the section ``## Keras 2 SavedModel migrate`` of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import BENCHMARKS_MD, PYTHON, REPO, machine_facts, write_benchmarks_md

# The project's venv (`make bench`), else the interpreter running this script.
PY = PYTHON if PYTHON.exists() else Path(sys.executable)
SECTION = "## Keras 2 SavedModel migrate"
OUT = REPO / "bench" / "out"
SAVEDMODEL = OUT / "savedmodel_big"
MEASURE = REPO / "bench" / "measure.py"
UNITS = (2048, 4096, 4096, 4096, 2048)

_BUILD = """
import sys
import numpy as np
import tf_keras as keras
units = [int(u) for u in sys.argv[2].split(",")]
model = keras.Sequential(
    [keras.layers.Dense(u, name=f"dense_{i}") for i, u in enumerate(units[1:])]
)
model.build((None, units[0]))
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.002), loss="mse")
model.save(sys.argv[1], save_format="tf")
print(model.count_params())
"""

_TF_KERAS_LOAD = """
import sys
import tf_keras
tf_keras.models.load_model(sys.argv[1])
"""

_TFSM_LAYER = """
import sys
import keras
keras.layers.TFSMLayer(sys.argv[1], call_endpoint="serving_default")
"""

_READER = """
import sys
from kerascope._reading.savedmodel import read_savedmodel_weights
weights = read_savedmodel_weights(sys.argv[1])
total = 0
for layer in weights.layers:
    for _, key in layer.variables:
        total += weights.checkpoint.read_array(key).nbytes
print(total)
"""


def env(legacy: bool = False) -> dict[str, str]:
    """Children run this checkout's kerascope, quietly; tf-keras children get the switch."""
    out = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    out.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO / "src"))
    out.pop("TF_USE_LEGACY_KERAS", None)
    if legacy:
        out["TF_USE_LEGACY_KERAS"] = "1"
    return out


def build() -> int:
    """Write the SavedModel once; return its variables' bytes."""
    variables = SAVEDMODEL / "variables"
    if not (SAVEDMODEL / "keras_metadata.pb").exists():
        shutil.rmtree(SAVEDMODEL, ignore_errors=True)
        OUT.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run(
            [str(PY), "-c", _BUILD, str(SAVEDMODEL), ",".join(map(str, UNITS))],
            env=env(legacy=True), check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(f"built {SAVEDMODEL} in {time.perf_counter() - started:.0f} s", flush=True)
    return sum(f.stat().st_size for f in variables.iterdir() if ".data-" in f.name)


def measure(command: list[str], environment: dict[str, str]) -> tuple[float, int, int]:
    """One fresh run: (wall seconds, peak RSS KiB, exit code)."""
    result = subprocess.run(
        [str(PY), "-S", str(MEASURE), "1", *command],
        env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    seconds, peak, code = result.stdout.split()
    if int(code) != 0:
        print(result.stderr[-2000:], file=sys.stderr)
    return float(seconds), int(peak), int(code)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    size = build()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kerascope-bench-migrate-") as tmp:
        target = Path(tmp) / "migrated.keras"
        commands = {
            "kerascope migrate (incl. parity)": (
                [str(PY), "-m", "kerascope", "migrate", str(SAVEDMODEL), str(target)],
                env(),
            ),
            "kerascope load (rebuild in memory)": (
                [str(PY), "-m", "kerascope", "load", str(SAVEDMODEL)],
                env(),
            ),
            "tf-keras load_model (peer)": (
                [str(PY), "-c", _TF_KERAS_LOAD, str(SAVEDMODEL)],
                env(legacy=True),
            ),
            "Keras 3 TFSMLayer (peer, inference only)": (
                [str(PY), "-c", _TFSM_LAYER, str(SAVEDMODEL)],
                env(),
            ),
            "kerascope checkpoint reader (all tensors, no TF)": (
                [str(PY), "-c", _READER, str(SAVEDMODEL)],
                env(),
            ),
        }
        results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
        for round_number in range(runs):
            order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
            for name in order:
                if name.startswith("kerascope migrate") and target.exists():
                    target.unlink()
                command, environment = commands[name]
                results[name].append(measure(command, environment))
                print(f"  {name}: {results[name][-1]}", flush=True)
        target_size = target.stat().st_size if target.exists() else 0
    total = time.perf_counter() - started
    section = render(results, size=size, target_size=target_size, runs=runs, total=total, load=load)
    write_benchmarks_md(section, SECTION)
    print(section)
    print(f"wrote {BENCHMARKS_MD}")
    return 0 if all(code == 0 for rows in results.values() for _, _, code in rows) else 1


def render(
    results: dict[str, list[tuple[float, int, int]]],
    *,
    size: int,
    target_size: int,
    runs: int,
    total: float,
    load: float,
) -> str:
    """The BENCHMARKS.md section."""
    facts = machine_facts()
    peer = statistics.median(s for s, _, _ in results["tf-keras load_model (peer)"])
    lines = [
        SECTION,
        "",
        "`python bench/migrate.py` builds a tf-keras 2.21 SavedModel (Sequential of four Dense "
        "layers, 2048 → 4096 → 4096 → 4096 → 2048, 50.4 M float32 parameters, compiled with Adam "
        "and mse) and times fresh processes, interleaved: `kerascope migrate` (rebuild from "
        "`keras_metadata.pb`, checkpoint variables, smoke check, save with the manifest, then "
        "parity: the directory's `serving_default` run by TensorFlow alone and the new file "
        "loaded by kerascope, each in its own fresh process), `kerascope load` of the directory, "
        "the peers (tf-keras `load_model` of the directory, Keras 3 `TFSMLayer`), and kerascope's "
        "checkpoint reader alone. Peak RSS is the largest process of each command's tree "
        "(`ru_maxrss` from `wait4`, so `migrate`'s parity processes are included).",
        "",
        f"Measured {facts['date']} on {facts['cpu']} ({facts['cores']} cores, {facts['ram']}), "
        f"Python {facts['python']}, Keras {facts['keras']}, TensorFlow {facts['tensorflow']}; "
        f"variables {size / 10**6:.1f} MB, migrated `.keras` {target_size / 10**6:.1f} MB; "
        f"{runs} runs per command, whole run {total:.0f} s; load average {load:.1f} when it "
        "started (other sessions share the 2 cores: compare the rows of one run, not runs).",
        "",
        "| command | median s | min s | max s | peak RSS MiB | ratio to tf-keras load |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, rows in results.items():
        seconds = [s for s, _, _ in rows]
        peak = max(p for _, p, _ in rows) / 1024
        median = statistics.median(seconds)
        failed = " (FAILED)" if any(code for _, _, code in rows) else ""
        lines.append(
            f"| {name}{failed} | {median:.1f} | {min(seconds):.1f} | {max(seconds):.1f} | "
            f"{peak:.0f} | {median / peer:.2f} |"
        )
    medians = {name: statistics.median(s for s, _, _ in rows) for name, rows in results.items()}
    migrate = medians["kerascope migrate (incl. parity)"]
    load = medians["kerascope load (rebuild in memory)"]
    reader = medians["kerascope checkpoint reader (all tensors, no TF)"]
    lines += [
        "",
        f"`migrate` ({migrate:.0f} s) is a load ({load:.0f} s here, {load / peer:.2f}x tf-keras "
        "loading its own directory), the save of the `.keras`, and two more fresh processes "
        "that each start TensorFlow and load 200 MB (the signature, and the migrated file "
        "through kerascope): the proof is most of the cost, paid once per model. kerascope's "
        f"checkpoint reader reads all {size / 10**6:.0f} MB of variables in {reader:.1f} s "
        "without TensorFlow, holding each tensor once (no second copy).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
