"""Work done while the audit waits on its HDF5 reader child (``_common.idle``), and the one user
of it: TensorFlow's one-time set-up, warmed during that wait by ``kerascope.load_model``
(``_keras.warmup``). The time it saves is measured by ``bench/keras2.py``, not here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import pytest

from kerascope._common.idle import run_idle_work, while_idle
from kerascope._reading.hdf5_child import forget_answers, read_h5_root_isolated

from .conftest import run_python


def _h5_file(path: Path) -> Path:
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {}})
        handle.attrs["keras_version"] = "3.15.1"
    return path


def _children_of_this_process() -> list[str]:
    with open(f"/proc/self/task/{os.getpid()}/children") as listing:
        return listing.read().split()


def test_offered_work_runs_once_while_the_hdf5_child_is_alive(tmp_path: Path) -> None:
    path = _h5_file(tmp_path / "m.h5")
    before = set(_children_of_this_process())  # other tests' processes may still run
    seen: list[set[str]] = []
    forget_answers()
    with while_idle(lambda: seen.append(set(_children_of_this_process()) - before)):
        contents = read_h5_root_isolated(str(path))
        forget_answers()
        read_h5_root_isolated(str(path))  # a second child: the work is not run again
    assert len(seen) == 1
    assert seen[0], "no new child process was running while the work ran"
    assert json.loads(contents.attributes["model_config"])["class_name"] == "Sequential"


def test_work_not_taken_is_withdrawn_when_its_block_ends(tmp_path: Path) -> None:
    ran: list[int] = []
    with while_idle(lambda: ran.append(1)):
        pass  # no child was asked
    run_idle_work()
    forget_answers()
    read_h5_root_isolated(str(_h5_file(tmp_path / "m.h5")))
    assert ran == []


def test_work_that_fails_stops_the_child_and_is_reported(tmp_path: Path) -> None:
    path = _h5_file(tmp_path / "m.h5")
    before = set(_children_of_this_process())
    started: list[set[str]] = []
    forget_answers()

    def fails() -> None:
        started.append(set(_children_of_this_process()) - before)
        raise KeyError("from the work")

    with pytest.raises(KeyError, match="from the work"), while_idle(fails):
        read_h5_root_isolated(str(path))
    assert started and started[0], "the work ran while no child was running"
    assert not started[0] & set(_children_of_this_process()), "the child was left behind"


OFFERED = """\
import sys
from kerascope._common import idle
from kerascope._keras.warmup import backend_warmed_while_idle
if sys.argv[1] == "import keras":
    import keras
with backend_warmed_while_idle():
    print(len(idle._pending()), "keras" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setup", "offered"),
    [("import keras", "1 True"), ("nothing", "0 False")],
)
def test_warmup_is_offered_only_when_keras_is_already_imported(setup: str, offered: str) -> None:
    assert run_python(OFFERED, setup).strip() == offered


@pytest.mark.slow
def test_warmup_operations_run_on_the_pinned_keras() -> None:
    code = (
        "import keras\nfrom kerascope._keras.warmup import warm_operations\n"
        "warm_operations(keras.ops)\nprint(keras.backend.backend())"
    )
    assert run_python(code).strip() == "tensorflow"
