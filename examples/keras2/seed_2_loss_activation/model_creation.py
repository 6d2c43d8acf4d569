"""Seed scenario 2's model, as the write-up builds it with Keras 2 (``input_shape=``)."""

from custom_functions import my_custom_activation, my_custom_loss
from tensorflow import keras


def build():
    model = keras.Sequential(
        [
            keras.layers.Dense(64, activation=my_custom_activation, input_shape=(10,)),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss=my_custom_loss)
    return model
