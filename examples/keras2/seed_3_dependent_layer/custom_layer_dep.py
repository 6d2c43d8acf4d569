"""Seed scenario 3 as the write-up has it (Keras 2 code): a layer that builds a helper object
from its own argument. No get_config: tf-keras records ``param`` by itself.
"""

from custom_base import CustomBase
from tensorflow import keras


class MyDependentLayer(keras.layers.Layer):
    def __init__(self, param, **kwargs):
        super(MyDependentLayer, self).__init__(**kwargs)  # noqa: UP008 (as the write-up)
        self.base = CustomBase(param)

    def call(self, inputs):
        return inputs + self.base.param
