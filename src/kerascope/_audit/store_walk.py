"""Find the model files of a store: walk files and directories, recognise models by content.

A model is recognised by what it holds, never by its name: a zip archive with ``config.json``
(a ``.keras`` file), a directory with ``config.json`` (an unzipped ``.keras`` model), a file with
the HDF5 signature (legacy ``.h5``), and a directory with ``saved_model.pb`` (a TensorFlow
SavedModel, which is listed but not audited: it is not a Keras file). Everything else found
while walking is skipped and counted. A path named by the user that is not a model gets the
error ``inspect`` gives for it, word for word.

The walk follows no symbolic link it finds (they are counted as skipped), so a store cannot
point it outside itself or round in a loop; paths named by the user are taken as given.
"""

from __future__ import annotations

import fnmatch
import os

from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading.archive import ZipError, read_members
from kerascope._reading.modelfile import read_model_file
from kerascope.errors import ModelFileError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["PathProblem", "StoreFiles", "StoreTarget", "find_store_files"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_USERBLOCK_OFFSETS = (512, 1024, 2048)
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


class StoreTarget(Record):
    """One model found in the store.

    Attributes:
        path: The path as it is reported: the argument, joined with the names walked below it.
        format: ``"keras"``, ``"keras-dir"``, ``"h5"`` or ``"saved-model"`` (not audited).
    """

    path: str
    format: str


class PathProblem(Record):
    """A path and what is wrong with it (the text ``inspect`` prints after ``PATH:``)."""

    path: str
    problem: str


class StoreFiles(Record):
    """What a walk of the store found.

    Attributes:
        targets: The models, in the order of the arguments, each directory's entries sorted
            by name; a path reached twice is listed once.
        errors: Paths named by the user that are missing or are not models.
        skipped: Files (and symbolic links) met while walking that are not models.
        excluded: Files and directories left out by an ``exclude`` glob.
    """

    targets: tuple[StoreTarget, ...]
    errors: tuple[PathProblem, ...] = ()
    skipped: int = 0
    excluded: int = 0


def find_store_files(
    paths: Sequence[str | os.PathLike[str]], exclude: Iterable[str] = ()
) -> StoreFiles:
    """Walk ``paths`` (files and directories, recursively) and recognise the models by content.

    Args:
        paths: Files and directories, in the order their models are reported.
        exclude: Globs (:mod:`fnmatch`, where ``*`` also matches ``/``) matched against each
            path relative to the argument it was found under, and against its name alone;
            a matching directory is not entered.

    Example:
        >>> files = find_store_files(["models/"], exclude=["*/old/*"])  # doctest: +SKIP
        >>> [(t.path, t.format) for t in files.targets]  # doctest: +SKIP
        [('models/a.keras', 'keras'), ('models/b.h5', 'h5')]
    """
    walk = _Walk(tuple(exclude))
    for path in paths:
        walk.named(os.fspath(path))
    return StoreFiles(tuple(walk.targets), tuple(walk.errors), walk.skipped, walk.excluded)


class _Walk:
    def __init__(self, exclude: tuple[str, ...]) -> None:
        self.exclude = exclude
        self.targets: list[StoreTarget] = []
        self.errors: list[PathProblem] = []
        self.skipped = 0
        self.excluded = 0
        self.seen: set[str] = set()

    def named(self, path: str) -> None:
        if self._excluded(os.path.basename(os.path.normpath(path)), path):
            self.excluded += 1
            return
        if not os.path.exists(path):
            self.errors.append(PathProblem(path, "no such file or directory"))
            return
        if not os.path.isdir(path) and not os.path.isfile(path):
            self.errors.append(
                PathProblem(path, "is not a regular file (a pipe, socket or device)")
            )
            return
        model_format = directory_format(path) if os.path.isdir(path) else file_format(path)
        if model_format is not None:
            self._add(path, model_format)
        elif os.path.isdir(path):
            self._walk(path, "")
        else:
            self.errors.append(PathProblem(path, not_a_model(path)))

    def _walk(self, directory: str, relative: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            self.errors.append(PathProblem(directory, f"cannot be read ({error.strerror})"))
            return
        for entry in entries:
            entry_relative = f"{relative}{entry.name}"
            if self._excluded(entry.name, entry_relative):
                self.excluded += 1
                continue
            path = os.path.join(directory, entry.name)
            if entry.is_symlink():
                self.skipped += 1
            elif entry.is_dir():
                model_format = directory_format(path)
                if model_format is None:
                    self._walk(path, f"{entry_relative}/")
                else:
                    self._add(path, model_format)
            elif entry.is_file():
                model_format = file_format(path)
                if model_format is None:
                    self.skipped += 1
                else:
                    self._add(path, model_format)
            else:
                self.skipped += 1  # a socket, a device, a pipe

    def _excluded(self, name: str, relative: str) -> bool:
        return any(
            fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(name, glob) for glob in self.exclude
        )

    def _add(self, path: str, model_format: str) -> None:
        real = os.path.realpath(path)
        if real not in self.seen:
            self.seen.add(real)
            self.targets.append(StoreTarget(path, model_format))


def file_format(path: str) -> str | None:
    """``"keras"``, ``"h5"`` or ``"weights-npz"`` when the file's content is one, else ``None``.

    A zip archive is a ``.keras`` model when it holds ``config.json``, or when its directory
    cannot be read and its name ends in ``.keras`` (the scan then reports the damage).

    Example:
        >>> file_format("README.md")  # doctest: +SKIP
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if head[:4] in _ZIP_MAGIC:
                try:
                    members = read_members(handle)
                except ZipError:
                    return "keras" if path.endswith(".keras") else None
                if "config.json" in members:
                    return "keras"
                if members and all(name.endswith(".npy") for name in members):
                    return "weights-npz"  # numpy's .npz: Keras weights without a model
                return None
            if head == _HDF5_MAGIC:
                return "h5"
            for offset in _HDF5_USERBLOCK_OFFSETS:
                handle.seek(offset)
                if handle.read(8) == _HDF5_MAGIC:
                    return "h5"
    except OSError:
        return None
    return None


def directory_format(path: str) -> str | None:
    """``"keras-dir"`` (an unzipped model), ``"saved-model"`` or ``None`` (a plain directory).

    Example:
        >>> directory_format("exported/")  # doctest: +SKIP
        'saved-model'
    """
    try:
        names = set(os.listdir(path))
    except OSError:
        return None
    if "config.json" in names:
        return "keras-dir"
    if names.intersection(_SAVED_MODEL_FILES):
        return "saved-model"
    return None


def not_a_model(path: str) -> str:
    """What ``inspect`` says about a path that is not a model (the text after ``PATH:``).

    Example:
        >>> not_a_model("README.md")  # doctest: +SKIP
        'is not a Keras model: neither a .keras zip archive nor an HDF5 (.h5) file'
    """
    try:
        read_model_file(path)
    except ModelFileError as error:
        return error.problem
    return "is not a Keras model"
