"""Errors raised in another process arrive as the same kerascope error, with every problem.

Nothing here needs Keras or Ray: a process pool carries errors by pickling them, and Ray
carries the text of some of them only, which :mod:`kerascope.ray` encodes and decodes.
"""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

import kerascope.ray
from kerascope.errors import (
    KerascopeError,
    KerasLoadError,
    LintError,
    ModelFileError,
    Problem,
    RegistryError,
    SourceError,
    SourceImportError,
    UnresolvedObjectsError,
)

PROBLEMS = [
    Problem("mypkg.helpers", "source file", (), "changed", "/src/mypkg/helpers.py differs", "x"),
    Problem("mypkg>Scale", "layer", ("$.config.layers[1]",), "untrusted", "not trusted", "y"),
]

ERRORS = [
    UnresolvedObjectsError("/data/m.keras", PROBLEMS),
    ModelFileError("/data/m.keras", "is empty (0 bytes)"),
    SourceImportError("mypkg.layers", "importing 'mypkg.layers' failed: NameError: x"),
    KerasLoadError("/data/m.keras", ValueError("bad shape")),
    LintError("/data/m.keras", []),
    SourceError("--from 'x': no such file"),
    RegistryError("'mypkg>Scale' is already registered"),
]


def _same(left: KerascopeError, right: KerascopeError) -> None:
    assert type(left) is type(right)
    assert str(left) == str(right) and left.args == right.args
    assert left.exit_code == right.exit_code
    for name, value in vars(right).items():
        if isinstance(value, BaseException):
            assert repr(getattr(left, name)) == repr(value)
        else:
            assert getattr(left, name) == value


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_every_kerascope_error_pickles_with_its_attributes(error: KerascopeError) -> None:
    _same(pickle.loads(pickle.dumps(error)), error)


def _raise_unresolved() -> None:
    raise UnresolvedObjectsError("/data/m.keras", PROBLEMS)


def test_an_error_raised_in_a_spawned_worker_arrives_as_itself() -> None:
    with (
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool,
        pytest.raises(UnresolvedObjectsError) as caught,
    ):
        pool.submit(_raise_unresolved).result(timeout=120)
    assert caught.value.problems == tuple(PROBLEMS)
    assert str(caught.value).startswith("/data/m.keras cannot be loaded: 2 problems")


class _RayTaskError(Exception):
    """Stands for Ray's wrappers: only the remote traceback's text survives."""


_RayTaskError.__module__ = "ray.exceptions"


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_a_worker_error_known_only_by_its_text_is_restored(error: KerascopeError) -> None:
    marked = kerascope.ray._marked(error)
    assert isinstance(marked, type(error)) and str(marked).startswith(str(error))
    remote = _RayTaskError(f"Traceback (most recent call last):\n  File ...\n{marked}")
    try:
        raise RuntimeError("UDF failed to process a data block.") from remote
    except RuntimeError as wrapper:
        restored = kerascope.ray.kerascope_error(wrapper)
    assert restored is not None
    _same(restored, error)


def test_unwrap_errors_reraises_the_kerascope_error_and_nothing_else() -> None:
    wrapped = _RayTaskError("remote traceback\n" + str(kerascope.ray._marked(ERRORS[0])))
    with pytest.raises(UnresolvedObjectsError) as caught, kerascope.ray.unwrap_errors():
        raise wrapped
    assert caught.value.problems == tuple(PROBLEMS)
    assert caught.value.__suppress_context__  # no remote traceback chained to it
    with pytest.raises(_RayTaskError), kerascope.ray.unwrap_errors():
        raise _RayTaskError("an unrelated failure")
    # A kerascope error carried as an attribute (Ray's RayTaskError.cause) is found too.
    carrier = _RayTaskError("text without the marker")
    carrier.cause = ERRORS[1]  # type: ignore[attr-defined]
    assert kerascope.ray.kerascope_error(carrier) is ERRORS[1]


def test_ray_is_imported_by_neither_kerascope_nor_kerascope_ray() -> None:
    probe = (
        "import sys, kerascope\n"
        "before = sorted(m for m in ('ray', 'kerascope.ray') if m in sys.modules)\n"
        "import kerascope.ray\n"
        "after = sorted(m for m in ('ray', 'keras', 'numpy') if m in sys.modules)\n"
        "print(before, after)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[] []"
