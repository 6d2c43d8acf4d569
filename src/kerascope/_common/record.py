"""``Record``: ``typing.NamedTuple`` without importing :mod:`typing` at run time.

Importing :mod:`typing` costs about 7 ms on the reference machine, a fifth of what
``kerascope inspect`` spends in total (BENCHMARKS.md). Type checkers see ``typing.NamedTuple``
itself; at run time a small metaclass builds the same class from the annotations with
:func:`collections.namedtuple`. Fields with defaults must come last, as with NamedTuple.
"""

from __future__ import annotations

import collections

__all__ = ["TYPE_CHECKING", "Record"]

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:

    class _RecordMeta(type):
        def __new__(mcls, name, bases, namespace):
            if not bases:
                return super().__new__(mcls, name, bases, namespace)
            fields = list(namespace.get("__annotations__", {}))
            defaults = [namespace[field] for field in fields if field in namespace]
            base = collections.namedtuple(
                name, fields, defaults=defaults, module=namespace.get("__module__")
            )
            body = {key: value for key, value in namespace.items() if key not in fields}
            body["__slots__"] = ()
            return type(name, (base,), body)

    class Record(metaclass=_RecordMeta):
        """Base class for immutable records (see the module docstring)."""
