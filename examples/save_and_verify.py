"""Save the seed models with kerascope (lint, manifest, atomic write), then prove each loads in
a fresh process from another directory with only its folder as source: python save_and_verify.py
"""

from __future__ import annotations

import importlib
import os
import sys

import kerascope

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = ("seed_1_custom_layer", "seed_2_loss_activation", "seed_3_dependent_layer")

if __name__ == "__main__":
    failed = False
    for seed in SEEDS:
        folder = os.path.join(HERE, seed)
        sys.path.insert(0, folder)
        sys.modules.pop("create_model", None)
        model = importlib.import_module("create_model").build()
        path = os.path.join(folder, "kerascope_model.keras")
        manifest = kerascope.save_model(model, path)
        assert manifest is not None
        saved = ", ".join(f"{entry.key} ({entry.file})" for entry in manifest.objects)
        print(f"saved {seed}/kerascope_model.keras with a manifest of: {saved}")
        report = kerascope.verify(model, sources=[folder])
        print(report.describe())
        failed = failed or not report.ok
        sys.path.remove(folder)
    raise SystemExit(1 if failed else 0)
