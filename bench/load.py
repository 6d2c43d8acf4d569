"""Benchmark ``kerascope.load_model`` against ``keras.saving.load_model`` in the same process.

Run from the repository root with ``make bench`` (after ``bench/run.py``) or
``.venv/bin/python bench/load.py``. It imports ``bench/run.py`` (this script's directory is on
``sys.path``) for the model build, the machine facts and the BENCHMARKS.md writer.

1. Build (or reuse) the models of ``bench/run.py`` in ``bench/out/``: ``tiny`` and ``big``
   (about 200 MB), each as ``.keras`` and ``.h5``, compiled with adam and mean_squared_error.
2. Steady state: for every file, ONE child process imports Keras and kerascope, puts the example
   folder on ``sys.path`` and imports ``MyCustomLayer`` from it, loads the file once untimed with
   each tool (and checks both give the same model), then alternates N timed calls of
   ``keras.saving.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer},
   compile=True)`` and ``kerascope.load_model(path, sources=[EXAMPLE_DIR], compile=True)``, each
   pair in the opposite order to the one before, plus one ``kerascope.check`` (the plan alone,
   no Keras call). Before each timed call ``gc.collect()`` runs untimed, so freeing the previous
   model is never timed. ``keras.utils.clear_session()`` is not called: it makes every later
   load about 25 ms slower (Keras re-initialises), which would flatter the ratio.
3. First call in a fresh process: for every file, fresh children that import Keras untimed and
   then time either ``from custom_layer import MyCustomLayer`` + one ``keras.saving.load_model``
   or ``import kerascope`` + one ``kerascope.load_model``, alternating the two kinds.
4. Every child prints JSON; this runner prints the tables, checks the targets (kerascope at most
   +20 ms on the tiny model, at most 1.03x on the ~200 MB model) and replaces the section
   ``## kerascope.load_model vs keras.saving.load_model`` in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from run import (
    BENCHMARKS_MD,
    CUSTOM_LAYER_DIR,
    PYTHON,
    REPO,
    build_models,
    load_now,
    load_span,
    machine_facts,
    megabytes,
    ms,
    user_env,
    write_benchmarks_md,
)

SECTION = "## kerascope.load_model vs keras.saving.load_model"
TINY_TARGET_MS = 20.0  # kerascope may add at most this much to a load of the tiny model
BIG_TARGET_RATIO = 1.03  # and at most 3% to a load of the ~200 MB model

Series = dict[str, Any]  # runs, median_s, min_s, max_s
Row = dict[str, Any]  # file, size, problems, steady: {keras, kerascope, check, paired}, first

# Runs in a child process: the steady-state comparison, in one process.
# argv: model path, example folder, timed pairs.
STEADY_SCRIPT = """\
import gc, json, sys, time
path, example_dir, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, example_dir)
import keras
import kerascope
from custom_layer import MyCustomLayer

def plain():
    return keras.saving.load_model(
        path, custom_objects={"MyCustomLayer": MyCustomLayer}, compile=True
    )

def scoped():
    return kerascope.load_model(path, sources=[example_dir], compile=True)

def plan():
    return kerascope.check(path, sources=[example_dir], compile=True)

def timed(call):
    gc.collect()
    started = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - started
    del result
    return elapsed

def describe(model):
    return [
        type(model).__name__,
        [type(layer).__name__ for layer in model.layers],
        int(model.count_params()),
        bool(model.compiled),
        str(getattr(model.loss, "__name__", model.loss)),
        type(model.optimizer).__name__,
    ]

first, second = describe(plain()), describe(scoped())  # warm-up, untimed
problem = None if first == second else f"different models: keras {first}, kerascope {second}"
if not plan().ok:
    problem = "kerascope.check: the plan is not ok"
times = {"keras": [], "kerascope": [], "check": []}
for i in range(repeat):
    order = ("keras", "kerascope") if i % 2 == 0 else ("kerascope", "keras")
    for key in order:
        times[key].append(timed(plain if key == "keras" else scoped))
    times["check"].append(timed(plan))
