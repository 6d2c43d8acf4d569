"""Benchmark batch inference on Ray: kerascope.ray against a hand-set Ray job, and ModelRef.

Run from the repository root with ``.venv/bin/python bench/ray.py`` (needs ``kerascope[ray]``,
which ``make`` installs). It imports ``bench/run.py`` for the model build, the machine facts
and the BENCHMARKS.md writer; children run with the interpreter running this script.

1. Build (or reuse) ``bench/out/big.keras`` (``bench/run.py``: about 200 MB, its custom layer
   ``MyCustomLayer`` in ``examples/seed_1_custom_layer/custom_layer.py``).
2. ``ModelRef`` creation: fresh children each time ``import kerascope`` and one
   ``kerascope.ModelRef(big.keras, sources=[EXAMPLE_DIR])``; one more child times its parts
   (the plan, the model file's SHA-256, the rest) over repeated calls.
3. Ray jobs, in the same run, alternating which goes first in each round. Each job is a fresh
   driver process that starts its own local cluster (2 CPUs, 127.0.0.1), generates the same
   ROWS x 4096 float32 rows in 16 blocks, and adds predictions with 2 actors of one CPU each,
   ``map_batches(batch_size=B)`` and ``model.predict(batch, batch_size=B)`` in both:
   - hand-set: ``runtime_env={"working_dir": a copy of the example folder}`` and an actor
     class that calls ``keras.saving.load_model(path, custom_objects={"MyCustomLayer": ...})``;
   - kerascope: ``ray.init(runtime_env=kerascope.ray.runtime_env(ref))`` and
     ``kerascope.ray.predict(dataset, ref)`` (each actor checks every pinned hash, the model
     file's too, then loads).
   The job time is the wall time of consuming the output (actors start, import TensorFlow,
   load the model, predict every row); cluster start-up is reported apart. Both jobs'
   predictions are compared.
4. Sizes: the files the ref pins, the package ``runtime_env`` ships, and the hand-set
   ``working_dir``.
5. Print the tables and replace the section ``## Batch inference on Ray`` in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# This file is bench/ray.py: in this process, `import ray` would import it. Only the children
# (started with -c from bench/out) import Ray.
import run
from run import (
    BENCHMARKS_MD,
    CUSTOM_LAYER_DIR,
    OUT,
    REPO,
    load_now,
    load_span,
    machine_facts,
    write_benchmarks_md,
)

SECTION = "## Batch inference on Ray"
RATIO_TARGET = 1.05  # the kerascope job may take at most this times the hand-set job's time
WORKING_DIR = OUT / "ray_working_dir"

# A fresh process: import kerascope and make one ModelRef. argv: model, sources.
REF_SCRIPT = """\
import json, sys, time
started = time.perf_counter()
import kerascope
imported = time.perf_counter()
ref = kerascope.ModelRef(sys.argv[1], sources=[sys.argv[2]])
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "ref_s": done - imported}))
"""

# One process: the parts of a ModelRef, repeated. argv: model, sources, repeat.
PARTS_SCRIPT = """\
import json, pickle, statistics, sys, time
import kerascope
from kerascope._resolving.pins import model_digest
path, source, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
kerascope.ModelRef(path, sources=[source])  # warm-up
times = {"ref": [], "check": [], "model_sha256": []}
for _ in range(repeat):
    for name, call in (
        ("ref", lambda: kerascope.ModelRef(path, sources=[source])),
        ("check", lambda: kerascope.check(path, sources=[source])),
        ("model_sha256", lambda: model_digest(path)),
    ):
        started = time.perf_counter()
        call()
        times[name].append(time.perf_counter() - started)
ref = kerascope.ModelRef(path, sources=[source])
print(json.dumps({
    "median": {name: statistics.median(values) for name, values in times.items()},
    "pickled": len(pickle.dumps(ref)),
    "files": [[f.relpath, f.size] for f in ref.files],
}))
"""

# A fresh driver: one Ray job. argv: kind (hand|kerascope), model, sources, rows, batch, actors.
JOB_SCRIPT = """\
import json, os, sys, time
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # 127.0.0.1 only
import numpy as np
kind, path, source = sys.argv[1], sys.argv[2], sys.argv[3]
rows, batch, actors = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
env_vars = {"TF_CPP_MIN_LOG_LEVEL": "3"}
ref_s = None
if kind == "kerascope":
    import kerascope, kerascope.ray
    started = time.perf_counter()
    ref = kerascope.ModelRef(path, sources=[source])
    ref_s = time.perf_counter() - started
    runtime_env = kerascope.ray.runtime_env(ref, {"env_vars": env_vars})
