"""The source index: finding where user code defines custom objects, by reading it only.

Every test writes a small source tree under tmp_path; nothing here needs Keras, and nothing
written here may ever be imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kerascope._resolving import source_files
from kerascope._resolving.import_graph import import_cycles
from kerascope._resolving.sources import Definition, SourceIndex, index_sources, locate_module
from kerascope.errors import EXIT_USAGE, KerascopeError, SourceError
from tests.conftest import write_files as _write

TRAP = """\
from pathlib import Path
Path({marker!r}).write_text("imported")
raise RuntimeError("this module must never be imported")
"""


def _keys(index: SourceIndex) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {d.name: (d.registered_keys, d.dynamic_registration) for d in index.definitions}


def _modules(index: SourceIndex) -> dict[str, str]:
    return {d.name: d.module for d in index.definitions}


# --- specs ---------------------------------------------------------------------------------------


def test_file_spec(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "custom_layer.py": """\
                import keras

                @keras.saving.register_keras_serializable(package="mypkg")
                class Scale(keras.layers.Layer):
                    def inner(self):
                        pass

                class MyCustomLayer(keras.layers.Layer):
                    class Nested:
                        pass

                async def fetch():
                    pass

                def my_loss(y_true, y_pred):
                    return y_true
                """
        },
    )
    path = tmp_path / "custom_layer.py"
    index = index_sources([path])
    root, file = str(tmp_path), str(path)
    assert index.definitions == (
        Definition("Scale", "class", ("mypkg>Scale",), "custom_layer", root, file, 4),
        Definition("MyCustomLayer", "class", (), "custom_layer", root, file, 8),
        Definition("fetch", "function", (), "custom_layer", root, file, 12),
        Definition("my_loss", "function", (), "custom_layer", root, file, 15),
    )
    assert index.modules == {"custom_layer": file}
    assert index.problems == ()


def test_file_spec_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"lib/layers.py": "class A:\n    pass\n"})
    monkeypatch.chdir(tmp_path)
    for spec in ("lib/layers.py", "lib"):
        (definition,) = index_sources([spec]).definitions
        assert (definition.path, definition.root, definition.module) == (
            str(tmp_path / "lib" / "layers.py"),
            str(tmp_path / "lib"),
            "layers",
        )


def test_file_inside_a_package_is_named_by_its_init_chain(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "proj/mypkg/__init__.py": "class Top:\n    pass\n",
            "proj/mypkg/sub/__init__.py": "",
            "proj/mypkg/sub/layers.py": "class Scale:\n    pass\n",
        },
    )
    index = index_sources(
        [tmp_path / "proj/mypkg/sub/layers.py", tmp_path / "proj/mypkg/__init__.py"]
    )
    assert [(d.name, d.module, d.root) for d in index.definitions] == [
        ("Scale", "mypkg.sub.layers", str(tmp_path / "proj")),
        ("Top", "mypkg", str(tmp_path / "proj")),
    ]


def test_directory_spec_with_packages_and_namespace_directories(tmp_path: Path) -> None:
    proj = _write(
        tmp_path / "proj",
        {
            "top.py": "class Top:\n    pass\n",
            "pkg/__init__.py": "class PkgInit:\n    pass\n",
            "pkg/layers.py": "class PkgLayer:\n    pass\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "class Deep:\n    pass\n",
            "pkg/data/loose.py": "class InsidePackage:\n    pass\n",
            "ns/extra.py": "class NsExtra:\n    pass\n",
            "ns/more/deeper.py": "class NsDeeper:\n    pass\n",
            "ns/inner/__init__.py": "",
            "ns/inner/mod.py": "class NsInner:\n    pass\n",
            "my-scripts/tool.py": "class Tool:\n    pass\n",
            "notes.txt": "class NotPython: pass\n",
        },
    )
    index = index_sources([proj])
    roots = {d.name: os.path.relpath(d.root, tmp_path) for d in index.definitions}
    assert _modules(index) == {
        "Tool": "tool",  # not an identifier: named from its own directory
        "NsInner": "inner.mod",  # an __init__.py chain: the walk-up rule wins
        "NsDeeper": "ns.more.deeper",  # namespace packages, named from the spec directory
        "NsExtra": "ns.extra",
        "PkgInit": "pkg",
        "InsidePackage": "pkg.data.loose",  # a namespace directory inside a regular package
        "PkgLayer": "pkg.layers",
        "Deep": "pkg.sub.deep",
        "Top": "top",
    }
    assert roots == {
        "Tool": "proj/my-scripts",
        "NsInner": "proj/ns",
        "NsDeeper": "proj",
        "NsExtra": "proj",
        "PkgInit": "proj",
        "InsidePackage": "proj",
        "PkgLayer": "proj",
        "Deep": "proj",
        "Top": "proj",
    }
    # Definitions follow the sorted file paths.
    paths = [d.path for d in index.definitions]
    assert paths == sorted(paths)
    assert len(index.modules) == 11
    assert index.modules["pkg.sub"] == str(proj / "pkg/sub/__init__.py")
    assert index.problems == ()


def test_directory_spec_that_is_a_package(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "mypkg/__init__.py": "",
            "mypkg/layers.py": "class Scale:\n    pass\n",
            "mypkg/extras/helpers.py": "def helper():\n    pass\n",
        },
    )
    index = index_sources([tmp_path / "mypkg"])
    assert [(d.name, d.module, d.root) for d in index.definitions] == [
        ("helper", "mypkg.extras.helpers", str(tmp_path)),
        ("Scale", "mypkg.layers", str(tmp_path)),
    ]


def test_dotted_module_and_package_specs(tmp_path: Path) -> None:
    site = _write(
        tmp_path / "site",
        {
            "mypkg/__init__.py": "from .layers import Scale\n",
            "mypkg/layers.py": "class Scale:\n    pass\n",
            "mypkg/sub/__init__.py": "",
            "mypkg/sub/losses.py": "def my_loss():\n    pass\n",
            "mypkg/sub/loose/helpers.py": "def helper():\n    pass\n",
            "single.py": "class Single:\n    pass\n",
        },
    )
    search = [str(tmp_path / "missing"), str(site)]
    module = index_sources(["mypkg.layers"], search_path=search)
    assert [(d.name, d.module, d.root) for d in module.definitions] == [
        ("Scale", "mypkg.layers", str(site))
    ]
    assert module.modules == {"mypkg.layers": str(site / "mypkg/layers.py")}
    assert _modules(index_sources(["single"], search_path=search)) == {"Single": "single"}
    package = index_sources(["mypkg"], search_path=search)
    assert _modules(package) == {
        "Scale": "mypkg.layers",
        "helper": "mypkg.sub.loose.helpers",
        "my_loss": "mypkg.sub.losses",
    }
    assert set(package.modules) == {
        "mypkg",
        "mypkg.layers",
        "mypkg.sub",
        "mypkg.sub.losses",
        "mypkg.sub.loose.helpers",
    }
    assert _modules(index_sources(["mypkg.sub"], search_path=search)) == {
        "helper": "mypkg.sub.loose.helpers",
        "my_loss": "mypkg.sub.losses",
    }


def test_dotted_namespace_package_spans_every_portion(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "one/company/layers.py": "class Scale:\n    pass\n",
            "two/company/losses.py": "def my_loss():\n    pass\n",
            "two/company/vision/__init__.py": "",
            "two/company/vision/blocks.py": "class Block:\n    pass\n",
        },
    )
    search = [str(tmp_path / "one"), str(tmp_path / "two")]
    index = index_sources(["company"], search_path=search)
    assert [(d.name, d.module, d.root) for d in index.definitions] == [
        ("Scale", "company.layers", str(tmp_path / "one")),
        ("my_loss", "company.losses", str(tmp_path / "two")),
        ("Block", "company.vision.blocks", str(tmp_path / "two")),
    ]
    assert locate_module("company", search) is None  # a namespace package has no file
    assert locate_module("company.vision.blocks", search) == str(
        tmp_path / "two/company/vision/blocks.py"
    )


def test_skip_rules(tmp_path: Path) -> None:
    proj = _write(
        tmp_path / "proj",
        {
            "keep.py": "class Keep:\n    pass\n",
            "sub/keep_too.py": "class KeepToo:\n    pass\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/site.py": "class InHiddenVenv:\n    pass\n",
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/lib/python3.11/thing.py": "class InVenv:\n    pass\n",
            "__pycache__/cached.py": "class Cached:\n    pass\n",
            ".git/hooks/hook.py": "class Hook:\n    pass\n",
            ".hidden/secret.py": "class Hidden:\n    pass\n",
            "node_modules/x/y.py": "class Node:\n    pass\n",
            "build/lib/copy.py": "class Built:\n    pass\n",
            "dist/out.py": "class Dist:\n    pass\n",
            "sub/site-packages/dep.py": "class Dep:\n    pass\n",
        },
    )
    index = index_sources([proj])
    assert [d.name for d in index.definitions] == ["Keep", "KeepToo"]
    # A directory named explicitly is indexed even if the walk would skip it.
    assert [d.name for d in index_sources([proj / "build"]).definitions] == ["Built"]


def test_duplicated_files_are_indexed_once(tmp_path: Path) -> None:
    _write(tmp_path, {"lib/layers.py": "class Scale:\n    pass\n"})
    (tmp_path / "link.py").symlink_to(tmp_path / "lib" / "layers.py")
    lib = tmp_path / "lib"
    index = index_sources([lib / "layers.py", lib, str(lib) + "/", tmp_path / "link.py"])
    assert [d.name for d in index.definitions] == ["Scale"]


def test_order_is_specs_then_paths_then_lines(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "b/z.py": "class Z1:\n    pass\nclass Z2:\n    pass\n",
            "b/a.py": "class A1:\n    pass\n",
            "a/m.py": "class M1:\n    pass\n",
        },
    )
    index = index_sources([tmp_path / "b", tmp_path / "a"])
    assert [d.name for d in index.definitions] == ["A1", "Z1", "Z2", "M1"]


def test_same_module_name_from_two_roots_is_a_problem(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"one/layers.py": "class First:\n    pass\n", "two/layers.py": "class Second:\n    pass\n"},
    )
    index = index_sources([tmp_path / "one", tmp_path / "two"])
    assert [d.name for d in index.definitions] == ["First", "Second"]
    assert index.modules == {"layers": str(tmp_path / "one/layers.py")}
    (problem,) = index.problems
    assert problem.startswith(str(tmp_path / "two/layers.py"))
    assert "'layers' is already taken" in problem


def test_file_limit_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {f"m{number}.py": f"class C{number}:\n    pass\n" for number in range(5)})
    monkeypatch.setattr(source_files, "MAX_FILES", 3)
    index = index_sources([tmp_path])
    assert [d.name for d in index.definitions] == ["C0", "C1", "C2"]
    assert len(index.problems) == 1
    assert "stopped after 3 files" in index.problems[0]


@pytest.mark.parametrize("spec", ["foo.py", "no_such_module", "no.such.module", "", "a b"])
def test_bad_spec_raises_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SourceError) as caught:
        index_sources([spec], search_path=[str(tmp_path)])
    assert str(caught.value) == f"--from {spec!r}: no such file, directory or importable module"
    assert caught.value.exit_code == EXIT_USAGE
    assert isinstance(caught.value, (KerascopeError, ValueError))


def test_non_python_file_spec_raises_source_error(tmp_path: Path) -> None:
    path = _write(tmp_path, {"model.keras": "PK"}) / "model.keras"
    with pytest.raises(SourceError, match=r"not a Python source file \(\.py\)"):
        index_sources([path])


def test_a_single_string_spec_is_not_split_into_characters(tmp_path: Path) -> None:
    path = _write(tmp_path, {"lib.py": "class A:\n    pass\n"}) / "lib.py"
    assert [d.name for d in index_sources(str(path)).definitions] == ["A"]


# --- decorators ----------------------------------------------------------------------------------

DECORATED = """\
import keras
import tensorflow as tf
import kerascope
import kerascope as ks
from keras.saving import register_keras_serializable
from keras.utils import register_keras_serializable as serializable
from kerascope import register
from kerascope import register as kregister

