"""The trust policy: which modules named by a model file kerascope may import.

Trust is a list of names. Each is an import package (``tcn``) or a distribution name
(``keras-tcn``); a distribution stands for the top-level packages it installs. Keras's own
packages are trusted by default, as Keras itself imports them. Sources the user names with
``--from`` are trusted separately: the user pointed at them. A source bundle carried by the
model file is trusted only by its digest (``sha256:<hex>``), never by a package name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

__all__ = ["DEFAULT_TRUSTED", "TrustPolicy", "distributions_providing", "normalize_distribution"]

DEFAULT_TRUSTED = ("keras", "keras_hub", "keras_nlp", "keras_cv")
_DIGEST_PREFIX = "sha256:"


def normalize_distribution(name: str) -> str:
    """The PEP 503 form of a distribution name.

    Example:
        >>> normalize_distribution("Keras_TCN")
        'keras-tcn'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


class TrustPolicy:
    """Decides whether a module may be imported.

    Example:
        >>> policy = TrustPolicy(["mylayers"])
        >>> policy.trusts_module("mylayers.blocks"), policy.trusts_module("os")
        (True, False)
    """

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
        self._packages: frozenset[str] | None = None

    @property
    def packages(self) -> frozenset[str]:
        """Trusted top-level packages: defaults, names, and what named distributions install."""
        if self._packages is None:
            self._packages = frozenset(DEFAULT_TRUSTED) | frozenset(
                package.split(".")[0] for package in self.named_packages()
            )
        return self._packages

    def named_packages(self) -> tuple[str, ...]:
        """The import packages the names stand for, in the order named, defaults excluded.

        A name that is an import package or module stands for itself; a distribution name
        (``keras-tcn``) stands for every top-level package it installs (``tcn``), as
        ``importlib.metadata`` reports them (``top_level.txt``, else the files in ``RECORD``).
        A name can be both. These are the packages searched by name for objects a file records
        no module for.

        Example:
            >>> TrustPolicy(["mylayers.blocks", "keras"]).named_packages()
            ('mylayers.blocks',)
        """
        found: dict[str, None] = {}
        for name in self.names:
            if name.startswith(_DIGEST_PREFIX):
                continue  # a bundle digest, not a package
            if all(part.isidentifier() for part in name.split(".")):
                found[name] = None
            found.update(dict.fromkeys(sorted(_distribution_packages(name))))
        return tuple(name for name in found if name not in DEFAULT_TRUSTED)

    def trusts_bundle(self, digest: str) -> bool:
        """Was this exact bundle digest named (``sha256:<hex>``)? Package names never count.

        Example:
            >>> TrustPolicy(["sha256:" + "ab" * 32]).trusts_bundle("ab" * 32)
            True
            >>> TrustPolicy(["mylayers"]).trusts_bundle("ab" * 32)
            False
        """
        wanted = f"{_DIGEST_PREFIX}{digest.lower()}"
        return any(name.lower() == wanted for name in self.names)

    def trusts_module(self, module: str) -> bool:
        """Is ``module`` inside a trusted top-level package?"""
        return module.split(".", maxsplit=1)[0] in self.packages

    def trusts_distribution(self, distribution: str) -> bool:
        """Was this distribution, or one of its packages, named as trusted?"""
        wanted = normalize_distribution(distribution)
        if wanted in {normalize_distribution(name) for name in self.names}:
            return True
        return bool(_distribution_packages(wanted) & self.packages - set(DEFAULT_TRUSTED))


@cache
def _distribution_packages(name: str) -> frozenset[str]:
    """Top-level import packages an installed distribution provides (empty if not installed).

    What ``importlib.metadata.packages_distributions()`` reads, for one distribution: its
    ``top_level.txt``, else the top-level entries of its ``RECORD`` (reading every installed
    distribution's metadata would cost a quarter of a second).
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(normalize_distribution(name))
    except (metadata.PackageNotFoundError, ValueError):
        return frozenset()
    packages: set[str] = set()
    top_level = dist.read_text("top_level.txt")
    if top_level:
        packages.update(line.strip() for line in top_level.splitlines() if line.strip())
    for file in dist.files or ():
        parts = file.parts
        if len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info", ".data")):
            packages.add(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py"):
            packages.add(parts[0][:-3])
    return frozenset(name for name in packages if name.isidentifier() and name != "__pycache__")


def distributions_providing(package: str) -> list[str]:
    """Installed distributions that provide a top-level import package.

    Example:
        >>> distributions_providing("h5py")
        ['h5py']
    """
    return sorted(set(_packages_distributions().get(package.split(".", maxsplit=1)[0], [])))


@cache
def _packages_distributions() -> dict[str, list[str]]:
    from importlib import metadata

    return dict(metadata.packages_distributions())
