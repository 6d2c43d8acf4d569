"""Shared fixtures: real models built once per test run with real Keras, in a subprocess."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pty
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `make fuzz` runs the fuzz tests with many more examples (KERASCOPE_FUZZ=long), `make test-fast`
# (-m "not slow") with fewer (KERASCOPE_FUZZ=quick, set by pytest_configure below).
settings.register_profile(
    "default", max_examples=200, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "quick", max_examples=50, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("KERASCOPE_FUZZ", "default"))


def pytest_configure(config: pytest.Config) -> None:
    """The quick loop (``-m "not slow"``, ``make test-fast``) fuzzes with fewer examples."""
    if config.getoption("markexpr") == "not slow" and "KERASCOPE_FUZZ" not in os.environ:
        os.environ["KERASCOPE_FUZZ"] = "quick"
        settings.load_profile("quick")


ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PYTHON = sys.executable
QUIET_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1"}


def _shared_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A directory shared by all xdist workers of this run."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / name


def build_once(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    command: list[str],
    env: dict[str, str] = QUIET_ENV,
    timeout: float | None = None,
) -> Path:
    """Run ``command FOLDER`` once per test run, for all xdist workers; return FOLDER.

    The workers wait on a lock; a ``done`` marker tells a finished build from an aborted one,
    whose leftovers are removed first.
    """
    folder = _shared_dir(tmp_path_factory, name)
    with open(folder.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            result = subprocess.run(
                [*command, str(folder)],
                env=env, capture_output=True, text=True, check=False, timeout=timeout,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr[-4000:]
            (folder / "done").write_text("ok")
    return folder


@pytest.fixture(scope="session")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory with every model of tests/fixtures/build_models.py as .keras and .h5."""
    return build_once(tmp_path_factory, "zoo", [PYTHON, str(FIXTURES / "build_models.py")])


@pytest.fixture(scope="session")
def keras2_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Keras 2 corpus (tf-keras 2.21, tests/fixtures/keras2/build_corpus.py), built once
    for all xdist workers; used by tests/test_keras2.py and tests/test_savedmodel.py.
    With ``KERASCOPE_KERAS2_WRITER=PYTHON`` that Python writes it (``make test-keras215``)."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf-keras is not installed (pip install 'kerascope[legacy]')")
    # Another writer's Python (make test-keras215: TensorFlow 2.15's keras 2.15), else tf-keras.
    writer = os.environ.get("KERASCOPE_KERAS2_WRITER")
    env = {**QUIET_ENV, "TF_USE_LEGACY_KERAS": "1"}
    if writer:
        env.pop("TF_USE_LEGACY_KERAS", None)  # TensorFlow 2.15 would look for tf_keras
    name = "keras2_corpus" + ("_other_writer" if writer else "")
    build = [writer or PYTHON, str(FIXTURES / "keras2" / "build_corpus.py")]
    return build_once(tmp_path_factory, name, build, env)


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root`` (text dedented); return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def pip_install_throwaway(
    site: Path, distribution: str, files: dict[str, str], *, pyproject_extra: str = ""
) -> Path:
    """Pip-install a throwaway distribution into the directory ``site``; return ``site``.

    The distribution's sources (``files``: ``{relative path: text}``, and a setuptools
    ``pyproject.toml`` naming ``distribution``, followed by ``pyproject_extra``) are written
    beside ``site``; pip installs them offline, without dependencies, with their metadata.
    """
    source = write_files(site.parent / "sources" / distribution, files)
    pyproject = f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{distribution}"
        version = "1.0"
        """
    (source / "pyproject.toml").write_text(textwrap.dedent(pyproject) + pyproject_extra)
    result = subprocess.run(
        [
            *(PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"),
            *("--no-index", "--target", str(site), str(source)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return site


def site_env(site: Path) -> dict[str, str]:
    """The environment of a fresh process that sees the packages installed in ``site`` first,
    then whatever PYTHONPATH the tests run with (a worktree's ``src``, so that the process tests
    this checkout and not an installed kerascope)."""
    inherited = QUIET_ENV.get("PYTHONPATH", "")
    return {**QUIET_ENV, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), inherited]))}


def run_python(
    code: str, *arguments: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Run ``python -c code`` in a fresh process, require success, return its stdout."""
    result = subprocess.run(
        [PYTHON, "-c", code, *arguments],
        cwd=cwd,
        env=env or QUIET_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-1000:] + result.stderr[-3000:]
    return result.stdout


def run_cli(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the kerascope command in a fresh process."""
    return subprocess.run(
        [PYTHON, "-m", "kerascope", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=QUIET_ENV,
        check=False,
        timeout=60,
    )


def run_cli_on_terminal(
    command: list[str], cwd: Path | None = None, timeout: float = 120
) -> tuple[int, bytes, str]:
    """Run ``command`` with its stderr on a pseudo-terminal (what a user at a terminal sees).

    Returns the exit code, the piped stdout, and everything drawn on the terminal.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, cwd=cwd, env=QUIET_ENV, stdout=subprocess.PIPE, stderr=terminal
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    stdout = process.communicate(timeout=timeout)[0]
    return process.returncode, stdout, drawn.decode()


# Model-building scripts and their custom modules are run in subprocesses, never collected.
collect_ignore = ["fixtures"]
