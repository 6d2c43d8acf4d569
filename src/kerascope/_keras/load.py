"""``kerascope.load_model``: audit, then resolve, then let Keras construct the model."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

    from kerascope._resolving.plan import CompileMode

from kerascope._resolving.plan import Plan, Resolution, lambda_switch, make_plan
from kerascope.errors import (
    KerascopeError,
    KerascopeWarning,
    KerasLoadError,
    SourceImportError,
    UnresolvedObjectsError,
)

from .lambda_globals import record_tf_lambdas
from .legacy import load_keras2
from .op_layers import op_layer_classes
from .recorded_shims import load_with_recorded_shims
from .runtime import (
    builtin_loss,
    builtin_optimizer,
    import_keras,
    in_custom_object_scope,
    load_with_keras,
)
from .smoke import SmokeError, smoke_check
from .warmup import backend_warmed_while_idle

__all__ = ["load_model", "load_with_plan", "on_sys_path"]

_IMPORTED_ORIGINS = frozenset({"source", "module", "package", "entry-point", "manifest", "bundle"})


def load_model(
    path: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    custom_objects: Mapping[str, Any] | None = None,
    compile: CompileMode = "auto",
    safe_mode: bool = True,
    allow: Iterable[str] = (),
    strict: bool = False,
    smoke: bool = False,
) -> Any:
    """Load a Keras model, providing every custom object it needs, in a fresh process too.

    The arguments Keras users know work as in ``keras.saving.load_model``: ``custom_objects``
    and an active ``keras.saving.custom_object_scope`` (or ``keras.utils.custom_object_scope``)
    are looked up as Keras looks them up (scope, global registry, ``custom_objects``) and win
    over anything kerascope finds; what they provide needs no source and no trust, since you
    handed it over. ``safe_mode=False`` is the one switch for Lambda bytecode.

    Args:
        path: A ``.keras`` file, an unzipped ``.keras`` directory, a legacy ``.h5`` file, or a
            tf-keras SavedModel directory (rebuilt in memory from its ``keras_metadata.pb``
            config and checkpoint variables; :func:`kerascope.migrate` writes it as ``.keras``).
        sources: Where custom objects are defined: ``.py`` files, directories, dotted modules or
            packages. Only the files that define what the model needs are imported.
        trust: Packages or distributions (``"tcn"``, ``"keras-tcn"``) whose modules, named by
            the file, may be imported. Keras's own packages are always trusted.
            :func:`kerascope.untrusted` lists the names a file needs.
        custom_objects: Objects to use for the names the file needs, keyed as for Keras.
        compile: ``"auto"`` compiles when the training configuration can be restored and
            otherwise loads for inference with a warning naming what is missing; ``True``
            requires it; ``False`` skips it (and never imports training-only objects).
        safe_mode: As in Keras: ``False`` runs the Python bytecode of Lambda layers while the
            model loads. Only for a file you trust; kerascope refuses Lambda bytecode otherwise.
        allow: Other kinds of audit findings to accept instead of refusing the file (the
            ``kind`` of :func:`kerascope.scan` findings, e.g. ``"url"``). Nothing is allowed by
            default. ``"lambda"`` is a deprecated alias of ``safe_mode=False``.
        strict: Refuse, instead of warning, when a defining file differs from the one the
            file's manifest recorded.
        smoke: Check, eagerly, that the first predict (and, when compiled, evaluate and fit)
            can run, before returning: one forward pass on 2 samples, the compiled loss and
            metrics on it. Always done for Keras 2 files, which kerascope translates.

    Returns:
        The model, as ``keras.saving.load_model`` returns it.

    Raises:
        UnresolvedObjectsError: Custom objects are missing or untrusted, or the audit found
            something dangerous; everything is listed, before anything is imported.
        ModelFileError: The file is not a readable Keras model.
        SourceImportError: A source module failed while being imported.
        KerasLoadError: Keras failed although every object was provided.

    Example:
        >>> import kerascope
        >>> model = kerascope.load_model(  # doctest: +SKIP
        ...     "my_model.h5", sources=["custom_layer.py"]
        ... )
        >>> model = kerascope.load_model(  # doctest: +SKIP
        ...     "my_model.h5", custom_objects={"MyCustomLayer": MyCustomLayer}
        ... )
    """
    safe_mode, allow = lambda_switch(safe_mode, allow)
    handed_over = dict(custom_objects or {})
    with backend_warmed_while_idle():  # while the audit waits on its HDF5 reader child
        plan = make_plan(
            path,
            sources,
            trust,
            compile=compile,
            safe_mode=safe_mode,
            allow=allow,
            strict=strict,
            custom_objects=handed_over,
            in_scope=in_custom_object_scope,
        )
    return load_with_plan(plan, custom_objects=handed_over, smoke=smoke)


def load_with_plan(
    plan: Plan, custom_objects: Mapping[str, Any] | None = None, smoke: bool = False
) -> Any:
    """Import what the plan names, then call Keras with exactly those custom objects.

    ``custom_objects`` are the user's own, passed on to Keras unchanged and over anything the
    plan provides under the same key. A Keras 2 file is built from its translated config
    (:func:`kerascope._keras.legacy.load_keras2`) and always smoke-checked.
    """
    if plan.problems:
        raise UnresolvedObjectsError(plan.inspection.path, plan.problems, plan.notes)
    needed = [r for r in plan.resolutions if r.origin in _IMPORTED_ORIGINS and r.module]
    import_keras()  # before the sources, which import it too: its native log lines are held
    # Source roots stay on sys.path while Keras builds the model: from_config and build may
    # import sibling modules of the sources.
    bundle = plan.inspection.manifest.bundle if plan.inspection.manifest else None
    if plan.bundled and bundle is not None:  # checked by the plan: intact, trusted, no shadowing
        from .bundle_import import install_bundle

        install_bundle(bundle, plan.bundled)
    with on_sys_path(list(dict.fromkeys(r.root for r in needed if r.root))):
        objects = _import_objects(needed)
        for alias, canonical in plan.compile_fixes.items():
            objects[alias] = builtin_loss(canonical)
        for key, public in plan.optimizer_fixes.items():
            objects[key] = builtin_optimizer(public)
        if plan.inspection.op_layers:
            objects.update(op_layer_classes())
        objects.update(custom_objects or {})
        for note in plan.notes:
            warnings.warn(note, KerascopeWarning, stacklevel=3)
        translated = plan.inspection.translation is not None
        # A Keras 3 file migrated by kerascope may record Keras 2 shims it needs at every load.
        manifest = plan.inspection.manifest
        shimmed = not translated and manifest is not None and bool(manifest.shims)
        try:
            if translated:
                model = load_keras2(plan.inspection, objects, plan.compile, plan.safe_mode)
                if not plan.safe_mode:  # Lambdas given `tf`: a file saved from it records so
                    record_tf_lambdas(model, plan.inspection)
            elif shimmed:
                model = load_with_recorded_shims(
                    plan.inspection, objects, plan.compile, plan.safe_mode
                )
            else:
                model = load_with_keras(plan.inspection.path, objects, plan.compile, plan.safe_mode)
            if smoke or translated or shimmed:
                smoke_check(model)
        except SmokeError as error:
            raise KerasLoadError(plan.inspection.path, error) from error
        except KerascopeError:
            raise  # kerascope's own reading (a SavedModel's variables, ...), not Keras, failed
        except Exception as error:
            raise KerasLoadError(plan.inspection.path, error) from error
        return model


def _import_objects(needed: Sequence[Resolution]) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for resolution in needed:
        assert resolution.module is not None and resolution.attribute is not None
        module = _import(resolution.module, resolution.root)
        try:
            value = module
            for part in resolution.attribute.split("."):  # a nested class: Outer.Inner
                value = getattr(value, part)
            objects[resolution.object.key] = value
        except AttributeError:
            raise SourceImportError(
                resolution.module,
                f"module '{resolution.module}' defines no '{resolution.attribute}' once imported",
            ) from None
    return objects


def _import(module_name: str, root: str | None) -> Any:
    loaded = sys.modules.get(module_name)
    if loaded is not None and root is not None:
        origin = os.path.realpath(getattr(loaded, "__file__", "") or "")
        if not origin.startswith(os.path.realpath(root) + os.sep):
            raise SourceImportError(
                module_name,
                f"a different module named '{module_name}' is already imported from "
                f"{origin or 'elsewhere'}; rename one of them",
            )
    try:
        return importlib.import_module(module_name)
    except Exception as error:
        message = str(error).splitlines()[0] if str(error) else ""
        raise SourceImportError(
            module_name, f"importing '{module_name}' failed: {type(error).__name__}: {message}"
        ) from error


@contextmanager
def on_sys_path(roots: Sequence[str]) -> Iterator[None]:
    """Put ``roots`` at the front of ``sys.path`` while the block runs (those not there yet).

    Example:
        >>> with on_sys_path(["/nowhere"]):
        ...     sys.path[0]
        '/nowhere'
    """
    added = [root for root in roots if root not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for root in added:
            if root in sys.path:
                sys.path.remove(root)
