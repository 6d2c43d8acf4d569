"""Load a ``.keras`` file's weights into a model built from its (translated) config.

``model.load_weights("old.keras")`` makes Keras read ``model.weights.h5`` through the zip
module while HDF5 seeks in it, a few bytes at a time: 0.15 s for the 25 MB weights member of a
2.1 M-parameter tf-keras file, against 0.02 s for the same weights in an ``.h5`` file. (Keras's
own ``load_model`` reads the member into memory first; ``load_weights`` has no such path.) So
an uncompressed member (what tf-keras and Keras write) is copied to a private temporary folder
first and loaded from there, as ``model.weights.h5``. A compressed member is left to Keras:
copying it would mean inflating it, whose size only the archive claims.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["WEIGHTS_MEMBER", "load_h5_file_weights", "load_keras_file_weights"]

WEIGHTS_MEMBER = "model.weights.h5"


def load_keras_file_weights(model: Any, path: str) -> None:
    """``model.load_weights(path)`` for a ``.keras`` file, from a copy of its stored weights.

    Example:
        >>> load_keras_file_weights(model, "old.keras")  # doctest: +SKIP
    """
    with zipfile.ZipFile(path) as archive:
        try:
            member = archive.getinfo(WEIGHTS_MEMBER)
        except KeyError:
            member = None
        if member is None or member.compress_type != zipfile.ZIP_STORED:
            model.load_weights(path)
            return
        with tempfile.TemporaryDirectory(prefix="kerascope-weights-") as folder:
            copy = os.path.join(folder, WEIGHTS_MEMBER)
            with archive.open(member) as source, open(copy, "wb") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
            model.load_weights(copy)


def load_h5_file_weights(model: Any, path: str) -> None:
    """``model.load_weights(path)`` for an HDF5 model file, whatever its name ends with.

    keras 2.12 wrote ``model.save("m.keras")`` as HDF5 (its zip format needed
    ``save_format="keras_v3"``); Keras 3 picks the reader by the name, and reads such a file as a
    zip ("File is not a zip file"). kerascope tells formats apart by content, so the file is
    given to Keras under a name ending in ``.h5`` (a symbolic link in a private folder).

    Example:
        >>> load_h5_file_weights(model, "saved_by_keras_2_12.keras")  # doctest: +SKIP
    """
    if path.lower().endswith((".h5", ".hdf5")):
        model.load_weights(path)
        return
    with tempfile.TemporaryDirectory(prefix="kerascope-weights-") as folder:
        link = os.path.join(folder, "model.h5")
        os.symlink(os.path.abspath(path), link)
        model.load_weights(link)
