"""``Finding``: the one record every audit reports, and the one severity scale they share.

``inspect`` (what Keras will get wrong with a file), ``scan`` (hostile content) and the save lint
(what would stop a live model from loading back) all report findings of this shape, never
exceptions, so that a report lists every problem at once.

The scale, lowest first, and what each step means for the action the finding is about (loading
a file, or saving a model):

- ``info``: nothing wrong; worth knowing (a custom object needs code from outside the file).
- ``low``: the action goes ahead and works; something may come back slightly different from
  what was saved (a constructor argument at its default, a loss name kerascope repairs).
- ``medium``: review first. The action goes ahead, but it may fail or do something other than
  what the file seems to say (a file path in the config, an absurd shape, a class a fresh process
  cannot find).
- ``high``: kerascope refuses. ``load`` stops unless the finding's code is allowed
  (``allow=[code]``), and ``save_model`` writes nothing.

Only ``high`` stops anything. Below it: ``kerascope scan`` exits 7 on a ``low`` or ``medium``
finding, ``check`` and ``load`` list the scan's as notes, and ``save_model`` warns about the
lint's.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Literal

    Severity = Literal["info", "low", "medium", "high"]

__all__ = ["SEVERITIES", "Finding", "highest", "rank"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high")
_RANK: dict[str, int] = {severity: index for index, severity in enumerate(SEVERITIES)}


class Finding(Record):
    """One thing an audit found, with what to do about it.

    Attributes:
        severity: ``info``, ``low``, ``medium`` or ``high`` (see the module docstring: ``high``
            means kerascope refuses to load the file, or to save the model).
        code: A stable identifier of the rule, e.g. ``lambda``, ``hdf5-external-link``,
            ``config-drops-argument``.
        message: What was found.
        fix: What to do about it, in the command line's syntax (``--from layers.py``).
        json_path: Where in the file: a JSON path into the config (``$.config.layers[1]``),
            ``member:NAME`` for an archive member, ``h5:/path`` inside the HDF5 weights;
            ``None`` for a finding about a live object or the file as a whole.
        object: The class or function concerned: the lookup key of a reference in a file
            (``"mypkg>Scale"``), or ``module.qualname`` of a live object (``"mylayers.Scale"``).
        python_fix: The fix as Python arguments (``custom_objects={...}``); empty when it is
            the same as ``fix``.
    """

    severity: Severity
    code: str
    message: str
    fix: str
    json_path: str | None = None
    object: str | None = None
    python_fix: str = ""

    @property
    def kind(self) -> str:
        """Deprecated: the :attr:`code` (``ScanFinding.kind`` before findings were one record)."""
        return self.code

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict (the ``findings`` entries of ``--json`` output).

        Example:
            >>> Finding("high", "lambda", "bytecode", "do not load", "$.config").to_dict()
            {'severity': 'high', 'code': 'lambda', 'json_path': '$.config', 'object': None, \
'message': 'bytecode', 'fix': 'do not load'}
        """
        return {
            "severity": self.severity,
            "code": self.code,
            "json_path": self.json_path,
            "object": self.object,
            "message": self.message,
            "fix": self.fix,
        }

    def fix_for(self, syntax: str = "cli") -> str:
        """The fix in the syntax of where it is shown: ``"cli"`` or ``"python"``.

        Example:
            >>> finding = Finding("low", "x", "m", "--compile no", None, None, "compile=False")
            >>> finding.fix_for("cli"), finding.fix_for("python")
            ('--compile no', 'compile=False')
        """
        if syntax not in ("cli", "python"):
            raise ValueError(f"syntax must be 'cli' or 'python', not {syntax!r}")
        return self.python_fix if syntax == "python" and self.python_fix else self.fix

    def describe(self, syntax: str = "cli") -> str:
        """The finding as three lines of a report: severity, code and where; message; fix (in
        the given syntax, ``"cli"`` or ``"python"``).

        Example:
            >>> print(Finding("medium", "url", "a URL", "find out", "$.config.x").describe())
            medium: url at $.config.x
              a URL
              fix: find out
        """
        if self.json_path:
            where = f" at {self.json_path}"
        elif self.object:
            where = f" in {self.object}"
        else:
            where = ""
        fix = self.fix_for(syntax)
        return f"{self.severity}: {self.code}{where}\n  {self.message}\n  fix: {fix}"


def rank(severity: str) -> int:
    """The position of ``severity`` on the scale: 0 for ``info`` up to 3 for ``high``.

    Raises:
        KeyError: ``severity`` is not on the scale.

    Example:
        >>> rank("medium") > rank("low")
        True
    """
    return _RANK[severity]


def highest(findings: Iterable[Finding]) -> str:
    """The highest severity among ``findings``, or ``"none"`` when there are none.

    Example:
        >>> highest([Finding("info", "a", "m", "f"), Finding("medium", "b", "m", "f")])
        'medium'
    """
    return max((finding.severity for finding in findings), key=rank, default="none")
