"""Benchmark loading a bundled model from its bundle against the same file loaded with ``--from``.

Run from the repository root with ``make bench`` (after ``bench/run.py``) or
``.venv/bin/python bench/bundle.py``. It imports ``bench/run.py`` (this script's directory is on
``sys.path``) for the model build, the machine facts and the BENCHMARKS.md writer.

1. Build (or reuse) the models of ``bench/run.py`` in ``bench/out/``: ``tiny`` and ``big``
   (about 200 MB) ``.keras`` files, whose custom layer is ``examples/seed_1_custom_layer``.
2. Bundle each with ``kerascope.bundle(..., sources=[EXAMPLE_DIR])`` (no Keras imported) into
   ``bench/out/<name>.bundled.keras``.
3. For each bundled file, fresh children alternate between the two ways to load that same file:
   ``bundle`` (``kerascope.load_model(path, trust=["sha256:<digest>"])``: the code is imported
   from the file's bundle, from memory) and ``from`` (``kerascope.load_model(path,
   sources=[EXAMPLE_DIR])``: the code is imported from the example folder, which wins over the
   bundle). Each child imports Keras and kerascope untimed, times its first load (the code
   imported then), then ``--steady`` more loads of the same file (``gc.collect()`` untimed
   before each). Two modes cannot share a process: the bundle may not shadow a module already
   imported from a file.
4. Prints the table, checks the target (a bundled load at most +50 ms over ``--from``, first
   load and steady state, on both models) and replaces the section ``## Bundles`` in
   ``BENCHMARKS.md``.
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

import run
from run import CUSTOM_LAYER_DIR, OUT, build_models, machine_facts, megabytes, ms, user_env

SECTION = "## Bundles: a bundled file loaded from its bundle vs with --from"
TARGET_MS = 50.0
FILES = ("tiny.keras", "big.keras")

CHILD = """\
import gc, json, sys, time
path, mode, example_dir, digest, steady = sys.argv[1:6]
import keras
import kerascope

def load():
    if mode == "bundle":
        return kerascope.load_model(path, trust=[digest], compile=True)
    return kerascope.load_model(path, sources=[example_dir], compile=True)

gc.collect()
started = time.perf_counter()
model = load()
first = time.perf_counter() - started
custom = next(layer for layer in model.layers if type(layer).__name__ == "MyCustomLayer")
origin = sys.modules[type(custom).__module__].__spec__.origin
del model
times = []
for _ in range(int(steady)):
    gc.collect()
    started = time.perf_counter()
    model = load()
    times.append(time.perf_counter() - started)
    del model
