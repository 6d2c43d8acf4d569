"""Benchmark ``kerascope inspect`` against ``keras.saving.load_model``.

Run from the repository root with ``make bench`` (or ``.venv/bin/python bench/run.py``).

1. Build two models in a child process (Keras is imported only there) and save each as
   ``.keras`` and ``.h5`` under ``bench/out/`` (git-ignored). A marker file records the build
   recipe, so a re-run reuses the files unless the recipe changed or ``--rebuild`` is given.
   - ``tiny``: Dense(64) -> MyCustomLayer(32) -> Dense(1) on a 10-feature input.
   - ``big``: three Dense(4096) on a 4096-feature input -> MyCustomLayer(32) -> Dense(1),
     about 50M float32 parameters (about 200 MB).
2. For every file, time whole fresh processes: ``kerascope inspect FILE``,
   ``kerascope inspect FILE --json`` and a ``python -c`` that calls ``keras.saving.load_model``.
   ``bench/measure.py`` starts them and reads each one's wall time (``time.perf_counter``) and
   peak RSS (``ru_maxrss`` from ``os.wait4``, KiB on Linux); see that file for why. The runs of
   the three commands are interleaved (round robin, the few keras runs spread evenly among the
   rounds), so that a slow period of this noisy machine hits every command alike.
3. Print a table, check the project targets and replace the section
   ``## inspect vs keras.saving.load_model`` in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
KERASCOPE = VENV_BIN / "kerascope"
MEASURE = REPO / "bench" / "measure.py"
OUT = REPO / "bench" / "out"
MARKER = OUT / "built.json"
CUSTOM_LAYER_DIR = REPO / "examples" / "seed_1_custom_layer"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION = "## inspect vs keras.saving.load_model"

TIME_TARGET = 100.0  # inspect must be at least this many times faster on the ~200 MB model
RSS_TARGET_BYTES = 80 * 10**6  # "under 80 MB", read strictly as 80 * 10^6 bytes (76.3 MiB)
MIB = 1024 * 1024

# The three measured commands, by key.
LABELS = {
    "inspect": "kerascope inspect",
    "json": "kerascope inspect --json",
    "keras": "keras load_model",
}
KERASCOPE_KEYS = ("inspect", "json")

Measurement = dict[str, Any]  # median_s, min_s, max_s, peak_median, peak_max, codes, stderr
Row = dict[str, Any]  # file, size, problems and one Measurement per key of LABELS

# Runs in a child process: builds both models and saves each as .keras and .h5.
BUILD_SCRIPT = """\
import os, sys
import keras
from custom_layer import MyCustomLayer

out = sys.argv[1]
models = {
    "tiny": keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(64, activation="relu"),
        MyCustomLayer(32),
        keras.layers.Dense(1),
    ]),
    "big": keras.Sequential([
        keras.Input((4096,)),
        keras.layers.Dense(4096, activation="relu"),
        keras.layers.Dense(4096, activation="relu"),
        keras.layers.Dense(4096, activation="relu"),
        MyCustomLayer(32),
        keras.layers.Dense(1),
    ]),
}
for name, model in models.items():
    model.compile(optimizer="adam", loss="mean_squared_error")
    print(name, model.count_params(), "parameters", flush=True)
    for suffix in (".keras", ".h5"):
        model.save(os.path.join(out, name + suffix))
"""

# Runs in a child process: the plain Keras way to open a model, for comparison.
LOAD_SCRIPT = (
    "import sys, keras; from custom_layer import MyCustomLayer; "
    'keras.saving.load_model(sys.argv[1], custom_objects={"MyCustomLayer": MyCustomLayer})'
)

MODEL_FILES = ("tiny.keras", "tiny.h5", "big.keras", "big.h5")


def user_env() -> dict[str, str]:
    """The environment of every measured child: inherited, but with bytecode caching on.

    Some shells set PYTHONDONTWRITEBYTECODE; an installed package runs from cached bytecode,
    so both kerascope and Keras are measured that way (the untimed warm-up writes the cache).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def keras_env() -> dict[str, str]:
    """The environment for children that import Keras (everything else inherited unchanged)."""
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(CUSTOM_LAYER_DIR) + (os.pathsep + path if path else "")
    return env