else:
    runtime_env = {"working_dir": source, "env_vars": env_vars}
import ray
started = time.perf_counter()
ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
         object_store_memory=1024**3, runtime_env=runtime_env)
init_s = time.perf_counter() - started


class HandPredict:
    def __init__(self, path, batch):
        import keras
        from custom_layer import MyCustomLayer

        self.model = keras.saving.load_model(
            path, custom_objects={"MyCustomLayer": MyCustomLayer}
        )
        self.batch = batch

    def __call__(self, data):
        predictions = self.model.predict(data["data"], batch_size=self.batch, verbose=0)
        return {"prediction": predictions}


try:
    features = np.random.default_rng(0).normal(size=(rows, 4096)).astype("float32")
    dataset = ray.data.from_numpy(np.array_split(features, 16))
    del features
    if kind == "kerascope":
        out = kerascope.ray.predict(
            dataset, ref, batch_size=batch, actors=actors, keep_columns=False
        )
    else:
        out = dataset.map_batches(
            HandPredict,
            fn_constructor_args=(path, batch),
            batch_size=batch,
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_format="numpy",
        )
    started = time.perf_counter()
    predictions = np.concatenate(
        [b["prediction"] for b in out.iter_batches(batch_format="numpy", batch_size=None)]
    )
    job_s = time.perf_counter() - started
finally:
    ray.shutdown()