PACKAGE = "dyn"

@keras.saving.register_keras_serializable(package="saving")
class Saving: pass

@keras.utils.register_keras_serializable("utils")
class Utils: pass

@tf.keras.utils.register_keras_serializable(package="tf", name="renamed")
class TfUtils: pass

@register_keras_serializable()
class BareImported: pass

@register_keras_serializable
class NoParentheses: pass

@serializable("aliased", "aliased_name")
def aliased_function(x):
    return x

@keras.saving.register_keras_serializable(name="only_name")
def only_name(x):
    return x

@kerascope.register
class KerascopeBare: pass

@kerascope.register(package="kpkg", aliases=("old>KerascopeAliases", "Legacy"))
class KerascopeAliases: pass

@register(package="kpkg", name="Renamed", aliases=["x>Y"])
class ImportedRegister: pass

@kregister(package="kpkg")
class AliasedRegister: pass

@ks.register(name="")
class EmptyName: pass

@keras.saving.register_keras_serializable(package=PACKAGE)
class DynamicPackage: pass

@keras.saving.register_keras_serializable("p", name=f"{PACKAGE}x")
class DynamicName: pass

@keras.saving.register_keras_serializable(**{"package": "p"})
class DynamicKwargs: pass

@kerascope.register(package="kpkg", aliases=("ok>Alias", PACKAGE))
class PartlyDynamicAliases: pass