def recipe_digest() -> str:
    """Identify the build recipe, so files built by an older recipe are rebuilt."""
    recipe = BUILD_SCRIPT + metadata.version("keras") + metadata.version("tensorflow-cpu")
    return hashlib.sha256(recipe.encode()).hexdigest()


def build_models(rebuild: bool) -> list[Path]:
    """Build the benchmark models into ``bench/out/`` unless the marker says they are current."""
    OUT.mkdir(parents=True, exist_ok=True)
    paths = [OUT / name for name in MODEL_FILES]
    if not rebuild and MARKER.exists():
        marker = json.loads(MARKER.read_text())
        sizes = marker.get("sizes", {})
        if marker.get("recipe") == recipe_digest() and all(
            path.exists() and path.stat().st_size == sizes.get(path.name) for path in paths
        ):
            print(f"reusing models in {OUT.relative_to(REPO)}/ (delete {MARKER.name} to rebuild)")
            return paths
    MARKER.unlink(missing_ok=True)
    print(f"building models into {OUT.relative_to(REPO)}/ ...", flush=True)
    started = time.perf_counter()
    log = OUT / "build.log"
    build = [str(PYTHON), "-c", BUILD_SCRIPT, str(OUT)]
    with log.open("w") as output:
        process = subprocess.run(
            build, env=keras_env(), stdout=output, stderr=subprocess.STDOUT, check=False
        )
    code = process.returncode
    if code != 0:
        sys.exit(f"building the models failed (exit code {code}):\n{log.read_text()}")
    print(f"built in {time.perf_counter() - started:.1f} s (log: {log.relative_to(REPO)})")
    marker = {
        "recipe": recipe_digest(),
        "sizes": {path.name: path.stat().st_size for path in paths},
    }
    MARKER.write_text(json.dumps(marker, indent=2) + "\n")
    return paths


def summarize(runs: list[tuple[float, int, int]], stderr: str) -> Measurement:
    """Median, min and max time and median and max peak RSS of (seconds, peak bytes, code) runs."""
    times = [seconds for seconds, _, _ in runs]
    peaks = [peak for _, peak, _ in runs]
    return {
        "runs": len(runs),
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_median": int(statistics.median(peaks)),
        "peak_max": max(peaks),
        "codes": sorted({code for _, _, code in runs}),
        "stderr": stderr,
    }


def measure(command: list[str], env: dict[str, str], repeat: int) -> Measurement:
    """Run ``command`` in fresh processes, once untimed (warm-up) then ``repeat`` times.

    The processes are started by ``bench/measure.py``, a lean helper, so that their peak RSS is
    not raised to this runner's own peak (see that file).
    """
    helper = [str(PYTHON), "-S", str(MEASURE), str(repeat + 1), *command]
    result = subprocess.run(helper, env=env, capture_output=True, text=True, check=True)
    runs = [line.split() for line in result.stdout.splitlines()][1:]  # drop the warm-up
    parsed = [(float(seconds), int(kib) * 1024, int(code)) for seconds, kib, code in runs]
    return summarize(parsed, result.stderr.strip())


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """Run ``command`` once through ``bench/measure.py``: (seconds, peak bytes, code, stderr)."""
    helper = [str(PYTHON), "-S", str(MEASURE), "1", *command]
    result = subprocess.run(helper, env=env, capture_output=True, text=True, check=True)
    seconds, kib, code = result.stdout.split()
    return float(seconds), int(kib) * 1024, int(code), result.stderr.strip()


