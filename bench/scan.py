"""Benchmark ``kerascope scan`` against modelscan 0.8.8 on the same files, in the same run.

Run from the repository root with ``make bench`` (after ``bench/run.py`` and ``bench/load.py``)
or ``.venv/bin/python bench/scan.py``. It imports ``bench/run.py`` (this script's directory is on
``sys.path``) for the model build, the process measurement and the BENCHMARKS.md writer.

1. modelscan gets its own virtualenv, ``bench/out/venv-modelscan`` (modelscan pins
   ``rich<15``, which ``constraints.txt`` does not allow, and it needs TensorFlow to scan
   ``.keras`` files). It is created with ``python3 -m venv`` and
   ``pip install modelscan==0.8.8 h5py==3.14.0 tensorflow-cpu==2.21.0`` when
   ``bench/out/venv-modelscan/bin/modelscan`` is missing, and reused otherwise; the install time
   is printed and kept in ``bench/out/venv-modelscan/kerascope-install.json``.
2. Files: the models of ``bench/run.py`` (``tiny`` and ``big``, about 200 MB, each as
   ``.keras`` and ``.h5``) and the harmless attack payloads of ``tests/malicious/payloads.py``,
   built into ``bench/out/payloads/`` by ``python -m tests.malicious.payloads`` (with its
   legitimate lookalikes). The payload that needs its sandbox as working directory (the spoofed
   package) is left out: neither tool is given a working directory per file.
3. Timing, on the four models: whole fresh processes of ``kerascope scan FILE --json`` and
   ``modelscan -p FILE -r json``, started by ``bench/measure.py`` (wall time and peak RSS from
   ``os.wait4``), once untimed each, then interleaved round robin (the few modelscan runs spread
   evenly among the rounds); medians, ratios, and the targets (kerascope at least 50x faster on
   the ~200 MB model, peak RSS under 80 MB).
4. Findings: every payload, lookalike and model is scanned once by each tool. A kerascope
   finding counts when its severity is above ``info``; a modelscan finding is an issue of its
   JSON report (its scan errors are shown apart).
5. Print the tables and replace the section ``## kerascope scan vs modelscan 0.8.8`` in
   ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import (
    BENCHMARKS_MD,
    KERASCOPE,
    OUT,
    PYTHON,
    REPO,
    build_models,
    machine_facts,
    measure,
    measure_interleaved,
    megabytes,
    mib,
    ms,
    spread_table,
    user_env,
    write_benchmarks_md,
)

SECTION = "## kerascope scan vs modelscan 0.8.8"
MODELSCAN_VENV = OUT / "venv-modelscan"
MODELSCAN = MODELSCAN_VENV / "bin" / "modelscan"
MODELSCAN_PYTHON = MODELSCAN_VENV / "bin" / "python"
MODELSCAN_REQUIREMENTS = ("modelscan==0.8.8", "h5py==3.14.0", "tensorflow-cpu==2.21.0")
INSTALL_RECORD = MODELSCAN_VENV / "kerascope-install.json"
PAYLOADS = OUT / "payloads"
PAYLOAD_MODULE = "tests.malicious.payloads"

TIME_TARGET = 50.0  # kerascope scan must be at least this many times faster on the ~200 MB model
RSS_TARGET_BYTES = 80 * 10**6  # "under 80 MB", read strictly as 80 * 10^6 bytes (76.3 MiB)
SEVERITY_ORDER = {"info": 0, "low": 1, "medium": 2, "high": 3}

LABELS = {"kerascope": "kerascope scan --json", "modelscan": "modelscan -p FILE -r json"}

Row = dict[str, Any]  # file, size, problems and one Measurement per key of LABELS
Scan = dict[str, Any]  # one tool's verdict on one file: code, findings, errors, problem
Target = dict[str, Any]  # one scanned file: name, file, attack, expected, kerascope, modelscan


def rel(path: Path) -> str:
    """``path`` relative to the repository root, for messages and the report."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def modelscan_env() -> dict[str, str]:
    """The environment of modelscan runs: inherited, bytecode caching on, TensorFlow's C++ INFO
    and WARNING logs off (as for the Keras runs of ``bench/run.py``)."""
    env = user_env()
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def ensure_modelscan() -> dict[str, Any]:
    """Create ``bench/out/venv-modelscan`` with modelscan unless it exists; return install facts.

    The facts: ``seconds`` (of the install that created the venv, ``None`` if unknown),
    ``date`` and whether this run ``reused`` the venv.
    """
    if MODELSCAN.exists():
        record = json.loads(INSTALL_RECORD.read_text()) if INSTALL_RECORD.exists() else {}
        when = f" (installed in {record['seconds']:.0f} s on {record['date']})" if record else ""
        print(f"reusing {rel(MODELSCAN_VENV)}{when}")
        return {"seconds": record.get("seconds"), "date": record.get("date"), "reused": True}
    python3 = shutil.which("python3")
    if python3 is None:
        sys.exit("python3 is not on PATH: it is needed to create the modelscan virtualenv")
    print(f"installing {' '.join(MODELSCAN_REQUIREMENTS)} into {rel(MODELSCAN_VENV)}/ ...")
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / "venv-modelscan.log"
    started = time.perf_counter()
    with log.open("w") as output:
        for command in (
            [python3, "-m", "venv", str(MODELSCAN_VENV)],
            [str(MODELSCAN_PYTHON), "-m", "pip", "install", *MODELSCAN_REQUIREMENTS],
        ):
            code = subprocess.run(
                command, stdout=output, stderr=subprocess.STDOUT, check=False
            ).returncode
            if code != 0:
                sys.exit(f"`{' '.join(command)}` failed (exit code {code}); see {rel(log)}")
    seconds = time.perf_counter() - started
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    INSTALL_RECORD.write_text(json.dumps({"seconds": seconds, "date": date}) + "\n")
    print(f"installed in {seconds:.1f} s (log: {rel(log)}; pip's 'Location ... is ignored' "
          "warnings there are harmless)")  # fmt: skip
    return {"seconds": seconds, "date": date, "reused": False}


