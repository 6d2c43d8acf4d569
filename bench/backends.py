"""kerascope's overhead on JAX and PyTorch, against plain Keras on the same backend, same run.

    python bench/backends.py [RUNS]      (from the repository root; RUNS defaults to 3)

For each backend environment that exists (.venv-jax, .venv-torch: `make test-jax`,
`make test-torch`), builds the seed 1 model (examples/seed_1_custom_layer, keras.ops only) on
that backend, then times fresh processes, interleaved round robin, one warm-up each:
`import kerascope` against `import keras`, `kerascope inspect`, and a load with
`kerascope.load_model(sources=[...])` against `keras.saving.load_model(custom_objects=...)`.
Prints a Markdown table and writes it into BENCHMARKS.md between its backend markers.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed_1_custom_layer"
OUT = ROOT / "bench" / "out" / "backends"
BEGIN, END = "<!-- backends: begin -->", "<!-- backends: end -->"
BUILD = """
import sys, keras
from custom_layer import MyCustomLayer
model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(64), MyCustomLayer(32),
                          keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mean_squared_error")
model.save(sys.argv[1])
"""
KERAS_LOAD = (
    "import sys, keras; from custom_layer import MyCustomLayer; "
    "keras.saving.load_model(sys.argv[1], custom_objects={'MyCustomLayer': MyCustomLayer})"
)
KERASCOPE_LOAD = "import sys, kerascope; kerascope.load_model(sys.argv[1], sources=[sys.argv[2]])"


def commands(python: str, model: Path) -> dict[str, list[str]]:
    layer = str(SEED / "custom_layer.py")
    return {
        "import keras": [python, "-c", "import keras"],
        "import kerascope": [python, "-c", "import kerascope"],
        "kerascope inspect": [python, "-m", "kerascope", "inspect", str(model)],
        "keras.saving.load_model": [python, "-c", KERAS_LOAD, str(model)],
        "kerascope.load_model": [python, "-c", KERASCOPE_LOAD, str(model), layer],
    }


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=SEED, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr.decode()[-2000:]}")
    return elapsed * 1000


def measure(backend: str, python: str, runs: int) -> list[tuple[str, float, float, float]]:
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(SEED)]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    model = OUT / f"seed1-{backend}.keras"
    subprocess.run([python, "-c", BUILD, str(model)], env=env, cwd=SEED, check=True)
    todo = commands(python, model)
    times: dict[str, list[float]] = {name: [] for name in todo}
    for command in todo.values():
        timed(command, env)  # warm-up: bytecode caches, file system
    for _ in range(runs):
        for name, command in todo.items():
            times[name].append(timed(command, env))
    return [
        (name, statistics.median(values), min(values), max(values))
        for name, values in times.items()
    ]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    started = time.perf_counter()
    lines = [
        "| backend | command | median ms | min ms | max ms |",
        "|---|---|--:|--:|--:|",
    ]
    for backend, venv in (("jax", ".venv-jax"), ("torch", ".venv-torch")):
        python = ROOT / venv / "bin" / "python"
        if not python.exists():
            lines.append(f"| {backend} | environment {venv} absent | | | |")
            continue
        for name, median, low, high in measure(backend, str(python), runs):
            lines.append(f"| {backend} | `{name}` | {median:.0f} | {low:.0f} | {high:.0f} |")
    took = time.perf_counter() - started
    table = "\n".join(lines)
    section = (
        f"{BEGIN}\nMeasured {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())} by "
        f"`python bench/backends.py {runs}` ({runs} runs per command after a warm-up, "
        f"interleaved; whole run {took:.0f} s).\n\n{table}\n{END}"
    )
    print(table)
    benchmarks = ROOT / "BENCHMARKS.md"
    text = benchmarks.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
        benchmarks.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
