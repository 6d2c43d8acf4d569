"""Seed scenario 1 as the write-up has it (Keras 2 code): a custom layer in its own module."""

import tensorflow as tf
from tensorflow import keras


class MyCustomLayer(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super(MyCustomLayer, self).__init__(**kwargs)  # noqa: UP008 (the write-up's Keras 2 spelling)
        self.units = units

    def call(self, inputs):
        return tf.keras.activations.relu(tf.matmul(inputs, self.kernel))

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer="uniform", trainable=True
        )
