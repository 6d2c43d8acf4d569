"""Build the three seed models with Keras 2 (tf-keras 2.21), as the write-up does: python
build_keras2_seeds.py.

Each of ``keras2/seed_*/`` holds the write-up's Keras 2 code (``from tensorflow import keras``,
tf ops) and gets ``my_model.h5`` (legacy HDF5, what the write-up saves) and ``my_model.keras``
(tf-keras's own zip format). tf-keras is the ``legacy`` extra; it is what ``tensorflow.keras``
means only when ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow is imported, so without it
this script runs itself again in a subprocess with it set.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS2 = os.path.join(HERE, "keras2")
SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")
# The modules of one seed folder, dropped before the next seed imports its own.
SEED_MODULES = ("model_creation", "custom_layer", "custom_functions", "custom_layer_dep")


def main() -> int:
    """Build, fit one step and save every seed; print one line per file written."""
    import numpy as np
    import tf_keras
    from tensorflow import keras

    if not keras.__name__.startswith("tf_keras"):
        print(f"expected tf-keras as tensorflow.keras, got {keras.__name__}", file=sys.stderr)
        return 1
    rng = np.random.default_rng(0)
    for seed in SEEDS:
        folder = os.path.join(KERAS2, seed)
        sys.path.insert(0, folder)
        for name in SEED_MODULES:
            sys.modules.pop(name, None)
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = importlib.import_module("model_creation").build()
        x = rng.random((8, 10), dtype=np.float32)
        model.train_on_batch(x, model.predict(x, verbose=0))  # an optimizer state to migrate
        with warnings.catch_warnings():  # "HDF5 is legacy": the write-up's format, on purpose
            warnings.simplefilter("ignore", UserWarning)
            for name in ("my_model.h5", "my_model.keras"):
                model.save(os.path.join(folder, name))
        print(f"saved keras2/{seed}/my_model.h5 and .keras with tf-keras {tf_keras.__version__}")
        sys.path.remove(folder)
    return 0


if __name__ == "__main__":
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.exit(subprocess.call([sys.executable, os.path.abspath(__file__)], env=env))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
