"""A resolution: where one custom object comes from, or the problem that says why it cannot.

The records the resolver returns, and the problems it builds, each with its fix written for the
command line and for Python.
"""

from __future__ import annotations

import os

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope.errors import Problem

from .trust import distributions_providing

if TYPE_CHECKING:
    from typing import Literal

    from kerascope._audit.inspect import CustomObject
    from kerascope._reading.bundle import Bundle

    from .sources import Definition, UnreadFile
    from .trust import TrustPolicy

__all__ = [
    "TRAINING_ROOTS",
    "Resolution",
    "bundle_resolution",
    "failed",
    "found_at",
    "relative",
    "unread_problem",
    "untrusted_problem",
]

if TYPE_CHECKING:
    Origin = Literal[
        "custom-objects",  # handed over by the user: custom_objects=, or a custom_object_scope
        "registry",  # already registered in this process
        "source",  # a --from source
        "module",  # the module named in the file, trusted
        "package",  # found by name in a trusted package
        "entry-point",  # a module declared by a trusted installed package
        "manifest",  # the module the manifest names, trusted
        "bundle",  # the source bundle the file carries, trusted by its digest
        "keras",  # a Keras package (keras_hub, ...) that Keras imports itself
        "compile-fix",  # a built-in loss Keras fails to restore from .h5: kerascope supplies it
        "skipped",  # not provided, and not needed: training-only without compiling, or read
        # only by a custom class's constructor (see ``deferred``)
        "missing",
        "untrusted",
        "bytecode",  # a Python lambda stored in the file: loads only with safe_mode=False
    ]
TRAINING_ROOTS = ("$.compile_config", "$.training_config")


class Resolution(Record):
    """Where one custom object will come from.

    Attributes:
        object: The custom object, as inspect groups it.
        origin: Which kind of place provides it (see :data:`Origin`).
        where: Human-readable place: ``custom_layer.py:5``, ``module tcn.tcn`` ...
        module: The module to import for it (None when nothing is imported).
        root: A directory to put on ``sys.path`` to import ``module``, for sources.
        attribute: The name to take from ``module``.
        problem: Why it cannot be provided, when ``origin`` is missing or untrusted.
        file: The file that will be imported for it, when known.
        deferred: Why it cannot be provided, for an object only a custom class's constructor
            reads (``origin`` is then ``skipped``): reported, never blocking.
    """

    object: CustomObject
    origin: Origin
    where: str
    module: str | None = None
    root: str | None = None
    attribute: str | None = None
    problem: Problem | None = None
    file: str | None = None
    deferred: Problem | None = None

    @property
    def training_only(self) -> bool:
        """Used only by the compile configuration (loss, metrics, optimizer)."""
        return all(path.startswith(TRAINING_ROOTS) for path in self.object.json_paths)


def found_at(
    obj: CustomObject, definition: Definition, origin: Origin = "source", where: str = ""
) -> Resolution:
    """``obj`` comes from ``definition``: a user source, or a module of an installed package.

    A source (``origin`` ``"source"``) also records the directory to put on ``sys.path``, and
    ``where`` defaults to its ``file:line``.

    Example:
        >>> from kerascope._audit.inspect import CustomObject
        >>> from kerascope._resolving.sources import Definition
        >>> obj = CustomObject("Scale", ("layer",), None, "Scale", None, (), False)
        >>> found = Definition("Scale", "class", (), "layers", "/src", "/src/layers.py", 3)
        >>> resolution = found_at(obj, found)
        >>> resolution.module, resolution.root, resolution.attribute
        ('layers', '/src', 'Scale')
    """
    source = origin == "source"
    return Resolution(
        obj,
        origin,
        where or f"{relative(definition.path)}:{definition.lineno}",
        module=definition.module,
        root=definition.root if source else None,
        attribute=definition.name,
        file=definition.path,
    )


def failed(
    obj: CustomObject,
    origin: Origin,
    message: str,
    fix: str,
    *,
    candidates: tuple[str, ...] = (),
    python_fix: str = "",
    reason: str | None = None,
) -> Resolution:
    """A resolution that failed, with its problem (fix for the command line and for Python)."""
    problem = Problem(
        key=obj.key,
        kind="/".join(obj.kinds),
        json_paths=obj.json_paths,
        reason=reason or origin,
        message=message,
        fix=fix,
        candidates=candidates,
        python_fix=python_fix,
    )
    return Resolution(obj, origin, message, problem=problem)