def modelscan_versions() -> dict[str, str]:
    """The versions installed in the modelscan venv (read from metadata: no TensorFlow import)."""
    script = (
        "import json; from importlib.metadata import version; "
        "print(json.dumps({n: version(n) for n in ('modelscan', 'tensorflow-cpu', 'h5py')}))"
    )
    result = subprocess.run(
        [str(MODELSCAN_PYTHON), "-c", script], capture_output=True, text=True, check=True
    )
    versions: dict[str, str] = json.loads(result.stdout)
    return versions


def build_payloads(attempts: int, wait_s: float) -> tuple[dict[str, Any] | None, str | None]:
    """Build the payloads into ``bench/out/payloads/``; return (manifest, problem).

    The payload module is written by someone else and may be missing or broken for a while, so
    a failed build is retried ``attempts - 1`` times, ``wait_s`` seconds apart. On the last
    failure the manifest is None and the problem says why.
    """
    command = [str(PYTHON), "-m", PAYLOAD_MODULE, str(PAYLOADS)]
    log = OUT / "payloads.log"
    problem = None
    for attempt in range(1, attempts + 1):
        print(f"building the payloads into {rel(PAYLOADS)}/ ...", flush=True)
        shutil.rmtree(PAYLOADS, ignore_errors=True)  # the builder does not overwrite sandboxes
        env = user_env()
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with log.open("w") as output:
            code = subprocess.run(
                command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, check=False
            ).returncode
        manifest_path = PAYLOADS / "manifest.json"
        if code == 0 and manifest_path.exists():
            return json.loads(manifest_path.read_text()), None
        tail = "\n".join(log.read_text().strip().splitlines()[-5:])
        problem = f"`{' '.join(command)}` failed (exit code {code}):\n{tail}"
        print(problem)
        if attempt < attempts:
            print(f"retrying in {wait_s:.0f} s ({attempt} of {attempts} attempts failed)")
            time.sleep(wait_s)
    return None, problem


def targets_of(manifest: dict[str, Any] | None, models: list[Path]) -> list[Target]:
    """Everything to scan once with each tool: payloads, lookalikes and the benchmark models.

    Payloads that must run with their sandbox as working directory are left out.
    """
    targets: list[Target] = []
    if manifest is not None:
        for group, legitimate in (("payloads", False), ("lookalikes", True)):
            for entry in manifest[group]:
                if entry.get("cwd"):
                    continue  # needs a working directory of its own (spoofed package)
                targets.append(
                    {
                        "name": entry["name"],
                        "file": Path(entry["path"]),
                        "attack": entry["attack"],
                        "expected": entry["kinds"],
                        "legitimate": legitimate,
                    }
                )
    for path in models:
        targets.append(
            {
                "name": path.name,
                "file": path,
                "attack": "none: a benchmark model of bench/run.py",
                "expected": [],
                "legitimate": True,
            }
        )
    return targets


