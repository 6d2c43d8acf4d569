"""Benchmark ``kerascope scan`` of a whole store against modelscan 0.8.8, in the same run.

Run from the repository root with ``make bench`` (after ``bench/scan.py``) or
``.venv/bin/python bench/scan_store.py``. It imports ``bench/run.py`` and ``bench/scan.py``
(this script's directory is on ``sys.path``) for the modelscan virtualenv, the payloads, the
timing helpers and the BENCHMARKS.md writer, and ``bench/tree_memory.py`` for the memory.

1. Models: six small architectures built with Keras in a child process, each saved as
   ``.keras`` and ``.h5`` (``bench/out/store-base/``), and the harmless attack payloads of
   ``tests/malicious/payloads.py`` (``bench/out/payloads/``, built by ``bench/scan.py``'s
   builder when missing).
2. Stores: ``bench/out/store-200/`` holds 200 models: 90 ``.keras`` files, 60 ``.h5`` files,
   30 unzipped ``.keras`` directories (copies of the base models under distinct names, in 10
   sub-directories) and 20 payloads; ``store-10`` and ``store-1`` hold the first 10 and the
   first model of the same list.
3. Time: whole fresh processes of ``kerascope scan STORE --jobs 2 --json`` and
   ``modelscan -p STORE -r json``, started by ``bench/measure.py``, once untimed each, then
   interleaved; medians and ratios modelscan / kerascope.
4. Memory: a few more runs of each command, sampled every 10 ms from ``/proc``: the peaks of the
   summed RSS and of the summed PSS of the process tree, and the peak RSS of each kerascope
   worker process.
5. Print the tables, state the targets (faster than modelscan at every size, at least 3x on 200
   models, under 80 MB per worker) and replace the section
   ``## Scan a store: kerascope scan vs modelscan 0.8.8`` in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from run import (
    KERASCOPE,
    OUT,
    PYTHON,
    keras_env,
    machine_facts,
    measure_interleaved,
    mib,
    ms,
    user_env,
    write_benchmarks_md,
)
from scan import (
    MODELSCAN,
    MODELSCAN_REQUIREMENTS,
    PAYLOADS,
    build_payloads,
    ensure_modelscan,
    modelscan_env,
    modelscan_versions,
)
from tree_memory import SAMPLE_S, measure_memory

SECTION = "## Scan a store: kerascope scan vs modelscan 0.8.8"
BASE = OUT / "store-base"
SIZES = (1, 10, 200)
JOBS = 2
SPEED_TARGET = 3.0  # kerascope at least this many times faster than modelscan on 200 models
RSS_TARGET_BYTES = 80 * 10**6  # per worker, "under 80 MB" read strictly as 80 * 10^6 bytes

BUILD_SCRIPT = """\
import os, sys
import keras

