"""Seed scenario 1: a custom layer defined in its own module (from the original write-up)."""

import keras


class MyCustomLayer(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="uniform", trainable=True
        )

    def call(self, inputs):
        return keras.activations.relu(keras.ops.matmul(inputs, self.kernel))
