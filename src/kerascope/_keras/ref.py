"""``kerascope.ModelRef``: a model planned once, then loaded in any process, its code pinned.

A process pool worker or a Ray actor is a fresh interpreter: none of the driver's imports, none
of its ``sys.path`` edits, maybe not even its files. A :class:`ModelRef` is made where the
sources are (the driver). It plans the load there, once, without importing anything, and
records every file the load will import with its SHA-256 (:mod:`kerascope._resolving.pins`),
the model file's digest, the trust policy and the compile decision. It is small and picklable.
:meth:`ModelRef.load` in any process finds those files again (shipped by
``kerascope.ray.runtime_env``, on ``sys.path``, or in the driver's directories), refuses any
that changed, naming them, and then loads exactly what the driver planned.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Sequence

from kerascope._common.files import file_identity
from kerascope._common.record import TYPE_CHECKING
from kerascope._resolving.drift import keras_here, version_notes
from kerascope._resolving.pins import (
    IMPORTED_ORIGINS,
    PinnedFile,
    Placement,
    find_pinned,
    model_digest,
    pin,
)
from kerascope._resolving.plan import Plan, Resolution, lambda_switch, make_plan
from kerascope._resolving.resolution import found_at
from kerascope._resolving.sources import SourceIndex, index_sources
from kerascope.errors import Problem, UnresolvedObjectsError

from .load import load_with_plan, on_sys_path

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import CompileMode

__all__ = ["ModelRef", "worker_initializer", "worker_model"]


class ModelRef:
    """A model file and the exact code that loads it, planned once and loadable anywhere.

    Making one plans the load (as :func:`kerascope.check` does, without importing anything)
    and refuses with every problem at once, before any process is started. It then pins the
    files the load imports: the sources that define the model's custom objects, the local
    modules they import and the packages around them (shipped to Ray workers by
    ``kerascope.ray.runtime_env``), and the defining files of trusted installed packages (which
    workers must have). Objects registered in this process are looked up in ``sources``
    instead: other processes do not share the registry.

    Args:
        path: The model file (``.keras``, unzipped ``.keras`` directory or ``.h5``). Workers
            read it at the same absolute path.
        sources: Where custom objects are defined, as for :func:`kerascope.load_model`.
        trust: Packages or distributions whose modules the file may name.
        compile: As for :func:`kerascope.load_model`.
        safe_mode: As for :func:`kerascope.load_model`.
        allow: As for :func:`kerascope.load_model`.
        strict: As for :func:`kerascope.load_model`.

    Attributes:
        path: The model file, absolute.
        model_sha256: Its digest when planned; a worker refuses a different file.
        model_identity: Its device, inode, size and change times when planned: a process that
            sees the very same file unchanged (same machine, or a shared file system that
            reports the same identity) skips hashing it again.
        files: The pinned files (:class:`~kerascope._resolving.pins.PinnedFile`).
        trust: The trust policy the plan was made with.
        compile: The compile mode asked for (``plan.compile`` is the decision).
        keras_version: The Keras version that saved the model, from its manifest or metadata.
        backend: The backend that saved it, when recorded.
        planned_with: The Keras version and backend configured where the ref was made.
        bundle_digest: The digest of the source bundle the model carries, when the plan
            imports code from it (then trusted as ``sha256:<digest>``); None otherwise. The
            bundled code travels inside the model file and the plan, so nothing is shipped
            for it; the model file's digest pins it.
        plan: The driver's plan (:class:`kerascope.Plan`).

    Raises:
        UnresolvedObjectsError: The plan has problems (missing, untrusted or changed code,
            a dangerous file): all of them, before anything runs anywhere.
        ModelFileError: The file is not a readable Keras model.

    Example:
        >>> import kerascope
        >>> ref = kerascope.ModelRef("model.keras", sources=["layers/"])  # doctest: +SKIP
        >>> [f.relpath for f in ref.files]  # doctest: +SKIP
        ['layers/__init__.py', 'layers/blocks.py']
        >>> model = ref.load()  # in any process  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sources: Sequence[str | os.PathLike[str]] = (),
        trust: Iterable[str] = (),
        compile: CompileMode = "auto",
        safe_mode: bool = True,
        allow: Iterable[str] = (),
        strict: bool = False,
    ) -> None:
        absolute = os.path.abspath(os.fspath(path))
        trust = tuple(trust)
        safe_mode, allow = lambda_switch(safe_mode, allow)
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        plan = make_plan(
            absolute,
            sources,
            trust,
            compile=compile,
            safe_mode=safe_mode,
            allow=allow,
            strict=strict,
        )
        index = index_sources(sources)
        plan = _without_registry(plan, index, trust)
        if plan.problems:
            raise UnresolvedObjectsError(plan.inspection.path, plan.problems, plan.notes)
        inspection = plan.inspection
        manifest = inspection.manifest
        self.path: str = absolute
        identity = file_identity(absolute)
        self.model_sha256: str = model_digest(absolute)
        self.model_identity: tuple[object, ...] | None = (
            identity if file_identity(absolute) == identity else None
        )
        self.files: tuple[PinnedFile, ...] = pin(plan, index)
        self.trust: tuple[str, ...] = trust
        self.compile: CompileMode = compile
        self.keras_version: str | None = (
            manifest.keras_version if manifest and manifest.keras_version else None
        ) or inspection.keras_version
        self.backend: str | None = (manifest.backend if manifest else None) or inspection.backend
        self.planned_with: tuple[str | None, str] = keras_here()
        bundle = manifest.bundle if manifest else None
        self.bundle_digest: str | None = (
            bundle.digest if bundle is not None and plan.bundled else None
        )
        self.plan: Plan = plan
        self._planned_notes = tuple(version_notes(manifest))
        self.token: str = _token(self)

    def __repr__(self) -> str:
        shipped = sum(1 for item in self.files if item.shipped)
        return (
            f"ModelRef({self.path!r}, {len(self.files)} files pinned ({shipped} shipped), "
            f"trust={list(self.trust)!r}, compile={self.plan.compile!r})"
        )

    def load(self) -> Any:
        """Load the model in this process, importing only the pinned files, checked.

        The pinned files are found where this process would import them (a Ray worker's
        shipped ``py_modules``, ``sys.path``), or else in the driver's source directories, and
        each must have its pinned SHA-256, as must the model file. Keras versions and backends
        that differ from the manifest's or the driver's are reported as
        :class:`~kerascope.KerascopeWarning`.

        Raises:
            UnresolvedObjectsError: A pinned file or the model file is missing or changed in
                this process, or a module of the same name is already imported from
                elsewhere; every one is listed, by file.
            SourceImportError: A pinned module failed while being imported.
            KerasLoadError: Keras failed although every object was provided.

        Example:
            >>> model = ref.load()  # doctest: +SKIP
        """
        placement, problems = self._check_here()
        if problems:
            raise UnresolvedObjectsError(self.path, problems)
        with on_sys_path(placement.roots):
            return load_with_plan(self._local_plan(placement))

    def model(self) -> Any:
        """The model loaded by :meth:`load`, once per process; later calls return the same one.

        Example:
            >>> ref.model() is ref.model()  # doctest: +SKIP
            True
        """
        with _LOCK:
            model = _MODELS.get(self.token)
            if model is None:
                model = _MODELS[self.token] = self.load()
            return model

    def _check_here(self) -> tuple[Placement, list[Problem]]:
        problems = []
        name = os.path.basename(self.path)
        if not os.path.exists(self.path):
            problems.append(
                Problem(
                    name,
                    "model file",
                    (),
                    "missing",
                    f"{self.path} is not here",
                    "make the model file readable at the same path on every worker",
                )
            )
        elif self.model_identity is None or file_identity(self.path) != self.model_identity:
            digest = model_digest(self.path)
            if digest != self.model_sha256:
                problems.append(
                    Problem(
                        name,
                        "model file",
                        (),
                        "changed",
                        f"{self.path} differs from the file the ModelRef planned with (sha256 "
                        f"{self.model_sha256[:12]}, now {digest[:12]})",
                        "make the ModelRef again from this file, or restore it",
                    )
                )
        placement = find_pinned(self.files)
        return placement, problems + list(placement.problems)

    def _local_plan(self, placement: Placement) -> Plan:
        """The driver's plan, with each module's file and root as found in this process."""
        resolutions = []
        for planned in self.plan.resolutions:
            found = placement.files.get(planned.module or "")
            if planned.origin not in IMPORTED_ORIGINS or found is None:
                resolutions.append(planned)
            elif planned.origin == "source":
                resolutions.append(planned._replace(file=found[0], root=found[1]))
            else:
                resolutions.append(planned._replace(file=found[0]))
        notes = [note for note in self.plan.notes if note not in self._planned_notes]
        notes += version_notes(self.plan.inspection.manifest)
        here = keras_here()
        if here != self.planned_with:
            notes.append(
                f"the ModelRef was planned with Keras {self.planned_with[0]} "
                f"({self.planned_with[1]} backend); this process has Keras {here[0]} "
                f"({here[1]} backend)"
            )
        return self.plan._replace(resolutions=tuple(resolutions), notes=tuple(notes))