@kerascope.register(package=PACKAGE, aliases=("ok>Kept",))
class DynamicPackageKeptAlias: pass

@kerascope.register(package="kpkg", aliases=PACKAGE)
class DynamicAliases: pass

@some.other.register(package="nope")
class OtherRegister: pass

@keras.saving.register_keras_serializable(package="a")
@kerascope.register(package="b")
class Twice: pass

@property
def not_registered(): pass
"""


def test_every_decorator_form(tmp_path: Path) -> None:
    index = index_sources([_write(tmp_path, {"decorated.py": DECORATED}) / "decorated.py"])
    assert index.problems == ()
    assert _keys(index) == {
        "Saving": (("saving>Saving",), False),
        "Utils": (("utils>Utils",), False),
        "TfUtils": (("tf>renamed",), False),
        "BareImported": (("Custom>BareImported",), False),
        "NoParentheses": (("Custom>NoParentheses",), False),
        "aliased_function": (("aliased>aliased_name",), False),
        "only_name": (("Custom>only_name",), False),
        "KerascopeBare": (("Custom>KerascopeBare",), False),
        "KerascopeAliases": (("kpkg>KerascopeAliases", "old>KerascopeAliases", "Legacy"), False),
        "ImportedRegister": (("kpkg>Renamed", "x>Y"), False),
        "AliasedRegister": (("kpkg>AliasedRegister",), False),
        "EmptyName": (("Custom>EmptyName",), False),  # kerascope.register: name or __name__
        "DynamicPackage": ((), True),
        "DynamicName": ((), True),
        "DynamicKwargs": ((), True),
        "PartlyDynamicAliases": (("kpkg>PartlyDynamicAliases", "ok>Alias"), True),
        "DynamicPackageKeptAlias": (("ok>Kept",), True),
        "DynamicAliases": (("kpkg>DynamicAliases",), True),
        "OtherRegister": ((), False),
        "Twice": (("a>Twice", "b>Twice"), False),
        "not_registered": ((), False),
    }
    kinds = {d.name: d.kind for d in index.definitions}
    assert kinds["aliased_function"] == "function"
    assert kinds["Saving"] == "class"


def test_register_is_kerascope_only_when_imported_from_kerascope(tmp_path: Path) -> None:
    source = """\
        from myapp import register

        @register(package="mine")
        class Mine: pass
        """
    index = index_sources([_write(tmp_path, {"app.py": source}) / "app.py"])
    assert _keys(index) == {"Mine": ((), False)}


def test_definitions_inside_top_level_blocks(tmp_path: Path) -> None:
    source = """\
        from typing import TYPE_CHECKING
        try:
            from keras.saving import register_keras_serializable
        except ImportError:
            from tensorflow.keras.utils import register_keras_serializable

        if True:
            @register_keras_serializable("blk")
            class InIf: pass
        else:
            class InElse: pass

        if TYPE_CHECKING:
            class OnlyForTypes: pass

        def outer():
            @register_keras_serializable("fn")
            class InFunction: pass
        """
    index = index_sources([_write(tmp_path, {"blocks.py": source}) / "blocks.py"])
    assert _keys(index) == {
        "InIf": (("blk>InIf",), False),
        "InElse": ((), False),
        "outer": ((), False),
    }


# --- find and names ------------------------------------------------------------------------------

FIND = """\
import keras

