"""Seed scenario 3 as the write-up has it: a plain helper class (never saved in a file)."""


class CustomBase:
    def __init__(self, param):
        self.param = param
