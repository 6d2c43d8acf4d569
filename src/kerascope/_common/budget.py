"""The memory budget a model file may make Keras allocate, sized from this machine.

Default: a quarter of the physical memory (``os.sysconf``), so that a file declaring more than
that is refused before Keras builds anything. ``KERASCOPE_MEMORY_BUDGET`` overrides it, in bytes
or with a ``K``, ``M``, ``G`` or ``T`` suffix (powers of 1024), e.g. ``KERASCOPE_MEMORY_BUDGET=8G``.
"""

from __future__ import annotations

import os

__all__ = ["BUDGET_VARIABLE", "memory_budget", "parse_size"]

BUDGET_VARIABLE = "KERASCOPE_MEMORY_BUDGET"
_FRACTION = 4  # a quarter of physical memory
_FALLBACK = 4 * 2**30  # when the machine does not say
_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """Bytes from ``"123"``, ``"512M"``, ``"8G"`` ...

    Raises:
        ValueError: Not a size.

    Example:
        >>> parse_size("8G"), parse_size("1024")
        (8589934592, 1024)
    """
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    suffix = cleaned[-1:] if cleaned[-1:] in _SUFFIXES else ""
    number = cleaned[: len(cleaned) - len(suffix)]
    value = float(number) * _SUFFIXES[suffix]
    if not value > 0:
        raise ValueError(f"not a positive size: {text!r}")
    return int(value)


def memory_budget() -> int:
    """The most bytes of variables a model file may declare, in bytes.

    Example:
        >>> memory_budget() > 0
        True
    """
    configured = os.environ.get(BUDGET_VARIABLE)
    if configured:
        try:
            return parse_size(configured)
        except ValueError:
            pass  # an unreadable setting falls back to the default, never to "no limit"
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return _FALLBACK
    return physical // _FRACTION if physical > 0 else _FALLBACK