def untrusted_problem(
    obj: CustomObject, module: str, distribution: str | None = None, *, found_by_name: bool = False
) -> Resolution:
    """``module`` defines ``obj`` but is not trusted: the fix names what to trust."""
    package = module.split(".", maxsplit=1)[0]
    distributions = [distribution] if distribution else distributions_providing(package)
    name = distributions[0] if distributions else package
    provided = f" (distribution {', '.join(distributions)})" if distributions else ""
    how = "found by name in" if found_by_name else "defined in"
    return failed(
        obj,
        "untrusted",
        f"{how} module '{module}'{provided}, which is not trusted",
        f"--trust {name}",
        candidates=tuple(distributions) or (package,),
        python_fix=f"trust=[{name!r}]",
    )


def bundle_resolution(
    obj: CustomObject, bundle: Bundle, module: str, qualname: str | None, trust: TrustPolicy
) -> Resolution:
    """``module`` of the file's source bundle defines ``obj``: used only when the bundle is
    intact and its digest is trusted; otherwise the problem names the digest, the files and
    what they import, and the exact trust argument."""
    item = bundle.modules[module]
    digest = bundle.digest
    damage = bundle.damage()
    if damage:
        return failed(
            obj,
            "untrusted",
            f"the source bundle the file carries for module '{module}' is damaged: "
            + "; ".join(damage),
            "do not load this file; bundle it again from its sources (kerascope bundle)",
            reason="bundle-damaged",
        )
    if not trust.trusts_bundle(digest):
        from .bundling import describe_bundle

        return failed(
            obj,
            "untrusted",
            f"defined in module '{module}' ({item.path}) of the source bundle the file carries, "
            f"sha256:{digest}, which is not trusted; the bundle holds {describe_bundle(bundle)}. "
            "Review it first (kerascope unbundle, kerascope scan)",
            f"--trust {bundle.trust_name}",
            candidates=(bundle.trust_name,),
            python_fix=f"trust=[{bundle.trust_name!r}]",
            reason="untrusted-bundle",
        )
    return Resolution(
        obj,
        "bundle",
        f"bundle sha256:{digest[:12]}: {item.path}",
        module=module,
        attribute=qualname or obj.class_name,
    )


def unread_problem(
    obj: CustomObject, unread: UnreadFile, before: str, *, given: bool = True
) -> Resolution:
    """The source that should define ``obj`` could not be parsed: where, why, and the fix.

    ``given`` says whether the user passed the file as a source; when it was only found beside
    the model, the fix also says to pass it.
    """
    path = relative(unread.path)
    if unread.why == "syntax":
        shown = f": {unread.text}" if unread.text else ""
        message = f"{path}:{unread.line}: syntax error: {unread.message}{shown}"
        fix = f"fix the syntax error in {path}:{unread.line}"
    else:
        message = f"{path}: {unread.message}"
        fix = {
            "encoding": f"save {path} as UTF-8 (or fix its coding declaration)",
            "size": f"move the definitions out of {path} into a smaller module",
            "unreadable": f"make {path} readable",
        }.get(unread.why, f"simplify {path}")
    which = "should define it" if given else f"is beside the model and mentions {obj.class_name}"
    message = (
        f"{before}{message} (kerascope reads sources without running them, and could not read "
        f"this one, which {which})"
    )
    python_fix = ""
    if not given:
        fix, python_fix = f"{fix}, then --from {path}", f"{fix}, then sources=[{path!r}]"
    return failed(obj, "missing", message, fix, python_fix=python_fix, reason="unreadable-source")


def relative(path: str) -> str:
    """``path`` relative to the working directory when it is below it, else unchanged.

    Example:
        >>> relative(os.path.join(os.getcwd(), "layers.py"))
        'layers.py'
    """
    try:
        shorter = os.path.relpath(path)
    except ValueError:
        return path
    return path if shorter.startswith("..") else shorter
