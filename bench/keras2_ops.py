"""Load time of a Keras 2 model with TensorFlow op layers, against the same model in Keras 3.

Builds the corpus model ``tfoplambda`` (tf-keras 2.21: relu, ``* 2.0``, ``x[:, 1:]``,
``reduce_sum``, ``concat`` op layers and a custom layer) with ``tests/fixtures/keras2``, migrates
its ``.h5`` to a Keras 3 ``.keras`` with kerascope, then times, each in a fresh process after
its imports, the load call of:

- ``kerascope.load_model(tfoplambda.h5)``: translated, kerascope's op layers, smoke check;
- ``kerascope.load_model(migrated.keras)``: the same model saved by Keras 3;
- ``keras.saving.load_model(migrated.keras, custom_objects=...)``: plain Keras 3, the peer.

Usage: python bench/keras2_ops.py [RUNS]   (needs tf-keras: pip install 'kerascope[legacy]')
Writes the section "Keras 2 op layers: load time" of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "keras2_ops"
FIXTURES = ROOT / "tests" / "fixtures" / "keras2"
TITLE = "## Keras 2 op layers: load time"

CHILD = """
import os, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {fixtures!r})
import keras, kerascope, k2objects
mode, path = sys.argv[1], sys.argv[2]
if mode == "keras":
    from kerascope._keras.op_layers import op_layer_classes
    objects = {{**op_layer_classes(), "ScaleLayer": k2objects.ScaleLayer}}
started = time.perf_counter()
if mode == "keras":
    keras.saving.load_model(path, custom_objects=objects)
else:
    kerascope.load_model(path, sources=[{fixtures!r}])
print(time.perf_counter() - started)
"""


def _env() -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT / "src")}
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def _build() -> None:
    if (OUT / "migrated.keras").exists():
        return
    env = {**_env(), "TF_USE_LEGACY_KERAS": "1", "KERAS2_CORPUS_ONLY": "tfoplambda"}
    subprocess.run(
        [sys.executable, str(FIXTURES / "build_corpus.py"), str(OUT)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "kerascope", "migrate", str(OUT / "tfoplambda.h5"),
         str(OUT / "migrated.keras"), "--from", str(FIXTURES)],
        env=_env(), check=True, capture_output=True,
    )  # fmt: skip


def _time(mode: str, path: Path, runs: int) -> list[float]:
    script = CHILD.format(fixtures=str(FIXTURES))
    times = []
    for _ in range(runs + 1):  # the first run warms the file cache and is dropped
        result = subprocess.run(
            [sys.executable, "-c", script, mode, str(path)],
            env=_env(), capture_output=True, text=True, check=True,
        )  # fmt: skip
        times.append(float(result.stdout.strip().splitlines()[-1]))
    return times[1:]


def _section(rows: list[tuple[str, list[float]]], peer: float, runs: int) -> str:
    import keras
    import tensorflow as tf

    machine = f"{platform.machine()}, {os.cpu_count()} cores, load average " + ", ".join(
        f"{value:.1f}" for value in os.getloadavg()
    )
    lines = [
        TITLE,
        "",
        f"Measured {time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())} on {machine}; "
        f"Python {platform.python_version()}, keras {keras.__version__}, tensorflow "
        f"{tf.__version__}. `make bench` runs `bench/keras2_ops.py`: the corpus model "
        "`tfoplambda` (tf-keras 2.21, five op layers and a custom layer), each load in a fresh "
        f"process, timed around the load call only (after the imports), {runs} runs after one "
        "dropped warm-up run. The peer is plain `keras.saving.load_model` on the migrated file, "
        "with `custom_objects` (kerascope's op layer classes and the custom layer). kerascope's "
        "times include its audit and plan of the file, and for the Keras 2 file the compile and "
        "the smoke check (one predict, one evaluation step), which Keras does not do.",
        "",
        "| load | median ms | min ms | max ms | ratio to plain Keras 3 |",
        "|---|--:|--:|--:|--:|",
    ]
    for label, times in rows:
        median = statistics.median(times)
        lines.append(
            f"| {label} | {median * 1000:.0f} | {min(times) * 1000:.0f} | "
            f"{max(times) * 1000:.0f} | {median / peer:.2f}x |"
        )
    lines.append("")
    return "\n".join(lines)


def _write(section: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    if TITLE in text:
        head, rest = text.split(TITLE, 1)
        tail = rest.split("\n## ", 1)
        text = head + section + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> int:
    """Build, time, and write the BENCHMARKS.md section."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    import importlib.util

    if importlib.util.find_spec("tf_keras") is None:
        print("bench/keras2_ops.py: tf-keras is not installed (kerascope[legacy]); skipped")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    _build()
    keras2, keras3 = OUT / "tfoplambda.h5", OUT / "migrated.keras"
    rows = [
        ("`kerascope.load_model(tfoplambda.h5)` (Keras 2)", _time("kerascope", keras2, runs)),
        ("`kerascope.load_model(migrated.keras)`", _time("kerascope", keras3, runs)),
        ("`keras.saving.load_model(migrated.keras)`", _time("keras", keras3, runs)),
    ]
    peer = statistics.median(rows[-1][1])
    section = _section(rows, peer, runs)
    _write(section)
    print(section)
    print(json.dumps({label: times for label, times in rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
