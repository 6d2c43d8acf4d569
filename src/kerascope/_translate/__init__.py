"""Keras 2 → Keras 3 config translation: pure functions on config dicts (no Keras)."""