def excluded_payloads(manifest: dict[str, Any] | None) -> list[str]:
    """Names of the payloads left out because they need a working directory of their own."""
    return [e["name"] for e in (manifest or {}).get("payloads", []) if e.get("cwd")]


def scan_kerascope(path: Path) -> Scan:
    """``kerascope scan PATH --json`` once: exit code and the findings above ``info``."""
    result = subprocess.run(
        [str(KERASCOPE), "scan", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=user_env(),
    )
    scan: Scan = {"code": result.returncode, "findings": [], "errors": [], "problem": None}
    try:
        report = json.loads(result.stdout)
    except ValueError:
        scan["problem"] = f"no JSON on stdout; stderr: {result.stderr.strip()[-300:]}"
        return scan
    scan["findings"] = [
        (finding["severity"], finding["kind"])
        for finding in report["findings"]
        if SEVERITY_ORDER[finding["severity"]] > SEVERITY_ORDER["info"]
    ]
    return scan


def scan_modelscan(path: Path) -> Scan:
    """``modelscan -p PATH -r json -o REPORT`` once: exit code, issues and scan errors.

    The report is read from the ``-o`` file: on stdout modelscan prints it through rich, which
    wraps lines at the terminal width (80 columns when piped), inside JSON strings too.
    """
    with tempfile.TemporaryDirectory(prefix="kerascope-bench-") as scratch:
        report_path = Path(scratch) / "report.json"
        command = [str(MODELSCAN), "-p", str(path), "-r", "json", "-o", str(report_path)]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, env=modelscan_env(), cwd=REPO
        )
        text = report_path.read_text() if report_path.exists() else None
    scan: Scan = {"code": result.returncode, "findings": [], "errors": [], "problem": None}
    if text is None:
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        scan["problem"] = f"no report; stdout ends: {' / '.join(lines[-2:])[-300:]}"
        return scan
    report = json.loads(text)
    scan["findings"] = [
        (issue["severity"], issue.get("operator") or issue.get("description", "?"))
        for issue in report.get("issues", [])
    ]
    scan["errors"] = [
        f"{error.get('category') or error.get('scanner', '?')}: {error.get('description', '')}"
        for error in report.get("errors", [])
    ]
    scanned = report.get("summary", {}).get("scanned", {}).get("total_scanned", 0)
    if not scanned:
        scan["problem"] = "reported as not scanned"
    return scan


def scan_targets(targets: list[Target]) -> None:
    """Scan every target once with each tool; store the verdicts in the targets."""
    print(f"scanning {len(targets)} files once with each tool ...", flush=True)
    for target in targets:
        target["kerascope"] = scan_kerascope(target["file"])
        target["modelscan"] = scan_modelscan(target["file"])
        k, m = target["kerascope"], target["modelscan"]
        print(
            f"  {target['name']:32} kerascope {len(k['findings'])} (exit {k['code']})  "
            f"modelscan {len(m['findings'])} (exit {m['code']})",
            flush=True,
        )


def benchmark_file(path: Path, repeat: int, modelscan_repeat: int) -> Row:
    """Time both tools on one model file, interleaved."""
    print(f"{path.name}: ", end="", flush=True)
    commands = {
        "kerascope": ([str(KERASCOPE), "scan", str(path), "--json"], user_env(), repeat),
        "modelscan": (
            [str(MODELSCAN), "-p", str(path), "-r", "json"],
            modelscan_env(),
            modelscan_repeat,
        ),
    }
    problems: dict[str, str] = {}
    row: Row = {"file": path.name, "size": path.stat().st_size, "problems": problems}
    for key, result in measure_interleaved(commands).items():
        row[key] = result
        # exit code 0: nothing above info (kerascope), no issue and no error (modelscan).
        # kerascope should print nothing on stderr; TensorFlow always does, so only codes count.
        if result["codes"] != [0] or (key == "kerascope" and result["stderr"]):
            label = f"`{LABELS[key]}` (exit codes {result['codes']})"
            problems[label] = result["stderr"] or "(nothing on stderr)"
        print(f"{key} {ms(result['median_s'])} ms  ", end="", flush=True)
    print()
    return row


