"""Test hygiene: every test that starts TensorFlow carries ``@pytest.mark.slow``, so that
``make test-fast`` (``-m "not slow"``) stays a quick loop.

Read with :mod:`ast`, never run. A test starts TensorFlow when its code, the fixtures it takes and
the helpers of its file it calls (followed through) do any of this:

- import Keras or TensorFlow, or ``pytest.importorskip("keras")`` (a test file that imports
  Keras at module level fails the check whatever its marks: collecting it, in ``make test-fast``
  too, would start TensorFlow);
- take the ``zoo`` fixture (models built with Keras);
- call ``load_model``, ``save_model``, ``verify`` or ``assert_roundtrip``, or run
  ``kerascope load`` / ``kerascope verify``;
- run Python (``run_python``, ``subprocess``) on code that imports Keras or TensorFlow, loads,
  saves, verifies or predicts, or on a script that builds models (``build_models.py``,
  ``build_seeds.py``, ``gen_keras_builtins.py``), the code given as a string or written to the
  file that is run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src" / "kerascope"

HEAVY_MODULES = frozenset({"keras", "tensorflow", "tf_keras"})
HEAVY_FIXTURES = frozenset({"zoo", "keras2_corpus"})
HEAVY_CALLS = frozenset({"load_model", "save_model", "verify", "assert_roundtrip"})
HEAVY_COMMANDS = frozenset({"load", "verify"})
RUNNERS = frozenset({"run_python", "run", "Popen", "check_output", "check_call", "call"})
STRING_BUILDERS = frozenset({"dedent", "format", "join", "str", "replace", "strip", "fspath"})
HEAVY_CODE = re.compile(
    r"^\s*(import\s[^\n]*\b(keras|tensorflow)\b(?!\w)|from\s+(keras|tensorflow)\b(?![\w]))"
    r"|\b(load_model|save_model|verify|assert_roundtrip)\(|\.predict\("
    r"|\b(build_models|build_seeds|gen_keras_builtins)\.py\b",
    re.MULTILINE,
)


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _imports_heavy(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] in HEAVY_MODULES for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] in HEAVY_MODULES
    if isinstance(node, ast.Call) and _called_name(node) == "importorskip":
        return any(
            isinstance(a, ast.Constant) and str(a.value).split(".")[0] in HEAVY_MODULES
            for a in node.args
        )
    return False


def _is_test_decorated_slow(node: ast.FunctionDef) -> bool:
    return any("slow" in ast.unparse(decorator) for decorator in node.decorator_list)


def _module_marks_slow(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytestmark" for target in node.targets
        ):
            return "slow" in ast.unparse(node.value)
    return False


class _File:
    """One test file: its functions, fixtures and module-level assignments, by name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.functions = {
            node.name: node for node in self.tree.body if isinstance(node, ast.FunctionDef)
        }
        self.constants: dict[str, ast.AST] = {}
        for node in self.tree.body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        self.constants[target.id] = node.value
        self.runners = self._runners()

    def _runners(self) -> set[str]:
        """Functions of this file that run Python, directly or through another one."""
        runners = set(RUNNERS)
        changed = True
        while changed:
            changed = False
            for name, function in self.functions.items():
                if name in runners:
                    continue
                if any(
                    isinstance(node, ast.Call) and _called_name(node) in runners
                    for node in ast.walk(function)
                ):
                    runners.add(name)
                    changed = True
        return runners

    def reach(self, function: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
        """The function, the same-file functions and fixtures it names or takes, transitively."""
        seen: set[str] = set()
        stack = [function]
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            yield current
            names = {arg.arg for arg in current.args.args}
            names |= {n.id for n in ast.walk(current) if isinstance(n, ast.Name)}
            stack += [self.functions[name] for name in names if name in self.functions]

    def strings(self, node: ast.AST, function: ast.FunctionDef, depth: int = 0) -> Iterator[str]:
        """Every string ``node`` may hold: its constants, and what the names in it were
        assigned (in ``function`` or at module level) or written to (``name.write_text(...)``).
        Calls other than string building (``dedent``, ``format``, ``str``...) are not followed:
        what ``_write(tmp_path, {...})`` returns is a path, not the code written there."""
        if depth > 10:
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value
        elif isinstance(node, ast.Name):
            for value in self._values_of(node.id, function):
                yield from self.strings(value, function, depth + 1)
        elif isinstance(node, ast.Call) and _called_name(node) not in STRING_BUILDERS:
            return
        else:
            for child in ast.iter_child_nodes(node):
                yield from self.strings(child, function, depth)

    def _values_of(self, name: str, function: ast.FunctionDef) -> Iterator[ast.AST]:
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                yield node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("write_text", "write_bytes")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
            ):
                yield from node.args
        if name in self.constants:
            yield self.constants[name]

    def starts_tensorflow(self, test: ast.FunctionDef) -> str | None:
        """Why ``test`` starts TensorFlow, or None."""
        for function in self.reach(test):
            if HEAVY_FIXTURES & {arg.arg for arg in function.args.args}:
                return f"{function.name} takes the zoo fixture"
            for node in ast.walk(function):
                if _imports_heavy(node):
                    return f"{function.name} imports Keras"
                if not isinstance(node, ast.Call):
                    continue
                called = _called_name(node)
                if called in HEAVY_CALLS:
                    return f"{function.name} calls {called}"
                if (
                    called == "run_cli"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in HEAVY_COMMANDS
                ):
                    return f"{function.name} runs kerascope {node.args[0].value}"
                if called in self.runners:
                    for argument in (*node.args, *(k.value for k in node.keywords)):
                        for text in self.strings(argument, function):
                            if HEAVY_CODE.search(text):
                                return f"{function.name} runs Python that needs Keras"
        return None

    def imports_heavy(self) -> bool:
        """Does importing the file (collecting it, in every suite) import Keras?"""
        stack: list[ast.AST] = list(self.tree.body)
        while stack:
            node = stack.pop()
            if _imports_heavy(node):
                return True
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stack += ast.iter_child_nodes(node)
        return False


