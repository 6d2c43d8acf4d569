"""Write a generated JSON table, or with ``--check`` say whether the file on disk matches it.

Shared by the ``tools/gen_*.py`` generators, which differ only in the table they build.
"""

from __future__ import annotations

import json
from typing import Any


def write_or_check(out: str, table: dict[str, Any], check: bool, what: str, summary: str) -> int:
    """Write ``table`` to ``out`` as sorted JSON, or compare it with ``out`` when ``check``.

    ``what`` names the installed package the table comes from (for the "differs" message);
    ``summary`` is printed after a write. Returns the exit code: 1 when a check finds a
    difference, else 0.

    Example:
        >>> write_or_check("/tmp/t.json", {"a": 1}, False, "Keras", "1 name")  # doctest: +SKIP
        wrote /tmp/t.json: 1 name
        0
    """
    text = json.dumps(table, indent=0, sort_keys=True) + "\n"
    if check:
        with open(out, encoding="utf-8") as handle:
            same = handle.read() == text
        print("up to date" if same else f"{out} differs from the installed {what}")
        return 0 if same else 1
    with open(out, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {out}: {summary}")
    return 0