# --- the report -----------------------------------------------------------------------------------


def timing_table(rows: list[Row]) -> str:
    """Medians of time, worst peak RSS, ratios modelscan / kerascope."""
    lines = [
        "| file | size MB | kerascope ms | modelscan ms | time ratio "
        "| kerascope peak MiB | modelscan peak MiB | memory ratio |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        k, m = row["kerascope"], row["modelscan"]
        lines.append(
            f"| {row['file']} | {megabytes(row['size'])} | {ms(k['median_s'])} "
            f"| {ms(m['median_s'])} | {m['median_s'] / k['median_s']:.0f}x "
            f"| {mib(k['peak_max'])} | {mib(m['peak_max'])} "
            f"| {m['peak_max'] / k['peak_max']:.1f}x |"
        )
    return "\n".join(lines)


def describe(scan: Scan) -> str:
    """A table cell: count and the findings (severity kind), scan errors, exit code."""
    cell = str(len(scan["findings"]))
    if scan["findings"]:
        cell += ": " + ", ".join(f"{severity} `{kind}`" for severity, kind in scan["findings"])
    if scan["errors"]:
        shown = [error if len(error) <= 120 else error[:117] + "..." for error in scan["errors"]]
        cell += "; scan error: " + "; ".join(shown)
    if scan["problem"]:
        cell += f"; **{scan['problem']}**"
    return cell.replace("|", "/") + f" (exit {scan['code']})"


def flagged(scan: Scan) -> bool:
    """At least one finding (above info for kerascope, an issue for modelscan)."""
    return bool(scan["findings"])


def findings_table(targets: list[Target]) -> str:
    """One line per payload: attack class, what each tool found."""
    lines = [
        "| payload | attack class | kerascope findings above info | modelscan issues |",
        "|---|---|---|---|",
    ]
    payloads = [t for t in targets if not t["legitimate"]]
    for target in payloads:
        lines.append(
            f"| `{target['file'].name}` | {target['attack']} "
            f"| {describe(target['kerascope'])} | {describe(target['modelscan'])} |"
        )
    k_hits = sum(flagged(t["kerascope"]) for t in payloads)
    m_hits = sum(flagged(t["modelscan"]) for t in payloads)
    k_total = sum(len(t["kerascope"]["findings"]) for t in payloads)
    m_total = sum(len(t["modelscan"]["findings"]) for t in payloads)
    k_exits = sum(t["kerascope"]["code"] != 0 for t in payloads)
    m_exits = sum(t["modelscan"]["code"] != 0 for t in payloads)
    lines.append(
        f"| **total** ({len(payloads)} payloads) | | **{k_hits}/{len(payloads)} flagged**, "
        f"{k_total} findings; non-zero exit on {k_exits} "
        f"| **{m_hits}/{len(payloads)} flagged**, {m_total} issues; non-zero exit on {m_exits} |"
    )
    return "\n".join(lines)


def false_alarm_table(targets: list[Target]) -> str:
    """One line per legitimate file: anything either tool reports is a false alarm."""
    lines = [
        "| legitimate file | what it is | kerascope findings above info | modelscan issues |",
        "|---|---|---|---|",
    ]
    for target in (t for t in targets if t["legitimate"]):
        what = target["attack"].removeprefix("none: ")
        lines.append(
            f"| `{target['file'].name}` | {what} "
            f"| {describe(target['kerascope'])} | {describe(target['modelscan'])} |"
        )
    return "\n".join(lines)


def missed_expected(targets: list[Target]) -> list[str]:
    """Payloads where kerascope did not report every kind the manifest says it must."""
    notes = []
    for target in targets:
        found = {kind for severity, kind in target["kerascope"]["findings"] if severity == "high"}
        missing = [kind for kind in target["expected"] if kind not in found]
        if missing:
            notes.append(f"`{target['file'].name}`: no high `{'`, `'.join(missing)}`")
    return notes


def target_verdicts(rows: list[Row]) -> list[str]:
    """State, honestly, whether each project target is met by these measurements."""
    verdicts = []
    for row in rows:
        if not row["file"].startswith("big"):
            continue
        ratio = row["modelscan"]["median_s"] / row["kerascope"]["median_s"]
        met = "MET" if ratio >= TIME_TARGET else "NOT MET"
        verdicts.append(
            f"- speed, {row['file']}: `kerascope scan --json` {ms(row['kerascope']['median_s'])} "
            f"ms vs modelscan {ms(row['modelscan']['median_s'])} ms, {ratio:.0f}x faster "
            f"(target >= {TIME_TARGET:.0f}x): **{met}**"
        )
    big = [row for row in rows if row["file"].startswith("big")]
    for label, chosen in (("the ~200 MB model", big), ("all four files", rows)):
        peak, file = max((row["kerascope"]["peak_max"], row["file"]) for row in chosen)
        met = "MET" if peak < RSS_TARGET_BYTES else "NOT MET"
        verdicts.append(
            f"- memory, {label}: worst `kerascope scan` peak RSS is {mib(peak)} MiB "
            f"({peak / 10**6:.1f} MB, {file}) over all runs "
            f"(target < 80 MB = {mib(RSS_TARGET_BYTES)} MiB): **{met}**"
        )
    return verdicts


def render_section(
    rows: list[Row],
    targets: list[Target],
    facts: dict[str, str],
    *,
    versions: dict[str, str],
    install: dict[str, Any],
    payload_problem: str | None,
    excluded: list[str],
    repeat: int,
    modelscan_repeat: int,
    floor: int,
    total_s: float,
) -> str:
    """The whole ``## kerascope scan vs modelscan 0.8.8`` section of BENCHMARKS.md."""
    if install["seconds"] is None:
        installed = "The modelscan virtualenv was reused; its install time was not recorded."
    else:
        how = "reused by this run; it was" if install["reused"] else "created by this run,"
        installed = (
            f"The modelscan virtualenv was {how} installed in {install['seconds']:.0f} s "
            f"({install['date']})."
        )
    parts = [
        SECTION,
        "",
        f"Measured {facts['date']} on {facts['machine']}, {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['ram']} RAM; Python {facts['python']}, kerascope {facts['kerascope']} (in "
        f"`.venv`); modelscan {versions['modelscan']}, tensorflow-cpu "
        f"{versions['tensorflow-cpu']}, h5py {versions['h5py']} (in `bench/out/venv-modelscan`). "
        f"The whole run (including any model and payload build) took {total_s:.0f} s. {installed}",
        "",
        "Setup (done by `bench/scan.py` when `bench/out/venv-modelscan/bin/modelscan` is "
        "missing: modelscan pins `rich<15`, which `constraints.txt` does not allow, and needs "
        "TensorFlow to scan `.keras` files):",
        "",
        "```",
        "python3 -m venv bench/out/venv-modelscan",
        "bench/out/venv-modelscan/bin/python -m pip install " + " ".join(MODELSCAN_REQUIREMENTS),
        f".venv/bin/python -m {PAYLOAD_MODULE} bench/out/payloads",
        "```",
        "",
        "Timed commands (from the repository root; `make bench` runs `.venv/bin/python "
        "bench/scan.py`, which builds the models of `bench/run.py` into `bench/out/` if needed):",
        "",
        "```",
        ".venv/bin/kerascope scan bench/out/FILE --json > /dev/null",
        "TF_CPP_MIN_LOG_LEVEL=3 bench/out/venv-modelscan/bin/modelscan -p bench/out/FILE "
        "-r json > /dev/null",
        "```",
        "",
        "Each command runs in a fresh process (with PYTHONDONTWRITEBYTECODE unset, so both tools "
        f"run from cached bytecode), once untimed as a warm-up, then {repeat} times (kerascope) "
        f"or {modelscan_repeat} times (modelscan), interleaved: for each file the two commands "
        "run round robin, the modelscan runs spread evenly among the rounds, so that slow "
        "periods of this noisy 2-core machine hit both alike. Time is the whole process wall "
        "time (`time.perf_counter` around spawn and `os.wait4`, via `bench/measure.py`); the "
        "table shows the median. Peak memory is the child's `ru_maxrss`; the table shows the "
        "worst run. Ratios are modelscan / kerascope (median time, worst peak). The files are "
        "those of the section `inspect vs keras.saving.load_model`: `tiny` (3 layers) and "
        "`big` (50.5M float32 parameters), each saved as `.keras` and `.h5`.",
        "",
        timing_table(rows),
        "",
        "Targets (kerascope scan at least 50x faster than modelscan on the ~200 MB model; peak "
        "memory under 80 MB):",
        "",
        *target_verdicts(rows),
        "",
    ]
    if payload_problem:
        parts += [
            "Findings: **not measured**, the payloads could not be built:",
            "",
            "```",
            payload_problem,
            "```",
            "",
        ]
    else:
        parts += [
            "Findings: every harmless attack payload of `tests/malicious/payloads.py` (built as "
            "above), every legitimate lookalike of that module and the four models above, "
            "scanned once by each tool:",
            "",
            "```",
            ".venv/bin/kerascope scan FILE --json",
            "TF_CPP_MIN_LOG_LEVEL=3 bench/out/venv-modelscan/bin/modelscan -p FILE -r json "
            "-o REPORT.json",
            "```",
            "",
            "A kerascope finding counts when its severity is above `info` (exit code 7 or 8); a "
            "modelscan finding is an entry of `issues` in its JSON report (exit code 1); its "
            "scan `errors` are shown apart (exit code 2, or 3 when it then reports the file as "
            "not scanned). A file is flagged when a tool reports at least one finding; the "
            "totals also count non-zero exit codes, which is what a CI gate would see. "
            "modelscan's report is read from the `-o` file because on stdout it goes through "
            "rich, which wraps it at 80 columns, inside JSON strings too. "
            + (
                f"Left out: {', '.join(f'`{name}`' for name in excluded)} (it only works with its "
                "sandbox as the working directory)."
                if excluded
                else ""
            ),
            "",
            findings_table(targets),
            "",
            "Legitimate files (anything reported here is a false alarm):",
            "",
            false_alarm_table(targets),
            "",
        ]
        missed = missed_expected([t for t in targets if not t["legitimate"]])
        if missed:
            parts += [
                "Kinds the payload manifest expects from kerascope at severity high but that "
                "were not reported:",
                "",
                *(f"- {note}" for note in missed),
                "",
            ]
    parts += [
        "Spread of every measurement:",
        "",
        spread_table(rows, {key: f"`{label}`" for key, label in LABELS.items()}),
        "",
        f"Floor: measured the same way, `/bin/true` peaks at {mib(floor)} MiB (see "
        "`bench/measure.py`).",
    ]
    problems = [
        f"- {row['file']}, {label}:\n\n  ```\n  " + problem.replace("\n", "\n  ") + "\n  ```"
        for row in rows
        for label, problem in row["problems"].items()
    ]
    if problems:
        parts += ["", "Errors reported by the timed commands:", "", *problems]
    return "\n".join(parts) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11, help="timed runs of kerascope scan")
    parser.add_argument("--modelscan-repeat", type=int, default=3, help="timed runs of modelscan")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the models")
    parser.add_argument(
        "--payload-attempts", type=int, default=2, help="tries to build the payloads"
    )
    parser.add_argument(
        "--payload-wait", type=float, default=180.0, help="seconds between those tries"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    arguments = parser.parse_args()
    started = time.perf_counter()
    for tool in (PYTHON, KERASCOPE):
        if not tool.exists():
            sys.exit(f"{tool} is missing: run `make bench` (it creates .venv)")
    install = ensure_modelscan()
    versions = modelscan_versions()
    models = build_models(arguments.rebuild)
    manifest, payload_problem = build_payloads(arguments.payload_attempts, arguments.payload_wait)
    floor = measure(["/bin/true"], dict(os.environ), 3)["peak_max"]
    rows = [benchmark_file(path, arguments.repeat, arguments.modelscan_repeat) for path in models]
    targets = targets_of(manifest, models)
    scan_targets(targets)
    total_s = time.perf_counter() - started
    section = render_section(
        rows,
        targets,
        machine_facts(),
        versions=versions,
        install=install,
        payload_problem=payload_problem,
        excluded=excluded_payloads(manifest),
        repeat=arguments.repeat,
        modelscan_repeat=arguments.modelscan_repeat,
        floor=floor,
        total_s=total_s,
    )
    print()
    print(section)
    if not arguments.no_write:
        write_benchmarks_md(section, SECTION)
        print(f"wrote {BENCHMARKS_MD.relative_to(REPO)}")
    failed = any(row["problems"] for row in rows) or payload_problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