def unmarked_heavy_tests(folder: Path) -> list[str]:
    """``file::test: why`` for every test under ``folder`` that starts TensorFlow unmarked."""
    found = []
    for path in sorted(folder.rglob("test_*.py")):
        if "fixtures" in path.relative_to(folder).parts:
            continue
        file = _File(path)
        if file.imports_heavy():
            # collecting it starts TensorFlow, in `make test-fast` too, whatever the marks
            found.append(f"{path.relative_to(folder)}: imports Keras when collected")
            continue
        if _module_marks_slow(file.tree):
            continue
        for name, function in file.functions.items():
            if not name.startswith("test_") or _is_test_decorated_slow(function):
                continue
            why = file.starts_tensorflow(function)
            if why is not None:
                found.append(f"{path.relative_to(folder)}::{name}: {why}")
    return found


def test_every_test_that_starts_tensorflow_is_marked_slow() -> None:
    assert unmarked_heavy_tests(TESTS) == []


def test_the_check_finds_each_way_of_starting_tensorflow(tmp_path: Path) -> None:
    """The check must be able to fail: one unmarked test per rule, and marked ones pass."""
    (tmp_path / "test_sample.py").write_text(
        """
import subprocess, pytest

SCRIPT = "import numpy\\nimport keras\\n"

def helper(path):
    return subprocess.run(["python", str(path)])

@pytest.fixture
def built(zoo):
    return zoo

def test_zoo(zoo): pass
def test_fixture_on_zoo(built): pass
def test_load(): kerascope.load_model("m.keras")
def test_cli(): run_cli("verify", "m.keras")
def test_script(): run_python(SCRIPT)
def test_written(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    helper(script)
def test_fast(): run_cli("inspect", "m.keras"); run_python("import kerascope")
@pytest.mark.slow
def test_marked(zoo): pass
"""
    )
    found = [line.split(": ")[0].split("::")[1] for line in unmarked_heavy_tests(tmp_path)]
    assert found == [
        "test_zoo",
        "test_fixture_on_zoo",
        "test_load",
        "test_cli",
        "test_script",
        "test_written",
    ]
    (tmp_path / "test_sample.py").write_text(
        "import keras, pytest\npytestmark = pytest.mark.slow\n\ndef test_anything(): pass\n"
    )
    assert unmarked_heavy_tests(tmp_path) == ["test_sample.py: imports Keras when collected"]


def test_no_doctest_starts_tensorflow() -> None:
    """Doctests run in every suite, ``make test-fast`` too: one that imports Keras is skipped."""
    running = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.match(r"\s*>>> .*\bimport (keras|tensorflow)\b(?!\w)", line)
        and "doctest: +SKIP" not in line
    ]
    assert running == []