@keras.saving.register_keras_serializable(package="mypkg")
class Scale(keras.layers.Layer): pass

@keras.saving.register_keras_serializable(package="other", name="Scale")
class ScaleV2(keras.layers.Layer): pass

class Unregistered(keras.layers.Layer): pass

def my_loss(y_true, y_pred): return y_true
"""


def test_find_rules(tmp_path: Path) -> None:
    index = index_sources([_write(tmp_path, {"lib.py": FIND}) / "lib.py"])

    def found(key: str) -> list[str]:
        return [d.name for d in index.find(key)]

    assert found("mypkg>Scale") == ["Scale"]
    assert found("other>Scale") == ["ScaleV2"]  # the registered key wins over the name
    assert found("Scale") == ["Scale"]  # no ">": by name
    assert found("my_loss") == ["my_loss"]
    assert found("Custom>Unregistered") == ["Unregistered"]  # passed under the registered key
    assert found("mypkg>Unregistered") == ["Unregistered"]
    assert found("mypkg>ScaleV2") == ["ScaleV2"]
    assert found("Missing") == []
    assert found("mypkg>Missing") == []
    assert index.names() == [
        "Scale",
        "mypkg>Scale",
        "ScaleV2",
        "other>Scale",
        "Unregistered",
        "my_loss",
    ]


def test_find_keeps_index_order_across_files(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {"b.py": "class Scale:\n    pass\n", "a.py": "import x\n\nclass Scale:\n    pass\n"},
    )
    index = index_sources([tmp_path / "b.py", tmp_path / "a.py"])
    assert [(d.module, d.lineno) for d in index.find("pkg>Scale")] == [("b", 1), ("a", 3)]


# --- problems ------------------------------------------------------------------------------------


def test_unparsable_files_are_problems_and_the_rest_is_indexed(tmp_path: Path) -> None:
    proj = _write(
        tmp_path,
        {
            "good.py": "class Good:\n    pass\n",
            "broken.py": "class Broken(:\n    pass\n",
        },
    )
    (proj / "latin.py").write_bytes(b"name = '\xe9t\xe9'\nclass Latin:\n    pass\n")
    (proj / "nulls.py").write_bytes(b"class Nulls:\n    pass\x00\n")
    (proj / "huge.py").write_bytes(b"class Huge:\n    pass\n" + b"#" * (3 * 1024 * 1024))
    (proj / "declared.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9'\nclass D: pass\n")
    index = index_sources([proj])
    assert [d.name for d in index.definitions] == ["D", "Good"]
    problems = dict(problem.split(": ", 1) for problem in index.problems)
    assert problems[str(proj / "broken.py")].startswith("syntax error at line 1")
    assert problems[str(proj / "latin.py")].startswith("cannot be decoded")
    assert problems[str(proj / "nulls.py")].startswith("cannot be decoded")
    assert problems[str(proj / "huge.py")].startswith("not indexed: larger than 2 MB")
    assert len(index.problems) == 4
    assert set(index.modules) == {"broken", "declared", "good", "huge", "latin", "nulls"}


# --- locate_module -------------------------------------------------------------------------------


def test_locate_module_finds_modules_and_packages(tmp_path: Path) -> None:
    site = _write(
        tmp_path / "site",
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/leaf.py": "",
            "pkg/loose/thing.py": "",
            "flat.py": "",
        },
    )
    search = [str(site)]
    assert locate_module("pkg", search) == str(site / "pkg/__init__.py")
    assert locate_module("pkg.mod", search) == str(site / "pkg/mod.py")
    assert locate_module("pkg.sub", search) == str(site / "pkg/sub/__init__.py")
    assert locate_module("pkg.sub.leaf", search) == str(site / "pkg/sub/leaf.py")
    assert locate_module("pkg.loose.thing", search) == str(site / "pkg/loose/thing.py")
    assert locate_module("flat", search) == str(site / "flat.py")
    assert locate_module("flat.inner", search) is None  # a module has no submodules
    assert locate_module("pkg.missing", search) is None
    assert locate_module("not a name", search) is None
    assert locate_module("pkg..mod", search) is None


def test_locate_module_search_order(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "first/shadow.py": "",
            "second/shadow/__init__.py": "",
            "first/both/__init__.py": "",
            "first/both.py": "",
            "early/nspkg/mod.py": "",
            "late/nspkg/__init__.py": "",
            "late/nspkg/mod.py": "",
        },
    )
    search = [str(tmp_path / name) for name in ("first", "second", "early", "late")]
    assert locate_module("shadow", search) == str(tmp_path / "first/shadow.py")
    assert locate_module("both", search) == str(tmp_path / "first/both/__init__.py")
    # A regular package anywhere on the path beats a namespace directory earlier on it.
    assert locate_module("nspkg.mod", search) == str(tmp_path / "late/nspkg/mod.py")


def test_locate_module_current_directory_and_non_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"here.py": "", "archive.zip": "not a directory"})
    monkeypatch.chdir(tmp_path)
    assert locate_module("here", [""]) == str(tmp_path / "here.py")
    assert locate_module("here", [str(tmp_path / "archive.zip"), "."]) == str(tmp_path / "here.py")
    assert locate_module("here", [str(tmp_path / "archive.zip")]) is None


def test_locate_module_defaults_to_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, {"kerascope_test_default_path.py": ""})
    monkeypatch.syspath_prepend(str(tmp_path))
    assert locate_module("kerascope_test_default_path") == str(
        tmp_path / "kerascope_test_default_path.py"
    )


def test_locate_and_index_never_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "imported.txt"
    site = _write(
        tmp_path / "site",
        {
            "kstrap/__init__.py": TRAP.format(marker=str(marker)),
            "kstrap/layers.py": TRAP.format(marker=str(marker)) + "\nclass Scale: pass\n",
            "kstrap_flat.py": TRAP.format(marker=str(marker)),
        },
    )
    monkeypatch.syspath_prepend(str(site))
    assert locate_module("kstrap.layers") == str(site / "kstrap/layers.py")
    assert locate_module("kstrap") == str(site / "kstrap/__init__.py")
    assert locate_module("kstrap_flat") == str(site / "kstrap_flat.py")
    index = index_sources(["kstrap", "kstrap.layers", "kstrap_flat"])
    assert [d.name for d in index.definitions] == ["Scale"]
    assert import_cycles(index, index.modules) == []
    assert not marker.exists()
    assert not any(name.startswith("kstrap") for name in sys.modules)


# --- weight --------------------------------------------------------------------------------------


def test_indexing_imports_neither_keras_tensorflow_nor_numpy(tmp_path: Path) -> None:
    path = _write(tmp_path, {"lib.py": FIND, "decorated.py": DECORATED})
    code = textwrap.dedent(
        f"""\
        import sys
        from kerascope._resolving.import_graph import import_cycles
        from kerascope._resolving.sources import index_sources, locate_module
        index = index_sources([{str(path)!r}])
        assert index.find("mypkg>Scale"), index
        import_cycles(index, index.modules)
        locate_module("keras.saving")
        print(" ".join(m for m in ("keras", "tensorflow", "numpy") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == []


def test_unreadable_directory_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = _write(tmp_path, {"ok.py": "class Ok:\n    pass\n", "locked/hidden.py": ""})
    real_walk = os.walk

    def walk(top: str, onerror: Any = None) -> Iterator[tuple[str, list[str], list[str]]]:
        for directory, subdirectories, filenames in real_walk(top, onerror=onerror):
            if directory.endswith("locked"):  # what os.walk does when listing fails (root or not)
                onerror(PermissionError(13, "Permission denied", directory))
                continue
            yield directory, subdirectories, filenames

    monkeypatch.setattr(os, "walk", walk)
    index = index_sources([proj])
    assert [d.name for d in index.definitions] == ["Ok"]
    assert index.problems == (f"{proj / 'locked'}: cannot be read: Permission denied",)
