"""Seed scenario 3: a plain helper class used inside a custom layer."""


class CustomBase:
    def __init__(self, param):
        self.param = param
