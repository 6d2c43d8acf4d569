"""A tf-keras ``.keras`` file's weights load the same from the temporary copy of its stored
``model.weights.h5`` (kerascope._keras.zip_weights) as through Keras's own reader, which a
compressed member still takes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from .conftest import FIXTURES, run_python

pytestmark = pytest.mark.slow

BOTH = """
import json, sys, warnings
import numpy as np
import kerascope
warnings.simplefilter("ignore")
stored, deflated, source = sys.argv[1:4]
weights = [
    [w.tolist() for w in kerascope.load_model(path, sources=[source]).get_weights()]
    for path in (stored, deflated)
]
print(json.dumps(weights))
"""


def test_stored_and_compressed_weights_members_load_the_same_weights(
    keras2_corpus: Path, tmp_path: Path
) -> None:
    stored = keras2_corpus / "registered_custom.keras"
    with zipfile.ZipFile(stored) as archive:
        member = archive.getinfo("model.weights.h5")
        assert member.compress_type == zipfile.ZIP_STORED  # what tf-keras writes
        deflated = tmp_path / "registered_custom.keras"
        with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as copy:
            for item in archive.infolist():
                copy.writestr(item.filename, archive.read(item.filename))
    with zipfile.ZipFile(deflated) as archive:
        assert archive.getinfo("model.weights.h5").compress_type == zipfile.ZIP_DEFLATED
    stdout = run_python(BOTH, str(stored), str(deflated), str(FIXTURES / "keras2"))
    from_copy, from_keras = json.loads(stdout.strip().splitlines()[-1])
    assert from_copy and from_copy == from_keras
