"""Arbitrary JSON in a model file gives a result or a ModelFileError: nothing else, no hang."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerascope
from kerascope._render import render_inspection

NAMES = st.sampled_from(
    [
        "class_name",
        "config",
        "module",
        "registered_name",
        "layers",
        "activation",
        "loss",
        "metrics",
        "compile_config",
        "function",
        "kernel_initializer",
        "optimizer",
        "learning_rate",
        "inbound_nodes",
        "shared_object_id",
        "__lambda__",
        "Lambda",
        "function",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), NAMES, st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(NAMES, st.text(max_size=5)), children, max_size=5),
    ),
    max_leaves=40,
)
MODEL = st.fixed_dictionaries(
    {
        "class_name": st.one_of(NAMES, st.text(max_size=10)),
        "config": st.dictionaries(NAMES, JSON, max_size=5),
    },
    optional={
        "module": st.one_of(st.none(), NAMES),
        "compile_config": JSON,
        "registered_name": SCALARS,
    },
)


def _write(tmp: Path, config: Any, name: str) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    path = tmp / name
    path.write_bytes(buffer.getvalue())
    return path


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=st.one_of(MODEL, JSON))
def test_any_json_config(tmp_path: Path, config: Any) -> None:
    path = _write(tmp_path, config, "fuzz.keras")
    try:
        result = kerascope.inspect(path)
    except kerascope.ModelFileError:
        return
    json.dumps(result.to_dict())
    render_inspection(result)