print(json.dumps({
    "init_s": init_s, "job_s": job_s, "ref_s": ref_s, "rows": int(len(predictions)),
    "sorted": np.sort(predictions.ravel()).tolist(),
}))
"""


def child_env() -> dict[str, str]:
    env = run.user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_child(script: str, *arguments: str, timeout: float = 3600) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env=child_env(),
        cwd=OUT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        sys.exit(f"a benchmark child failed (exit {result.returncode}):\n{result.stderr[-4000:]}")
    document: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return document


def prepare_working_dir() -> Path:
    """The hand-set job's working_dir: the example folder's sources, as a user would ship it."""
    shutil.rmtree(WORKING_DIR, ignore_errors=True)
    WORKING_DIR.mkdir(parents=True)
    for source in sorted(CUSTOM_LAYER_DIR.glob("*.py")):
        shutil.copy(source, WORKING_DIR / source.name)
    return WORKING_DIR


def tree_size(root: Path) -> tuple[int, int]:
    files = [path for path in root.rglob("*") if path.is_file()]
    return len(files), sum(path.stat().st_size for path in files)


def shipped_size(model: Path) -> tuple[int, int, list[str]]:
    """What kerascope.ray.runtime_env ships for the model: files, bytes, entries."""
    code = (
        "import json, os, sys, kerascope, kerascope.ray\n"
        "ref = kerascope.ModelRef(sys.argv[1], sources=[sys.argv[2]])\n"
        "env = kerascope.ray.runtime_env(ref)\n"
        "files = [os.path.join(d, n) for e in env['py_modules'] for d, _, ns in os.walk(e) "
        "for n in ns] if os.path.isdir(env['py_modules'][0]) else env['py_modules']\n"
        "print(json.dumps({'files': len(files), 'bytes': sum(os.path.getsize(f) for f in files),"
        " 'entries': env['py_modules']}))"
    )
    result = run_child(code, str(model), str(CUSTOM_LAYER_DIR))
    return result["files"], result["bytes"], result["entries"]


def load_range(jobs: list[dict[str, Any]]) -> str:
    """The lowest and the highest 1-minute load average seen around these jobs."""
    loads = [value for job in jobs for value in job["load"]]
    return f"{min(loads):.1f} - {max(loads):.1f}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def seconds(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def render(
    *,
    facts: dict[str, str],
    config: dict[str, int],
    jobs: dict[str, list[dict[str, Any]]],
    refs: list[dict[str, float]],
    parts: dict[str, Any],
    sizes: dict[str, tuple[int, int]],
    same: bool,
    elapsed: float,
    reduced: str,
) -> str:
    hand = median([job["job_s"] for job in jobs["hand"]])
    ours = median([job["job_s"] for job in jobs["kerascope"]])
    ratio = ours / hand
    planned_files, planned_bytes = sizes["planned"]
    shipped_files, shipped_bytes = sizes["shipped"]
    working_files, working_bytes = sizes["working_dir"]
    ray_version = metadata.version("ray")
    lines = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} "
        f"cores, {facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']}, "
        f"keras {facts['keras']}, tensorflow-cpu {facts['tensorflow']}, ray {ray_version}. "
        f"The whole run took {elapsed:.0f} s. The machine is shared: other work ran during "
        f"the measurement (load average over 1, 5, 15 min at the end: {facts['load']}; the "
        "tables give the 1-minute load average at the start and at the end of each "
        "measurement). Rely on the ratios of jobs run back to back.",
        "",
        "Command: `.venv/bin/python bench/ray.py"
        + (f" {reduced}" if reduced else "")
        + "` (see its docstring).",
        "",
        f"Jobs: `big.keras` (201.9 MB, `bench/run.py`) over {config['rows']:,} rows x 4096 "
        f"float32 features in 16 blocks, {config['actors']} actors of 1 CPU, batches of "
        f"{config['batch']} rows, on a fresh local cluster (2 CPUs, 127.0.0.1) per job; "
        f"{config['rounds']} rounds, each running both jobs, alternating which goes first. "
        "Job time: wall time to consume all predictions (actors start, import TensorFlow, "
        "load the model, predict). The hand-set job ships the example folder as `working_dir` "
        "and loads with `keras.saving.load_model(path, custom_objects={'MyCustomLayer': "
        "MyCustomLayer})`; the kerascope job makes a `ModelRef`, starts the cluster with "
        "`runtime_env=kerascope.ray.runtime_env(ref)` and runs `kerascope.ray.predict` "
        "(each actor checks the pinned hashes, including the 200 MB model file's, then loads).",
        "",
        "| job | runs | median job s | min s | max s | median cluster start s "
        "| load avg 1 min (lowest - highest) |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for kind, label in (("hand", "hand-set Ray job"), ("kerascope", "kerascope.ray")):
        times = [job["job_s"] for job in jobs[kind]]
        lines.append(
            f"| {label} | {len(times)} | {seconds(median(times))} | {seconds(min(times))} | "
            f"{seconds(max(times))} | {seconds(median([job['init_s'] for job in jobs[kind]]))} "
            f"| {load_range(jobs[kind])} |"
        )
    paired = median(
        [
            ours_job["job_s"] / hand_job["job_s"]
            for ours_job, hand_job in zip(jobs["kerascope"], jobs["hand"], strict=True)
        ]
    )
    spreads = {
        kind: max(j["job_s"] for j in jobs[kind]) - min(j["job_s"] for j in jobs[kind])
        for kind in jobs
    }
    noise = (
        f" The spread of the job times (max - min: {spreads['hand']:.1f} s hand-set, "
        f"{spreads['kerascope']:.1f} s kerascope) is wider than the difference of the medians "
        f"({ours - hand:+.1f} s): on this shared machine the comparison does not resolve 5%."
        if max(spreads.values()) > abs(ours - hand)
        else ""
    )
    met = "MET" if ratio <= RATIO_TARGET else "NOT MET"
    size_met = "MET" if shipped_bytes <= planned_bytes else "NOT MET"
    ref_fresh = median([ref["ref_s"] for ref in refs])
    import_fresh = median([ref["import_s"] for ref in refs])
    lines += [
        "",
        f"Ratio kerascope / hand-set (median job times): **{ratio:.3f}** "
        f"(target <= {RATIO_TARGET}): **{met}**. Median of the per-round ratios (the two jobs "
        f"of a round run back to back): {paired:.3f}. Both jobs gave the same predictions: "
        f"{'yes' if same else 'NO'} (sorted, within 1e-5).{noise}",
        "",
        "What is shipped:",
        "",
        "| | files | bytes |",
        "|---|--:|--:|",
        f"| planned by the ref (`ref.files`) | {planned_files} | {planned_bytes:,} |",
        f"| shipped by `kerascope.ray.runtime_env(ref)` | {shipped_files} | {shipped_bytes:,} |",
        f"| hand-set `working_dir` (the example folder's sources) | {working_files} | "
        f"{working_bytes:,} |",
        "",
        f"Shipped package at most the planned files' size: {shipped_bytes:,} <= "
        f"{planned_bytes:,} bytes: **{size_met}**.",
        "",
        "Making a `ModelRef` of `big.keras` (plan, pin, and the SHA-256 of the 201.9 MB file):",
        "",
        f"Load average (1 min) while these ran: {load_span(parts['load'])}.",
        "",
        "| measurement | median ms |",
        "|---|--:|",
        f"| fresh process: `kerascope.ModelRef(...)` after `import kerascope` "
        f"({len(refs)} processes) | {ref_fresh * 1000:.0f} |",
        f"| fresh process: `import kerascope` | {import_fresh * 1000:.0f} |",
        f"| same process, repeated ({config['ref_repeat']} calls): `kerascope.ModelRef(...)` | "
        f"{parts['median']['ref'] * 1000:.0f} |",
        f"| of which the plan (`kerascope.check`) | {parts['median']['check'] * 1000:.1f} |",
        f"| of which the model file's SHA-256 | {parts['median']['model_sha256'] * 1000:.0f} |",
        "",
        f"The ref pickles to {parts['pickled']:,} bytes.",
        "",
        "Every job:",
        "",
        "| round | job | job s | cluster start s | ModelRef in the driver s | load avg 1 min |",
        "|--:|---|--:|--:|--:|--:|",
    ]
    for kind in ("hand", "kerascope"):
        for index, job in enumerate(jobs[kind]):
            ref_s = f"{job['ref_s']:.2f}" if job["ref_s"] is not None else ""
            lines.append(
                f"| {index + 1} | {kind} | {seconds(job['job_s'])} | {seconds(job['init_s'])} | "
                f"{ref_s} | {load_span(job['load'])} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows to predict per job")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the two jobs")
    parser.add_argument("--batch", type=int, default=500, help="rows per batch")
    parser.add_argument("--ref-repeat", type=int, default=5, help="fresh ModelRef processes")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    run.PYTHON = Path(sys.executable)  # build the models with this interpreter too
    model = next(path for path in run.build_models(False) if path.name == "big.keras")
    working_dir = prepare_working_dir()
    config = {
        "rows": arguments.rows,
        "rounds": arguments.rounds,
        "batch": arguments.batch,
        "actors": 2,
        "ref_repeat": arguments.ref_repeat,
    }
    defaults = {"rows": 10_000, "rounds": 4, "batch": 500, "ref_repeat": 5}
    reduced = " ".join(
        f"--{name.replace('_', '-')} {config[name]}"
        for name, value in defaults.items()
        if config[name] != value
    )

    print("ModelRef in fresh processes ...", flush=True)
    load_before = load_now()
    refs = [
        run_child(REF_SCRIPT, str(model), str(CUSTOM_LAYER_DIR))
        for _ in range(arguments.ref_repeat)
    ]
    parts = run_child(PARTS_SCRIPT, str(model), str(CUSTOM_LAYER_DIR), str(arguments.ref_repeat))
    parts["load"] = (load_before, load_now())
    shipped_files, shipped_bytes, _ = shipped_size(model)
    sizes = {
        "planned": (len(parts["files"]), sum(size for _, size in parts["files"])),
        "shipped": (shipped_files, shipped_bytes),
        "working_dir": tree_size(working_dir),
    }

    jobs: dict[str, list[dict[str, Any]]] = {"hand": [], "kerascope": []}
    sources = {"hand": str(working_dir), "kerascope": str(CUSTOM_LAYER_DIR)}
    for index in range(arguments.rounds):
        order = ("hand", "kerascope") if index % 2 == 0 else ("kerascope", "hand")
        for kind in order:
            print(f"round {index + 1}: {kind} job ...", end=" ", flush=True)
            load_before = load_now()
            job = run_child(
                JOB_SCRIPT,
                kind,
                str(model),
                sources[kind],
                str(arguments.rows),
                str(arguments.batch),
                "2",
            )
            job["load"] = (load_before, load_now())
            assert job["rows"] == arguments.rows, job["rows"]
            jobs[kind].append(job)
            print(
                f"{job['job_s']:.1f} s (cluster start {job['init_s']:.1f} s, "
                f"load {load_span(job['load'])})",
                flush=True,
            )
    import numpy as np

    same = bool(np.allclose(jobs["hand"][0]["sorted"], jobs["kerascope"][0]["sorted"], atol=1e-5))
    for job in (*jobs["hand"], *jobs["kerascope"]):
        del job["sorted"]
    section = render(
        facts=machine_facts(),
        config=config,
        jobs=jobs,
        refs=refs,
        parts=parts,
        sizes=sizes,
        same=same,
        elapsed=time.perf_counter() - started,
        reduced=reduced,
    )
    print()
    print(section)
    if not arguments.no_write:
        write_benchmarks_md(section, SECTION)
        print(f"wrote the section to {BENCHMARKS_MD.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
