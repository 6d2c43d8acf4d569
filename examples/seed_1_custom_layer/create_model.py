"""Build and save seed scenario 1 as .keras and .h5: python create_model.py [OUT_DIR]."""

import os
import sys

import keras
from custom_layer import MyCustomLayer


def build() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(10,)),
            keras.layers.Dense(64, activation="relu"),
            MyCustomLayer(units=32),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    model = build()
    for name in ("my_model.keras", "my_model.h5"):
        model.save(os.path.join(out, name))
        print("saved", os.path.join(out, name))
