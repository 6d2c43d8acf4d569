"""The command-line tool: argument parsing, commands and plain-text rendering."""

from .commands import main

__all__ = ["main"]
