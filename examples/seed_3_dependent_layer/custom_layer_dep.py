"""Seed scenario 3: a custom layer that builds a helper object from its own arguments."""

import keras
from custom_base import CustomBase


class MyDependentLayer(keras.layers.Layer):
    def __init__(self, param, **kwargs):
        super().__init__(**kwargs)
        self.base = CustomBase(param)

    def call(self, inputs):
        return inputs + self.base.param
