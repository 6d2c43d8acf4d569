"""Seed scenario 1's model, as the write-up builds it with Keras 2 (``input_shape=``)."""

from custom_layer import MyCustomLayer
from tensorflow import keras


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(64, activation="relu", input_shape=(10,)),
            MyCustomLayer(units=32),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model
