"""The marshal reader (kerascope._reading.marshal_code): real code objects written by every CPython
from 3.6 to 3.13 read exactly as that Python describes them, and any bytes at all give facts or a
BytecodeError, never another exception and never anything run."""

from __future__ import annotations

import base64
import contextlib
import glob
import json
import marshal
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerascope._reading.marshal_code import (
    MAX_DEPTH,
    BytecodeError,
    CodeFacts,
    read_base64_code,
    read_code,
)
from kerascope.errors import ModelFileError
from tests.conftest import ROOT

SAMPLES = ROOT / "tests" / "data" / "marshal_code"
GENERATOR = ROOT / "tools" / "gen_marshal_samples.py"
LONG = os.environ.get("KERASCOPE_FUZZ") == "long"
EXAMPLES = 5000 if LONG else 300


def _normalize(value: Any) -> Any:
    """The JSON form tools/gen_marshal_samples.py gives a constant, for the reader's records."""
    if isinstance(value, CodeFacts):
        return {"code": value.name}
    if isinstance(value, (tuple, list)):
        return [_normalize(item) for item in value]
    if isinstance(value, dict):
        return {"dict": [[_normalize(k), _normalize(v)] for k, v in value.items()]}
    if isinstance(value, frozenset):
        return {"set": sorted(json.dumps(_normalize(item)) for item in value)}
    return {"repr": repr(value)}


def _facts(code: CodeFacts) -> dict[str, Any]:
    return {
        "name": code.name,
        "qualname": code.qualname,
        "filename": code.filename,
        "first_line": code.first_line,
        "argcount": code.argcount,
        "kwonly_argcount": code.kwonly_argcount,
        "flags": code.flags,
        "names": list(code.names),
        "local_names": list(code.local_names),
        "free_names": list(code.free_names),
        "constants": _normalize(code.constants),
        "nested": [_facts(nested) for nested in code.nested],
    }


def _check_document(document: dict[str, Any]) -> None:
    python = document["python"]
    for label, sample in document["samples"].items():
        read = read_base64_code(sample["base64"])
        assert _facts(read) == sample["facts"], (python, label)
        version = tuple(int(part) for part in python.split(".")[:2])
        expected_layout = (
            "3.6-3.7" if version < (3, 8) else "3.8-3.10" if version < (3, 11) else "3.11-3.13"
        )
        assert read.layout == expected_layout, (python, label)


@pytest.mark.parametrize(
    "sample_file", sorted(SAMPLES.glob("*.json")), ids=lambda path: f"python{path.stem}"
)
def test_code_written_by_each_cpython_reads_as_that_python_says(sample_file: Path) -> None:
    """Files written by tools/gen_marshal_samples.py under CPython 3.6 to 3.13 (one per file)."""
    _check_document(json.loads(sample_file.read_text()))


def test_the_stored_samples_cover_every_layout() -> None:
    versions = {json.loads(p.read_text())["python"][:4] for p in SAMPLES.glob("*.json")}
    assert {"3.7.", "3.8.", "3.10", "3.11", "3.12", "3.13"} <= versions


def _other_pythons() -> list[str]:
    found = glob.glob("/root/.pyenv/versions/3.*/bin/python3") + glob.glob("/usr/bin/python3.*")
    return sorted(p for p in found if os.access(p, os.X_OK) and not p.endswith("-config"))