print(json.dumps({"times": times, "model": first, "problem": problem}))
"""

# Run in child processes: the first load in a fresh process, Keras already imported.
# argv: model path, example folder.
FIRST_KERAS_SCRIPT = """\
import json, sys, time
path, example_dir = sys.argv[1], sys.argv[2]
import keras
sys.path.insert(0, example_dir)
started = time.perf_counter()
from custom_layer import MyCustomLayer
imported = time.perf_counter()
keras.saving.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer}, compile=True)
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "total_s": done - started}))
"""
FIRST_KERASCOPE_SCRIPT = """\
import json, sys, time
path, example_dir = sys.argv[1], sys.argv[2]
import keras
started = time.perf_counter()
import kerascope
imported = time.perf_counter()
kerascope.load_model(path, sources=[example_dir], compile=True)
done = time.perf_counter()
print(json.dumps({"import_s": imported - started, "total_s": done - started}))
"""
FIRST_SCRIPTS = {"keras": FIRST_KERAS_SCRIPT, "kerascope": FIRST_KERASCOPE_SCRIPT}

LABELS = {
    "keras": "keras.saving.load_model",
    "kerascope": "kerascope.load_model",
    "check": "kerascope.check",
}


def child_env() -> dict[str, str]:
    """The environment of every child: ``run.user_env()`` with TensorFlow's C++ logging off.

    Unlike ``run.keras_env()`` it does not put the example folder on PYTHONPATH: the children
    that need it (the plain Keras ones) put it on ``sys.path`` themselves, and kerascope must
    find the layer through ``sources=`` alone.
    """
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def run_child(script: str, *arguments: str) -> tuple[dict[str, Any] | None, str | None]:
    """Run ``python -c script arguments``; return (its JSON output, None) or (None, a problem)."""
    command = [str(PYTHON), "-c", script, *arguments]
    result = subprocess.run(command, env=child_env(), capture_output=True, text=True, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return None, f"exit code {result.returncode}:\n{result.stderr.strip()[-3000:]}"
    try:
        return json.loads(lines[-1]), None
    except ValueError as error:
        return None, f"the last line of stdout is not JSON ({error}): {lines[-1]!r}"


def series(times: list[float]) -> Series:
    return {
        "runs": len(times),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def benchmark_file(path: Path, repeat: int, first_repeat: int) -> Row:
    """Measure one model file: the steady-state child, then the fresh-process children."""
    print(f"{path.name}: ", end="", flush=True)
    problems: dict[str, str] = {}  # what -> what went wrong, for the report
    row: Row = {"file": path.name, "size": path.stat().st_size, "problems": problems}
    load_before = load_now()
    output, problem = run_child(STEADY_SCRIPT, str(path), str(CUSTOM_LAYER_DIR), str(repeat))
    if output is not None and output["problem"]:
        problem = output["problem"]
    if problem:
        problems["same-process child"] = problem
    if output is not None:
        times = output["times"]
        paired = [s - k for s, k in zip(times["kerascope"], times["keras"], strict=True)]
        row["steady"] = {key: series(values) for key, values in times.items()}
        row["steady"]["paired"] = statistics.median(paired)
        steady = row["steady"]
        print(
            f"keras {ms(steady['keras']['median_s'])} ms  "
            f"kerascope {ms(steady['kerascope']['median_s'])} ms  "
            f"check {ms(steady['check']['median_s'])} ms  ",
            end="",
            flush=True,
        )
    row["load_steady"] = load_before, load_now()
    first: dict[str, dict[str, list[float]]] = {
        key: {"import_s": [], "total_s": []} for key in FIRST_SCRIPTS
    }
    for i in range(first_repeat):
        order = ("keras", "kerascope") if i % 2 == 0 else ("kerascope", "keras")
        for key in order:
            output, problem = run_child(FIRST_SCRIPTS[key], str(path), str(CUSTOM_LAYER_DIR))
            if output is None:
                problems[f"fresh-process child ({LABELS[key]})"] = problem or ""
                continue
            for name, value in output.items():
                first[key][name].append(value)
    row["load_first"] = row["load_steady"][1], load_now()
    if all(first[key]["total_s"] for key in FIRST_SCRIPTS):
        row["first"] = {
            key: {name: series(values) for name, values in parts.items()}
            for key, parts in first.items()
        }
        print(
            f"| fresh: keras {ms(row['first']['keras']['total_s']['median_s'])} ms  "
            f"kerascope {ms(row['first']['kerascope']['total_s']['median_s'])} ms",
            end="",
        )
    print(flush=True)
    return row


def signed_ms(seconds: float) -> str:
    return "+" + ms(seconds) if seconds >= 0 else "-" + ms(-seconds)


def steady_table(rows: list[Row]) -> str:
    """The main table: medians of the same-process calls."""
    lines = [
        "| file | size MB | pairs | keras ms | kerascope ms | ratio kerascope/keras "
        "| difference ms | paired difference ms | kerascope.check ms | load avg 1 min |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        if "steady" not in row:
            continue
        m = row["steady"]
        keras, scoped = m["keras"]["median_s"], m["kerascope"]["median_s"]
        lines.append(
            f"| {row['file']} | {megabytes(row['size'])} | {m['keras']['runs']} | {ms(keras)} "
            f"| {ms(scoped)} | {scoped / keras:.3f} | {signed_ms(scoped - keras)} "
            f"| {signed_ms(m['paired'])} | {ms(m['check']['median_s'])} "
            f"| {load_span(row['load_steady'])} |"
        )
    return "\n".join(lines)


def first_table(rows: list[Row]) -> str:
    """The second table: medians of the first load in fresh processes."""
    lines = [
        "| file | runs | keras: import custom_layer + load ms | of which import ms "
        "| kerascope: import kerascope + load_model ms | of which import ms "
        "| ratio kerascope/keras | difference ms | load avg 1 min |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        if "first" not in row:
            continue
        keras, scoped = row["first"]["keras"], row["first"]["kerascope"]
        k, s = keras["total_s"]["median_s"], scoped["total_s"]["median_s"]
        lines.append(
            f"| {row['file']} | {keras['total_s']['runs']} | {ms(k)} "
            f"| {ms(keras['import_s']['median_s'])} | {ms(s)} "
            f"| {ms(scoped['import_s']['median_s'])} | {s / k:.3f} | {signed_ms(s - k)} "
            f"| {load_span(row['load_first'])} |"
        )
    return "\n".join(lines)


def spread_table(rows: list[Row]) -> str:
    """Median, min and max of every timed call."""
    lines = [
        "| file | call | runs | median ms | min ms | max ms |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for row in rows:
        measured = [(f"{LABELS[key]} (same process)", row["steady"][key]) for key in LABELS]
        if "first" in row:
            measured += [
                (f"{LABELS[key]} (fresh process, with the import)", row["first"][key]["total_s"])
                for key in FIRST_SCRIPTS
            ]
        for label, m in measured:
            lines.append(
                f"| {row['file']} | {label} | {m['runs']} | {ms(m['median_s'])} "
                f"| {ms(m['min_s'])} | {ms(m['max_s'])} |"
            )
    return "\n".join(lines)


def verdict(file: str, keras: float, scoped: float) -> str:
    """Whether kerascope meets the target for this file, given the two median times."""
    if file.startswith("tiny"):
        met = "MET" if (scoped - keras) * 1000 <= TINY_TARGET_MS else "NOT MET"
        return (
            f"{signed_ms(scoped - keras)} ms, ratio {scoped / keras:.3f} "
            f"(target at most +{TINY_TARGET_MS:.0f} ms): **{met}**"
        )
    met = "MET" if scoped / keras <= BIG_TARGET_RATIO else "NOT MET"
    return (
        f"ratio {scoped / keras:.3f}, {signed_ms(scoped - keras)} ms "
        f"(target at most {BIG_TARGET_RATIO:.2f}): **{met}**"
    )


def target_verdicts(rows: list[Row]) -> list[str]:
    """State, honestly, whether each target is met, in the same process and in a fresh one."""
    verdicts = []
    for row in rows:
        if "steady" in row:
            m = row["steady"]
            keras, scoped = m["keras"]["median_s"], m["kerascope"]["median_s"]
            verdicts.append(f"- {row['file']}, same process: {verdict(row['file'], keras, scoped)}")
    for row in rows:
        if "first" in row:
            keras = row["first"]["keras"]["total_s"]["median_s"]
            scoped = row["first"]["kerascope"]["total_s"]["median_s"]
            verdicts.append(
                f"- {row['file']}, first call in a fresh process: "
                f"{verdict(row['file'], keras, scoped)}"
            )
    return verdicts


def render_section(
    rows: list[Row],
    facts: dict[str, str],
    *,
    repeat: dict[str, int],
    first_repeat: int,
    total_s: float,
) -> str:
    """The whole ``## kerascope.load_model vs keras.saving.load_model`` section."""
    problems = [
        f"- {row['file']}, {label}:\n\n  ```\n  " + problem.replace("\n", "\n  ") + "\n  ```"
        for row in rows
        for label, problem in row["problems"].items()
    ]
    measured = [row for row in rows if "steady" in row]
    parts = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']}, "
        f"keras {facts['keras']}, tensorflow-cpu {facts['tensorflow']}, h5py {facts['h5py']}. "
        f"This benchmark (`.venv/bin/python bench/load.py`, run by `make bench` after "
        f"`bench/run.py`) took {total_s:.0f} s. The machine is shared: other work ran during "
        f"the measurement (load average over 1, 5, 15 min at the end: {facts['load']}; the "
        "tables give the 1-minute load average at the start and at the end of each file's "
        "runs). Rely on the ratios and the paired differences, measured in the same run.",
        "",
        "Calls compared (`EXAMPLE_DIR` is `examples/seed_1_custom_layer`, which defines "
        "`MyCustomLayer` in `custom_layer.py`; the models are those of the section above, "
        "compiled with adam and mean_squared_error, so both calls compile):",
        "",
        "```python",
        'keras.saving.load_model(path, custom_objects={"MyCustomLayer": MyCustomLayer}, '
        "compile=True)",
        "kerascope.load_model(path, sources=[EXAMPLE_DIR], compile=True)",
        "kerascope.check(path, sources=[EXAMPLE_DIR], compile=True)  # the plan alone",
        "```",
        "",
        "Same process: for each file, one child process (TF_CPP_MIN_LOG_LEVEL=3, "
        "PYTHONDONTWRITEBYTECODE unset) imports keras and kerascope, puts `EXAMPLE_DIR` on "
        "`sys.path` and imports `MyCustomLayer` from it, loads the file once untimed with each "
        "tool (and checks that both give the same layers, parameter count, loss and optimizer), "
        f"then times {repeat['tiny']} (tiny) or {repeat['big']} (big) pairs of calls, "
        "alternating which tool goes first, each pair followed by one `kerascope.check`. Before "
        "every timed call `gc.collect()` runs untimed (`keras.utils.clear_session()` is not "
        "called: it makes every later load about 25 ms slower). Each call is timed with "
        "`time.perf_counter`. The table shows medians; the ratio and the "
        "difference are those of the two medians; the paired difference is the median of the "
        "per-pair differences (kerascope minus keras, each pair run back to back, so less "
        "sensitive to slow periods of this noisy 2-core machine). In this steady state "
        "`custom_layer` is already imported, so kerascope's cost is its plan (read the file, "
        "index the sources statically, resolve) plus handing over to Keras.",
        "",
        steady_table(rows),
        "",
        f"First call in a fresh process: for each file, {first_repeat} fresh children of each "
        "kind, alternating, each importing keras untimed and then timing either "
        "`from custom_layer import MyCustomLayer` (with `EXAMPLE_DIR` put on `sys.path`) and one "
        "`keras.saving.load_model`, or `import kerascope` and one `kerascope.load_model` (which "
        "also imports kerascope's loading modules and, through the plan, `custom_layer`). The "
        "table shows medians of the whole timed span and of its import part. One load per "
        "process is much noisier than the steady state: read these as indicative.",
        "",
        first_table(rows),
        "",
        "Targets (kerascope.load_model adds at most 20 ms to a load of the tiny model and at "
        "most 3% to a load of the ~200 MB model; judged on the medians):",
        "",
        *target_verdicts(rows),
        "",
        "Spread of every timed call:",
        "",
        spread_table(measured),
    ]
    if problems:
        parts += ["", "Problems:", "", *problems]
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat",
        type=int,
        help="timed pairs per file in the same process (default 15 tiny, 7 big)",
    )
    parser.add_argument(
        "--first-repeat", type=int, default=3, help="fresh-process runs of each kind per file"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the models")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    if not PYTHON.exists():
        sys.exit(f"{PYTHON} is missing: run `make bench` (it creates .venv)")
    paths = build_models(arguments.rebuild)
    repeat = {
        "tiny": arguments.repeat or 15,
        "big": arguments.repeat or 7,
    }
    rows = [
        benchmark_file(path, repeat[path.name.split(".")[0]], arguments.first_repeat)
        for path in paths
    ]
    total_s = time.perf_counter() - started
    section = render_section(
        rows,
        machine_facts(),
        repeat=repeat,
        first_repeat=arguments.first_repeat,
        total_s=total_s,
    )
    print()
    print(section)
    if not arguments.no_write:
        write_benchmarks_md(section, SECTION)
        print(f"wrote {BENCHMARKS_MD.relative_to(REPO)}")
    return 1 if any(row["problems"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
