"""Build and save the three seed models, in one process: python build_seeds.py.

Each is saved as my_model.keras and my_model.h5 in its own folder.
"""

from __future__ import annotations

import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")

if __name__ == "__main__":
    for seed in SEEDS:
        folder = os.path.join(HERE, seed)
        sys.path.insert(0, folder)
        sys.modules.pop("create_model", None)
        model = importlib.import_module("create_model").build()
        for name in ("my_model.keras", "my_model.h5"):
            model.save(os.path.join(folder, name))
        print(f"saved {seed}/my_model.keras and {seed}/my_model.h5")
        sys.path.remove(folder)
