"""Is a package name going to import the installed package, or something posing as it?

Keras imports modules under ``keras``, ``keras_hub``, ``keras_nlp`` and ``keras_cv`` by name when
a model file names them, and kerascope trusts them by default. A directory called ``keras_hub``
in the working directory, or anywhere earlier on ``sys.path``, would be imported instead and its
``__init__`` would run. Before anything is imported, kerascope checks that each such name leads to
the files of the installed distribution.
"""

from __future__ import annotations

import os

from kerascope._common.pythonpath import locate_module

from .trust import distributions_providing

__all__ = ["KERAS_DISTRIBUTIONS", "impostor"]

KERAS_DISTRIBUTIONS = {
    "keras": "keras",
    "keras_hub": "keras-hub",
    "keras_nlp": "keras-nlp",
    "keras_cv": "keras-cv",
}


def impostor(package: str, distribution: str | None = None) -> str | None:
    """Why importing ``package`` would not run the installed distribution's code, or None.

    Example:
        >>> impostor("keras") is None
        True
    """
    from importlib import metadata

    located = locate_module(package)
    if located is None:
        return None
    known = [distribution] if distribution else []
    known += [KERAS_DISTRIBUTIONS[package]] if package in KERAS_DISTRIBUTIONS else []
    for name in _installed_first(known, package):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        candidates = (os.path.join(package, "__init__.py"), f"{package}.py")
        expected_files = [os.path.realpath(str(dist.locate_file(c))) for c in candidates]
        if os.path.realpath(located) in expected_files:
            return None
        expected = expected_files[0]
        return (
            f"'{package}' would be imported from {os.path.dirname(located)}, not from the "
            f"installed distribution {name} ({os.path.dirname(expected)})"
        )
    return (
        f"'{package}' is not installed, yet {os.path.dirname(located)} would be imported under "
        "that name"
    )


def _installed_first(known: list[str], package: str) -> list[str]:
    """The known distribution names, or, when none is installed, the ones metadata names.

    Asking every installed distribution which packages it provides costs tens of milliseconds,
    so it is done only when the well-known names do not answer.
    """
    from importlib import metadata

    for name in known:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        return [name]
    return distributions_providing(package)