out = sys.argv[1]
L = keras.layers
models = {
    "mlp": [keras.Input((20,)), L.Dense(32, activation="relu"), L.Dense(1)],
    "deep_mlp": [keras.Input((16,)), *[L.Dense(16, activation="tanh") for _ in range(6)],
                 L.Dense(3, activation="softmax")],
    "conv": [keras.Input((16, 16, 3)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
             L.Flatten(), L.Dense(10)],
    "lstm": [keras.Input((None,), dtype="int32"), L.Embedding(100, 8), L.LSTM(8), L.Dense(1)],
    "norm": [keras.Input((12,)), L.BatchNormalization(), L.Dropout(0.1), L.Dense(4)],
    "lambda_free": [keras.Input((8,)), L.Dense(8), L.Activation("gelu"), L.Dense(2)],
}
for name, layers in models.items():
    model = keras.Sequential(layers, name=name)
    model.compile(optimizer="adam", loss="mse")
    for suffix in (".keras", ".h5"):
        model.save(os.path.join(out, name + suffix))
print("built", len(models), "models")
"""

Measurement = dict[str, Any]


def build_base() -> list[Path]:
    """Build the six small base models (as .keras and .h5) unless they exist."""
    names = ("mlp", "deep_mlp", "conv", "lstm", "norm", "lambda_free")
    paths = [BASE / f"{name}{suffix}" for name in names for suffix in (".keras", ".h5")]
    if all(path.exists() for path in paths):
        print(f"reusing the base models in {BASE.relative_to(OUT.parent.parent)}/")
        return paths
    BASE.mkdir(parents=True, exist_ok=True)
    print("building the base models ...", flush=True)
    result = subprocess.run(
        [str(PYTHON), "-c", BUILD_SCRIPT, str(BASE)],
        env=keras_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"building the base models failed:\n{result.stderr[-3000:]}")
    return paths


def hostile_files(manifest: dict[str, Any]) -> list[Path]:
    """The payload files both tools can scan from any working directory."""
    return [Path(e["path"]) for e in manifest["payloads"] if not e.get("cwd")]


def plan_store(base: list[Path], hostile: list[Path]) -> list[tuple[str, Path, str]]:
    """The 200 models, in the order their subsets are taken: (name, source, how)."""
    keras_files = [path for path in base if path.suffix == ".keras"]
    h5_files = [path for path in base if path.suffix == ".h5"]
    # 20 models, repeated 10 times: 9 .keras, 6 .h5, 3 unzipped, 2 hostile; every kind early
    kinds = [
        {"k": "keras", "h": "h5", "d": "dir", "x": "hostile"}[kind]
        for kind in "khdkxkhkhkdkhkxkhkdh"
    ]
    entries: list[tuple[str, Path, str]] = []
    counters = {"keras": 0, "h5": 0, "dir": 0, "hostile": 0}
    for index in range(200):
        kind = kinds[index % len(kinds)]
        count = counters[kind]
        counters[kind] += 1
        folder = f"team{index % 10:02d}"
        if kind == "keras":
            source = keras_files[count % len(keras_files)]
            entries.append((f"{folder}/{source.stem}_{count:03d}.keras", source, "copy"))
        elif kind == "h5":
            source = h5_files[count % len(h5_files)]
            entries.append((f"{folder}/{source.stem}_{count:03d}.h5", source, "copy"))
        elif kind == "dir":
            source = keras_files[count % len(keras_files)]
            entries.append((f"{folder}/{source.stem}_{count:03d}_unzipped", source, "unzip"))
        else:
            source = hostile[count % len(hostile)]
            entries.append((f"{folder}/hostile_{count:03d}_{source.name}", source, "copy"))
    return entries


def write_store(size: int, entries: list[tuple[str, Path, str]]) -> Path:
    """Write the first ``size`` models of ``entries`` into ``bench/out/store-SIZE/``."""
    root = OUT / f"store-{size}"
    shutil.rmtree(root, ignore_errors=True)
    for name, source, how in entries[:size]:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if how == "unzip":
            with zipfile.ZipFile(source) as archive:
                archive.extractall(target)
        else:
            shutil.copyfile(source, target)
    return root


# --- findings -----------------------------------------------------------------------------------


def findings_line(store: Path, entries: list[tuple[str, Path, str]]) -> str:
    """What each tool reports on the 200-model store, in one sentence."""
    result = subprocess.run(
        [str(KERASCOPE), "scan", str(store), "--jobs", str(JOBS), "--json"],
        capture_output=True,
        text=True,
        env=user_env(),
        check=False,
    )
    document = json.loads(result.stdout)
    flagged = {
        Path(f["path"]).relative_to(store).as_posix()
        for f in document["files"]
        if f["highest"] in ("low", "medium", "high")
    }
    hostile = {name for name, _, _ in entries if "/hostile_" in name}
    with_report = OUT / "store-modelscan-report.json"
    subprocess.run(
        [str(MODELSCAN), "-p", str(store), "-r", "json", "-o", str(with_report)],
        capture_output=True,
        env=modelscan_env(),
        check=False,
    )
    report = json.loads(with_report.read_text()) if with_report.exists() else {}
    issue_files = {
        Path(str(issue.get("source", ""))).as_posix().split(store.name + "/", 1)[-1].split(":")[0]
        for issue in report.get("issues", [])
    }
    modelscan_hostile = sum(any(name in f for f in issue_files) for name in hostile)
    summary = document["summary"]
    return (
        f"On the 200-model store, `kerascope scan` reported {summary['scanned']} models "
        f"(exit {result.returncode}), flagged {len(flagged & hostile)} of the {len(hostile)} "
        f"payloads and {len(flagged - hostile)} of the {200 - len(hostile)} legitimate models "
        f"above `info`; modelscan reported {len(report.get('issues', []))} issues in "
        f"{modelscan_hostile} of the {len(hostile)} payloads and "
        f"{len(report.get('errors', []))} scan errors."
    )


# --- the report -----------------------------------------------------------------------------------


def render_section(
    *,
    timing: dict[int, dict[str, Measurement]],
    memory: dict[int, dict[str, dict[str, int]]],
    facts: dict[str, str],
    versions: dict[str, str],
    findings: str,
    repeat: int,
    modelscan_repeat: int,
    memory_runs: int,
    total_s: float,
    load: tuple[str, str],
) -> str:
    """The whole section of BENCHMARKS.md."""
    lines = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']}, h5py "
        f"{facts['h5py']}; modelscan {versions['modelscan']}, tensorflow-cpu "
        f"{versions['tensorflow-cpu']} (in `bench/out/venv-modelscan`, installed by "
        f"`bench/scan.py`: `pip install {' '.join(MODELSCAN_REQUIREMENTS)}`). The run took "
        f"{total_s:.0f} s; the machine's 1-minute load average was {load[0]} at its start and "
        f"{load[1]} at its end (other jobs share this machine: compare the two tools within "
        "a run, not the absolute times across runs). Script: `bench/scan_store.py` "
        "(`make bench`).",
        "",
        "The store: 200 models generated by the script from six small Keras architectures "
        "(`.keras` and `.h5` saves) and the harmless payloads of `tests/malicious`: 90 `.keras` "
        "files, 60 `.h5` files, 30 unzipped `.keras` directories and 20 hostile files, in 10 "
        "sub-directories. The 1- and 10-model stores are the first models of the same list "
        "(the first 10: 5 `.keras`, 3 `.h5`, 1 unzipped, 1 hostile).",
        "",
        "```",
        f".venv/bin/kerascope scan bench/out/store-N --jobs {JOBS} --json > /dev/null",
        "TF_CPP_MIN_LOG_LEVEL=3 bench/out/venv-modelscan/bin/modelscan -p bench/out/store-N "
        "-r json > /dev/null",
        "```",
        "",
        f"Time: whole fresh processes, once untimed, then {repeat} (kerascope) and "
        f"{modelscan_repeat} (modelscan) timed runs interleaved; medians (`bench/measure.py`). "
        f"Memory: {memory_runs} more runs of each, the process tree sampled every "
        f"{SAMPLE_S * 1000:.0f} ms from `/proc`: the peak of the summed RSS of the tree (an "
        "upper bound: a page shared by several processes counts once per process, e.g. the "
        "`uname -p` that h5py's import forks), the peak of its summed PSS (proportional set "
        "size: each shared page split among all the processes of the machine that share it, "
        "other users' Python processes too, so a lower bound), and the peak RSS of any single "
        "kerascope worker (the worst run). One model is scanned in the `kerascope` process "
        "itself, with HDF5 read by a short-lived child, as a single scan always was.",
        "",
        "| models | kerascope ms | modelscan ms | time ratio | kerascope files/s "
        "| modelscan files/s | kerascope tree peak RSS / PSS MiB "
        "| per-worker peak RSS MiB (workers) | modelscan tree peak RSS / PSS MiB |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    verdicts = []
    for size in SIZES:
        k, m = timing[size]["kerascope"], timing[size]["modelscan"]
        mem_k, mem_m = memory[size]["kerascope"], memory[size]["modelscan"]
        ratio = m["median_s"] / k["median_s"]
        lines.append(
            f"| {size} | {ms(k['median_s'])} | {ms(m['median_s'])} | {ratio:.1f}x "
            f"| {size / k['median_s']:.1f} | {size / m['median_s']:.1f} "
            f"| {mib(mem_k['total'])} / {mib(mem_k['pss'])} "
            f"| {mib(mem_k['worker']) if mem_k['workers'] else 'none'} ({mem_k['workers']}) "
            f"| {mib(mem_m['total'])} / {mib(mem_m['pss'])} |"
        )
        met = "MET" if (ratio >= SPEED_TARGET if size == 200 else ratio > 1) else "NOT MET"
        wanted = f">= {SPEED_TARGET:.0f}x" if size == 200 else "faster"
        verdicts.append(
            f"- speed, {size} model{'s' if size > 1 else ''}: {ratio:.1f}x "
            f"(target: {wanted}): **{met}**"
        )
    worker_peak = max(memory[size]["kerascope"]["worker"] for size in SIZES)
    met = "MET" if worker_peak < RSS_TARGET_BYTES else "NOT MET"
    verdicts.append(
        f"- memory: worst per-worker peak RSS {mib(worker_peak)} MiB "
        f"({worker_peak / 10**6:.1f} MB; target < 80 MB): **{met}**"
    )
    lines += [
        "",
        "With one model, `kerascope scan` starts no worker (the single-file ratio is the first "
        "row).",
        "",
        "Targets:",
        "",
        *verdicts,
        "",
        findings,
    ]
    return "\n".join(lines) + "\n"


def _load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of kerascope")
    parser.add_argument("--modelscan-repeat", type=int, default=3, help="timed runs of modelscan")
    parser.add_argument("--memory-runs", type=int, default=2, help="sampled runs of each")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    load_at_start = _load_average()
    for tool in (PYTHON, KERASCOPE):
        if not tool.exists():
            sys.exit(f"{tool} is missing: run `make bench` (it creates .venv)")
    ensure_modelscan()
    versions = modelscan_versions()
    base = build_base()
    manifest_path = PAYLOADS / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    else:
        manifest, problem = build_payloads(2, 60.0)
        if manifest is None:
            sys.exit(f"the payloads could not be built: {problem}")
    entries = plan_store(base, hostile_files(manifest))
    stores = {size: write_store(size, entries) for size in SIZES}
    timing, memory = {}, {}
    for size, root in stores.items():
        kerascope = [str(KERASCOPE), "scan", str(root), "--jobs", str(JOBS), "--json"]
        modelscan = [str(MODELSCAN), "-p", str(root), "-r", "json"]
        print(f"{size} models: ", end="", flush=True)
        timing[size] = measure_interleaved(
            {
                "kerascope": (kerascope, user_env(), arguments.repeat),
                "modelscan": (modelscan, modelscan_env(), arguments.modelscan_repeat),
            }
        )
        memory[size] = measure_memory(
            {"kerascope": (kerascope, user_env()), "modelscan": (modelscan, modelscan_env())},
            arguments.memory_runs,
        )
        k, m = timing[size]["kerascope"], timing[size]["modelscan"]
        print(f"kerascope {ms(k['median_s'])} ms, modelscan {ms(m['median_s'])} ms", flush=True)
    findings = findings_line(stores[200], entries)
    section = render_section(
        timing=timing,
        memory=memory,
        facts=machine_facts(),
        versions=versions,
        findings=findings,
        repeat=arguments.repeat,
        modelscan_repeat=arguments.modelscan_repeat,
        memory_runs=arguments.memory_runs,
        total_s=time.perf_counter() - started,
        load=(load_at_start, _load_average()),
    )
    print()
    print(section)
    if not arguments.no_write:
        write_benchmarks_md(section, SECTION)
        print("wrote BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
