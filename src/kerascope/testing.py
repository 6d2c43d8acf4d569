"""Helpers for users' own test suites.

Example:
    >>> from kerascope.testing import assert_roundtrip
    >>> def test_my_model_ships():  # doctest: +SKIP
    ...     assert_roundtrip(build_model(), sources=["mylayers/"])
"""

from __future__ import annotations

from ._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Sequence
    from typing import Any

    from ._keras.verify import VerifyReport

__all__ = ["assert_roundtrip"]


def assert_roundtrip(
    model: Any,
    sample: Any = None,
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> VerifyReport:
    """Assert that ``model`` saves with kerascope and loads in a fresh process unchanged.

    Raises:
        AssertionError: With every difference, or the error the fresh process hit.

    Example:
        >>> assert_roundtrip(model, sources=["mylayers.py"])  # doctest: +SKIP
    """
    from ._keras.verify import VerifyReport, verify

    report = verify(model, sample, sources=sources, trust=trust, atol=atol, rtol=rtol)
    assert isinstance(report, VerifyReport)  # without backends=, verify returns one
    if not report.ok:
        raise AssertionError(report.describe())
    return report
