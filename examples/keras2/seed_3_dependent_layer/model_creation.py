"""Seed scenario 3's model, as the write-up builds it with Keras 2 (``input_shape=``)."""

from custom_layer_dep import MyDependentLayer
from tensorflow import keras


def build():
    model = keras.Sequential([MyDependentLayer(param=5, input_shape=(10,))])
    model.compile(optimizer="adam", loss="mse")
    return model
