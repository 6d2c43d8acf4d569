"""Import a model's bundled source from memory: a meta-path finder that serves only those modules.

Used by :mod:`kerascope._keras.load` after the plan has checked the bundle: intact, its digest
trusted, and none of its modules existing in this environment. Nothing is written to disk: each
module's code is compiled from the text held in the manifest and run in a fresh module object.
Imports between bundled files work, since the finder stays in ``sys.meta_path`` (Keras may
import a helper lazily, inside ``call``). Tracebacks show the bundled lines (``get_source``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterable

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

    from kerascope._reading.bundle import Bundle, BundleFile

__all__ = ["BundleFinder", "install_bundle"]

_LOCK = threading.Lock()


class BundleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads the modules of one bundle, from their text.

    Args:
        digest: The bundle's digest (shown in each module's ``__file__``-less origin).
        files: The bundled files to serve, by module name. The packages above them that the
            bundle does not hold are served as empty namespace-like packages.

    Example:
        >>> from kerascope._reading.bundle import BundleFile
        >>> item = BundleFile("kerascope_demo_mod", "kerascope_demo_mod.py", "X = 1\\n", "", 6)
        >>> finder = BundleFinder("0" * 64, {"kerascope_demo_mod": item})
        >>> finder.find_spec("kerascope_demo_mod", None).origin
        '<kerascope bundle sha256:000000000000>/kerascope_demo_mod.py'
    """

    def __init__(self, digest: str, files: dict[str, BundleFile]) -> None:
        self.digest = digest
        self.files: dict[str, BundleFile] = {}
        self.parents: set[str] = set()
        self.add(files)

    def add(self, files: dict[str, BundleFile]) -> None:
        """Serve these modules too (and the packages above them)."""
        self.files.update(files)
        self.parents = {
            ".".join(module.split(".")[:end])
            for module in self.files
            for end in range(1, len(module.split(".")))
        } - set(self.files)

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The spec of a bundled module (or a package above one); None for anything else."""
        item = self.files.get(fullname)
        if item is None and fullname not in self.parents:
            return None
        where = item.path if item is not None else fullname.replace(".", "/") + "/"
        is_package = item.is_package if item is not None else True
        spec = importlib.util.spec_from_loader(
            fullname,
            self,
            origin=f"<kerascope bundle sha256:{self.digest[:12]}>/{where}",
            is_package=is_package,
        )
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """Python's default module object."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Run the bundled text in the module's namespace (nothing for a bare parent)."""
        item = self.files.get(module.__name__)
        if item is None:
            return
        spec = module.__spec__
        origin = spec.origin if spec is not None and spec.origin else module.__name__
        code = compile(item.source, origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # the audited bundle, its digest trusted

    def get_source(self, fullname: str) -> str | None:
        """The bundled text, for tracebacks and ``inspect.getsource``."""
        item = self.files.get(fullname)
        return item.source if item is not None else None


def install_bundle(bundle: Bundle, modules: Iterable[str]) -> BundleFinder:
    """Make ``modules`` of ``bundle`` importable from memory in this process (first in line).

    Call only after the plan checked the bundle (trusted digest, no module of the environment
    shadowed). Installing the same bundle again reuses its finder.

    Example:
        >>> from kerascope._reading.bundle import Bundle, BundleFile
        >>> item = BundleFile("kerascope_demo_mod2", "kerascope_demo_mod2.py", "X = 2\\n", "", 6)
        >>> import importlib
        >>> install_bundle(Bundle((item,), ""), ["kerascope_demo_mod2"]).digest == Bundle(
        ...     (item,), "").digest
        True
        >>> importlib.import_module("kerascope_demo_mod2").X
        2
    """
    wanted = {module: bundle.modules[module] for module in modules if module in bundle.modules}
    digest = bundle.digest
    with _LOCK:
        for finder in sys.meta_path:
            if isinstance(finder, BundleFinder) and finder.digest == digest:
                finder.add(wanted)
                return finder
        finder = BundleFinder(digest, wanted)
        sys.meta_path.insert(0, finder)
        return finder
