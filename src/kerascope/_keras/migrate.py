"""``kerascope.migrate``: a Keras 2 file → a Keras 3 ``.keras``, with parity proven elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading.manifest import NeededShim
from kerascope._resolving.plan import lambda_switch, make_plan
from kerascope.errors import KerasLoadError

if TYPE_CHECKING:
    from kerascope._resolving.plan import CompileMode

from .load import load_with_plan
from .migrate_parity import prove_parity
from .runtime import in_custom_object_scope
from .save import save_model
from .shims import needed_shims

__all__ = ["Migration", "migrate"]


class Migration(Record):
    """What ``migrate`` did.

    Attributes:
        source: The Keras 2 file.
        target: The Keras 3 ``.keras`` written.
        rules: One line per translation rule applied.
        reference: ``"tf-keras"``, the SavedModel's serving signature, or None when no
            independent reference was available.
        max_abs_diff: The largest difference between the reference's and the migrated model's
            outputs, each computed in a fresh process; None without a reference.
        note: Why there was no reference, when there was none.
        shims: The Keras 2 shims the migrated file records (manifest version 3): kerascope
            applies them at every load, and plain ``keras.saving.load_model`` fails on the
            file until the custom code is changed as each shim's ``changes`` say.
    """

    source: str
    target: str
    rules: tuple[str, ...]
    reference: str | None
    max_abs_diff: float | None
    note: str | None = None
    shims: tuple[NeededShim, ...] = ()


def migrate(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    sources: Sequence[str | os.PathLike[str]] = (),
    trust: Iterable[str] = (),
    safe_mode: bool = True,
    compile: CompileMode = "auto",
    allow: Iterable[str] = (),
    strict: bool = False,
) -> Migration:
    """Load a Keras 2 ``.h5`` / tf-keras ``.keras`` / SavedModel, save it as a Keras 3 ``.keras``.

    The file is translated and loaded as :func:`kerascope.load_model` does it (smoke-checked),
    saved with :func:`kerascope.save_model` (manifest) beside the target, then the original is
    run with tf-keras and the new file with kerascope, each in a fresh process, on the same
    inputs; the new file replaces ``target`` only when they agree (nothing is left otherwise).
    A SavedModel directory is rebuilt from its ``keras_metadata.pb`` config and checkpoint
    variables; its reference is its own ``serving_default`` signature, run by TensorFlow alone.
    ``sources``, ``trust``, ``safe_mode``, ``compile`` and ``allow`` mean what they mean for
    :func:`kerascope.load_model`; ``compile=False`` writes a file without a compile state.

    When the custom code needed one of kerascope's Keras 2 shims to load (a positional
    ``add_weight`` name, a layer without ``compute_output_shape`` under ``TimeDistributed``, a
    Lambda calling ``tf``), the migrated file records the shims in its manifest and kerascope
    applies them at every load; plain ``keras.saving.load_model`` fails on it until the code is
    changed as ``Migration.shims`` say. ``strict=True`` refuses such a model instead, before
    anything is written, and also refuses drift, as it does for :func:`kerascope.load_model`.

    When tf-keras cannot load the original itself (tf-keras 2.21 does not reread a custom
    activation function from its own ``.h5``), there is no independent reference: the new file
    is kept, and the result says so in ``note`` with ``reference`` None.

    Raises:
        KerasLoadError: The outputs differ by more than 1e-5, the migrated file failed, or
            ``strict`` and the model needs Keras 2 shims.

    Example:
        >>> import kerascope
        >>> kerascope.migrate("old.h5", "new.keras", sources=["layers.py"])  # doctest: +SKIP
        Migration(source='old.h5', target='new.keras', ..., max_abs_diff=0.0, ...)
    """
    source, target = os.fspath(source), os.fspath(target)
    trust = tuple(trust)
    safe_mode, allowed = lambda_switch(safe_mode, allow)
    plan = make_plan(
        source, sources, trust, compile=compile, safe_mode=safe_mode, allow=allowed,
        strict=strict, in_scope=in_custom_object_scope,
    )  # fmt: skip
    model = load_with_plan(plan)
    shims = needed_shims(model)
    if strict and shims:
        raise KerasLoadError(source, ValueError(_refusal(shims)))
    translation = plan.inspection.translation
    rules = tuple(a.detail for a in translation.applied) if translation else ()
    # Saved beside the target and renamed over it only once parity held: a failed migration
    # leaves no file that looks migrated.
    folder, name = os.path.split(os.path.abspath(target))
    staged = os.path.join(folder, f".{name}.kerascope-{os.getpid()}.keras")
    try:
        save_model(model, staged)  # the manifest records the shims (kerascope applies them)
        parity = prove_parity(
            plan, source=source, target=target, staged=staged, model=model, sources=sources,
            trust=trust, safe_mode=safe_mode,
        )  # fmt: skip
        os.replace(staged, target)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
    return Migration(
        source=source, target=target, rules=rules, reference=parity.reference,
        max_abs_diff=parity.max_abs_diff, note=parity.note, shims=shims,
    )  # fmt: skip


def _refusal(shims: tuple[NeededShim, ...]) -> str:
    """Why ``strict`` refuses a model that needs Keras 2 shims, with the code changes.

    Example:
        >>> shim = NeededShim("positional-add-weight", ("S calls add_weight('w', ...)",))
        >>> _refusal((shim,)).startswith("the custom code uses Keras 2 idioms")
        True
    """
    listed = "; ".join(change for shim in shims for change in shim.changes)
    return (
        "the custom code uses Keras 2 idioms that need kerascope's Keras 2 shims, so plain "
        f"Keras 3 would not load the migrated file: {listed}. Change the code as said, then "
        "migrate again (without strict, the file is written and records the shims, which "
        "kerascope applies at every load)"
    )