@pytest.mark.skipif(not _other_pythons(), reason="no other CPython on this machine")
@pytest.mark.parametrize("python", _other_pythons())
def test_code_written_now_by_each_installed_cpython(python: str) -> None:
    """The same, live, with every CPython installed here (pyenv's, the system's)."""
    result = subprocess.run(
        [python, "-I", str(GENERATOR)], capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0 and "SyntaxError" in result.stderr:
        pytest.skip(f"{python} is older than the sample script")
    assert result.returncode == 0, result.stderr[-2000:]
    _check_document(json.loads(result.stdout))


def double_plus_one(x: Any) -> Any:
    return tf.multiply(x, 2.0) + 1.0  # type: ignore[name-defined]  # noqa: F821


def test_this_python_matches_marshal_loads_on_real_functions() -> None:
    for function in (double_plus_one, _normalize, _facts, _check_document, read_code):
        code = function.__code__
        read = read_code(marshal.dumps(code))
        assert read.name == code.co_name
        assert read.qualname == code.co_qualname  # type: ignore[attr-defined]  # 3.11+
        assert read.names == code.co_names and read.local_names == code.co_varnames
        assert read.free_names == code.co_freevars and read.argcount == code.co_argcount
        assert _normalize(read.constants) == _normalize_live(code.co_consts)


def _normalize_live(value: Any) -> Any:
    if isinstance(value, types.CodeType):
        return {"code": value.co_name}
    if isinstance(value, (tuple, list)):
        return [_normalize_live(item) for item in value]
    if isinstance(value, dict):
        return {"dict": [[_normalize_live(k), _normalize_live(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(json.dumps(_normalize_live(item)) for item in value)}
    return {"repr": repr(value)}


CONSTANTS = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**300), max_value=2**300),
        st.floats(),
        st.complex_numbers(),
        st.text(max_size=300),
        st.binary(max_size=40),
        st.just(...),
    ),
    lambda children: st.one_of(
        st.tuples(children, children),
        st.lists(children, max_size=4).map(tuple),
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=5), children, max_size=3),
        st.frozensets(st.one_of(st.integers(), st.text(max_size=5)), max_size=4),
        st.sets(st.integers(), max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(CONSTANTS)
def test_any_constant_reads_as_marshal_wrote_it(constant: Any) -> None:
    code = double_plus_one.__code__.replace(co_consts=(None, constant))
    read = read_code(marshal.dumps(code))
    assert _normalize(read.constants) == _normalize_live(code.co_consts)


def _samples() -> list[bytes]:
    documents = [json.loads(p.read_text()) for p in sorted(SAMPLES.glob("*.json"))]
    return [
        base64.b64decode(sample["base64"])
        for document in documents
        for sample in document["samples"].values()
    ]


SAMPLE_BYTES = _samples()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLE_BYTES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        else:
            del data[max(position, 1) :]
        if not data:
            data = bytearray(b"c")
    return bytes(data)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.one_of(_mutated(), st.binary(max_size=200), st.binary(max_size=64).map(b"\xe3".__add__)))
def test_any_bytes_give_facts_or_a_bytecode_error(data: bytes) -> None:
    try:
        facts = read_code(data)
    except BytecodeError as error:
        assert isinstance(error, ModelFileError) and str(error).startswith("Lambda bytecode: ")
        return
    assert isinstance(facts.name, str) and all(isinstance(n, str) for n in facts.all_names)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_facts_or_a_bytecode_error(text: str) -> None:
    with contextlib.suppress(BytecodeError):
        read_base64_code(text)


def test_keras3_base64_with_newlines_reads() -> None:
    import codecs

    text = codecs.encode(marshal.dumps(double_plus_one.__code__), "base64").decode("ascii")
    assert "\n" in text
    assert read_base64_code(text).name == "double_plus_one"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is not a code object"),
        (b"N", "is not a code object (its first type code is 'N')"),
        (marshal.dumps(double_plus_one.__code__) + b"N", "bytes follow the code object"),
        (marshal.dumps(double_plus_one.__code__)[:-3], "needs"),
        (b"\xe3" + b"\xff\xff\xff\xff" * 5, "negative count"),
    ],
)
def test_malformed_bytes_say_why(data: bytes, message: str) -> None:
    with pytest.raises(BytecodeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_code(data)


def test_limits_are_errors_not_crashes() -> None:
    deep: Any = (1,)
    for _ in range(MAX_DEPTH + 5):
        deep = (deep,)
    code = double_plus_one.__code__.replace(co_consts=(None, deep))
    with pytest.raises(BytecodeError, match="nested deeper"):
        read_code(marshal.dumps(code))
    with pytest.raises(BytecodeError, match="over the limit"):
        read_code(b"c" + bytes(2 << 20))
    many = tuple(range(300, 300 + 120_000))
    with pytest.raises(BytecodeError, match="more than"):
        read_code(marshal.dumps(double_plus_one.__code__.replace(co_consts=(None, many))))
    # A huge declared size over a few bytes: refused before anything is allocated.
    with pytest.raises(BytecodeError, match="size"):
        read_code(b"\xe3" + bytes(24) + b"s\xff\xff\xff\x7f")
    with pytest.raises(BytecodeError, match="not base64"):
        read_base64_code("@@@@")


def test_reading_imports_and_runs_nothing() -> None:
    before = set(sys.modules)
    code = compile("import os\nos.system('touch /tmp/never')", "<payload>", "exec")
    facts = read_code(marshal.dumps(code))
    assert facts.names == ("os", "system")
    assert set(sys.modules) == before
    assert not Path("/tmp/never").exists()