print(json.dumps({"first": first, "steady": times, "origin": origin}))
"""


def child_env() -> dict[str, str]:
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def bundle_file(path: Path) -> tuple[Path, str]:
    """Bundle ``path`` (no Keras imported) and return the bundled file and its trust name."""
    import kerascope

    target = path.with_name(path.stem + ".bundled" + path.suffix)
    manifest = kerascope.bundle(path, target, sources=[CUSTOM_LAYER_DIR])
    assert manifest.bundle is not None
    return target, manifest.bundle.trust_name


def run_child(python: str, path: Path, mode: str, digest: str, steady: int) -> dict[str, Any]:
    command = [python, "-c", CHILD, str(path), mode, str(CUSTOM_LAYER_DIR), digest, str(steady)]
    result = subprocess.run(command, env=child_env(), capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(f"{mode} child failed ({result.returncode}): {result.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def benchmark(python: str, path: Path, digest: str, rounds: int, steady: int) -> dict[str, Any]:
    print(f"{path.name}: ", end="", flush=True)
    first: dict[str, list[float]] = {"bundle": [], "from": []}
    steady_times: dict[str, list[float]] = {"bundle": [], "from": []}
    origins: dict[str, str] = {}
    for index in range(rounds):
        order = ("bundle", "from") if index % 2 == 0 else ("from", "bundle")
        for mode in order:
            answer = run_child(python, path, mode, digest, steady)
            first[mode].append(answer["first"])
            steady_times[mode].extend(answer["steady"])
            origins[mode] = answer["origin"]
    assert origins["bundle"].startswith("<kerascope bundle"), origins
    assert not origins["from"].startswith("<kerascope bundle"), origins
    row = {
        "file": path.name,
        "size": path.stat().st_size,
        "first": {mode: statistics.median(values) for mode, values in first.items()},
        "steady": {mode: statistics.median(values) for mode, values in steady_times.items()},
        "runs": {mode: (len(first[mode]), len(steady_times[mode])) for mode in first},
    }
    print(
        f"first: bundle {ms(row['first']['bundle'])} ms, --from {ms(row['first']['from'])} ms; "
        f"steady: bundle {ms(row['steady']['bundle'])} ms, --from {ms(row['steady']['from'])} ms"
    )
    return row


def render(rows: list[dict[str, Any]], facts: dict[str, str], seconds: float, args: Any) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['ram']} RAM; Python {facts['python']}, keras {facts['keras']}, tensorflow-cpu "
        f"{facts['tensorflow']}. The run took {seconds:.0f} s.",
        "",
        "`bench/bundle.py` bundles `bench/out/tiny.keras` and `big.keras` (the models of "
        "`bench/run.py`; custom layer from `examples/seed_1_custom_layer`) with "
        "`kerascope.bundle`, then loads each bundled file in fresh processes, alternating: "
        "`bundle` = `kerascope.load_model(path, trust=['sha256:<digest>'])` (code imported from "
        "memory, out of the file's bundle), `--from` = `kerascope.load_model(path, "
        "sources=[examples/seed_1_custom_layer])` (code imported from the folder; it wins over "
        f"the bundle). {args.rounds} processes per mode and file; each times its first load "
        f"(the code is imported then) and {args.steady} more loads of the same file. Keras and "
        "kerascope are imported untimed. Medians.",
        "",
        "| file | size MB | first load, bundle ms | first load, --from ms | difference ms | "
        "steady, bundle ms | steady, --from ms | difference ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    verdicts = []
    for row in rows:
        first, steady = row["first"], row["steady"]
        first_diff = (first["bundle"] - first["from"]) * 1000
        steady_diff = (steady["bundle"] - steady["from"]) * 1000
        lines.append(
            f"| {row['file']} | {megabytes(row['size'])} | {ms(first['bundle'])} | "
            f"{ms(first['from'])} | {first_diff:+.1f} | {ms(steady['bundle'])} | "
            f"{ms(steady['from'])} | {steady_diff:+.1f} |"
        )
        for label, diff in (("first load", first_diff), ("steady", steady_diff)):
            met = "met" if diff <= TARGET_MS else "**NOT MET**"
            verdicts.append(
                f"- {row['file']}, {label}: bundle {diff:+.1f} ms against --from "
                f"(target <= +{TARGET_MS:.0f} ms): {met}"
            )
    lines += [
        "",
        f"Target (issue 10): a bundled load within +{TARGET_MS:.0f} ms of --from. On this shared "
        "2-core machine the medians of one mode move by 100 ms and more between runs (the HDF5 "
        "audit child and Keras's own load dominate both modes), so read a single verdict on "
        "that scale with care; the bundle's own steps (parsing the manifest's source, the "
        "spoofing check, compiling the source from memory) do not show among the costly calls "
        "of a profiled first load.",
        "",
    ]
    return "\n".join([*lines, *verdicts]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="processes per mode and file")
    parser.add_argument("--steady", type=int, default=5, help="timed loads after the first")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the models")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    python = str(run.PYTHON) if run.PYTHON.exists() else sys.executable
    if not run.PYTHON.exists():  # a checkout without its own .venv: use this interpreter
        run.PYTHON = Path(sys.executable)
    build_models(args.rebuild)
    rows = []
    for name in FILES:
        bundled, digest = bundle_file(OUT / name)
        rows.append(benchmark(python, bundled, digest, args.rounds, args.steady))
    section = render(rows, machine_facts(), time.perf_counter() - started, args)
    print(section)
    if not args.no_write:
        run.write_benchmarks_md(section, SECTION)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
