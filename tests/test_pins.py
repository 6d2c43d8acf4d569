"""Pinning a plan's code for other processes, and staging exactly those files to ship.

Every test writes a small source tree under tmp_path and reads it; nothing here needs Keras,
and nothing written here is imported, except where a test says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kerascope._audit.inspect import CustomObject
from kerascope._common.files import file_sha256
from kerascope._resolving.pins import PinnedFile, find_pinned, local_imports, model_digest, pin
from kerascope._resolving.plan import Resolution
from kerascope._resolving.shipping import stage
from kerascope._resolving.sources import index_sources
from tests.test_sources import _write

TREE = {
    "mypkg/__init__.py": "",
    "mypkg/layers.py": """\
        import numpy
        from mypkg.helpers import FACTOR
        from . import base


        class Scale(base.Layer):
            def call(self, x):
                from .ops import shift  # only when called

                return shift(x)
        """,
    "mypkg/helpers.py": "FACTOR = 3\n",
    "mypkg/base.py": "class Layer:\n    pass\n",
    "mypkg/ops.py": "import mypkg.deep.leaf\n\n\ndef shift(x):\n    return x\n",
    "mypkg/deep/__init__.py": "from .leaf import VALUE\n",
    "mypkg/deep/leaf.py": "VALUE = 1\n",
    "mypkg/unused.py": "raise RuntimeError('never')\n",
    "other.py": "import mypkg.unused\n",
}


def _source_plan(root: Path, module: str, key: str) -> Any:
    obj = CustomObject(key, ("layer",), None, key, None, ("$.config.layers[1]",), False)
    path = str(root / (module.replace(".", "/") + ".py"))
    resolution = Resolution(obj, "source", path, module, str(root), key, None, path)
    return SimpleNamespace(resolutions=(resolution,))


def test_local_imports_follow_imports_anywhere_and_the_packages_around_them(
    tmp_path: Path,
) -> None:
    root = _write(tmp_path / "src", TREE)
    needed = local_imports(index_sources([root]), ["mypkg.layers"])
    assert needed == {
        "mypkg": "package of mypkg.layers",
        "mypkg.helpers": "imported by mypkg.layers",
        "mypkg.base": "imported by mypkg.layers",
        "mypkg.ops": "imported by mypkg.layers",
        "mypkg.deep": "package of mypkg.deep.leaf",
        "mypkg.deep.leaf": "imported by mypkg.ops",
    }


def test_pin_lists_exactly_the_files_a_load_imports_with_their_hashes(tmp_path: Path) -> None:
    root = _write(tmp_path / "src", TREE)
    pinned = pin(_source_plan(root, "mypkg.layers", "Scale"), index_sources([root]))
    by_path = {item.relpath: item for item in pinned}
    assert sorted(by_path) == [
        "mypkg/__init__.py",
        "mypkg/base.py",
        "mypkg/deep/__init__.py",
        "mypkg/deep/leaf.py",
        "mypkg/helpers.py",
        "mypkg/layers.py",
        "mypkg/ops.py",
    ]
    layers = by_path["mypkg/layers.py"]
    assert layers.why == "defines 'Scale'" and layers.root == str(root) and layers.shipped
    assert layers.sha256 == file_sha256(str(root / "mypkg/layers.py"))
    assert layers.size == (root / "mypkg/layers.py").stat().st_size


def test_find_pinned_checks_every_hash_and_names_each_changed_or_missing_file(
    tmp_path: Path,
) -> None:
    root = _write(tmp_path / "src", TREE)
    pinned = pin(_source_plan(root, "mypkg.layers", "Scale"), index_sources([root]))
    placement = find_pinned(pinned, search_path=[str(tmp_path / "elsewhere")])
    # Not on the search path: found in the planning process's directory, put in front.
    assert placement.problems == () and placement.roots == (str(root),)
    assert placement.files["mypkg.ops"] == (str(root / "mypkg/ops.py"), str(root))

    (root / "mypkg/helpers.py").write_text("FACTOR = 4\n")
    (root / "mypkg/deep/leaf.py").unlink()
    problems = {p.key: p for p in find_pinned(pinned, search_path=[]).problems}
    assert set(problems) == {"mypkg.helpers", "mypkg.deep.leaf"}
    assert problems["mypkg.helpers"].reason == "changed"
    assert str(root / "mypkg/helpers.py") in problems["mypkg.helpers"].message
    assert problems["mypkg.deep.leaf"].reason == "missing"
    assert "kerascope.ray.runtime_env(ref)" in problems["mypkg.deep.leaf"].fix


def test_a_copy_on_the_search_path_wins_when_its_hashes_match(tmp_path: Path) -> None:
    root = _write(tmp_path / "src", TREE)
    copy = _write(tmp_path / "copy", TREE)
    pinned = pin(_source_plan(root, "mypkg.layers", "Scale"), index_sources([root]))
    placement = find_pinned(pinned, search_path=[str(copy)])
    assert placement.roots == () and placement.problems == ()
    assert placement.files["mypkg.layers"] == (str(copy / "mypkg/layers.py"), str(copy))
    # A different copy on the search path does not shadow the planning process's files.
    (copy / "mypkg/helpers.py").write_text("FACTOR = 5\n")
    placement = find_pinned(pinned, search_path=[str(copy)])
    assert placement.roots == (str(root),) and placement.problems == ()
    assert placement.files["mypkg.helpers"][0] == str(root / "mypkg/helpers.py")


def test_a_module_already_imported_from_elsewhere_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _write(tmp_path / "src", {"solo.py": "class Solo:\n    pass\n"})
    pinned = pin(_source_plan(root, "solo", "Solo"), index_sources([root]))
    monkeypatch.setitem(sys.modules, "solo", SimpleNamespace(__file__="/elsewhere/solo.py"))
    (problem,) = find_pinned(pinned, search_path=[]).problems
    assert problem.reason == "shadowed" and "/elsewhere/solo.py" in problem.message


def test_stage_copies_only_the_pinned_sources_under_their_module_paths(tmp_path: Path) -> None:
    root = _write(tmp_path / "src", {**TREE, "top.py": "X = 1\n"})
    index = index_sources([root])
    pinned = pin(_source_plan(root, "mypkg.layers", "Scale"), index)
    pinned += pin(_source_plan(root, "top", "X"), index)
    installed = PinnedFile("tinylib", str(root / "other.py"), None, "0" * 64, 1, "defines 'T'")
    package = stage((*pinned, installed), base=str(tmp_path / "ship"))
    assert package.problems == ()
    assert package.entries == (
        os.path.join(package.directory, "mypkg"),
        os.path.join(package.directory, "top.py"),
    )
    staged = sorted(
        os.path.relpath(os.path.join(folder, name), package.directory)
        for folder, _, names in os.walk(package.directory)
        for name in names
    )
    assert staged == sorted(item.relpath for item in pinned)  # no unused.py, no other.py
    assert package.size == sum(item.size for item in pinned)
    assert all(
        file_sha256(os.path.join(package.directory, item.relpath)) == item.sha256 for item in pinned
    )
    # Same files, same directory; a tampered staged copy is replaced.
    (Path(package.directory) / "mypkg/ops.py").write_text("evil = True\n")
    again = stage(pinned, base=str(tmp_path / "ship"))
    assert again.directory == package.directory
    assert file_sha256(os.path.join(again.directory, "mypkg/ops.py")) == file_sha256(
        str(root / "mypkg/ops.py")
    )


def test_stage_refuses_a_source_changed_since_it_was_pinned(tmp_path: Path) -> None:
    root = _write(tmp_path / "src", TREE)
    pinned = pin(_source_plan(root, "mypkg.layers", "Scale"), index_sources([root]))
    stage(pinned, base=str(tmp_path / "ship"))  # a staged copy exists: still checked
    (root / "mypkg/base.py").write_text("class Layer:\n    evil = True\n")
    (problem,) = stage(pinned, base=str(tmp_path / "ship")).problems
    assert problem.key == "mypkg.base" and problem.reason == "changed"
    assert str(root / "mypkg/base.py") in problem.message


def test_model_digest_of_a_directory_covers_names_and_contents(tmp_path: Path) -> None:
    model = _write(tmp_path / "model", {"config.json": "{}", "model.weights.h5": "w"})
    before = model_digest(str(model))
    (model / "config.json").write_text('{"x": 1}')
    assert model_digest(str(model)) != before
