"""Build and save seed scenario 3 as .keras and .h5: python create_model.py [OUT_DIR].

The write-up registers CustomBase too, but the saved file never names it: the layer rebuilds
it from ``param``. ``kerascope inspect`` shows exactly that.
"""

import os
import sys

import keras
from custom_layer_dep import MyDependentLayer


def build() -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(10,)), MyDependentLayer(param=5)])
    model.compile(optimizer="adam", loss="mse")
    return model


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    model = build()
    for name in ("my_model.keras", "my_model.h5"):
        model.save(os.path.join(out, name))
        print("saved", os.path.join(out, name))
