"""The one module that imports h5py: reads and audits HDF5 files without reading their data.

:func:`read_h5_root` reads the root attributes of a legacy ``.h5`` model file. :func:`audit_h5`
walks every link of an HDF5 file (a legacy model, or the ``model.weights.h5`` member of a
``.keras`` archive) and reports what Keras 3.15 refuses to load (``safe_get_h5_dataset``): soft
and external links, datasets stored in or mapped from other files, and "shape bombs". No
dataset is read, so the cost does not depend on the size of the weights.
"""

from __future__ import annotations

import math

from kerascope._common.budget import memory_budget
from kerascope._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Iterator
    from io import RawIOBase
    from typing import Any, BinaryIO

__all__ = [
    "MAX_ATTRIBUTE_BYTES",
    "H5Contents",
    "H5Issue",
    "H5ReadError",
    "audit_h5",
    "audit_h5_datasets",
    "read_h5_root",
    "serve_request",
    "write_text_attribute",
]

MAX_ATTRIBUTE_BYTES = 64 * 1024 * 1024
_TEXT_ATTRIBUTES = (
    "model_config",
    "training_config",
    "keras_version",
    "backend",
    "kerascope_manifest",
)
# The thresholds of Keras's safe_get_h5_dataset (keras/src/saving/saving_lib.py).
_BOMB_FLOOR_BYTES = 1 << 32
_BOMB_MAX_EXPANSION = 1000
# Below them, kerascope's: more than 16 MiB declared at more than 100 times what is stored.
_LOW_FLOOR_BYTES = 16 * 2**20
_LOW_EXPANSION = 100
# What h5py raises on damaged files (file objects' own errors, such as OverflowError, included).
_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, OverflowError)
_SHOWN_SOURCES = 3
_MAX_DEPTH = 100  # Keras nests a handful of groups; deeper ones only serve to hide things
_SHOWN_CHARACTERS = 200
_SHOWN_PATH_CHARACTERS = 1000
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


class H5ReadError(Exception):
    """h5py could not open the file as HDF5, or could not read its root attributes."""


class H5Issue(Record):
    """Something in an HDF5 file that Keras refuses to load, or that could not be read.

    Attributes:
        code: One of ``hdf5-soft-link``, ``hdf5-external-link``, ``hdf5-external-storage``,
            ``hdf5-virtual-dataset``, ``hdf5-shape-bomb``, ``hdf5-group-cycle``,
            ``hdf5-too-many-objects`` and ``hdf5-unreadable``.
        h5_path: The path of the link inside the file, e.g. ``/layers/dense/vars/0``.
        message: What was found, e.g. ``declares 68.7 GB but stores 0 B``.
    """

    code: str
    h5_path: str
    message: str


class H5Contents(Record):
    """The root of an HDF5 file: selected text attributes and the names of its members."""

    attributes: dict[str, str]
    attribute_names: tuple[str, ...]
    root_members: tuple[str, ...]