def worker_initializer(ref: ModelRef) -> _Initializer:
    """An initializer for process pools and data-loader workers: loads ``ref`` once per worker.

    The returned callable is picklable (it works with the ``spawn`` start method) and ignores
    its arguments (a PyTorch ``DataLoader`` passes the worker id). Tasks then use
    :func:`worker_model`, or ``ref.model()`` when they hold the ref.

    Example:
        >>> from concurrent.futures import ProcessPoolExecutor
        >>> import multiprocessing, kerascope
        >>> ref = kerascope.ModelRef("model.keras", sources=["layers/"])  # doctest: +SKIP
        >>> pool = ProcessPoolExecutor(  # doctest: +SKIP
        ...     4, mp_context=multiprocessing.get_context("spawn"),
        ...     initializer=kerascope.worker_initializer(ref),
        ... )
    """
    return _Initializer(ref)


def worker_model() -> Any:
    """The model :func:`worker_initializer` loaded in this worker.

    Raises:
        RuntimeError: No initializer ran in this process.

    Example:
        >>> def predict(rows):  # a task run by the pool above  # doctest: +SKIP
        ...     return kerascope.worker_model().predict(rows, verbose=0)
    """
    with _LOCK:
        token = _WORKER_TOKEN[0] if _WORKER_TOKEN else None
        model = _MODELS.get(token) if token else None
    if model is None:
        raise RuntimeError(
            "no model was loaded in this process: start the pool with "
            "initializer=kerascope.worker_initializer(ref)"
        )
    return model


