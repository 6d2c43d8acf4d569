"""The import graph: finding import cycles among indexed source modules, by reading them only.

Every test writes a small source tree under tmp_path; nothing here needs Keras, and nothing
written here may ever be imported.
"""

from __future__ import annotations

from pathlib import Path

from kerascope._resolving.import_graph import import_cycles
from kerascope._resolving.sources import index_sources
from tests.conftest import write_files


def _cycles(tmp_path: Path, files: dict[str, str], start: list[str]) -> list[tuple[str, ...]]:
    index = index_sources([write_files(tmp_path / "proj", files)])
    return import_cycles(index, start)


def test_two_cycle(tmp_path: Path) -> None:
    files = {"b.py": "import a\n", "a.py": "from b import helper\n"}
    assert _cycles(tmp_path, files, ["a"]) == [("a", "b")]
    assert _cycles(tmp_path, files, ["b"]) == [("a", "b")]


def test_three_cycle_in_import_order(tmp_path: Path) -> None:
    files = {
        "a.py": "import c\n",
        "c.py": "from b import x\n",
        "b.py": "try:\n    import a\nexcept ImportError:\n    pass\n",
        "unrelated.py": "import a\n",
    }
    assert _cycles(tmp_path, files, ["b"]) == [("a", "c", "b")]


def test_two_cycles_sharing_a_module(tmp_path: Path) -> None:
    files = {"a.py": "import b\nimport c\n", "b.py": "import a\n", "c.py": "import a\n"}
    assert _cycles(tmp_path, files, ["a"]) == [("a", "b"), ("a", "c")]


def test_relative_import_cycle(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/layers.py": "from .losses import my_loss\n",
        "pkg/losses.py": "from . import layers\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "from ..layers import Scale\n",
    }
    assert _cycles(tmp_path, files, ["pkg.sub.deep"]) == [("pkg.layers", "pkg.losses")]


def test_self_imports_and_impossible_relative_imports_are_not_edges(tmp_path: Path) -> None:
    files = {
        "solo.py": "import solo\nfrom . import nothing\n",
        "pkg/__init__.py": "from . import m\n",
        "pkg/m.py": "from ... import beyond_the_top\nfrom .. import also_beyond\n",
    }
    assert _cycles(tmp_path, files, ["solo", "pkg"]) == []


def test_from_package_import_name_is_an_edge_to_the_package(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from pkg.layers import Scale\nCONSTANT = 1\n",
        "pkg/layers.py": "from pkg import CONSTANT\n",
        "pkg/helpers.py": "",
        "other/__init__.py": "from other.layers import Scale\n",
        "other/layers.py": "from other import helpers\nimport other.helpers\n",
        "other/helpers.py": "",
    }
    assert _cycles(tmp_path, files, ["pkg.layers"]) == [("pkg", "pkg.layers")]
    # Submodules imported through the package, and parent packages run implicitly: no cycle.
    assert _cycles(tmp_path, files, ["other.layers", "other"]) == []


def test_acyclic_graph(tmp_path: Path) -> None:
    files = {
        "a.py": "import b\nimport c\nimport os\nfrom keras import layers\n",
        "b.py": "import c\n",
        "c.py": "import a_missing_module\n",
    }
    assert _cycles(tmp_path, files, ["a", "b", "c", "not_indexed"]) == []


def test_cycles_through_functions_and_type_checking_are_not_reported(tmp_path: Path) -> None:
    files = {
        "a.py": "import b\n",
        "b.py": """\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                import a

            def late():
                import a
                from a import thing

            class Holder:
                import a
            """,
    }
    assert _cycles(tmp_path, files, ["a"]) == []


def test_only_cycles_reachable_from_the_start_are_reported(tmp_path: Path) -> None:
    files = {"a.py": "", "x.py": "import y\n", "y.py": "import x\n"}
    assert _cycles(tmp_path, files, ["a"]) == []
    assert _cycles(tmp_path, files, ["a", "x"]) == [("x", "y")]


def test_cycle_enumeration_terminates_on_a_dense_graph(tmp_path: Path) -> None:
    names = [f"m{number:02d}" for number in range(14)]
    files = {f"{name}.py": "".join(f"import {other}\n" for other in names) for name in names}
    cycles = _cycles(tmp_path, files, ["m00"])
    assert len(cycles) == 1_000  # bounded: the complete graph on 14 nodes has billions
    assert all(cycle[0] == min(cycle) for cycle in cycles)
    assert len(set(cycles)) == len(cycles)
