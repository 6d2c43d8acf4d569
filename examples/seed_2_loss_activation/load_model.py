"""Load the saved model in a fresh process with kerascope: python load_model.py [MODEL_FILE].

No custom_objects dictionary: kerascope reads the file, finds what it needs in this folder
(the only source it is pointed at, by static analysis), imports just those modules and lets
Keras build the model.
"""

import os
import sys

import kerascope

HERE = os.path.dirname(os.path.abspath(__file__))

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "my_model.keras")
model = kerascope.load_model(path, sources=[HERE])
model.summary()