class _Initializer:
    """Picklable: holds the ref; calling it loads the model into this process's cache."""

    def __init__(self, ref: ModelRef) -> None:
        self.ref = ref

    def __call__(self, *_: object) -> None:
        self.ref.model()
        with _LOCK:
            _WORKER_TOKEN[:] = [self.ref.token]


_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
_WORKER_TOKEN: list[str] = []


def _without_registry(plan: Plan, index: SourceIndex, trust: Iterable[str] = ()) -> Plan:
    """Objects registered in this process, looked up in the sources instead.

    Other processes do not share this process's registries; an object found only there is a
    problem for a ref, unless the file's source bundle defines it (this process registered it
    by loading the bundled model before): then it comes from the bundle, under the same trust.
    """
    resolutions: list[Resolution] = []
    problems = list(plan.problems)
    for planned in plan.resolutions:
        resolution = planned
        if planned.origin == "registry":
            resolution = _from_bundle(planned, plan, trust) or _from_index(planned, index)
        if resolution is not planned and resolution.problem is not None:
            problems.append(resolution.problem)
        resolutions.append(resolution)
    bundled = plan.bundled
    manifest = plan.inspection.manifest
    if (
        not bundled
        and manifest
        and manifest.bundle
        and any(r.origin == "bundle" for r in resolutions)
    ):
        bundled = tuple(m for m in manifest.bundle.modules if m not in index.modules)
    return plan._replace(resolutions=tuple(resolutions), problems=tuple(problems), bundled=bundled)


def _from_bundle(resolution: Resolution, plan: Plan, trust: Iterable[str]) -> Resolution | None:
    """The resolution from the file's bundle of an object registered here, if it has one."""
    from kerascope._resolving.resolution import bundle_resolution
    from kerascope._resolving.trust import TrustPolicy

    manifest = plan.inspection.manifest
    bundle = manifest.bundle if manifest else None
    entry = manifest.find(resolution.object.key) if manifest else None
    module = (entry.module if entry else None) or resolution.object.module
    if bundle is None or module is None or module not in bundle.modules:
        return None
    qualname = entry.qualname if entry else None
    return bundle_resolution(resolution.object, bundle, module, qualname, TrustPolicy(trust))


def _from_index(resolution: Resolution, index: SourceIndex) -> Resolution:
    obj = resolution.object
    found = index.find(obj.key)
    if found:
        return found_at(obj, next((d for d in found if d.module == obj.module), found[0]))
    problem = Problem(
        key=obj.key,
        kind="/".join(obj.kinds),
        json_paths=obj.json_paths,
        reason="missing",
        message=f"{resolution.where} in this process only; other processes do not share "
        "this process's registry",
        fix=f"--from FILE.py (the file that defines '{obj.class_name}')",
        python_fix=f"sources=['FILE.py'] (the file that defines '{obj.class_name}')",
    )
    return resolution._replace(origin="missing", problem=problem)


def _token(ref: ModelRef) -> str:
    digest = hashlib.sha256()
    parts = (
        ref.path,
        ref.model_sha256,
        repr(ref.trust),
        repr(ref.compile),
        repr(ref.bundle_digest),
    )
    for part in parts:
        digest.update(part.encode() + b"\0")
    for item in ref.files:
        digest.update(f"{item.module}\0{item.sha256}\n".encode())
    digest.update(repr(ref.plan.compile).encode())
    return digest.hexdigest()