def read_h5_root(path: str) -> H5Contents:
    """Read the text attributes Keras stores at the root of an ``.h5`` model file.

    Example:
        >>> contents = read_h5_root("model.h5")  # doctest: +SKIP
        >>> contents.attributes["keras_version"], contents.root_members  # doctest: +SKIP
        ('3.15.1', ('model_weights',))
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            attrs = handle.attrs
            names = tuple(str(name) for name in attrs)
            texts = {name: _text(attrs, name) for name in _TEXT_ATTRIBUTES if name in attrs}
            members = tuple(str(name) for name in handle)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise H5ReadError(_first_line(error)) from None
    return H5Contents(texts, names, members)


def _text(attrs: object, name: str) -> str:
    getter = attrs.get_id(name)  # type: ignore[attr-defined]
    if getter.get_storage_size() > MAX_ATTRIBUTE_BYTES:
        raise H5ReadError(f"attribute {name!r} is larger than {MAX_ATTRIBUTE_BYTES} bytes")
    value = attrs[name]  # type: ignore[index]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise H5ReadError(f"attribute {name!r} is not text")


def audit_h5(source: str | BinaryIO | RawIOBase, *, max_objects: int = 100_000) -> list[H5Issue]:
    """Report every link and dataset of an HDF5 file that Keras would refuse to load.

    Walks all links from the root group without following soft or external links, descending
    into each hard-linked group once (a hard link back to a group on the current path is an
    ``hdf5-group-cycle``; every object is tracked by address, so the walk ends) and at most 100
    groups deep (deeper groups are reported as ``hdf5-too-many-objects``). Reports soft links,
    external links, datasets whose raw data lives in other files (external storage), virtual
    datasets, and shape bombs: datasets declaring more than 4 GiB and over 1,000 times what the
    file stores for them (Keras's thresholds), more than 16 MiB and over 100 times (Keras
    writes datasets uncompressed), or more than the memory budget
    (:func:`kerascope._common.budget.memory_budget`). Only metadata is read, never dataset
    values, and no other file is opened.

    Args:
        source: A path, or a readable, seekable binary file object (for instance a
            :class:`~kerascope._reading.window.FileWindow` over a zip member).
        max_objects: After this many links, one ``hdf5-too-many-objects`` issue is added and the
            walk stops.

    Returns:
        The issues in the order of a depth-first walk by name (as sorted paths read). Errors
        met while walking become ``hdf5-unreadable`` issues naming the path; they are never
        raised. An object reached by several hard links is audited once, at its first path.

    Raises:
        H5ReadError: h5py cannot open the source as an HDF5 file.

    Example:
        >>> import io, h5py
        >>> buffer = io.BytesIO()
        >>> with h5py.File(buffer, "w") as handle:
        ...     handle["weights"] = h5py.ExternalLink("/etc/passwd", "/x")
        >>> [issue] = audit_h5(buffer)
        >>> issue.code, issue.h5_path
        ('hdf5-external-link', '/weights')
        >>> issue.message
        "external link to '/etc/passwd:/x'"
    """
    return audit_h5_datasets(source, max_objects=max_objects)[0]


def audit_h5_datasets(
    source: str | BinaryIO | RawIOBase, *, max_objects: int = 100_000
) -> tuple[list[H5Issue], list[tuple[str, tuple[int, ...], int]]]:
    """:func:`audit_h5`, and the (path, shape, item size) of every dataset it walked.

    Example:
        >>> import io, h5py, numpy
        >>> buffer = io.BytesIO()
        >>> with h5py.File(buffer, "w") as handle:
        ...     handle["layers/dense/vars/0"] = numpy.zeros((4, 3), "float32")
        >>> audit_h5_datasets(buffer)
        ([], [('/layers/dense/vars/0', (4, 3), 4)])
    """
    import h5py

    try:
        handle = h5py.File(source, "r")
    except _ERRORS as error:
        raise H5ReadError(_first_line(error)) from None
    datasets: list[tuple[str, tuple[int, ...], int]] = []
    with handle:
        return _walk(handle.id, max_objects, datasets), datasets


def _walk(
    root: Any, max_objects: int, datasets: list[tuple[str, tuple[int, ...], int]]
) -> list[H5Issue]:
    """Audit every link reachable from ``root`` through hard links, depth first, by name."""
    import h5py

    try:
        info = h5py.h5o.get_info(root)
    except _ERRORS as root_error:
        return [_unreadable("/", root_error)]
    visited = {(info.fileno, info.addr)}
    issues: list[H5Issue] = []
    links, error = _links(root, max_objects + 1)
    if error is not None:
        issues.append(_unreadable("/", error))
    # One frame per group on the current path: its path, its ID and its links still to audit;
    # ``ancestors`` maps the address of each group on the path to the path itself.
    stack: list[tuple[str, Any, Iterator[tuple[bytes, int]]]] = [("", root, iter(links))]
    ancestors: dict[tuple[int, int], str] = {(info.fileno, info.addr): "/"}
    addresses = [(info.fileno, info.addr)]
    count = 0
    while stack:
        path, group, pending = stack[-1]
        link = next(pending, None)
        if link is None:
            stack.pop()
            ancestors.pop(addresses.pop(), None)
            continue
        name, kind = link
        count += 1
        child = _child_path(path, name)
        if count > max_objects:
            message = f"the file has more than {max_objects} links; the audit stopped here"
            issues.append(H5Issue("hdf5-too-many-objects", child, message))
            break
        try:
            subgroup = _audit_link(
                group,
                name,
                kind,
                child,
                visited=visited,
                ancestors=ancestors,
                issues=issues,
                datasets=datasets,
            )
        except _ERRORS as link_error:
            issues.append(_unreadable(child, link_error))
            continue
        if subgroup is not None and len(stack) >= _MAX_DEPTH:
            message = f"groups nested over {_MAX_DEPTH} deep; the audit did not descend further"
            issues.append(H5Issue("hdf5-too-many-objects", child, message))
        elif subgroup is not None:
            links, error = _links(subgroup, max_objects - count + 1)
            if error is not None:
                issues.append(_unreadable(child, error))
            stack.append((child, subgroup, iter(links)))
            address = _address(subgroup)
            ancestors.setdefault(address, child)
            addresses.append(address)
    return issues


def _links(group: Any, limit: int) -> tuple[list[tuple[bytes, int]], Exception | None]:
    """Up to ``limit`` links of ``group`` as (name, link type), and the error that cut it short."""
    found: list[tuple[bytes, int]] = []

    def collect(name: bytes, info: Any) -> bool | None:
        found.append((name, info.type))
        return True if len(found) >= limit else None

    try:
        group.links.iterate(collect, info=True)
    except _ERRORS as error:
        return found, error
    return found, None


def _audit_link(
    group: Any,
    name: bytes,
    kind: int,
    path: str,
    *,
    visited: set[tuple[int, int]],
    ancestors: dict[tuple[int, int], str],
    issues: list[H5Issue],
    datasets: list[tuple[str, tuple[int, ...], int]],
) -> Any:
    """Audit one link, adding to ``issues``; return the group to descend into, if any."""
    import h5py

    if kind == h5py.h5l.TYPE_SOFT:
        target = group.links.get_val(name)
        issues.append(H5Issue("hdf5-soft-link", path, f"soft link to {_quote(target)}"))
        return None
    if kind == h5py.h5l.TYPE_EXTERNAL:
        filename, target = group.links.get_val(name)
        message = f"external link to {_quote(filename + b':' + target)}"
        issues.append(H5Issue("hdf5-external-link", path, message))
        return None
    if kind != h5py.h5l.TYPE_HARD:
        message = f"link of user-defined type {kind}, which HDF5 cannot follow"
        issues.append(H5Issue("hdf5-unreadable", path, message))
        return None
    if not name or name == b"." or b"/" in name:
        # Looked up by name, such a link would resolve to another path, maybe through links.
        issues.append(H5Issue("hdf5-unreadable", path, f"invalid link name {_quote(name)}"))
        return None
    info = h5py.h5o.get_info(group, name)
    address = (info.fileno, info.addr)
    if address in ancestors:
        message = (
            f"hard link back to the group {_quote(ancestors[address])} that contains it: the "
            "group tree is a cycle, and a walk that follows it never ends"
        )
        issues.append(H5Issue("hdf5-group-cycle", path, message))
        return None
    if address in visited:
        return None
    visited.add((info.fileno, info.addr))
    if info.type == h5py.h5o.TYPE_GROUP:
        return h5py.h5o.open(group, name)
    if info.type == h5py.h5o.TYPE_DATASET:
        _audit_dataset(h5py.h5o.open(group, name), path, issues, datasets)
    return None


def _audit_dataset(
    dataset: Any,
    path: str,
    issues: list[H5Issue],
    datasets: list[tuple[str, tuple[int, ...], int]],
) -> None:
    """Add the dataset's external storage, virtual mapping or shape bomb to ``issues``, and its
    shape to ``datasets``."""
    import h5py

    plist = dataset.get_create_plist()
    count = plist.get_external_count()
    if count:
        files = [plist.get_external(index)[0] for index in range(min(count, _SHOWN_SOURCES))]
        message = f"raw data stored outside the file, in {_sources(files, count)}"
        issues.append(H5Issue("hdf5-external-storage", path, message))
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        count = plist.get_virtual_count()
        sources = [
            f"{plist.get_virtual_filename(index)}:{plist.get_virtual_dsetname(index)}"
            for index in range(min(count, _SHOWN_SOURCES))
        ]
        message = f"virtual dataset mapping {_sources(sources, count) if count else 'nothing'}"
        issues.append(H5Issue("hdf5-virtual-dataset", path, message))
        return
    shape = dataset.shape
    item_size = dataset.get_type().get_size()
    declared = math.prod(shape) * item_size if shape is not None else 0
    datasets.append((path, tuple(shape or ()), item_size))
    stored = dataset.get_storage_size()
    # Keras's own thresholds, then kerascope's lower ones: Keras writes every dataset
    # contiguous and uncompressed, so what it stores is what it declares.
    keras_bomb = declared > _BOMB_FLOOR_BYTES and declared > _BOMB_MAX_EXPANSION * max(stored, 1)
    small_bomb = declared > _LOW_FLOOR_BYTES and declared > _LOW_EXPANSION * max(stored, 1)
    if keras_bomb or small_bomb or declared > memory_budget():
        message = f"declares {_size(declared)} but stores {_size(stored)}"
        issues.append(H5Issue("hdf5-shape-bomb", path, message))


def _address(group: Any) -> tuple[int, int]:
    import h5py

    info = h5py.h5o.get_info(group)
    return (info.fileno, info.addr)


def _child_path(parent: str, name: bytes) -> str:
    """``parent/name``, bounded: hostile files may nest long names deeply."""
    text = name.decode("utf-8", errors="backslashreplace")
    if len(text) > _SHOWN_CHARACTERS:
        text = text[:_SHOWN_CHARACTERS] + "..."
    path = f"{parent}/{text}"
    if len(path) > _SHOWN_PATH_CHARACTERS:
        keep = _SHOWN_PATH_CHARACTERS // 2
        path = f"{path[:keep]}...{path[-keep:]}"
    return path


def _sources(names: list[bytes] | list[str], count: int) -> str:
    shown = ", ".join(_quote(name) for name in names)
    return shown if count <= len(names) else f"{shown} and {count - len(names)} more"


def _quote(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="backslashreplace")
    if len(text) > _SHOWN_CHARACTERS:
        text = text[:_SHOWN_CHARACTERS] + "..."
    return repr(text)


def _size(count: int) -> str:
    """A byte count in SI units, e.g. ``68.7 GB``; declared sizes can exceed any float."""
    digits = len(str(count))
    if digits > 21:
        return f"about 1e{digits - 1} B"
    value, index = float(count), 0
    while value >= 999.5 and index < len(_UNITS) - 1:
        value /= 1000
        index += 1
    return f"{value:.3g} {_UNITS[index]}"


def _unreadable(path: str, error: Exception) -> H5Issue:
    return H5Issue("hdf5-unreadable", path, f"could not be read: {_first_line(error)}")


def _first_line(error: Exception) -> str:
    text = str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


def write_text_attribute(path: str, name: str, text: str) -> None:
    """Set a text attribute at the root of an HDF5 file (used to store the manifest).

    Example:
        >>> write_text_attribute("model.h5", "kerascope_manifest", "{}")  # doctest: +SKIP
    """
    import h5py

    with h5py.File(path, "a") as handle:
        handle.attrs[name] = text


def serve_request(request_text: str) -> None:
    """Answer one request from :mod:`kerascope._reading.hdf5_child` on stdout, as JSON (child side).

    Example:
        >>> serve_request('{"operation": "both", "path": "model.h5"}')  # doctest: +SKIP
    """
    import json
    import sys

    request = json.loads(request_text)
    answer: dict[str, Any] = {}
    if request["operation"] == "both":
        try:
            contents = read_h5_root(request["path"])
            answer["root"] = {
                "attributes": contents.attributes,
                "attribute_names": list(contents.attribute_names),
                "root_members": list(contents.root_members),
            }
        except H5ReadError as error:
            answer["root_error"] = str(error)
    try:
        issues, datasets = _audit_request(request)
        answer["issues"] = [list(issue) for issue in issues]
        answer["datasets"] = [[path, list(shape), size] for path, shape, size in datasets]
    except H5ReadError as error:
        answer["audit_error"] = str(error)
    sys.stdout.write(json.dumps(answer))


def _audit_request(
    request: dict[str, Any],
) -> tuple[list[H5Issue], list[tuple[str, tuple[int, ...], int]]]:
    window = request.get("window")
    if window is None:
        return audit_h5_datasets(request["path"])
    from .window import FileWindow

    with FileWindow(request["path"], window[0], window[1]) as source:
        return audit_h5_datasets(source)