def spread_rounds(runs: int, rounds: int) -> set[int]:
    """The ``runs`` rounds, out of ``rounds``, in which a command runs: spread evenly."""
    return {r for r in range(rounds) if (r + 1) * runs // rounds > r * runs // rounds}


def measure_interleaved(
    commands: dict[str, tuple[list[str], dict[str, str], int]],
) -> dict[str, Measurement]:
    """Run several commands in fresh processes, interleaved, once untimed each first (warm-up).

    Each entry is key -> (command, env, timed runs). The timed runs go in rounds: each round runs
    every command that has a run due in it, starting one command later than the round before, so
    slow periods of the machine hit all commands alike. A command with fewer runs than there are
    rounds runs in evenly spread rounds. Each run is started through ``bench/measure.py``.
    """
    for command, env, _ in commands.values():
        run_once(command, env)  # warm-up (and bytecode cache), untimed
    rounds = max(runs for _, _, runs in commands.values())
    due = {key: spread_rounds(runs, rounds) for key, (_, _, runs) in commands.items()}
    keys = list(commands)
    results: dict[str, list[tuple[float, int, int]]] = {key: [] for key in keys}
    stderr: dict[str, list[str]] = {key: [] for key in keys}
    for r in range(rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            if r not in due[key]:
                continue
            command, env, _ = commands[key]
            seconds, peak, code, text = run_once(command, env)
            results[key].append((seconds, peak, code))
            if text and text not in stderr[key]:
                stderr[key].append(text)
    return {key: summarize(results[key], "\n".join(stderr[key])) for key in keys}


def check_json_output(path: Path) -> str | None:
    """Run ``inspect --json`` once with output captured; return a problem, or None if it is sane."""
    command = [str(KERASCOPE), "inspect", str(path), "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return f"exit code {result.returncode}: {result.stderr.strip()}"
    try:
        json.loads(result.stdout)
    except ValueError as error:
        return f"--json output is not JSON: {error}"
    if "MyCustomLayer" not in result.stdout:
        return "--json output does not mention MyCustomLayer"
    return None


def machine_facts() -> dict[str, str]:
    """Facts about this machine and the installed versions, without importing Keras."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    total_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    return {
        "date": subprocess.run(
            ["date", "-u"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{total_kib / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "kerascope": metadata.version("kerascope"),
        "keras": metadata.version("keras"),
        "tensorflow": metadata.version("tensorflow-cpu"),
        "h5py": metadata.version("h5py"),
        "load": ", ".join(f"{value:.1f}" for value in os.getloadavg()),
    }


def load_now() -> float:
    """The 1-minute load average now: other work on this shared machine slows every timing."""
    return os.getloadavg()[0]


def load_span(span: tuple[float, float]) -> str:
    """A 1-minute load average at the start and at the end of a measurement."""
    return f"{span[0]:.1f} -> {span[1]:.1f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds >= 1 else f"{seconds * 1000:.1f}"


def megabytes(size: int) -> str:
    return f"{size / 10**6:.1f}" if size >= 10**6 else f"{size / 10**6:.3f}"


def mib(size: int) -> str:
    return f"{size / MIB:.1f}"


def results_table(rows: list[Row]) -> str:
    """The main table: medians of time, worst peak RSS of each command."""
    lines = [
        "| file | size MB | kerascope ms | kerascope --json ms | keras ms | time ratio "
        "| kerascope peak MiB | kerascope --json peak MiB | keras peak MiB | memory ratio "
        "| load avg 1 min |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        plain, as_json, keras = row["inspect"], row["json"], row["keras"]
        lines.append(
            f"| {row['file']} | {megabytes(row['size'])} | {ms(plain['median_s'])} "
            f"| {ms(as_json['median_s'])} | {ms(keras['median_s'])} "
            f"| {keras['median_s'] / plain['median_s']:.0f}x "
            f"| {mib(plain['peak_max'])} | {mib(as_json['peak_max'])} | {mib(keras['peak_max'])} "
            f"| {keras['peak_max'] / plain['peak_max']:.1f}x | {load_span(row['load'])} |"
        )
    return "\n".join(lines)


def spread_table(rows: list[Row], labels: dict[str, str] | None = None) -> str:
    """Every measurement's median, min and max time and median and max peak RSS."""
    lines = [
        "| file | command | runs | median ms | min ms | max ms | peak MiB median | peak MiB max |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        for key, label in (labels or LABELS).items():
            m = row[key]
            lines.append(
                f"| {row['file']} | {label} | {m['runs']} | {ms(m['median_s'])} "
                f"| {ms(m['min_s'])} | {ms(m['max_s'])} "
                f"| {mib(m['peak_median'])} | {mib(m['peak_max'])} |"
            )
    return "\n".join(lines)


def target_verdicts(rows: list[Row]) -> list[str]:
    """State, honestly, whether each project target is met by these measurements."""
    verdicts = []
    for row in rows:
        if not row["file"].startswith("big"):
            continue
        for key in KERASCOPE_KEYS:
            ratio = row["keras"]["median_s"] / row[key]["median_s"]
            met = "MET" if ratio >= TIME_TARGET else "NOT MET"
            verdicts.append(
                f"- speed, {row['file']}, `{LABELS[key]}`: {ratio:.0f}x faster than load_model "
                f"(target >= {TIME_TARGET:.0f}x): **{met}**"
            )
    worst = max(
        (row[key]["peak_max"], row["file"], LABELS[key]) for row in rows for key in KERASCOPE_KEYS
    )
    met = "MET" if worst[0] < RSS_TARGET_BYTES else "NOT MET"
    verdicts.append(
        f"- memory: worst kerascope peak RSS is {mib(worst[0])} MiB "
        f"({worst[0] / 10**6:.1f} MB, {worst[1]}, `{worst[2]}`) over all files and runs "
        f"(target < 80 MB = {mib(RSS_TARGET_BYTES)} MiB): **{met}**"
    )
    return verdicts


def render_section(
    rows: list[Row],
    facts: dict[str, str],
    *,
    repeat: int,
    keras_repeat: int,
    floor: int,
    total_s: float,
) -> str:
    """The whole ``## inspect vs keras.saving.load_model`` section of BENCHMARKS.md."""
    problems = [
        f"- {row['file']}, {label}:\n\n  ```\n  " + problem.replace("\n", "\n  ") + "\n  ```"
        for row in rows
        for label, problem in row["problems"].items()
    ]
    parts = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']}, "
        f"keras {facts['keras']}, tensorflow-cpu {facts['tensorflow']}, h5py {facts['h5py']}. "
        f"The whole run (including any model build) took {total_s:.0f} s. The machine is "
        "shared: other work ran during the measurement (load average over 1, 5, 15 min at the "
        f"end: {facts['load']}; the table gives each file's 1-minute load average at the start "
        "and at the end of its runs). Rely on the ratios, measured in the same run.",
        "",
        "Commands (from the repository root; `make bench` runs `.venv/bin/python bench/run.py`, "
        "which builds the models into `bench/out/` first and then runs these):",
        "",
        "```",
        ".venv/bin/kerascope inspect bench/out/FILE > /dev/null",
        ".venv/bin/kerascope inspect bench/out/FILE --json > /dev/null",
        "TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=examples/seed_1_custom_layer \\",
        f"  .venv/bin/python -c '{LOAD_SCRIPT}' bench/out/FILE > /dev/null",
        "```",
        "",
        "Each command runs in a fresh process (with PYTHONDONTWRITEBYTECODE unset, so both "
        "tools run from cached bytecode as installed packages do), once untimed as a warm-up, then "
        f"{repeat} times (kerascope) or {keras_repeat} times (keras). The runs are interleaved: "
        "for each file the commands run round robin (the keras runs spread evenly among the "
        "rounds), so that slow periods of this noisy 2-core machine hit all commands alike. "
        "Time is the whole process "
        "wall time (`time.perf_counter` around spawn and `os.wait4`); the table shows the median. "
        "Peak memory is the child's `ru_maxrss` from `os.wait4`; the table shows the worst run. "
        "Ratios are keras / `kerascope inspect` (median time, worst peak). "
        "`tiny` is Dense(64) -> MyCustomLayer(32) -> Dense(1) on 10 inputs; `big` is three "
        "Dense(4096) on 4096 inputs -> MyCustomLayer(32) -> Dense(1), 50.5M float32 parameters; "
        "both compiled with adam and mean_squared_error, saved by `model.save`.",
        "",
        results_table(rows),
        "",
        "Targets (inspect at least 100x faster than load_model on the ~200 MB model; "
        "peak memory under 80 MB whatever the weights size):",
        "",
        *target_verdicts(rows),
        "",
        "Spread of every measurement:",
        "",
        spread_table(rows),
        "",
        "Floor: on Linux a child's `ru_maxrss` starts at its parent's peak RSS, so the children "
        "are started by `bench/measure.py`, a helper that imports only `os`, `subprocess`, `sys` "
        f"and `time`. Measured the same way, `/bin/true` peaks at {mib(floor)} MiB: no peak "
        "above can be lower than that.",
    ]
    if problems:
        parts += ["", "Errors reported by the commands:", "", *problems]
    return "\n".join(parts) + "\n"


def write_benchmarks_md(section: str, heading: str) -> None:
    """Replace the section under ``heading`` (a ``## `` line, the first line of ``section``) in
    BENCHMARKS.md, keeping every other section; append it if missing, create the file if need be.
    """
    if not BENCHMARKS_MD.exists():
        intro = "# Benchmarks\n\nRun them with `make bench` (results are written here).\n\n"
        BENCHMARKS_MD.write_text(intro + section)
        return
    lines = BENCHMARKS_MD.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        text = "".join(lines).rstrip("\n") + "\n\n" + section
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        after = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + after if after else "")
    BENCHMARKS_MD.write_text(text)


def benchmark_file(path: Path, repeat: int, keras_repeat: int) -> Row:
    """Measure the three commands on one model file, interleaved."""
    print(f"{path.name}: ", end="", flush=True)
    plain_env = user_env()
    commands = {
        "inspect": ([str(KERASCOPE), "inspect", str(path)], plain_env, repeat),
        "json": ([str(KERASCOPE), "inspect", str(path), "--json"], plain_env, repeat),
        "keras": ([str(PYTHON), "-c", LOAD_SCRIPT, str(path)], keras_env(), keras_repeat),
    }
    problems: dict[str, str] = {}  # label -> what went wrong, for the report
    row: Row = {"file": path.name, "size": path.stat().st_size, "problems": problems}
    load_before = load_now()
    problem = check_json_output(path)
    if problem:
        problems["output check of `inspect --json`"] = problem
    for key, result in measure_interleaved(commands).items():
        row[key] = result
        # kerascope should print nothing on stderr; Keras prints warnings, so only failures count
        if result["codes"] != [0] or (key != "keras" and result["stderr"]):
            label = f"`{LABELS[key]}` (exit codes {result['codes']})"
            problems[label] = result["stderr"] or "(nothing on stderr)"
        print(f"{key} {ms(result['median_s'])} ms  ", end="", flush=True)
    row["load"] = (load_before, load_now())
    print(f"load {load_span(row['load'])}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="timed runs per kerascope command")
    parser.add_argument("--keras-repeat", type=int, default=3, help="timed runs of load_model")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the models")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    for tool in (PYTHON, KERASCOPE):
        if not tool.exists():
            sys.exit(f"{tool} is missing: run `make bench` (it creates .venv)")
    paths = build_models(arguments.rebuild)
    floor = measure(["/bin/true"], dict(os.environ), 3)["peak_max"]
    rows = [benchmark_file(path, arguments.repeat, arguments.keras_repeat) for path in paths]
    total_s = time.perf_counter() - started
    section = render_section(
        rows,
        machine_facts(),
        repeat=arguments.repeat,
        keras_repeat=arguments.keras_repeat,
        floor=floor,
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
